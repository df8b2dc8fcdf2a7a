"""The waiting-room page: one URL answers with the full page or, for htmx, the status panel."""

from __future__ import annotations

import random
import time

import redis
from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext

from app import admission
from app.accounts.services import authenticate
from app.catalog import queries as catalog_queries
from app.errors import InvalidCredentials
from app.rate_limit_rules import GATE_JOIN_FORM, rate_limited
from app.unit_of_work import unit_of_work
from app.waiting_room.room import QueueClosed, QueueNotFound, UnverifiedEmail
from queue_gate.routes import _admission, _room

bp = Blueprint("gate_pages", __name__, url_prefix="/gate/queues")

HTMX = "vendor/htmx-2.0.11.min.js"


# The longest a waiting page waits between two asks: POLL_CAP_SECONDS before jitter,
# POLL_MAX_SECONDS with it, which stays inside the gate's show-up window (120 s by default,
# GATE_SHOW_UP_SECONDS), so a fan admitted just after asking still comes in time. A fan far
# back asks about once per cap: with 18,000 waiting fans a cap of 40 s made their polls most
# of the gate's work during a sale.
POLL_CAP_SECONDS = 90.0
POLL_MAX_SECONDS = POLL_CAP_SECONDS * 1.2


def poll_delay(state: str, estimated_wait: int | None, degraded: bool, drawn: bool = True) -> float | None:
    """Seconds until the page asks again.

    Before the opening's draw (``drawn`` false) the estimate is the time until the opening: the
    page asks once the draw has happened, each page at a random moment of the first 15 s, so
    that tens of thousands of pre-queued fans do not all ask in the same second. After the draw
    a page asks again when about half of its estimated wait has passed (soon when the turn is
    near, rarely when it is far): the number of asks per second then grows with the logarithm
    of the queue's length rather than with the length. Longer while the gate is degraded, and
    always jittered so that pages do not ask in step."""
    if state != "WAITING":
        return None
    if degraded:
        return round(6.0 * random.uniform(0.8, 1.3), 2)
    if estimated_wait is None:
        return round(2.0 * random.uniform(0.8, 1.3), 2)
    if not drawn:
        if estimated_wait > 40:
            return round(min(POLL_CAP_SECONDS, estimated_wait - 20) * random.uniform(0.8, 1.2), 2)
        return round(estimated_wait + random.uniform(1.0, 15.0), 2)
    return round(min(POLL_CAP_SECONDS, max(2.0, estimated_wait / 2)) * random.uniform(0.8, 1.2), 2)


def _wait_text(seconds: int | None) -> str:
    if not seconds:
        return gettext("moments")
    minutes = round(seconds / 60)
    return (
        ngettext("%(num)d second", "%(num)d seconds", seconds)
        if seconds < 90
        else ngettext("%(num)d minute", "%(num)d minutes", minutes)
    )


@bp.get("/<int:event_id>/wait")
def waiting_room(event_id: int) -> ResponseReturnValue:
    ticket = request.args.get("ticket", "")
    room = _room(event_id)
    degraded = False
    try:
        info = room.status(ticket) if ticket else None
        if info is None or info.get("admissionDue"):
            with unit_of_work() as uow:
                room.admit_due(uow)
            info = room.status(ticket) if ticket else None
        if info is not None:
            room.heartbeat(ticket)
    except QueueNotFound:
        abort(404)
    except redis.RedisError:
        # Never fail open: keep the fan waiting, poll more slowly, say what is happening.
        degraded, info = True, {"state": "WAITING", "position": None, "aheadOfYou": None, "estimatedWaitSeconds": None}
    if info is None:
        abort(404)
    context = {
        "status": info,
        "degraded": degraded,
        "poll_seconds": poll_delay(
            info["state"], info.get("estimatedWaitSeconds"), degraded, drawn=info.get("position") is not None
        ),
        "self_url": url_for("gate_pages.waiting_room", event_id=event_id, ticket=ticket),
        "enter_url": url_for("gate_pages.enter", event_id=event_id, ticket=ticket),
        "wait_text": _wait_text(info.get("estimatedWaitSeconds")),
        "htmx_url": url_for("static", filename=HTMX),
    }
    if request.headers.get("HX-Request"):
        response = make_response(render_template("gate/_status.html", **context))
        if info["state"] == "ADMITTED":
            response.headers["HX-Redirect"] = context["enter_url"]
    else:
        response = make_response(render_template("gate/waiting_room.html", **context))
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:event_id>", methods=["GET", "POST"])
@rate_limited(GATE_JOIN_FORM)
def join_page(event_id: int) -> ResponseReturnValue:
    """Sign in and take a place: the way in for fans arriving from the show's page. The form's CSRF
    token is checked before this runs (Flask-WTF, queue_gate/__init__.py), as on the site's forms."""
    with unit_of_work() as uow:
        event = catalog_queries.event_queue(uow, event_id)
    if event is None:
        abort(404)
    context = {"title": event.title, "prequeue": event.state == "PREQUEUE", "error": None, "email": None}
    status = None
    if request.method == "POST":
        context["email"] = request.form.get("email", "")[:254]
        try:
            with unit_of_work() as uow:
                account = authenticate(
                    uow,
                    current_app.extensions["seatline.passwords"],
                    context["email"],
                    request.form.get("password", "")[:128],
                )
            with unit_of_work() as uow:
                place = _room(event_id).join(uow, account.user_id)
            return redirect(url_for("gate_pages.waiting_room", event_id=event_id, ticket=place.ticket), code=303)
        except InvalidCredentials:
            context["error"] = gettext("That email and password don't match an account.")
        except QueueClosed:
            context["error"] = gettext("This waiting room is closed.")
        except UnverifiedEmail:
            # 403, not 422: the password was right, so this is no failed login (app/api/rate_limits.py).
            status = 403
            context["error"] = gettext(
                "This sale is open only to fans who have confirmed their email address: "
                "use the link we emailed you when you signed up."
            )
    response = make_response(
        render_template("gate/join.html", **context), status or (200 if context["error"] is None else 422)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:event_id>/enter")
def enter(event_id: int) -> ResponseReturnValue:
    """Hands the admitted fan their token as a cookie and sends them to the seat map."""
    ticket = request.args.get("ticket", "")
    room = _room(event_id)
    info = room.status(ticket) if ticket else None
    if info is None or info["state"] != "ADMITTED":
        return redirect(url_for("gate_pages.waiting_room", event_id=event_id, ticket=ticket), code=303)
    granted = _admission(room, event_id, ticket, info["userId"], info)
    settings = current_app.extensions["seatline.settings"]
    with unit_of_work() as uow:
        show_id = catalog_queries.protected_show_of_event(uow, event_id)
    target = f"{settings.public_url}/shows/{show_id}" if show_id else settings.public_url
    response = redirect(target, code=303)
    response.set_cookie(
        admission.COOKIE,
        granted["admissionToken"],
        max_age=int(granted["admissionExpiresAt"] - time.time()),
        httponly=True,
        secure=settings.is_production or request.is_secure,
        samesite="Lax",
        path="/",
    )
    return response
