"""The manager API, /api/v1/manage: everything the dashboard does, for scripts and other clients.

Routes parse (the request models are in ``request_models.py``, shared with the dashboard's forms),
call the same service the dashboard calls with the actor, and map the result; the services scope
every read and write to the actor's organisation.
"""
from __future__ import annotations

from flask import Blueprint, Response, g, request

from app.api.http import current_user, parse_body, parse_id
from app.catalog.layout import SeatSpec
from app.errors import (
    EventNotFound,
    NotFound,
    ShowNotFound,
    ValidationFailed,
    VenueNotFound,
)
from app.extensions import redis_store
from app.manage import access, box_office, cancellation, dashboard, layouts, shows, venues, waiting_rooms
from app.manage.access import Actor, load_actor
from app.manage.request_models import (
    BlockRequest,
    BlockSeatsRequest,
    CancelRequest,
    EventChangeRequest,
    EventRequest,
    LayoutRequest,
    MarkSeatsRequest,
    ShowChangeRequest,
    ShowRequest,
    UnblockSeatsRequest,
    VenueRequest,
    row_block,
    show_changes,
)
from app.unit_of_work import unit_of_work
from app.waiting_room.control import QueueRequest

bp = Blueprint("manage_api", __name__, url_prefix="/api/v1/manage")

@bp.before_request
def _managers_only() -> None:
    """Authentication (401) and the role (403) come before anything about the request is looked at."""
    with unit_of_work() as uow:
        g.manage_actor = load_actor(uow, current_user().id)


def actor() -> Actor:
    """The caller, as ``_managers_only`` loaded them."""
    return g.manage_actor


# ---------------------------------------------------------------- venues and layouts


@bp.get("/venues")
def list_venues():
    with unit_of_work() as uow:
        return {"venues": venues.list_venues(uow, actor())}


@bp.post("/venues")
def create_venue():
    body = parse_body(VenueRequest)
    with unit_of_work() as uow:
        venue_id = venues.create_venue(uow, actor(), int(body.cityId), body.name, body.kind, body.address,
                                       int(body.organisationId) if body.organisationId else None)
        return venues.get_venue(uow, actor(), venue_id), 201


def _venue_id(raw: str) -> int:
    return parse_id(raw, VenueNotFound, "venue")


@bp.get("/venues/<venue_id>")
def get_venue(venue_id: str):
    with unit_of_work() as uow:
        return venues.get_venue(uow, actor(), _venue_id(venue_id))


@bp.get("/venues/<venue_id>/layout")
def get_layout(venue_id: str):
    vid = _venue_id(venue_id)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationFailed("format must be json or csv", fields=[{"field": "format", "message": "unknown format"}])
    with unit_of_work() as uow:
        seats = venues.get_layout(uow, actor(), vid)
    if fmt == "csv":
        return Response(layouts.to_csv(seats), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="venue-{vid}-layout.csv"'})
    return {"venueId": str(vid), "seats": [venues.seat_view(s) for s in seats]}


@bp.put("/venues/<venue_id>/layout")
def replace_layout(venue_id: str):
    vid = _venue_id(venue_id)
    request.max_content_length = venues.IMPORT_LIMIT
    body = parse_body(LayoutRequest)
    seats = [SeatSpec(s.seatId, s.section, s.row, s.number, s.x, s.y, s.tier, s.accessible, s.companion, s.sellable)
             for s in body.seats]
    with unit_of_work() as uow:
        return venues.apply_layout(uow, actor(), vid, seats)


@bp.post("/venues/<venue_id>/layout/import")
def import_layout(venue_id: str):
    """The body is the CSV file itself (Content-Type: text/csv); it replaces the layout."""
    vid = _venue_id(venue_id)
    request.max_content_length = venues.IMPORT_LIMIT
    if request.mimetype not in ("text/csv", "text/plain"):
        raise ValidationFailed("send the layout as a CSV body with Content-Type: text/csv")
    raw = request.get_data(cache=False)
    with unit_of_work() as uow:
        return venues.import_csv(uow, actor(), vid, raw)


@bp.post("/venues/<venue_id>/layout/blocks")
def add_block(venue_id: str):
    vid = _venue_id(venue_id)
    block = row_block(parse_body(BlockRequest))
    with unit_of_work() as uow:
        return venues.add_block(uow, actor(), vid, block), 201


@bp.delete("/venues/<venue_id>/layout/sections/<path:section>")
def remove_section(venue_id: str, section: str):
    vid = _venue_id(venue_id)
    with unit_of_work() as uow:
        return venues.remove_section(uow, actor(), vid, section)


@bp.patch("/venues/<venue_id>/layout/seats")
def mark_seats(venue_id: str):
    vid = _venue_id(venue_id)
    body = parse_body(MarkSeatsRequest)
    changes = {k: v for k, v in body.model_dump(exclude={"seatIds"}).items() if v is not None}
    if not changes:
        raise ValidationFailed("say what to change: tier, accessible, companion or sellable")
    with unit_of_work() as uow:
        return venues.mark_seats(uow, actor(), vid, body.seatIds, changes)


# ---------------------------------------------------------------- events and shows


@bp.get("/events")
def list_events():
    with unit_of_work() as uow:
        return {"events": shows.list_events(uow, actor())}


@bp.post("/events")
def create_event():
    body = parse_body(EventRequest)
    with unit_of_work() as uow:
        event_id = shows.create_event(uow, actor(), body.title, body.category, body.description,
                                      body.durationMinutes, int(body.organisationId) if body.organisationId else None)
    return {"eventId": str(event_id), "title": body.title}, 201


@bp.patch("/events/<event_id>")
def update_event(event_id: str):
    eid = _event_id(event_id)
    changes = parse_body(EventChangeRequest).changes()
    if not changes:
        raise ValidationFailed("nothing to change")
    with unit_of_work() as uow:
        return shows.update_event(uow, actor(), eid, changes)


@bp.get("/shows")
def list_shows():
    with unit_of_work() as uow:
        return {"shows": shows.list_shows(uow, actor())}


@bp.post("/shows")
def create_show():
    data = parse_body(ShowRequest).show_input()
    with unit_of_work() as uow:
        who = actor()
        show_id = shows.create_show(uow, who, data, redis_store.client)
        return shows.get_show(uow, who, show_id), 201


def _show_id(raw: str) -> int:
    return parse_id(raw, ShowNotFound, "show")


@bp.get("/shows/<show_id>")
def get_show(show_id: str):
    with unit_of_work() as uow:
        return shows.get_show(uow, actor(), _show_id(show_id))


@bp.patch("/shows/<show_id>")
def update_show(show_id: str):
    sid = _show_id(show_id)
    changes = show_changes(parse_body(ShowChangeRequest))
    if not changes:
        raise ValidationFailed("nothing to change")
    with unit_of_work() as uow:
        who = actor()
        shows.update_show(uow, who, sid, changes, redis_store.client)
        return shows.get_show(uow, who, sid)


@bp.get("/shows/<show_id>/dashboard")
def show_dashboard(show_id: str):
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        figures = dashboard.figures(uow, actor(), sid, redis_store.client)
    return figures, 200, {"Cache-Control": "no-store"}


@bp.get("/shows/<show_id>/seats")
def show_seats(show_id: str):
    sid = _show_id(show_id)
    section = request.args.get("section")
    with unit_of_work() as uow:
        return box_office.seat_states(uow, actor(), sid, section)


@bp.post("/shows/<show_id>/seats/block")
def block_seats(show_id: str):
    sid = _show_id(show_id)
    body = parse_body(BlockSeatsRequest)
    with unit_of_work() as uow:
        seats = box_office.block_seats(uow, redis_store.client, actor(), sid, body.seatIds, body.kind)
    return {"showId": str(sid), "seatIds": seats, "status": "BLOCKED", "kind": body.kind}


@bp.post("/shows/<show_id>/seats/unblock")
def unblock_seats(show_id: str):
    sid = _show_id(show_id)
    body = parse_body(UnblockSeatsRequest)
    with unit_of_work() as uow:
        seats = box_office.unblock_seats(uow, redis_store.client, actor(), sid, body.seatIds)
    return {"showId": str(sid), "seatIds": seats, "status": "AVAILABLE"}


@bp.post("/shows/<show_id>/cancel")
def cancel_show(show_id: str):
    sid = _show_id(show_id)
    raw = request.get_data(cache=True)
    reason = parse_body(CancelRequest).reason if raw.strip() else ""
    with unit_of_work() as uow:
        progress, newly = cancellation.start(uow, redis_store.client, actor(), sid, reason)
    return progress, 202 if newly else 200


@bp.get("/shows/<show_id>/cancellation")
def cancellation_progress(show_id: str):
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        access.show(uow, actor(), sid)
        return cancellation.progress(uow, sid), 200, {"Cache-Control": "no-store"}


@bp.get("/shows/<show_id>/bookings.csv")
def export_bookings(show_id: str):
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        body = box_office.bookings_csv(uow, actor(), sid)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="show-{sid}-bookings.csv"', "Cache-Control": "no-store"})


# ---------------------------------------------------------------- waiting rooms


def _event_id(raw: str) -> int:
    return parse_id(raw, EventNotFound, "event")


@bp.get("/events/<event_id>/queue")
def queue_figures(event_id: str):
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        figures = waiting_rooms.control(uow, redis_store.client, actor(), eid, "figures")
    return figures, 200, {"Cache-Control": "no-store"}


@bp.put("/events/<event_id>/queue")
def open_queue(event_id: str):
    eid = _event_id(event_id)
    settings = parse_body(QueueRequest).settings()
    with unit_of_work() as uow:
        return waiting_rooms.control(uow, redis_store.client, actor(), eid, "open", settings)


@bp.post("/events/<event_id>/queue/<action>")
def control_queue(event_id: str, action: str):
    eid = _event_id(event_id)
    if action not in waiting_rooms.ACTIONS:
        raise NotFound(f"a waiting room has no action {action[:20]!r}: pause, resume, drain or close")
    with unit_of_work() as uow:
        return waiting_rooms.control(uow, redis_store.client, actor(), eid, action)
