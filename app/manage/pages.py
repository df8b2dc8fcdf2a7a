"""The manager dashboard: server-rendered pages and htmx fragments over the same services as the API."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from app import money
from app.accounts.signed_in import login_required
from app.api.http import parse_id
from app.catalog import services as catalog
from app.errors import DomainError, EventNotFound, ShowNotFound, ValidationFailed, VenueNotFound
from app.extensions import redis_store, settings
from app.i18n import format_show_time
from app.manage import (
    access,
    access_codes,
    box_office,
    cancellation,
    checkin,
    dashboard,
    door_staff,
    layouts,
    posters,
    queries,
    reports,
    request_models,
    shows,
    venues,
    waiting_rooms,
)
from app.manage.access import Actor
from app.replica import browsing_read
from app.unit_of_work import UnitOfWork, unit_of_work

bp = Blueprint("manage", __name__, url_prefix="/manage")
PREVIEW_LIMIT = 3000


def manager_page(view):
    """Signed-in managers and admins only: others are sent to log in (the site's ``login_required``),
    fans get 403."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, user_id: int, **kwargs: Any):
        with unit_of_work() as uow:
            g.actor = access.load_actor(uow, user_id)
        return view(*args, **kwargs)

    return wrapper


def actor() -> Actor:
    return g.actor


def _id(raw: str, error: type[DomainError], what: str) -> int:
    return parse_id(raw, error, what)


def _form(model: type[pydantic.BaseModel], data: dict[str, Any]) -> Any:
    """A form read through the API's own request model, so both accept exactly the same values."""
    try:
        return model.model_validate(data, strict=False)
    except pydantic.ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed("some fields need another look", fields=fields) from exc


def _errors(exc: DomainError) -> list[str]:
    messages = [exc.message[:1].upper() + exc.message[1:] + "."]
    for item in exc.details.get("fields", []) + exc.details.get("lines", []):
        where = f"line {item['line']}" if "line" in item else item["field"]
        messages.append(f"{where}: {item['message']}" if where != "line 0" else item["message"])
    for key in ("seatIds", "showIds", "unpricedTiers", "unknownTiers"):
        if exc.details.get(key):
            messages.append(f"{key}: {', '.join(exc.details[key][:20])}")
    return messages


# ---------------------------------------------------------------- overview


@bp.get("", strict_slashes=False)
@manager_page
def overview():
    with unit_of_work() as uow:
        who = actor()
        context = {
            "venues": venues.list_venues(uow, who),
            "events": shows.list_events(uow, who),
            "shows": shows.list_shows(uow, who),
            "organisation": uow.execute(
                "SELECT name FROM organisations WHERE id = :id", {"id": who.organisation_id}
            ).scalar(),
            "dead_letters": queries.dead_letters(uow, who),
            # An admin adds door staff through the API, naming the organisation (README "Door check-in").
            "door_staff": None if who.is_admin else door_staff.list_door_staff(uow, who),
        }
    return render_template("manage/overview.html", **context)


@bp.post("/door-staff")
@manager_page
def add_door_staff():
    try:
        body = _form(request_models.DoorStaffRequest, {"email": request.form.get("email", "")})
        with unit_of_work() as uow:
            member, added = door_staff.add_door_staff(uow, actor(), body.email, None)
        flash(
            gettext("%(email)s is now door staff.", email=member["email"])
            if added
            else gettext("%(email)s already was door staff.", email=member["email"])
        )
    except DomainError as exc:
        flash(_errors(exc)[0])
    return redirect(url_for("manage.overview"), code=303)


@bp.post("/door-staff/<member_id>/remove")
@manager_page
def remove_door_staff(member_id: str):
    uid = _id(member_id, door_staff.AccountNotFound, "user")
    with unit_of_work() as uow:
        door_staff.remove_door_staff(uow, actor(), uid)
    flash(gettext("Door staff removed."))
    return redirect(url_for("manage.overview"), code=303)


# ---------------------------------------------------------------- sales reports


@bp.get("/reports")
@manager_page
def sales_report():
    """The sales report (README "Sales reports") for the dates the form asks for: a chart of sales per
    day for each currency, tables per show and tier, and the same report as CSV. Bad dates say what is
    wrong and show the default range."""
    # The form sends its fields even when they are empty: an empty field asks for the default.
    raw_from, raw_to = request.args.get("from") or None, request.args.get("to") or None
    today = datetime.now(UTC).date()
    status, problems = 200, []
    try:
        first, last = reports.date_range(raw_from, raw_to, today)
    except ValidationFailed as exc:
        status, problems = 400, [f["field"] for f in exc.details.get("fields", [])] or ["from"]
        first, last = reports.date_range(None, None, today)
    with unit_of_work() as uow:
        report = reports.sales(uow, actor(), first, last)
    return (
        render_template(
            "manage/reports.html",
            report=report,
            charts=reports.charts(report, first, last),
            problems=problems,
            raw_from=raw_from if problems else first.isoformat(),
            raw_to=raw_to if problems else last.isoformat(),
        ),
        status,
        {"Cache-Control": "no-store"},
    )


@bp.get("/reports/sales.csv")
@manager_page
def sales_report_csv():
    first, last = reports.date_range(
        request.args.get("from") or None, request.args.get("to") or None, datetime.now(UTC).date()
    )
    with unit_of_work() as uow:
        body = reports.sales_csv(uow, actor(), first, last)
    return reports.sales_csv_download(body, first, last)


# ---------------------------------------------------------------- venues


@bp.route("/venues/new", methods=["GET", "POST"])
@manager_page
def new_venue():
    errors: list[str] = []
    with unit_of_work() as uow:
        cities = catalog.list_cities(uow)
    if request.method == "POST":
        data: dict[str, str | None] = {k: request.form.get(k, "") for k in ("cityId", "name", "kind", "address")}
        if actor().is_admin:
            data["organisationId"] = request.form.get("organisationId") or None
        try:
            body = _form(request_models.VenueRequest, data)
            with unit_of_work() as uow:
                venue_id = venues.create_venue(
                    uow,
                    actor(),
                    int(body.cityId),
                    body.name,
                    body.kind,
                    body.address,
                    int(body.organisationId) if body.organisationId else None,
                )
            flash(gettext("Venue created. Now build its seat layout."))
            return redirect(url_for("manage.venue", venue_id=venue_id), code=303)
        except DomainError as exc:
            errors = _errors(exc)
    return render_template(
        "manage/venue_new.html", cities=cities, kinds=venues.VENUE_KINDS, errors=errors, form=request.form
    ), 422 if errors else 200


def _venue_context(uow: UnitOfWork, venue_id: int) -> dict[str, Any]:
    venue = venues.get_venue(uow, actor(), venue_id)
    seats = venues.get_layout(uow, actor(), venue_id) if venue["seatCount"] <= PREVIEW_LIMIT else []
    preview: dict[str, list[Any]] = {}
    for s in seats:
        preview.setdefault(s.section, []).append(s)
    top = {name: min(s.y for s in part) for name, part in preview.items()}
    left = {name: min(s.x for s in part) for name, part in preview.items()}
    return {"venue": venue, "preview": preview, "top": top, "left": left, "tiers": sorted({s.tier for s in seats})}


@bp.get("/venues/<venue_id>")
@manager_page
def venue(venue_id: str):
    vid = _id(venue_id, VenueNotFound, "venue")
    with unit_of_work() as uow:
        context = _venue_context(uow, vid)
    return render_template("manage/venue.html", errors=[], **context)


def _venue_change(venue_id: str, change) -> ResponseReturnValue:
    vid = _id(venue_id, VenueNotFound, "venue")
    try:
        with unit_of_work() as uow:
            result = change(uow, vid)
        flash(
            gettext(
                "Layout saved: %(seats)s seats (%(added)s added, %(removed)s removed, %(changed)s changed).",
                seats=result["seats"],
                added=result["added"],
                removed=result["removed"],
                changed=result["changed"],
            )
        )
        return redirect(url_for("manage.venue", venue_id=vid), code=303)
    except DomainError as exc:
        if exc.status == 404:
            raise
        with unit_of_work() as uow:
            context = _venue_context(uow, vid)
        return make_response(render_template("manage/venue.html", errors=_errors(exc), **context), 422)


@bp.post("/venues/<venue_id>/blocks")
@manager_page
def add_block(venue_id: str):
    form = request.form
    data = {
        "section": form.get("section", ""),
        "rows": form.get("rows", ""),
        "seatsPerRow": form.get("seatsPerRow", ""),
        "tier": form.get("tier", "").strip().lower(),
        "firstNumber": form.get("firstNumber") or 1,
        "aislesAfter": [a for a in layouts.seat_list(form.get("aislesAfter", ""))],
        "accessible": list(layouts.seat_list(form.get("accessible", ""))),
        "companion": list(layouts.seat_list(form.get("companion", ""))),
        "notForSale": list(layouts.seat_list(form.get("notForSale", ""))),
        "seatIdPrefix": form.get("seatIdPrefix", "").strip(),
    }
    return _venue_change(
        venue_id,
        lambda uow, vid: venues.add_block(
            uow, actor(), vid, request_models.row_block(_form(request_models.BlockRequest, data))
        ),
    )


# Forms are limited to MAX_CONTENT_LENGTH (64 KiB); these endpoints take more. The CSRF check
# reads the form before any view runs, so the limit is raised by raise_upload_limits, which
# app/__init__.py registers ahead of it.
UPLOAD_LIMITS: dict[str, tuple[int | None, str]] = {
    "manage.import_layout": (venues.IMPORT_LIMIT, "A layout file is at most 8 MiB."),
    # The poster's own limit (POSTER_MAX_BYTES) and room for the form around it.
    "manage.event_poster": (None, "A poster is at most 10 MiB."),
}
FORM_OVERHEAD = 64 * 1024


def raise_upload_limits() -> None:
    limit = UPLOAD_LIMITS.get(request.endpoint or "")
    if limit is not None:
        request.max_content_length = limit[0] if limit[0] is not None else settings().poster_max_bytes + FORM_OVERHEAD


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Response:
    """A body over the endpoint's limit, refused before the form is read (nothing changes)."""
    limit = UPLOAD_LIMITS.get(request.endpoint or "")
    message = limit[1] if limit else "That is more than this form takes."
    return Response(render_template("site/error.html", status=413, message=message), status=413, mimetype="text/html")


@bp.post("/venues/<venue_id>/import")
@manager_page
def import_layout(venue_id: str):
    upload = request.files.get("file")

    def change(uow: UnitOfWork, vid: int):
        if upload is None or not upload.filename:
            raise ValidationFailed("choose a CSV file to import")
        return venues.import_csv(uow, actor(), vid, upload.read(venues.IMPORT_LIMIT + 1))

    return _venue_change(venue_id, change)


@bp.post("/venues/<venue_id>/standing")
@manager_page
def add_standing(venue_id: str):
    """README "General admission (standing)": a standing section, as the API adds one."""
    form = request.form
    data = {
        "section": form.get("section", ""),
        "tier": form.get("tier", "").strip().lower(),
        "capacity": form.get("capacity", ""),
    }

    def change(uow: UnitOfWork, vid: int):
        body = _form(request_models.StandingSectionRequest, data)
        return venues.add_standing(uow, actor(), vid, body.section, body.tier, body.capacity)

    return _venue_change(venue_id, change)


@bp.post("/venues/<venue_id>/standing/capacity")
@manager_page
def set_standing_capacity(venue_id: str):
    data = {"section": request.form.get("section", ""), "capacity": request.form.get("capacity", "")}

    def change(uow: UnitOfWork, vid: int):
        body = _form(request_models.StandingCapacityRequest, data)
        return venues.set_standing_capacity(uow, actor(), vid, body.section, body.capacity)

    return _venue_change(venue_id, change)


@bp.post("/venues/<venue_id>/sections/delete")
@manager_page
def remove_section(venue_id: str):
    section = request.form.get("section", "")
    return _venue_change(venue_id, lambda uow, vid: venues.remove_section(uow, actor(), vid, section))


MARKS = {
    "accessible": {"accessible": True},
    "not-accessible": {"accessible": False},
    "companion": {"companion": True},
    "not-companion": {"companion": False},
    "not-for-sale": {"sellable": False},
    "for-sale": {"sellable": True},
}


@bp.post("/venues/<venue_id>/seats")
@manager_page
def mark_seats(venue_id: str):
    seat_ids = list(layouts.seat_list(request.form.get("seatIds", "")))
    mark = request.form.get("mark", "")

    def change(uow: UnitOfWork, vid: int):
        changes = dict(MARKS.get(mark, {}))
        if mark == "tier":
            changes = {
                "tier": _form(
                    request_models.MarkSeatsRequest,
                    {"seatIds": seat_ids or ["-"], "tier": request.form.get("tier", "").strip()},
                ).tier
            }
        if not changes:
            raise ValidationFailed("choose what to do with the seats")
        if not seat_ids:
            raise ValidationFailed("name the seats to change, e.g. A1 A2 B7")
        return venues.mark_seats(uow, actor(), vid, seat_ids, changes)

    return _venue_change(venue_id, change)


@bp.get("/venues/<venue_id>/layout.csv")
@manager_page
def layout_csv(venue_id: str):
    vid = _id(venue_id, VenueNotFound, "venue")
    with unit_of_work() as uow:
        seats = venues.get_layout(uow, actor(), vid)
    return Response(
        layouts.to_csv(seats),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="venue-{vid}-layout.csv"'},
    )


@bp.get("/venues/<venue_id>/tiers")
@manager_page
def venue_tiers(venue_id: str):
    """The price inputs for a venue's tiers (swapped into the show form when the venue changes)."""
    vid = _id(venue_id, VenueNotFound, "venue")
    with unit_of_work() as uow:
        access.venue(uow, actor(), vid)
        tiers = queries.venue_tiers(uow, vid)
    return render_template("manage/_price_inputs.html", tiers=tiers, prices={})


# ---------------------------------------------------------------- events


@bp.route("/events/new", methods=["GET", "POST"])
@manager_page
def new_event():
    errors: list[str] = []
    if request.method == "POST":
        data: dict[str, str | None] = {
            k: request.form.get(k, "") for k in ("title", "category", "description", "durationMinutes")
        }
        if actor().is_admin:
            data["organisationId"] = request.form.get("organisationId") or None
        try:
            body = _form(request_models.EventRequest, data)
            with unit_of_work() as uow:
                shows.create_event(
                    uow,
                    actor(),
                    body.title,
                    body.category,
                    body.description,
                    body.durationMinutes,
                    int(body.organisationId) if body.organisationId else None,
                )
            flash(gettext("Event “%(title)s” created. Schedule its shows next.", title=body.title))
            return redirect(url_for("manage.new_show"), code=303)
        except DomainError as exc:
            errors = _errors(exc)
    return render_template(
        "manage/event_new.html", categories=shows.EVENT_CATEGORIES, errors=errors, form=request.form
    ), 422 if errors else 200


@bp.route("/events/<event_id>/edit", methods=["GET", "POST"])
@manager_page
def edit_event(event_id: str):
    eid = _id(event_id, EventNotFound, "event")
    errors: list[str] = []
    if request.method == "POST":
        data = {k: request.form.get(k, "") for k in ("title", "category", "description", "durationMinutes")}
        try:
            changes = _form(request_models.EventChangeRequest, data).changes()
            with unit_of_work() as uow:
                shows.update_event(uow, actor(), eid, changes)
            flash(gettext("Event updated."))
            return redirect(url_for("manage.overview"), code=303)
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors = _errors(exc)
    return _event_page(eid, errors, request.form if request.method == "POST" else None)


def _event_page(eid: int, errors: list[str], form: Any = None, poster_errors: list[str] | None = None):
    with unit_of_work() as uow:
        access.event(uow, actor(), eid)
        event = next(e for e in shows.list_events(uow, actor()) if e["eventId"] == str(eid))
        poster = queries.event_poster(uow, eid)
    return render_template(
        "manage/event_new.html",
        categories=shows.EVENT_CATEGORIES,
        errors=errors,
        poster_errors=poster_errors or [],
        poster=poster,
        form=form
        if form is not None
        else {
            "title": event["title"],
            "category": event["category"],
            "description": event["description"],
            "durationMinutes": event["durationMinutes"],
        },
        event=event,
    ), 422 if errors or poster_errors else 200


@bp.post("/events/<event_id>/poster")
@manager_page
def event_poster(event_id: str):
    """The poster form on the event's page (the API's ``setEventPoster`` behind a form)."""
    eid = _id(event_id, EventNotFound, "event")
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed(gettext("choose an image file"))
        with unit_of_work() as uow:
            posters.set_poster(uow, actor(), eid, upload.read(settings().poster_max_bytes + 1))
    except DomainError as exc:
        if exc.status == 404:
            raise
        page, status = _event_page(eid, [], poster_errors=_errors(exc))
        return page, 413 if exc.status == 413 else status
    flash(gettext("Poster saved."))
    return redirect(url_for("manage.edit_event", event_id=eid), code=303)


# ---------------------------------------------------------------- shows


def _show_form_data(form: Any, with_ids: bool, currency: str | None = None) -> dict[str, Any]:
    """The show form as the API's request body. Amounts are typed in major units of the show's
    currency (``currency``, or the form's own for a new show) and sent in minor units."""
    data: dict[str, Any] = {}
    if with_ids:
        currency = form.get("currency", "").strip().upper()
        data.update(eventId=form.get("eventId", ""), venueId=form.get("venueId", ""), currency=currency)
    if currency not in money.CURRENCIES:
        raise ValidationFailed(
            "choose a currency Seatline sells in",
            fields=[{"field": "currency", "message": (f"one of {', '.join(sorted(money.CURRENCIES))}")}],
        )
    problems: list[dict[str, str]] = []
    for field in ("startTime", "saleOpensAt", "saleClosesAt"):
        if form.get(field):
            data[field] = form.get(field)
    prices = {}
    for key, value in form.items():
        if key.startswith("price-") and value.strip():
            prices[key[6:]] = _minor_units(value, currency, f"prices.{key[6:]}", problems)
    if prices or with_ids:
        data["prices"] = prices
    rules = []
    for hours, percent in (("refundFullHours", 100), ("refundHalfHours", 50)):
        if form.get(hours, "").strip():
            rules.append({"hoursBefore": form.get(hours).strip(), "refundPercent": percent})
    fee = form.get("refundFee", "").strip() or "0"
    data["refundPolicy"] = {"rules": rules, "feeMinor": _minor_units(fee, currency, "refundFee", problems)}
    if problems:
        raise ValidationFailed("some fields need another look", fields=problems)
    if not with_ids and form.get("startTime") and form.get("rescheduleRefundDays", "").strip():
        data["rescheduleRefundDays"] = form.get("rescheduleRefundDays").strip()  # README "Rescheduling a show"
    if not with_ids and form.get("transferCutoffMinutes", "").strip():
        data["transferCutoffMinutes"] = form.get("transferCutoffMinutes").strip()  # README "Tickets and transfer"
    if not with_ids and form.get("ticketCodes", "").strip():  # README "Rotating codes"
        data["ticketCodes"] = form.get("ticketCodes").strip()
        data["staticCodesAllowed"] = bool(form.get("staticCodesAllowed"))
    if form.get("queueRequired"):
        data["queue"] = {
            k: form.get(k)
            for k in ("batchSize", "admissionIntervalSeconds", "maxActive", "sessionSeconds")
            if form.get(k)
        }
    elif not with_ids:
        data["queueRequired"] = False
    return data


def _minor_units(raw: str, currency: str, field: str, problems: list[dict[str, str]]) -> Any:
    """An amount typed in major units of the currency (`12.50` GBP, `3000` JPY, `1.250` KWD) in minor
    units (1250, 3000, 1250). One with more decimals than the currency has is a problem of ``field``;
    anything that is not a number at all is passed on as typed for the form's request model to refuse."""
    try:
        return money.to_minor(raw, currency)
    except money.TooManyDecimals as exc:
        problems.append({"field": field, "message": str(exc)})
        return 0
    except ValueError:
        return raw


def _show_form_options(uow: UnitOfWork) -> dict[str, Any]:
    return {"events": shows.list_events(uow, actor()), "venues": venues.list_venues(uow, actor())}


@bp.route("/shows/new", methods=["GET", "POST"])
@manager_page
def new_show():
    errors: list[str] = []
    if request.method == "POST":
        try:
            data = _form(request_models.ShowRequest, _show_form_data(request.form, with_ids=True)).show_input()
            with unit_of_work() as uow:
                show_id = shows.create_show(uow, actor(), data, redis_store.roles)
            flash(gettext("Show scheduled."))
            return redirect(url_for("manage.show", show_id=show_id), code=303)
        except DomainError as exc:
            if exc.status == 404 and not isinstance(exc, (EventNotFound, VenueNotFound)):
                raise
            errors = _errors(exc)
    with unit_of_work() as uow:
        options = _show_form_options(uow)
        venue_id = request.values.get("venueId") or (options["venues"][0]["venueId"] if options["venues"] else None)
        tiers = []
        if venue_id and venue_id.isdigit():
            try:
                access.venue(uow, actor(), int(venue_id))
                tiers = queries.venue_tiers(uow, int(venue_id))
            except VenueNotFound:
                tiers = []
    prices = {k[6:]: v for k, v in request.form.items() if k.startswith("price-")}
    return render_template(
        "manage/show_form.html",
        show=None,
        errors=errors,
        form=request.form,
        tiers=tiers,
        prices=prices,
        selected_venue=venue_id,
        **options,
    ), 422 if errors else 200


def _live_sale(show_id: str) -> dict[str, Any]:
    sid = _id(show_id, ShowNotFound, "show")

    def read(uow: UnitOfWork) -> tuple[dict[str, Any], dict[str, Any], Any, int]:
        detail = shows.get_show(uow, actor(), sid)
        figures = dashboard.figures(uow, actor(), sid, redis_store.roles)
        progress = cancellation.progress(uow, sid) if detail["status"] == "CANCELLED" else None
        # Tickets checked in at the door (README "Door check-in"), counted afresh on every poll.
        return detail, figures, progress, checkin.admitted_count(uow, sid)

    detail, figures, progress, admitted = browsing_read(read)  # the replica while fresh enough (app/replica.py)
    return {
        "show": detail,
        "figures": figures,
        "admitted": admitted,
        "chart": dashboard.chart(figures["salesOverTime"]),
        "progress": progress,
    }


@bp.get("/shows/<show_id>")
@manager_page
def show(show_id: str):
    context = _live_sale(show_id)
    with unit_of_work() as uow:
        context.update(_codes_context(uow, int(context["show"]["showId"])))
    return render_template("manage/show.html", **context)


# ---------------------------------------------------------------- presale codes and vouchers (README "Presale codes and vouchers")


def _codes_context(uow: UnitOfWork, show_id: int) -> dict[str, Any]:
    """The show's codes and its event's, with times in the venue's zone, for ``manage/_access_codes.html``."""
    show = access.show(uow, actor(), show_id)
    tz = ZoneInfo(show.timezone)
    codes = [
        {**c, "opensAt": _venue_iso(c["opensAt"], tz), "closesAt": _venue_iso(c["closesAt"], tz)}
        for c in access_codes.list_for_show(uow, actor(), show_id)
    ]
    return {"codes": codes, "code_show_id": show_id, "code_currency": show.currency}


def _venue_iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def _code_form(form: Any, currency: str, timezone: str) -> dict[str, Any]:
    """The dashboard's code form as the API's request body: the amount typed in major units, the times
    as the venue's wall-clock time."""
    problems: list[dict[str, str]] = []
    data: dict[str, Any] = {"code": form.get("code", "").strip(), "kind": form.get("kind", "")}
    for field in ("percentOff", "maxUses"):
        if form.get(field, "").strip():
            data[field] = form.get(field).strip()
    if form.get("amountOff", "").strip():
        data["amountOff"] = _minor_units(form.get("amountOff").strip(), currency, "amountOff", problems)
    for field in ("opensAt", "closesAt"):
        raw = form.get(field, "").strip()
        if raw:
            try:
                at = datetime.fromisoformat(raw)
                data[field] = (at if at.tzinfo else at.replace(tzinfo=ZoneInfo(timezone))).isoformat()
            except ValueError:
                problems.append({"field": field, "message": "a date and time"})
    if problems:
        raise ValidationFailed("some fields need another look", fields=problems)
    return data


def _codes_answer(show_id: int, errors: list[str], message: str | None) -> ResponseReturnValue:
    """htmx: the codes section again, with what happened; a plain form post: back to the show's page."""
    if request.headers.get("HX-Request"):
        with unit_of_work() as uow:
            context = _codes_context(uow, show_id)
        return render_template("manage/_access_codes.html", code_errors=errors, code_message=message, **context)
    for line in errors or ([message] if message else []):
        flash(line)
    return redirect(url_for("manage.show", show_id=show_id, _anchor="access-codes"), code=303)


@bp.post("/shows/<show_id>/access-codes")
@manager_page
def create_access_code(show_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    with unit_of_work() as uow:
        show = access.show(uow, actor(), sid)
    try:
        body = _form(request_models.AccessCodeRequest, _code_form(request.form, show.currency, show.timezone))
        for_event = request.form.get("scope") == "event"
        with unit_of_work() as uow:
            created = access_codes.create(
                uow,
                actor(),
                show_id=None if for_event else sid,
                event_id=show.event_id if for_event else None,
                code=body.code,
                kind=body.kind,
                percent_off=body.percentOff,
                amount_off=body.amountOff,
                max_uses=body.maxUses,
                opens_at=body.opensAt,
                closes_at=body.closesAt,
                active=True,
            )
    except (ValidationFailed, access_codes.AccessCodeExists) as exc:
        return _codes_answer(sid, _errors(exc), None)
    return _codes_answer(sid, [], gettext("Code %(code)s created.", code=created["code"]))


@bp.post("/shows/<show_id>/access-codes/<code_id>/deactivate")
@manager_page
def deactivate_access_code(show_id: str, code_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    cid = _id(code_id, access_codes.AccessCodeNotFound, "access code")
    with unit_of_work() as uow:
        access.show(uow, actor(), sid)
        code = access_codes.update(uow, actor(), cid, {"active": False})
    return _codes_answer(sid, [], gettext("Code %(code)s deactivated.", code=code["code"]))


@bp.get("/shows/<show_id>/figures")
@manager_page
def show_figures(show_id: str):
    """The live part of the dashboard; htmx polls it every few seconds."""
    response = make_response(render_template("manage/_figures.html", **_live_sale(show_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/shows/<show_id>/edit", methods=["GET", "POST"])
@manager_page
def edit_show(show_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    errors: list[str] = []
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                current = shows.get_show(uow, actor(), sid)
            form = _show_form_data(request.form, False, current["currency"])
            # The form shows the start to the minute and sends it back with every change: only a start
            # typed differently moves the show (README "Rescheduling a show").
            if form.get("startTime") == current["startTime"][:16]:
                form.pop("startTime")
                form.pop("rescheduleRefundDays", None)
            changes = request_models.show_changes(_form(request_models.ShowChangeRequest, form))
            with unit_of_work() as uow:
                shows.update_show(uow, actor(), sid, changes, redis_store.roles)
            flash(gettext("Show updated."))
            return redirect(url_for("manage.show", show_id=sid), code=303)
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors = _errors(exc)
    with unit_of_work() as uow:
        detail = shows.get_show(uow, actor(), sid)
        tiers = queries.venue_tiers(uow, int(detail["venueId"]))
    prices = {t: str(money.to_major(p, detail["currency"])) for t, p in detail["prices"].items()}
    return render_template(
        "manage/show_form.html",
        show=detail,
        errors=errors,
        form=request.form,
        tiers=tiers,
        prices=prices,
        selected_venue=detail["venueId"],
        events=[],
        venues=[],
    ), 422 if errors else 200


@bp.post("/shows/<show_id>/queue/<action>")
@manager_page
def queue_action(show_id: str, action: str):
    sid = _id(show_id, ShowNotFound, "show")
    if action not in waiting_rooms.ACTIONS:
        abort(404)
    with unit_of_work() as uow:
        event_id = int(shows.get_show(uow, actor(), sid)["eventId"])
    try:
        with unit_of_work() as uow:
            waiting_rooms.control(uow, redis_store.roles, actor(), event_id, action)
        flash(gettext("Waiting room: %(action)s done.", action=action))
    except DomainError as exc:
        flash(_errors(exc)[0])
    return redirect(url_for("manage.show", show_id=sid), code=303)


@bp.post("/shows/<show_id>/cancel")
@manager_page
def cancel(show_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    if request.form.get("confirm") != "CANCEL":
        flash(gettext("The show was not cancelled: type CANCEL to confirm."))
        return redirect(url_for("manage.show", show_id=sid), code=303)
    with unit_of_work() as uow:
        reason = request.form.get("reason", "").strip()[:500]
        _, newly = cancellation.start(uow, redis_store.roles, actor(), sid, reason)
    flash(
        gettext("Show cancelled. Every booking is being refunded in full.")
        if newly
        else gettext("This show was already cancelled.")
    )
    return redirect(url_for("manage.show", show_id=sid), code=303)


@bp.get("/shows/<show_id>/bookings.csv")
@manager_page
def bookings_csv(show_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    with unit_of_work() as uow:
        body = box_office.bookings_csv(uow, actor(), sid)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="show-{sid}-bookings.csv"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- box office


@bp.get("/shows/<show_id>/seats")
@manager_page
def seats(show_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    with unit_of_work() as uow:
        detail = shows.get_show(uow, actor(), sid)
        states = box_office.seat_states(uow, actor(), sid, request.args.get("section"))
    left = min((s["x"] for s in states["seats"]), default=0)
    top = min((s["y"] for s in states["seats"]), default=0)
    return render_template("manage/seats.html", show=detail, states=states, left=left, top=top)


@bp.post("/shows/<show_id>/seats")
@manager_page
def change_seats(show_id: str):
    sid = _id(show_id, ShowNotFound, "show")
    seat_ids = request.form.getlist("seat") or list(layouts.seat_list(request.form.get("seatIds", "")))
    action = request.form.get("action", "")
    section = request.form.get("section") or None
    try:
        with unit_of_work() as uow:
            if request.form.get("quantity") is not None:
                # A number of places of a standing section (README "General admission (standing)").
                quantity = _form(
                    request_models.StandingCapacityRequest,
                    {"section": section or "", "capacity": request.form["quantity"]},
                )
                seat_ids = box_office.standing_places(
                    uow, actor(), sid, section or "", quantity.capacity, blocked=action == "release"
                )
            if action in ("KILL", "HOUSE"):
                done = box_office.block_seats(uow, redis_store.roles, actor(), sid, seat_ids, action)
                flash(
                    gettext("Taken out of sale (kill): %(seats)s", seats=" ".join(done))
                    if action == "KILL"
                    else gettext("Taken out of sale (house): %(seats)s", seats=" ".join(done))
                )
            elif action == "release":
                done = box_office.unblock_seats(uow, redis_store.roles, actor(), sid, seat_ids)
                flash(
                    gettext("Back on sale: %(seats)s", seats=" ".join(done))
                    if done
                    else gettext("Back on sale: none of those seats were out of sale")
                )
            else:
                raise ValidationFailed("choose what to do with the seats")
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(" ".join(_errors(exc)))
    return redirect(url_for("manage.seats", show_id=sid, section=section), code=303)


@bp.app_template_filter("local_time")
def local_time(value: str) -> str:
    """A show's time as the API gives it (ISO, the venue's offset), worded for the page's language (README "Languages")."""
    return format_show_time(value)
