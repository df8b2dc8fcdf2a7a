"""The door scanner's pages (README "Door check-in", "The scanner page"): signed in on the site, door
staff, managers and admins see their organisation's shows open for check-in and scan tickets on a phone.

The page talks to the server with the site's session and its CSRF token (header ``X-CSRFToken``), through
three JSON routes that answer exactly as the check-in API does, with the same service code
(``checkin_api.answer_scan`` / ``answer_batch``, ``checkin.bundle``): the same checks, bodies, statuses
and error shape. The role is read from the database on every request, as in the API; a show of another
organisation is 404.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.accounts.signed_in import login_required
from app.api.http import HTTP_CODES, error_response, parse_body, parse_id
from app.errors import DomainError, ShowNotFound
from app.i18n import format_show_time
from app.manage import access, checkin
from app.manage.access import CHECKIN_ROLES, Actor
from app.manage.checkin_api import answer_batch, answer_scan
from app.manage.request_models import CheckinBatchRequest, CheckinRequest
from app.unit_of_work import unit_of_work

bp = Blueprint("door", __name__, url_prefix="/door")
# The JSON routes the scanner calls: a blueprint of their own so that their errors are JSON (below).
scans_bp = Blueprint("door_scans", __name__, url_prefix="/door/shows")

# What the scanner page loads, kept by its service worker so that the page opens offline.
SCANNER_FILES = (
    "css/seatline.css",
    "css/door.css",
    "js/rotating-codes.js",
    "js/scanner.js",
    "vendor/jsqr-1.4.0.js",
    "vendor/noble-ed25519-3.2.0.js",
)
OPEN_SHOWS = f"""
    SELECT s.id, s.starts_at, e.title, v.name AS venue_name, c.timezone,
           coalesce(s.checkin_closes_at, s.starts_at + make_interval(mins => e.duration_minutes)) AS closes_at
    FROM shows s JOIN events e ON e.id = s.event_id JOIN venues v ON v.id = s.venue_id
    JOIN cities c ON c.id = v.city_id
    WHERE {access.owned("v")} AND s.status <> 'CANCELLED'
      AND coalesce(s.checkin_closes_at, s.starts_at + make_interval(mins => e.duration_minutes)) > now()
    ORDER BY s.starts_at, s.id
    LIMIT 100
"""


def door_page(view):
    """Signed-in door staff, managers and admins: others are sent to log in, fans get 403."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, user_id: int, **kwargs: Any):
        with unit_of_work() as uow:
            g.door_actor = access.load_actor(uow, user_id, CHECKIN_ROLES)
        return view(*args, **kwargs)

    return wrapper


def actor() -> Actor:
    return g.door_actor


def _show_id(raw: str) -> int:
    return parse_id(raw, ShowNotFound, "show")


@bp.get("", strict_slashes=False)
@door_page
def home() -> ResponseReturnValue:
    with unit_of_work() as uow:
        shows = [
            {
                "id": r.id,
                "title": r.title,
                "venue": r.venue_name,
                "startTime": format_show_time(r.starts_at, r.timezone),
            }
            for r in uow.execute(OPEN_SHOWS, actor().scope)
        ]
    return render_template("door/home.html", shows=shows)


@bp.get("/shows/<show_id>")
@door_page
def scanner(show_id: str) -> ResponseReturnValue:
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        show = access.show(uow, actor(), sid)
    response = Response(
        render_template(
            "door/scanner.html",
            show={
                "id": show.id,
                "title": show.title,
                "venue": show.venue_name,
                "timezone": show.timezone,
                "startTime": format_show_time(show.starts_at, show.timezone),
            },
        )
    )
    # The page is kept by the scanner's service worker to open offline; no shared cache keeps it.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """The scanner's service worker, served from /door/ so that its scope is the scanner's pages."""
    assets = [url_for("static", filename=name) for name in SCANNER_FILES]
    response = Response(render_template("door/sw.js", assets=assets), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


# ---------------------------------------------------------------- the scanner's JSON routes


def door_json(view):
    """The scanner's JSON routes: signed in (401 otherwise), then the role (403), as the API."""

    @wraps(view)
    @login_required(refuse=401)
    def wrapper(*args: Any, user_id: int, **kwargs: Any):
        with unit_of_work() as uow:
            g.door_actor = access.load_actor(uow, user_id, CHECKIN_ROLES)
        return view(*args, **kwargs)

    return wrapper


@scans_bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return error_response(exc.status, exc.code, exc.message, **exc.details)


@scans_bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    if isinstance(exc, CSRFError):  # the page tells the steward to sign in again
        return error_response(
            400,
            "VALIDATION_FAILED",
            "the page's CSRF token is missing or no longer valid",
            fields=[{"field": "X-CSRFToken", "message": exc.description}],
        )
    status = exc.code or 500
    return error_response(status, HTTP_CODES.get(status, "HTTP_ERROR"), exc.description or exc.name)


def _visible(sid: int) -> None:
    with unit_of_work() as uow:
        checkin.visible_show(uow, actor(), sid)


@scans_bp.post("/<show_id>/checkins")
@door_json
def scan(show_id: str) -> ResponseReturnValue:
    sid = _show_id(show_id)
    _visible(sid)
    answer = answer_scan(actor(), sid, parse_body(CheckinRequest))
    return answer.body, answer.status, {"Cache-Control": "no-store"}


@scans_bp.post("/<show_id>/checkins/batch")
@door_json
def upload(show_id: str) -> ResponseReturnValue:
    sid = _show_id(show_id)
    _visible(sid)
    return answer_batch(actor(), sid, parse_body(CheckinBatchRequest)), 200, {"Cache-Control": "no-store"}


@scans_bp.get("/<show_id>/checkin-bundle")
@door_json
def bundle(show_id: str) -> ResponseReturnValue:
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        return checkin.bundle(uow, actor(), sid), 200, {"Cache-Control": "no-store"}
