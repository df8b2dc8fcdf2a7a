"""Server-rendered pages of the fan site."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import orjson
from flask import (
    Blueprint,
    abort,
    current_app,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from app import admission
from app.accounts.signed_in import login_required
from app.booking import release
from app.catalog import queries as catalog_queries, services as catalog
from app.catalog.routes import CATALOG_CACHE_SECONDS
from app.circuit import behind_breaker
from app.errors import AdmissionRequired, DomainError, HoldNotFound, HoldPaidFor, SeatsUnavailable, ShowNotFound
from app.extensions import redis_store, settings
from app.i18n import format_show_time
from app.inventory import access_codes as inventory_codes, seatmap, services as inventory
from app.inventory.best_available import find_best
from app.inventory.hints import HintRead, SeatHints
from app.manage.shows import EVENT_CATEGORIES
from app.money import request_locale
from app.ops.metrics import HOLDS_REJECTED
from app.page_messages import page_message
from app.rate_limit_rules import GATEWAY_CALLS, HOLDS, prefetched, rate_limited
from app.replica import browsing_read
from app.site import browse, shared_pages
from app.unit_of_work import unit_of_work

bp = Blueprint("site", __name__)


@bp.get("/")
def home():
    """A city's events as cards, searched and filtered (app/site/browse.py); htmx swaps only the
    results when the filters change. The listing is the same for every fan: shared for its second
    (app/site/shared_pages.py)."""
    fragment = bool(request.headers.get("HX-Request"))
    filters = browse.read_filters(request.args)
    canonical = [False]

    def build() -> bytes:
        context = browsing_read(lambda uow: _home_context(uow, filters))
        # Only a page someone can link to is kept as a last good copy, not one of made-up arguments.
        canonical[0] = filters.city in (None, context["city_id"]) and not context["errors"]
        return render_template("site/_shows.html" if fragment else "site/_home_body.html", **context).encode()

    key = shared_pages.key_of("home", request_locale(), fragment, *filters.key())
    built_at, body = shared_pages.shared_body(key, CATALOG_CACHE_SECONDS, build, keep_last_good=lambda: canonical[0])
    # An anonymous visitor's page is the same for all of them, shared at the edge (no CSRF token:
    # it would create a session); anyone else's carries their own layout.
    anonymous = shared_pages.is_anonymous()
    html = (
        body.decode()
        if fragment
        else render_template("site/home.html", body=Markup(body.decode()), htmx_csrf_header=not anonymous)
    )
    return html, 200, shared_pages.headers_for(anonymous, built_at, CATALOG_CACHE_SECONDS, vary="HX-Request")


def _home_context(uow, filters: browse.Filters) -> dict:
    filters = browse.Filters(**{**filters.__dict__, "errors": list(filters.errors)})  # each build its own
    cities = catalog.list_cities(uow)
    base = {"cities": cities, "filters": filters, "categories": EVENT_CATEGORIES, "errors": filters.errors}
    if not cities:
        return {**base, "city_id": None, "city": None, "listing": None}
    city = next((c for c in cities if c["cityId"] == filters.city), cities[0])
    if filters.city is not None and city["cityId"] != filters.city:
        filters.errors.append(gettext("There is no such city: showing %(city)s.", city=city["name"]))
    listing = browse.listing(uow, filters, city, settings().booking_horizon_days)
    return {**base, "city_id": city["cityId"], "city": city, "listing": listing}


# Up to this many seats the show page's script draws the whole map from the seat-map JSON; above
# it the page shows sections first, then one section's seats.
FULL_MAP_LIMIT = 3000


def _admission_for_page(show: dict) -> admission.Admission | None | str:
    """The fan's admission for a queue-protected show, None for an open sale, or the join URL."""
    if not show["queueRequired"]:
        return None
    try:
        return current_app.extensions["seatline.admission"].verify_for_event(
            request.cookies.get(admission.COOKIE), int(show["eventId"])
        )
    except admission.AdmissionRefused:
        return f"{settings().gate_public_url}/gate/queues/{show['eventId']}"


# The map is drawn cell by cell while that costs at most this many cells per seat (plus the slack):
# every real layout, whose rows are dense. Past it each run of empty cells is drawn as one gap.
GRID_CELLS_PER_SEAT = 4
GRID_SLACK_CELLS = 1000


def _rows(seats: list[dict]) -> list[list[dict | None]]:
    """Seats laid out by their map position; None marks a gap (an aisle, a missing seat).

    The work and the page are O(seats), whatever the coordinates: a layout saved before the drawn
    area was bounded (seats at x = 0 and x = 100,000) gets one gap for each run of empty cells
    instead of a hundred thousand of them per row."""
    if not seats:
        return []
    by_y: dict[int, list[dict]] = {}
    for seat in seats:
        by_y.setdefault(seat["y"], []).append(seat)
    min_x = min(s["x"] for s in seats)
    width = max(s["x"] for s in seats) - min_x + 1
    cell_by_cell = len(by_y) * width <= GRID_CELLS_PER_SEAT * len(seats) + GRID_SLACK_CELLS
    rows: list[list[dict | None]] = []
    for y in sorted(by_y):
        if cell_by_cell:
            row: list[dict | None] = [None] * width
            for seat in by_y[y]:
                row[seat["x"] - min_x] = seat
        else:
            row, last_x = [], min_x - 1
            for seat in sorted(by_y[y], key=lambda s: s["x"]):
                if seat["x"] > last_x + 1:
                    row.append(None)
                row.append(seat)
                last_x = seat["x"]
        rows.append(row)
    return rows


def render_show_page(
    show_id: int,
    message: str | None = None,
    selected: list[str] | None = None,
    status: int = 200,
    asked: list[str] | None = None,
):
    """The show page: its body shared by every fan for a second (app/site/shared_pages.py), built
    afresh only for a fan told why their request failed (keeping their picks), around this fan's
    own admission, message and CSRF token; an anonymous visitor's page is the same for every one
    of them, shared at the edge too, and its forms lead to signing in.

    The page carries no seat of the whole show: its script (app/static/js/seatmap.js) draws the
    map into the hold form from the seat-map JSON, which is shared and kept at the edge already,
    so the page costs the same few kilobytes for a cinema and a concert hall. Each section's row
    in the page links to ``?section=``, which lists that section's seats as checkboxes in the
    HTML: the form for a browser without JavaScript, and a stadium's map (too big to draw whole).
    ARCHITECTURE.md, "The show page's seat map".

    ``asked``: the seats a failed request asked for. The page built for that fan carries their
    states as read now, which the script draws over the shared map's (at most 2 s old), so the
    seats the fan was just told are taken show taken at once."""
    section = request.values.get("section")
    known_section = [False]
    seconds = settings().seatmap_cache_seconds
    for_this_fan = bool(selected or asked or message is not None)
    poster: list[str | None] = [None]

    def read(uow) -> tuple[dict, list[dict], list[dict], bool, dict[str, str]]:
        try:
            show = catalog.show_detail(uow, show_id, settings().max_seats_per_hold)
        except ShowNotFound:
            abort(404)
        poster[0] = catalog_queries.event_poster(uow, int(show["eventId"]))
        sections = orjson.loads(seatmap.render_sections(uow, show_id))["sections"]
        seats: list[dict] = []
        known_section[0] = bool(section and section in {s["section"] for s in sections})
        # A standing section is one block with a quantity (README "General admission (standing)"), never a list of places.
        if known_section[0] and not any(s["section"] == section and s["standing"] for s in sections):
            seats = orjson.loads(seatmap.render_full(uow, show_id, section))["seats"]
        # Listed in the HTML: one section's seats. Drawn by the script: the whole show's, up to the limit.
        drawn = not known_section[0] and show["venue"]["seatCount"] <= FULL_MAP_LIMIT
        states = seatmap.statuses_of(uow, show_id, asked[:100]) if drawn and asked else {}
        return show, sections, seats, drawn, states

    def build() -> bytes:
        if for_this_fan:
            # The states of the seats this fan was just refused are read now, on the primary.
            with unit_of_work() as uow:
                show, sections, seats, drawn, states = read(uow)
        else:  # the shared body: the replica while it is fresh enough (app/replica.py)
            show, sections, seats, drawn, states = browsing_read(read)
        tiers = (
            {(s["tier"], s["price"]) for s in seats} if seats else {(t["tier"], t["price"]) for t in show["priceTiers"]}
        )
        body = render_template(
            "site/_show_body.html",
            show=show,
            poster=poster[0],
            sections=sections,
            section=section if known_section[0] else None,
            drawn=drawn,
            rows=_rows(seats),
            tiers=sorted(tiers, key=lambda t: (-t[1], t[0])),
            selected=set(selected or []),
            # The script checks them once drawn (only on a page built for this fan, never a shared one).
            selected_list=sorted(selected or []) if drawn else [],
            states=states,
            start_text=format_show_time(show["startTime"]),  # in the page's language (README "Languages")
            sale_opens_text=format_show_time(show["saleOpensAt"]) if show.get("saleOpensAt") else "",
            csrf_field=shared_pages.CSRF_FIELD,
            personal=shared_pages.PERSONAL,
            hold_button=shared_pages.HOLD_BUTTON,
            best_button=shared_pages.BEST_BUTTON,
            standing_button=shared_pages.STANDING_BUTTON,
            waitlist_form=shared_pages.WAITLIST_FORM,
        )
        # The show's detail first (one line of JSON: it has no raw newline), for this request's own parts.
        return orjson.dumps(show) + b"\n" + body.encode()

    if for_this_fan:
        # After a failed request the fan is told which seats were taken: the map they see with it
        # must show them taken, not the shared copy of a moment ago.
        built_at, stored = time.time(), build()
    else:
        key = shared_pages.key_of("show", show_id, request_locale(), section)
        built_at, stored = shared_pages.shared_body(
            key,
            seconds,
            build,
            # A made-up section is answered like none, but not kept for an hour.
            keep_last_good=lambda: section is None or known_section[0],
        )
    anonymous = shared_pages.is_anonymous() and not selected and not asked and message is None
    headers = shared_pages.headers_for(anonymous, built_at, seconds, vary="")
    show_json, _, body = stored.partition(b"\n")
    show = orjson.loads(show_json)
    granted = _admission_for_page(show)
    if isinstance(granted, str):
        page = render_template(
            "site/waiting_room_required.html", show=show, join_url=granted, htmx_csrf_header=not anonymous
        )
        return page, 403, headers
    parts: dict[str, str]
    if anonymous:
        # No session and no token: the buttons are links to sign in and come back to this page.
        sign_in = url_for("site_auth.login", next=url_for("site.show_page", show_id=show_id, section=section))
        parts = {
            shared_pages.CSRF_FIELD: "",
            shared_pages.PERSONAL: "",
            shared_pages.HOLD_BUTTON: _submit(gettext("Hold seats"), gettext("Sign in to choose seats"), sign_in)
            + _seatmap_texts(),
            shared_pages.BEST_BUTTON: _submit(
                gettext("Find and hold"), gettext("Sign in to find and hold seats"), sign_in
            ),
            shared_pages.STANDING_BUTTON: _submit(
                gettext("Hold places"), gettext("Sign in to hold standing places"), sign_in
            ),
            shared_pages.WAITLIST_FORM: render_template("site/_waitlist_form.html", show=show, sign_in=sign_in),
        }
    else:
        personal = render_template(
            "site/_show_personal.html",
            message=message,
            admission=granted,
            admission_until=format_show_time(datetime.fromtimestamp(granted.expires_at, UTC), show["venue"]["timezone"])
            if granted
            else None,
        )
        parts = {
            shared_pages.CSRF_FIELD: Markup('<input type="hidden" name="csrf_token" value="%s">') % generate_csrf(),
            shared_pages.PERSONAL: personal,
            shared_pages.HOLD_BUTTON: _access_code_field(show_id) + _submit(gettext("Hold seats")) + _seatmap_texts(),
            shared_pages.BEST_BUTTON: _submit(gettext("Find and hold")),
            shared_pages.STANDING_BUTTON: _standing_code_field() + _submit(gettext("Hold places")),
            shared_pages.WAITLIST_FORM: render_template("site/_waitlist_form.html", show=show, sign_in=None),
        }
    page = render_template(
        "site/show.html",
        show=show,
        body=shared_pages.personalise(body.decode(), parts),
        htmx_csrf_header=not anonymous,
    )
    return page, status, headers


def _submit(label: str, sign_in_label: str | None = None, sign_in_url: str | None = None) -> str:
    """A form's submit button; for a visitor who has to sign in first, a link there instead."""
    return str(get_template_attribute("site/_show_submit.html", "submit")(label, sign_in_label, sign_in_url))


def _access_code_field(show_id: int) -> str:
    """The hold form's field for a presale code or voucher (README "Presale codes and vouchers")."""
    return str(get_template_attribute("site/_show_submit.html", "access_code_field")(show_id))


def _standing_code_field() -> str:
    """A standing form's field for a presale code or voucher: sent with the hold of places."""
    return str(get_template_attribute("site/_show_submit.html", "standing_code_field")())


def _seatmap_texts() -> str:
    """What the seat map's script writes, in the page's language (site/_show_submit.html)."""
    return str(get_template_attribute("site/_show_submit.html", "seatmap_texts")())


@bp.get("/shows/<int:show_id>")
def show_page(show_id: int):
    return render_show_page(show_id)


@bp.post("/shows/<int:show_id>/hold")
@rate_limited(HOLDS, reads=lambda show_id: _hint_read(show_id, request.form.getlist("seat")))
@behind_breaker
@login_required(back_to="site.show_page")
def hold_from_page(show_id: int, user_id: int):
    seats = request.form.getlist("seat")
    code = request.form.get("accessCode", "").strip() or None
    hold_id, failure = _hold(show_id, user_id, seats, access_code=code)
    return failure or redirect(url_for("site.hold_page", hold_id=hold_id), code=303)


@bp.get("/shows/<int:show_id>/access-code")
@rate_limited(HOLDS, methods=("GET",))
@login_required(refuse=403)
def check_access_code(show_id: int, user_id: int):
    """What the code in the hold form would do (htmx checks it as the fan leaves the field): the
    discount or the early sale it gives, or why it cannot be used. Counted against the fan's hold
    budget (``HOLDS``), as a hold with the code would be, so codes cannot be guessed faster here."""
    code = request.args.get("accessCode", "").strip()
    grant, problem = None, None
    with unit_of_work() as uow:
        show = catalog_queries.get_show(uow, show_id)
        if show is None:
            abort(404)
        if code:
            try:
                grant = inventory_codes.find(uow, show_id, code)
            except DomainError as exc:
                problem = page_message(exc)
    response = make_response(
        render_template("site/_access_code_check.html", grant=grant, problem=problem, currency=show.currency)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _hint_read(show_id: int, seats: list[str]) -> HintRead | None:
    """The hint look-up the hold form's hold makes, in the request's first round trip (app/api/rate_limits.py)."""
    return HintRead(show_id, tuple(seats)) if 0 < len(seats) <= 100 else None


def _hold(
    show_id: int, user_id: int, seats: list[str], kind: str = inventory.PICKED_SEATS, access_code: str | None = None
):
    """Holds the seats for the signed-in fan: (hold id, None), or (None, the page telling why not).
    ``kind``: how the seats were chosen, as the hold is counted (``HOLDS_CREATED``); ``access_code``:
    the presale code or voucher the fan entered."""
    try:
        with unit_of_work() as uow:
            hold = inventory.hold_seats(
                uow,
                SeatHints(redis_store.limits, prefetched()),
                inventory.HoldLimits.from_settings(settings()),
                user_id,
                show_id,
                seats,
                inventory.AdmissionCheck(
                    current_app.extensions["seatline.admission"], request.cookies.get(admission.COOKIE)
                ),
                kind,
                access_code,
            )
        return hold.hold_id, None
    except AdmissionRequired:
        return None, render_show_page(
            show_id, gettext("Your admission to this sale has ended: join the queue again."), seats, 403, asked=seats
        )
    except SeatsUnavailable as exc:
        taken = exc.details.get("seatIds", [])
        message = ngettext(
            "Sorry, %(seats)s was just taken. The rest of your selection is kept.",
            "Sorry, %(seats)s were just taken. The rest of your selection is kept.",
            len(taken),
            seats=", ".join(taken),
        )
        return None, render_show_page(show_id, message, [s for s in seats if s not in taken], 409, asked=seats)
    except DomainError as exc:
        message = page_message(exc)
        return None, render_show_page(show_id, message, seats, exc.status, asked=seats)


@bp.post("/shows/<int:show_id>/standing")
@rate_limited(HOLDS)
@behind_breaker
@login_required(back_to="site.show_page")
def hold_standing_from_page(show_id: int, user_id: int):
    """A quantity of places of a standing section (README "General admission (standing)"), held as
    the API holds them; refusals are told on the show page with the API's status."""
    section = request.form.get("section", "")[:40]
    try:
        quantity = int(request.form.get("quantity", ""))
    except ValueError:
        return render_show_page(show_id, gettext("Choose how many places you want."), None, 400)
    try:
        with unit_of_work() as uow:
            hold = inventory.hold_standing(
                uow,
                SeatHints(redis_store.limits, prefetched()),
                inventory.HoldLimits.from_settings(settings()),
                user_id,
                show_id,
                section,
                quantity,
                inventory.AdmissionCheck(
                    current_app.extensions["seatline.admission"], request.cookies.get(admission.COOKIE)
                ),
                access_code=request.form.get("accessCode", "").strip() or None,
            )
    except SeatsUnavailable as exc:
        message = ngettext(
            "Sorry, only %(num)s place is left in %(section)s.",
            "Sorry, only %(num)s places are left in %(section)s.",
            int(exc.details.get("available") or 0),
            section=section,
        )
        return render_show_page(show_id, message, None, 409)
    except AdmissionRequired:
        return render_show_page(
            show_id, gettext("Your admission to this sale has ended: join the queue again."), None, 403
        )
    except DomainError as exc:
        return render_show_page(show_id, page_message(exc), None, exc.status)
    return redirect(url_for("site.hold_page", hold_id=hold.hold_id), code=303)


@bp.post("/shows/<int:show_id>/best")
@rate_limited(HOLDS)
@behind_breaker
@login_required(back_to="site.show_page")
def hold_best_available(show_id: int, user_id: int):
    """Finds N adjacent seats in a tier and holds them in one go (trying again if someone is faster)."""
    tier = request.form.get("tier", "")
    try:
        count = int(request.form.get("count", ""))
    except ValueError:
        return render_show_page(show_id, gettext("Choose how many seats you want."), None, 400)
    if not 1 <= count <= settings().max_seats_per_hold:
        return render_show_page(
            show_id, gettext("You can hold 1 to %(most)s seats at once.", most=settings().max_seats_per_hold), None, 400
        )
    failure = None
    for _ in range(3):  # someone may take the best seats between looking and holding
        with unit_of_work() as uow:
            seats = orjson.loads(seatmap.render_full(uow, show_id))["seats"]
        # Standing places are held by quantity, never as "seats together" (README "General admission (standing)").
        best = find_best([s for s in seats if not s.get("standing")], count, tier)
        if best is None:
            # Refused as a hold of taken seats would be (409), so counted alike.
            HOLDS_REJECTED.labels(SeatsUnavailable.code).inc()
            return render_show_page(
                show_id,
                gettext("There are no %(count)s seats together in %(tier)s any more.", count=count, tier=tier),
                None,
                409,
            )
        hold_id, failure = _hold(show_id, user_id, best, inventory.BEST_AVAILABLE)
        if hold_id is not None:
            return redirect(url_for("site.hold_page", hold_id=hold_id), code=303)
        if failure[1] != 409:
            return failure  # not a race for the seats (the per-fan cap, the sale): another try ends the same way
    return failure


@bp.get("/holds/<uuid:hold_id>")
@login_required
def hold_page(hold_id: uuid.UUID, user_id: int):
    return _hold_page(user_id, hold_id)


def _hold_page(
    user_id: int, hold_id: uuid.UUID, message: str | None = None, status: int = 200, retry_after: int | None = None
):
    with unit_of_work() as uow:
        try:
            hold = inventory.get_hold(uow, user_id, hold_id)
        except HoldNotFound:
            abort(404)
        show = catalog.show_detail(uow, hold.show_id, settings().max_seats_per_hold)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return render_template("site/hold.html", hold=hold.to_json(), show=show, message=message), status, headers


@bp.post("/holds/<uuid:hold_id>/release")
@rate_limited(GATEWAY_CALLS)
@behind_breaker
@login_required(refuse=403)
def release_from_page(hold_id: uuid.UUID, user_id: int):
    """The API's release (``DELETE /api/v1/holds/{id}``, app/booking/release.py): released, the fan
    is back at the seat map; paid for meanwhile, at the booking; a payment still being processed or
    a gateway not answering is said on the hold page, with the API's status."""
    try:
        with unit_of_work() as uow:
            hold = release.release_hold(
                uow, current_app.extensions["seatline.gateway"], SeatHints(redis_store.limits), user_id, hold_id
            )
    except HoldNotFound:
        abort(404)
    except HoldPaidFor as exc:
        if exc.booking_id is None:
            return _hold_page(
                user_id, hold_id, gettext("These seats are paid for: your tickets are in My bookings."), exc.status
            )
        return redirect(url_for("site_checkout.booking_page", booking_id=exc.booking_id), code=303)
    except DomainError as exc:
        retry_after = exc.details.get("retryAfter") if exc.status in (429, 503) else None
        return _hold_page(user_id, hold_id, page_message(exc), exc.status, retry_after)
    return redirect(url_for("site.show_page", show_id=hold.show_id), code=303)
