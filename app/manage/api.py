"""The manager API, /api/v1/manage: everything the dashboard does, for scripts and other clients.

Routes parse (the request models are in ``request_models.py``, shared with the dashboard's forms),
call the same service the dashboard calls with the actor, and map the result; the services scope
every read and write to the actor's organisation.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, g, request

from app.api.http import current_user, parse_body, parse_id
from app.catalog.layout import SeatSpec
from app.contract import (
    ACCOUNT_NOT_ELIGIBLE,
    ACCOUNT_NOT_FOUND,
    BLOCK_REFUSED,
    CITY_NOT_FOUND,
    DEGRADED,
    EVENT_EXISTS,
    EVENT_OR_QUEUE_NOT_FOUND,
    EVENT_OR_VENUE_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_QUEUE_STATE,
    LAYOUT_IN_USE,
    LAYOUT_TOO_LARGE,
    LAYOUT_VALIDATION_FAILED,
    MANAGER_ONLY,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    POSTER_TOO_LARGE,
    QUEUE_ACTION_NOT_FOUND,
    SHOW_CANCELLED,
    SHOW_EXISTS,
    SHOW_EXISTS_OR_CANCELLED,
    SHOW_NOT_FOUND,
    SHOW_OR_SECTION_NOT_FOUND,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    VENUE_EXISTS,
    VENUE_NOT_FOUND,
    Answer,
    Failure,
    operation,
)
from app.errors import (
    EventNotFound,
    NotFound,
    ShowNotFound,
    ValidationFailed,
    VenueNotFound,
)
from app.extensions import redis_store, settings
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
    reports,
    shows,
    venues,
    waiting_rooms,
)
from app.manage.access import Actor, load_actor
from app.manage.request_models import (
    AccessCodeChangeRequest,
    AccessCodeRequest,
    BlockRequest,
    BlockSeatsRequest,
    CancelRequest,
    CheckinWindowRequest,
    DoorStaffRequest,
    EventChangeRequest,
    EventRequest,
    LayoutRequest,
    MarkSeatsRequest,
    ShowChangeRequest,
    ShowRequest,
    StandingCapacityRequest,
    StandingSectionRequest,
    UnblockSeatsRequest,
    VenueRequest,
    row_block,
    show_changes,
)
from app.manage.schemas import (
    AccessCode,
    AccessCodeList,
    BoxOfficeSeats,
    CancellationProgress,
    CheckinWindow,
    DoorStaffList,
    DoorStaffMember,
    EventCreated,
    EventPoster,
    LayoutChange,
    ManagedEvent,
    ManagedEventList,
    ManagedShow,
    ManagedShowList,
    ManagedVenueDetail,
    ManagedVenueList,
    SalesReport,
    SeatsBlocked,
    SeatsUnblocked,
    ShowDashboard,
    VenueLayout,
    WaitingRoomFigures,
)
from app.replica import browsing_read
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
@operation(
    "listManagedVenues",
    "The venues the caller manages",
    tags=("manage",),
    answers={200: Answer("The caller's venues (possibly none).", model=ManagedVenueList)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_venues():
    """The venues the caller's organisation owns (an admin: every venue), ordered by city
    name, then venue name, each with its number of seats.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN` (the caller is not a
    manager or an admin); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    with unit_of_work() as uow:
        return {"venues": venues.list_venues(uow, actor())}


@bp.post("/venues")
@operation(
    "createVenue",
    "Create a venue (with no seats yet)",
    tags=("manage",),
    body=VenueRequest,
    body_examples={
        "theatre": {"value": {"cityId": "1", "name": "Globe Studio", "kind": "theatre", "address": "4 Bank Street"}}
    },
    answers={201: Answer("The venue was created; it has no seats yet.", model=ManagedVenueDetail)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: CITY_NOT_FOUND,
        409: VENUE_EXISTS,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def create_venue():
    """Creates a venue owned by the caller's organisation; an admin names the owning
    organisation in `organisationId` (a manager's `organisationId` is ignored). The venue
    has no seats: build its layout with `PUT /manage/venues/{venueId}/layout`,
    `POST /manage/venues/{venueId}/layout/import` or
    `POST /manage/venues/{venueId}/layout/blocks` before scheduling shows there.
    Venue names are unique within a city, across all organisations.

    Checks, in order: authentication (401), the role (403), the body (400), an admin's
    `organisationId` (400), the city (404), the name (409).

    Errors: `400 VALIDATION_FAILED` (bad body; an admin without `organisationId`);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 CITY_NOT_FOUND`;
    `409 VENUE_EXISTS` (the city already has a venue with that name);
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(VenueRequest)
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
        return venues.get_venue(uow, actor(), venue_id), 201


def _venue_id(raw: str) -> int:
    return parse_id(raw, VenueNotFound, "venue")


@bp.get("/venues/<venue_id>")
@operation(
    "getManagedVenue",
    "One of the caller's venues, with a summary of its layout",
    tags=("manage",),
    answers={200: Answer("The venue.", model=ManagedVenueDetail)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: VENUE_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def get_venue(venue_id: str):
    """The venue, its seat count, its layout version (it changes whenever the seats change)
    and one summary per section, in layout order. `locked` is true while a scheduled show
    at the venue has held or booked seats: then seats can be added, moved and marked, but
    not removed, renumbered or moved to another tier (`409 LAYOUT_IN_USE`).

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`
    (no such venue, another organisation's venue, or a `venueId` that is not a decimal
    number); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    with unit_of_work() as uow:
        return venues.get_venue(uow, actor(), _venue_id(venue_id))


@bp.get("/venues/<venue_id>/layout")
@operation(
    "getVenueLayout",
    "The venue's seat layout, as JSON or as a CSV file",
    tags=("manage",),
    parameters=(
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "`json` (the default) or `csv` for the CSV file; anything else is `400 VALIDATION_FAILED`.",
            "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
        },
    ),
    answers={
        200: Answer(
            "The layout; JSON by default, CSV with `format=csv`.",
            model=VenueLayout,
            content={
                "text/csv": {
                    "schema": {"type": "string", "description": "The layout in the import format, header line first."},
                    "example": "section,row,number,tier,seat_id,x,y,accessible,companion,sellable\nStalls,A,1,front,A1,1,0,yes,no,yes\nStalls,A,2,front,A2,2,0,no,yes,yes\n",
                }
            },
        )
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def get_layout(venue_id: str):
    r"""Every seat of the venue in layout order. By default the answer is JSON; with
    `format=csv` it is a CSV file (`Content-Disposition: attachment;
    filename="venue-{venueId}-layout.csv"`) in exactly the format
    `POST /manage/venues/{venueId}/layout/import` reads, so an exported layout imports back
    unchanged: a header line
    `section,row,number,tier,seat_id,x,y,accessible,companion,sellable`, then one seat per
    line (flags as `yes`/`no`, lines ending in `\n`).

    Errors: `400 VALIDATION_FAILED` (an unknown `format`); `401 AUTH_REQUIRED` /
    `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND` (no such venue, another
    organisation's venue, or a `venueId` that is not a decimal number);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationFailed("format must be json or csv", fields=[{"field": "format", "message": "unknown format"}])
    with unit_of_work() as uow:
        seats = venues.get_layout(uow, actor(), vid)
    if fmt == "csv":
        return Response(
            layouts.to_csv(seats),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="venue-{vid}-layout.csv"'},
        )
    return {"venueId": str(vid), "seats": [venues.seat_view(s) for s in seats]}


@bp.put("/venues/<venue_id>/layout")
@operation(
    "replaceVenueLayout",
    "Replace the venue's whole layout",
    tags=("manage",),
    body=LayoutRequest,
    body_examples={
        "twoSeats": {
            "value": {
                "seats": [
                    {
                        "seatId": "A1",
                        "section": "Stalls",
                        "row": "A",
                        "number": 1,
                        "tier": "front",
                        "x": 1,
                        "y": 0,
                        "accessible": True,
                    },
                    {
                        "seatId": "A2",
                        "section": "Stalls",
                        "row": "A",
                        "number": 2,
                        "tier": "front",
                        "x": 2,
                        "y": 0,
                        "companion": True,
                    },
                ]
            }
        }
    },
    answers={200: Answer("The layout was replaced.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        413: LAYOUT_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def replace_layout(venue_id: str):
    """Makes `seats` the venue's layout, in the order given (the order of seat maps). Seats
    are matched to the current layout by `seatId`: a seat id that is not in the list is
    removed, a new one is added, and a kept one takes the new section, row, number,
    position, tier and flags. Seat ids and places (section, row, number) must each be
    unique; every problem is listed in `lines`, where `line` is the seat's 1-based index in
    `seats` (0: the layout as a whole). The body may be up to **8 MiB**.

    Scheduled shows at the venue follow the layout at once: new seats go on sale in them,
    a seat that stops being `sellable` is taken out of sale (put back when it is sellable
    again). While a scheduled show has held or booked seats, the change may not remove a
    seat or change a seat's section, row, number or tier: `409 LAYOUT_IN_USE`, naming the
    shows (`showIds`) and up to 20 of the seats (`removedSeats`, `changedSeats`). A tier
    that is new to the venue needs a price in every scheduled show there first
    (`400 VALIDATION_FAILED` with `unpricedTiers` and `showIds`). A rejected layout
    changes nothing.

    Checks, in order: authentication (401), the role (403), the venue id (404 if it is not a decimal number), the body (400,
    413), the venue (404), the layout (400, 409).

    Errors: `400 VALIDATION_FAILED` (bad body; duplicate seat ids or places, in `lines`;
    tiers without prices, in `unpricedTiers`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`; `409 LAYOUT_IN_USE`;
    `413 PAYLOAD_TOO_LARGE` (over 8 MiB); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    request.max_content_length = venues.IMPORT_LIMIT
    body = parse_body(LayoutRequest)
    seats = [
        SeatSpec(
            s.seatId, s.section, s.row, s.number, s.x, s.y, s.tier, s.accessible, s.companion, s.sellable, s.standing
        )
        for s in body.seats
    ]
    with unit_of_work() as uow:
        return venues.apply_layout(uow, actor(), vid, seats)


@bp.post("/venues/<venue_id>/layout/import")
@operation(
    "importVenueLayout",
    "Replace the venue's layout with a CSV file",
    tags=("manage",),
    body_content={
        "text/csv": {
            "schema": {
                "type": "string",
                "maxLength": 8388608,
                "description": "The layout file, UTF-8 (a leading byte-order mark is allowed), header line first.",
            },
            "example": "section,row,number,tier,accessible\nStalls,A,1,front,yes\nStalls,A,2,front,no\nStalls,B,1,back,no\n",
        },
        "text/plain": {
            "schema": {
                "type": "string",
                "maxLength": 8388608,
                "description": "Accepted as well, read the same way as `text/csv`.",
            }
        },
    },
    answers={200: Answer("The layout was replaced by the file's seats.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        413: LAYOUT_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def import_layout(venue_id: str):
    """The body is the CSV file itself, UTF-8, sent with `Content-Type: text/csv` (or
    `text/plain`), at most **8 MiB**. It replaces the layout exactly like
    `PUT /manage/venues/{venueId}/layout`, with the same rules for scheduled shows
    (`409 LAYOUT_IN_USE`, `unpricedTiers`).

    The first line names the columns, in any order:
    `section,row,number,tier[,seat_id][,x][,y][,accessible][,companion][,sellable]`.
    `section`, `row` (1 to 40 characters each), `number` (1 to 9999) and `tier` (lower
    case letters, digits, `-`, `_`, up to 32) are required. `seat_id` defaults to row and
    number (`A12`) when the file has one section, and to `section-rowNumber`
    (`Balcony-A12`) when it has several. `x`/`y` default to the seat's number along its
    row and to rows stacked in the order they first appear, with a blank row between
    sections. `accessible`, `companion` and `sellable` take yes/no, true/false or 1/0
    (default no, no, yes). Blank lines are skipped; at most 100,000 seats.

    A file with problems is refused as a whole: `400 VALIDATION_FAILED` whose `lines`
    name every bad line (up to 50) by its line number in the file (the header is line 1;
    0 is the file as a whole, e.g. one that is empty or not UTF-8).

    Checks, in order: authentication (401), the role (403), the venue id (404 if it is not a decimal number), the content type
    (400), the size (413), UTF-8 (400), the file
    (400), the venue (404), the layout (400, 409).

    Errors: `400 VALIDATION_FAILED` (not `text/csv` or `text/plain`; not UTF-8; bad lines,
    in `lines`; tiers without prices, in `unpricedTiers`); `401 AUTH_REQUIRED` /
    `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`; `409 LAYOUT_IN_USE`;
    `413 PAYLOAD_TOO_LARGE` (over 8 MiB); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    request.max_content_length = venues.IMPORT_LIMIT
    if request.mimetype not in ("text/csv", "text/plain"):
        raise ValidationFailed("send the layout as a CSV body with Content-Type: text/csv")
    raw = request.get_data(cache=False)
    with unit_of_work() as uow:
        return venues.import_csv(uow, actor(), vid, raw)


@bp.post("/venues/<venue_id>/layout/blocks")
@operation(
    "addLayoutBlock",
    "Add a block of rows to the venue's layout",
    tags=("manage",),
    body=BlockRequest,
    body_examples={
        "stalls": {
            "value": {
                "section": "Stalls",
                "rows": "A-J",
                "seatsPerRow": 20,
                "tier": "front",
                "aislesAfter": [5, 15],
                "accessible": ["A1", "A2"],
                "companion": ["A3"],
            }
        }
    },
    answers={201: Answer("The block was added.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def add_block(venue_id: str):
    """The editor's "add rows": `rows` rows of `seatsPerRow` seats each, numbered from
    `firstNumber`, in section `section` and tier `tier`, drawn below everything the venue
    has. Seat ids are `seatIdPrefix` + row + number (`A12`); an aisle (a missing
    position) follows each seat number in `aislesAfter`. `accessible`, `companion` and
    `notForSale` name seats of this block by seat id. The new seats join every scheduled
    show at the venue at once.

    Problems with the block (a seat id the layout already has — give the block a
    `seatIdPrefix` —, a flag naming a seat outside the block, more than 100,000 seats in
    all) are `400 VALIDATION_FAILED` with `lines` (all `line` 0). A tier that is new to
    the venue needs a price in every scheduled show there first (`unpricedTiers`).

    Checks, in order: authentication (401), the role (403), the venue id (404 if it is not a decimal number), the body and its
    `rows` (400, 413), the venue (404), the block
    (400).

    Errors: `400 VALIDATION_FAILED` (bad body; `rows` not a range or list, in `fields`;
    block problems, in `lines`; tiers without prices, in `unpricedTiers`);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`;
    `409 LAYOUT_IN_USE` (only when another change to the layout ran at the same time);
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    block = row_block(parse_body(BlockRequest))
    with unit_of_work() as uow:
        return venues.add_block(uow, actor(), vid, block), 201


@bp.post("/venues/<venue_id>/layout/standing")
@operation(
    "addStandingSection",
    "Add a standing section (general admission) to the venue's layout",
    tags=("manage",),
    body=StandingSectionRequest,
    body_examples={"floor": {"value": {"section": "Floor", "tier": "standing", "capacity": 500}}},
    answers={201: Answer("The section was added.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def add_standing_section(venue_id: str):
    """A standing section of `capacity` numbered admission places (README "General admission
    (standing)"), seat ids `FLOOR-0001`… (the name's letters and digits, upper case), drawn
    below everything the venue has. Fans hold places of it by quantity (`gaSection`); its
    places join every scheduled show at once. A tier new to the venue needs a price in every
    scheduled show there first (`unpricedTiers`).

    Errors: `400 VALIDATION_FAILED` (bad body; a section of that name exists; seat ids that
    clash; tiers without prices, in `unpricedTiers`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`; `409 LAYOUT_IN_USE` (only when another change to
    the layout ran at the same time); `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    body = parse_body(StandingSectionRequest)
    with unit_of_work() as uow:
        return venues.add_standing(uow, actor(), vid, body.section, body.tier, body.capacity), 201


@bp.put("/venues/<venue_id>/layout/standing")
@operation(
    "setStandingCapacity",
    "Change a standing section's capacity",
    tags=("manage",),
    body=StandingCapacityRequest,
    body_examples={"bigger": {"value": {"section": "Floor", "capacity": 600}}},
    answers={200: Answer("The capacity was changed.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def set_standing_capacity(venue_id: str):
    """Sets the capacity of the standing section `section`. Growing adds places at the
    section's end; they join every scheduled show at once.
    Shrinking removes places, the highest-numbered first, that no show has sold, holds or
    keeps for the house; when fewer such places exist than the change needs, nothing
    changes and the answer is `409 LAYOUT_IN_USE` with `capacity` (the current one) and
    `lowestCapacity` (the lowest it can go to now).

    Errors: `400 VALIDATION_FAILED` (bad body; the venue has no standing section of that
    name); `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`;
    `409 LAYOUT_IN_USE`; `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    body = parse_body(StandingCapacityRequest)
    with unit_of_work() as uow:
        return venues.set_standing_capacity(uow, actor(), vid, body.section, body.capacity)


@bp.delete("/venues/<venue_id>/layout/sections/<path:section>")
@operation(
    "removeLayoutSection",
    "Remove a section, and all its seats, from the venue's layout",
    tags=("manage",),
    answers={200: Answer("The section was removed.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def remove_section(venue_id: str, section: str):
    """Removes every seat of the section. Refused with `409 LAYOUT_IN_USE` while a scheduled
    show at the venue has held or booked seats (`removedSeats` names up to 20 of them).
    A section the venue does not have is `400 VALIDATION_FAILED`.

    Errors: `400 VALIDATION_FAILED` (the venue has no such section);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND` (no such
    venue, another organisation's venue, or a `venueId` that is not a decimal number);
    `409 LAYOUT_IN_USE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    with unit_of_work() as uow:
        return venues.remove_section(uow, actor(), vid, section)


@bp.patch("/venues/<venue_id>/layout/seats")
@operation(
    "markLayoutSeats",
    "Set the tier or flags of some seats of the venue",
    tags=("manage",),
    body=MarkSeatsRequest,
    body_examples={"camera": {"value": {"seatIds": ["K7", "K8"], "sellable": False}}},
    answers={200: Answer("The seats were changed.", model=LayoutChange)},
    failures={
        400: LAYOUT_VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: VENUE_NOT_FOUND,
        409: LAYOUT_IN_USE,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def mark_seats(venue_id: str):
    """Sets `tier`, `accessible`, `companion` and/or `sellable` (those that are present and
    not null; at least one) on every seat in `seatIds`. A seat that stops being
    `sellable` is taken out of sale in every scheduled show at the venue, and put back on
    sale when it becomes sellable again. Changing the tier is refused with
    `409 LAYOUT_IN_USE` while a scheduled show has held or booked seats, and a tier new to
    the venue needs a price in every scheduled show first (`unpricedTiers`).

    Checks, in order: authentication (401), the role (403), the venue id (404 if it is not a decimal number), the body (400,
    413), the venue (404), the seat ids (400), the
    layout (400, 409).

    Errors: `400 VALIDATION_FAILED` (bad body; nothing to change; seat ids the venue does
    not have, in `seatIds` (up to 20); tiers without prices, in `unpricedTiers`);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 VENUE_NOT_FOUND`;
    `409 LAYOUT_IN_USE`; `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    vid = _venue_id(venue_id)
    body = parse_body(MarkSeatsRequest)
    changes = {k: v for k, v in body.model_dump(exclude={"seatIds"}).items() if v is not None}
    if not changes:
        raise ValidationFailed("say what to change: tier, accessible, companion or sellable")
    with unit_of_work() as uow:
        return venues.mark_seats(uow, actor(), vid, body.seatIds, changes)


# ---------------------------------------------------------------- events and shows


@bp.get("/events")
@operation(
    "listManagedEvents",
    "The events the caller manages",
    tags=("manage",),
    answers={200: Answer("The caller's events (possibly none).", model=ManagedEventList)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_events():
    """The events the caller's organisation owns (an admin: every event), ordered by title,
    with the state of each event's waiting room.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    with unit_of_work() as uow:
        return {"events": shows.list_events(uow, actor())}


@bp.post("/events")
@operation(
    "createEvent",
    "Create an event (what shows are of)",
    tags=("manage",),
    body=EventRequest,
    body_examples={
        "concert": {
            "value": {
                "title": "Aurora Strings",
                "category": "concert",
                "description": "Vivaldi by candlelight.",
                "durationMinutes": 95,
            }
        }
    },
    answers={201: Answer("The event was created.", model=EventCreated)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        409: EVENT_EXISTS,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def create_event():
    """Creates an event owned by the caller's organisation; an admin names the owning
    organisation in `organisationId` (a manager's `organisationId` is ignored). Titles are
    unique within an organisation. Schedule its shows with `POST /manage/shows`.

    Checks, in order: authentication (401), the role (403), the body (400), an admin's
    `organisationId` (400), the title (409).

    Errors: `400 VALIDATION_FAILED` (bad body; an admin without `organisationId`);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `409 EVENT_EXISTS` (the
    organisation already has an event with that title); `413 PAYLOAD_TOO_LARGE`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(EventRequest)
    with unit_of_work() as uow:
        event_id = shows.create_event(
            uow,
            actor(),
            body.title,
            body.category,
            body.description,
            body.durationMinutes,
            int(body.organisationId) if body.organisationId else None,
        )
    return {"eventId": str(event_id), "title": body.title}, 201


@bp.patch("/events/<event_id>")
@operation(
    "updateEvent",
    "Change an event's title, category, description or length",
    tags=("manage",),
    body=EventChangeRequest,
    body_examples={"retitle": {"value": {"title": "Aurora Strings: The Four Seasons", "durationMinutes": 100}}},
    answers={200: Answer("The event as it is now.", model=ManagedEvent)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: Failure(
            ("EVENT_NOT_FOUND",),
            "`EVENT_NOT_FOUND`: no event has that id, or the caller's organisation does not own it.",
        ),
        409: EVENT_EXISTS,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def update_event(event_id: str):
    """Changes the named fields of an event the caller's organisation owns (an admin: any
    event); fields left out stay as they are. Every show of the event shows the change.

    Checks, in order: authentication (401), the role (403), the event id (404 if it is not
    a decimal number), the body (400, 413; at least one field), the event (404), the title
    (409).

    Errors: `400 VALIDATION_FAILED`; `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 EVENT_NOT_FOUND` (no such event, or another organisation's);
    `409 EVENT_EXISTS` (the organisation already has an event with that title);
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    eid = _event_id(event_id)
    changes = parse_body(EventChangeRequest).changes()
    if not changes:
        raise ValidationFailed("nothing to change")
    with unit_of_work() as uow:
        return shows.update_event(uow, actor(), eid, changes)


# Room for a multipart body's boundaries and headers around the largest image allowed.
MULTIPART_OVERHEAD = 64 * 1024


@bp.post("/events/<event_id>/poster")
@operation(
    "setEventPoster",
    "Upload an event's poster",
    tags=("manage",),
    body_content={
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A JPEG, PNG or WebP image, at most 10 MiB and 40 million pixels.",
                    }
                },
            }
        }
    },
    answers={201: Answer("The poster was stored; the event's pages show it.", model=EventPoster)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: Failure(
            ("EVENT_NOT_FOUND",),
            "`EVENT_NOT_FOUND`: no event has that id, or the caller's organisation does not own it.",
        ),
        413: POSTER_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def set_event_poster(event_id: str):
    """Sets the poster of an event the caller's organisation owns (an admin: any event),
    replacing any earlier one. The body is `multipart/form-data` with the image in the part
    `file`. Its type is read from its bytes, not from its name or the part's Content-Type:
    JPEG, PNG or WebP only. It is resized into a `card` (fits 640×640) and a `hero` (fits
    1600×1600) rendition, WebP, turned upright by its EXIF orientation, with its metadata
    (EXIF, GPS) stripped; the renditions are named by a hash of the upload, so each URL's
    content never changes.

    Checks, in order: authentication (401), the role (403), the event id (404 if it is not a
    decimal number), the content type (400), the size (413), the event (404), the image
    (400: not an image of those types, unreadable, or over 40 million pixels).

    Errors: `400 VALIDATION_FAILED` (not multipart, no `file` part, not a JPEG/PNG/WebP
    image, too many pixels; `fields` names `file`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 EVENT_NOT_FOUND`; `413 PAYLOAD_TOO_LARGE` (over 10 MiB);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    eid = _event_id(event_id)
    request.max_content_length = settings().poster_max_bytes + MULTIPART_OVERHEAD
    if request.mimetype != "multipart/form-data":
        raise ValidationFailed(
            "send the image as multipart/form-data, in a part named file",
            fields=[{"field": "file", "message": "missing"}],
        )
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("send the image in a part named file", fields=[{"field": "file", "message": "missing"}])
    raw = upload.read(settings().poster_max_bytes + 1)
    with unit_of_work() as uow:
        return posters.set_poster(uow, actor(), eid, raw), 201


@bp.get("/shows")
@operation(
    "listManagedShows",
    "The shows at the caller's venues",
    tags=("manage",),
    answers={200: Answer("The shows (possibly none).", model=ManagedShowList)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_shows():
    """Shows at venues the caller's organisation owns (an admin: every show) that start
    later than one day ago, cancelled ones included, ordered by start time; at most 500.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    with unit_of_work() as uow:
        return {"shows": shows.list_shows(uow, actor())}


@bp.post("/shows")
@operation(
    "createShow",
    "Schedule a show of an event at a venue",
    tags=("manage",),
    body=ShowRequest,
    body_examples={
        "evening": {
            "value": {
                "eventId": "3",
                "venueId": "2",
                "startTime": "2026-12-12T19:30:00",
                "saleOpensAt": "2026-11-28T10:00:00",
                "currency": "GBP",
                "prices": {"stalls": 4500, "circle": 3500},
            }
        }
    },
    answers={201: Answer("The show was scheduled.", model=ManagedShow)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: EVENT_OR_VENUE_NOT_FOUND,
        409: SHOW_EXISTS,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def create_show():
    """Schedules a show of one of the caller's events at one of the caller's venues (both
    must belong to the same organisation). Every seat of the venue is on sale from
    `saleOpensAt` to `saleClosesAt` (by default the start time), so the venue needs a
    layout, and `prices` must give a price for **every** tier of the venue (and no tier it
    does not have). Times without a UTC offset are the venue's local time. The sale must
    open before it closes, close at most a day after the start, and the show must start in
    the future.

    `refundPolicy` defaults to a full refund up to 48 hours before the start and half up
    to 24 hours before. With `queue`, the event's waiting room is opened (or its settings
    changed) and the show is sold through it (`queueRequired`).

    Checks, in order: authentication (401), the role (403), the body (400, 413), the event
    and the venue (404), the organisations (400), the times (400), the tiers (400), an
    existing show (409).

    Errors: `400 VALIDATION_FAILED` (bad body; event and venue of different
    organisations; a local time that does not exist in the venue's time zone, or times
    that do not fit together, in `fields`; a venue without seats; tiers the venue does
    not have, in `unknownTiers`; tiers without a price, in `unpricedTiers`);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 EVENT_NOT_FOUND` /
    `VENUE_NOT_FOUND`; `409 SHOW_EXISTS` (the event already has a show at this venue at
    that time); `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED` (also when
    the waiting room's store is unreachable).
    """
    data = parse_body(ShowRequest).show_input()
    with unit_of_work() as uow:
        who = actor()
        show_id = shows.create_show(uow, who, data, redis_store.roles)
        return shows.get_show(uow, who, show_id), 201


def _show_id(raw: str) -> int:
    return parse_id(raw, ShowNotFound, "show")


@bp.get("/shows/<show_id>")
@operation(
    "getManagedShow",
    "One show at the caller's venues, with prices, refund policy and waiting room",
    tags=("manage",),
    answers={200: Answer("The show.", model=ManagedShow)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def get_show(show_id: str):
    """Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`
    (no such show, a show at another organisation's venue, or a `showId` that is not a
    decimal number); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    with unit_of_work() as uow:
        return shows.get_show(uow, actor(), _show_id(show_id))


@bp.patch("/shows/<show_id>")
@operation(
    "updateShow",
    "Change a scheduled show's times, prices, refund policy or waiting room",
    tags=("manage",),
    body=ShowChangeRequest,
    body_examples={"laterAndDearer": {"value": {"startTime": "2026-12-12T20:00:00", "prices": {"stalls": 5000}}}},
    answers={200: Answer("The show as it now stands.", model=ManagedShow)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: SHOW_NOT_FOUND,
        409: SHOW_EXISTS_OR_CANCELLED,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def update_show(show_id: str):
    """Changes what the body gives (fields that are absent or null stay as they are; at
    least one must be given). Times without a UTC offset are the venue's local time; the
    resulting sale window must still fit (open before it closes, close at most a day
    after the start) and a new start time must be in the future. `prices` sets the price
    of the tiers it names (tiers it does not name keep theirs); holds and bookings
    already made keep the price they were made at. `queue` opens the event's waiting room
    (or changes its settings) and sells the show through it; without `queue`,
    `queueRequired: true` does the same with the default settings and
    `queueRequired: false` sells the show without the waiting room. A cancelled show
    cannot be changed.

    A `startTime` that moves the show is a reschedule (README "Rescheduling a show"): in
    the same transaction every fan with a confirmed booking is sent the new time (email,
    and SMS with a phone on their profile, in their language), and for
    `rescheduleRefundDays` days (default 14; until the new start if sooner; 0 for none)
    cancelling a booking made before the move refunds it in full, whatever the refund
    policy says (the booking shows `rescheduled`). Repeating the start the show already
    has moves nothing and sends nothing; holds stay valid. `rescheduleRefundDays` without
    `startTime` is `400 VALIDATION_FAILED`.

    `ticketCodes: "ROTATING"` makes the door admit only the live ticket's rotating code (README
    "Rotating codes"; a static code is then `422 TICKET_STATIC_NOT_ALLOWED` unless
    `staticCodesAllowed`); the show's rotation key is made the first time and kept.

    Checks, in order: authentication (401), the role (403), the show id (404 if it is not a decimal number), the body (400,
    413), the show (404, 409), the times (400,
    409), the prices (400).

    Errors: `400 VALIDATION_FAILED` (bad body; nothing to change; times that do not
    exist or do not fit together, in `fields`; tiers the venue does not have, in
    `unknownTiers`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`;
    `404 SHOW_NOT_FOUND`; `409 SHOW_CANCELLED`; `409 SHOW_EXISTS` (the event already has
    a show at this venue at the new start time); `413 PAYLOAD_TOO_LARGE`;
    `500 INTERNAL_ERROR`; `503 DEGRADED` (also when the waiting room's store is
    unreachable).
    """
    sid = _show_id(show_id)
    changes = show_changes(parse_body(ShowChangeRequest))
    if not changes:
        raise ValidationFailed("nothing to change")
    with unit_of_work() as uow:
        who = actor()
        shows.update_show(uow, who, sid, changes, redis_store.roles)
        return shows.get_show(uow, who, sid)


@bp.get("/shows/<show_id>/dashboard")
@operation(
    "getShowDashboard",
    "Live figures of a show's sale",
    tags=("manage",),
    answers={
        200: Answer(
            "The show's figures, at most 2 seconds old. Never cached by clients.",
            model=ShowDashboard,
            headers={"Cache-Control": NO_STORE},
        )
    },
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def show_dashboard(show_id: str):
    """Seats by status, bookings and revenue, activity over the last minute and per minute
    over the last hour, payment failures over the last hour, and the waiting room's
    figures. Cheap to poll: the figures are shared by every caller for 2 seconds (`asOf`
    says when they were computed), and the access check is made before a shared figure
    is shown. A held seat whose hold has lapsed counts as available.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`
    (no such show, a show at another organisation's venue, or a `showId` that is not a
    decimal number); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    # The replica while it is fresh enough (app/replica.py).
    figures = browsing_read(lambda uow: dashboard.figures(uow, actor(), sid, redis_store.roles))
    return figures, 200, {"Cache-Control": "no-store"}


@bp.get("/shows/<show_id>/seats")
@operation(
    "getBoxOfficeSeats",
    "The box office's view of one section of a show",
    tags=("manage",),
    parameters=(
        {
            "name": "section",
            "in": "query",
            "required": False,
            "description": "The section's name, matched exactly (case-sensitive). Defaults to the layout's first section.",
            "schema": {"type": "string"},
            "example": "Stalls",
        },
    ),
    answers={200: Answer("The section's seats.", model=BoxOfficeSeats)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: SHOW_OR_SECTION_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def show_seats(show_id: str):
    """Every seat of one section, in layout order, with its live status (a held seat whose
    hold has lapsed reads `AVAILABLE`), how it is blocked, and who holds or booked it.
    Read from the database on every call (not cached). Without `section`, the first
    section of the layout.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`
    (no such show, a show at another organisation's venue, or a `showId` that is not a
    decimal number); `404 SECTION_NOT_FOUND` (the show has no such section, including an
    empty `section`); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    section = request.args.get("section")
    with unit_of_work() as uow:
        return box_office.seat_states(uow, actor(), sid, section)


@bp.post("/shows/<show_id>/seats/block")
@operation(
    "blockSeats",
    "Take seats of a show out of sale, all or nothing",
    tags=("manage",),
    body=BlockSeatsRequest,
    body_examples={"house": {"value": {"seatIds": ["A1", "A2"], "kind": "HOUSE"}}},
    answers={200: Answer("Every listed seat is out of sale.", model=SeatsBlocked)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: SHOW_NOT_FOUND,
        409: BLOCK_REFUSED,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def block_seats(show_id: str):
    """Takes the listed seats out of sale as `HOUSE` seats (kept for the house, the default)
    or `KILL` seats (never sold). Only free seats can be blocked: available ones, ones
    whose hold has lapsed, and ones already blocked with the same `kind` (blocking again
    changes nothing). If any listed seat is held, booked or blocked with the other kind,
    nothing is blocked: `409 SEATS_UNAVAILABLE` lists those seats.

    Checks, in order: authentication (401), the role (403), the show id (404 if it is not a decimal number), the body (400,
    413), the show (404, 409), the seat ids (400),
    the seats (409).

    Errors: `400 VALIDATION_FAILED` (bad body; a seat named twice; seat ids the show does
    not have, in `seatIds`, up to 20); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`; `409 SEATS_UNAVAILABLE`; `409 SHOW_CANCELLED`;
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    body = parse_body(BlockSeatsRequest)
    with unit_of_work() as uow:
        seats = box_office.block_seats(uow, redis_store.roles, actor(), sid, body.seatIds, body.kind)
    return {"showId": str(sid), "seatIds": seats, "status": "BLOCKED", "kind": body.kind}


@bp.post("/shows/<show_id>/seats/unblock")
@operation(
    "unblockSeats",
    "Put blocked seats of a show back on sale",
    tags=("manage",),
    body=UnblockSeatsRequest,
    body_examples={"two": {"value": {"seatIds": ["A1", "A2"]}}},
    answers={200: Answer("The seats that were blocked are on sale again.", model=SeatsUnblocked)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: SHOW_NOT_FOUND,
        409: SHOW_CANCELLED,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def unblock_seats(show_id: str):
    """Puts the listed seats that are blocked (of either kind) back on sale; listed seats
    that are not blocked are left as they are. `seatIds` in the answer are the seats that
    were put back (possibly none).

    Checks, in order: authentication (401), the role (403), the show id (404 if it is not a decimal number), the body (400,
    413), the show (404, 409), the seat ids (400).

    Errors: `400 VALIDATION_FAILED` (bad body; a seat named twice; seat ids the show does
    not have, in `seatIds`, up to 20); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`; `409 SHOW_CANCELLED`;
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    body = parse_body(UnblockSeatsRequest)
    with unit_of_work() as uow:
        seats = box_office.unblock_seats(uow, redis_store.roles, actor(), sid, body.seatIds)
    return {"showId": str(sid), "seatIds": seats, "status": "AVAILABLE"}


@bp.post("/shows/<show_id>/cancel")
@operation(
    "cancelShow",
    "Cancel a show and refund everyone who booked",
    tags=("manage",),
    body=CancelRequest,
    body_examples={"weather": {"value": {"reason": "The storm warning closes the venue."}}},
    body_required=False,
    answers={
        202: Answer(
            "The show is now cancelled; refunding everyone has started.",
            model=CancellationProgress,
            narrow={"status": {"const": "CANCELLED"}},
        ),
        200: Answer(
            "The show had been cancelled already; its progress.",
            model=CancellationProgress,
            narrow={"status": {"const": "CANCELLED"}},
        ),
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: SHOW_NOT_FOUND,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def cancel_show(show_id: str):
    """Stops the sale at once (from then on no seat of the show can be held and no payment
    becomes a booking; a payment that arrives later is refunded) and starts a background
    job that ends the show's holds and cancels every confirmed booking with a **full**
    refund and a "show cancelled" message. The answer is the cancellation's progress:
    `202` when this call cancelled the show, `200` when it was cancelled before (the
    job is started again if it has not finished; `reason` is then ignored). Follow the
    progress with `GET /manage/shows/{showId}/cancellation`. The body is optional.

    Checks, in order: authentication (401), the role (403), the show id (404 if it is not a decimal number), the body (400,
    413), the show (404).

    Errors: `400 VALIDATION_FAILED` (a body that is not empty and not a valid object);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND` (no such
    show, a show at another organisation's venue, or a `showId` that is not a decimal
    number); `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    raw = request.get_data(cache=True)
    reason = parse_body(CancelRequest).reason if raw.strip() else ""
    with unit_of_work() as uow:
        progress, newly = cancellation.start(uow, redis_store.roles, actor(), sid, reason)
    return progress, 202 if newly else 200


@bp.get("/shows/<show_id>/cancellation")
@operation(
    "getCancellationProgress",
    "How far a show's cancellation has got",
    tags=("manage",),
    answers={
        200: Answer("The progress. Never cached.", model=CancellationProgress, headers={"Cache-Control": NO_STORE})
    },
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def cancellation_progress(show_id: str):
    """Bookings cancelled, refunds completed, pending and failed, emails sent and holds still
    live. `done` is true once the show is cancelled, every booking is cancelled, no refund
    is pending and no hold is live (failed refunds do not keep it from being done). For
    a show that is not cancelled, `status` is `SCHEDULED` and `done` is false.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`
    (no such show, a show at another organisation's venue, or a `showId` that is not a
    decimal number); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        access.show(uow, actor(), sid)
        return cancellation.progress(uow, sid), 200, {"Cache-Control": "no-store"}


@bp.get("/shows/<show_id>/bookings.csv")
@operation(
    "exportShowBookings",
    "The show's bookings as a CSV file",
    tags=("manage",),
    answers={
        200: Answer(
            "The bookings file. Never cached.",
            content={
                "text/csv": {
                    "schema": {"type": "string", "description": "The bookings, header line first."},
                    "example": "booking_id,status,booked_at,cancelled_at,fan_name,fan_email,seats,seat_count,amount,refund_amount,refund_status,currency,payment_intent_id\r\n0b5e8a36-3c8f-4d0a-9a53-1f9f0a7c2d11,CONFIRMED,2026-11-28T14:03:11.204815+05:30,,Ada Lovelace,ada@example.com,C5 C6,2,750.00,0.00,,INR,pi_3QhZ1f2eZvKYlo2C0a1b2c3d\r\n",
                }
            },
            headers={
                "Cache-Control": NO_STORE,
                "Content-Disposition": {
                    "description": '`attachment; filename="show-{showId}-bookings.csv"`',
                    "schema": {"type": "string"},
                },
            },
        )
    },
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def export_bookings(show_id: str):
    r"""One line per booking, confirmed and cancelled, ordered by when it was booked, after
    a header line:
    `booking_id,status,booked_at,cancelled_at,fan_name,fan_email,seats,seat_count,amount,refund_amount,refund_status,currency,payment_intent_id`.
    Times are in the venue's time zone (`cancelled_at` empty while confirmed); `seats`
    are the seat ids separated by spaces; `amount` and `refund_amount` are in major units
    with two decimals (`375.00`); `refund_status` is `PENDING`, `SUCCEEDED`, `FAILED` or
    empty. A fan name that a spreadsheet would run as a formula is prefixed with `'`.
    Lines end in `\r\n`; the file is sent as an attachment named
    `show-{showId}-bookings.csv`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`
    (no such show, a show at another organisation's venue, or a `showId` that is not a
    decimal number); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        body = box_office.bookings_csv(uow, actor(), sid)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="show-{sid}-bookings.csv"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- sales reports

REPORT_RANGE = (
    {
        "name": "from",
        "in": "query",
        "required": False,
        "description": "The first day, `YYYY-MM-DD` (UTC), included. Defaults to 29 days before `to`.",
        "schema": {"type": "string", "format": "date"},
        "example": "2026-11-01",
    },
    {
        "name": "to",
        "in": "query",
        "required": False,
        "description": "The last day, `YYYY-MM-DD` (UTC), included; at most 366 days after `from`. Defaults to today.",
        "schema": {"type": "string", "format": "date"},
        "example": "2026-11-30",
    },
)


def _report_range():
    return reports.date_range(request.args.get("from"), request.args.get("to"), datetime.now(UTC).date())


@bp.get("/reports/sales")
@operation(
    "getSalesReport",
    "Sales and refunds of the caller's shows, per day, show and tier",
    tags=("manage",),
    parameters=REPORT_RANGE,
    answers={200: Answer("The report. Never cached.", model=SalesReport, headers={"Cache-Control": NO_STORE})},
    failures={400: VALIDATION_FAILED, 401: UNAUTHORIZED, 403: MANAGER_ONLY, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def sales_report():
    """The bookings made and the refunds decided in the date range, at the shows of the
    caller's organisation (an admin: every organisation's), totalled per currency, per day,
    per show and per price tier. Money is in minor units of the `currency` beside it, and
    amounts of different currencies are never added. Days are UTC calendar days. A booking
    of seats of several tiers counts under `tier: null` (a booking keeps one amount for
    all its seats). README "Sales reports".

    Errors: `400 VALIDATION_FAILED` (a date that is not `YYYY-MM-DD`, `from` after `to`,
    or more than 366 days, in `fields`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    first, last = _report_range()
    with unit_of_work() as uow:
        return reports.sales(uow, actor(), first, last), 200, {"Cache-Control": "no-store"}


@bp.get("/reports/sales.csv")
@operation(
    "getSalesReportCsv",
    "The sales report as CSV, one line per day, show and currency",
    tags=("manage",),
    parameters=REPORT_RANGE,
    answers={
        200: Answer(
            "The report file. Never cached.",
            content={
                "text/csv": {
                    "schema": {"type": "string", "description": "The report, header line first."},
                    "example": "date,show_id,title,venue,currency,bookings,seats,sales,refunds,refunded\r\n"
                    "2026-11-28,2,Hamlet,Prithvi Theatre,INR,3,5,250000,1,50000\r\n",
                }
            },
            headers={
                "Cache-Control": NO_STORE,
                "Content-Disposition": {
                    "description": '`attachment; filename="sales-{from}-{to}.csv"`',
                    "schema": {"type": "string"},
                },
            },
        )
    },
    failures={400: VALIDATION_FAILED, 401: UNAUTHORIZED, 403: MANAGER_ONLY, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def sales_report_csv():
    r"""The JSON report's lines as a spreadsheet: a header line
    `date,show_id,title,venue,currency,bookings,seats,sales,refunds,refunded`, then one line
    per UTC day, show and currency with bookings or refunds, by day then show. `sales`
    and `refunded` are minor units of `currency`. A title or venue name that a spreadsheet
    would run as a formula is prefixed with `'`. Lines end in `\r\n`; the file is sent as
    an attachment named `sales-{from}-{to}.csv`.

    Errors: as `GET /manage/reports/sales`.
    """
    first, last = _report_range()
    with unit_of_work() as uow:
        body = reports.sales_csv(uow, actor(), first, last)
    return reports.sales_csv_download(body, first, last)


# ---------------------------------------------------------------- waiting rooms


def _event_id(raw: str) -> int:
    return parse_id(raw, EventNotFound, "event")


@bp.get("/events/<event_id>/queue")
@operation(
    "getWaitingRoom",
    "The event's waiting room and its live figures",
    tags=("manage",),
    answers={
        200: Answer("The waiting room. Never cached.", model=WaitingRoomFigures, headers={"Cache-Control": NO_STORE})
    },
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: EVENT_OR_QUEUE_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def queue_figures(event_id: str):
    """The waiting room's settings, state and figures. Reading them also runs the room's
    schedule: the lottery of the pre-queue once the sale has opened, and a batch of
    admissions if one is due.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 EVENT_NOT_FOUND`
    (no such event, another organisation's event, or an `eventId` that is not a decimal
    number); `404 QUEUE_NOT_FOUND` (the event has no waiting room); `500 INTERNAL_ERROR`;
    `503 DEGRADED` (also when the waiting room's store is unreachable).
    """
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        figures = waiting_rooms.control(uow, redis_store.roles, actor(), eid, "figures")
    return figures, 200, {"Cache-Control": "no-store"}


@bp.put("/events/<event_id>/queue")
@operation(
    "openWaitingRoom",
    "Open the event's waiting room, or change its settings",
    tags=("manage",),
    body=QueueRequest,
    body_examples={
        "flashSale": {
            "value": {"batchSize": 500, "admissionIntervalSeconds": 15, "maxActive": 3000, "sessionSeconds": 600}
        }
    },
    answers={200: Answer("The waiting room with its new settings.", model=WaitingRoomFigures)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: EVENT_OR_QUEUE_NOT_FOUND,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def open_queue(event_id: str):
    """Opens a waiting room for the event with these settings (absent ones take their
    defaults; send `{}` for all defaults), or changes the settings of the one it has
    (its state and its queue are kept). A new room is `PREQUEUE` until the earliest sale
    opening of the event's scheduled queue-protected shows (fans who join before then are
    placed by lottery at the opening), and `OPEN` straight away when there is no such
    show or the sale has opened. The body is required.

    Checks, in order: authentication (401), the role (403), the event id (404 if it is not a decimal number), the body (400,
    413), the event (404).

    Errors: `400 VALIDATION_FAILED` (bad body); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `403 FORBIDDEN`; `404 EVENT_NOT_FOUND` (no such event, another organisation's event,
    or an `eventId` that is not a decimal number); `404 QUEUE_NOT_FOUND` (only when the
    waiting room's store lost the room while it was being opened; try again);
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED` (also when the waiting
    room's store is unreachable).
    """
    eid = _event_id(event_id)
    settings = parse_body(QueueRequest).settings()
    with unit_of_work() as uow:
        return waiting_rooms.control(uow, redis_store.roles, actor(), eid, "open", settings)


@bp.post("/events/<event_id>/queue/<action>")
@operation(
    "controlWaitingRoom",
    "Pause, resume, drain or close the event's waiting room",
    tags=("manage",),
    answers={200: Answer("The waiting room in its new state.", model=WaitingRoomFigures)},
    failures={
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: QUEUE_ACTION_NOT_FOUND,
        409: INVALID_QUEUE_STATE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def control_queue(event_id: str, action: str):
    """Moves the waiting room to another state. Allowed moves: from `OPEN` to `PAUSED`,
    `DRAINING` or `CLOSED`; from `PAUSED` to `OPEN`, `DRAINING` or `CLOSED`; from
    `DRAINING` to `OPEN`, `PAUSED` or `CLOSED`; from `PREQUEUE` (and `DRAWING`) only to
    `CLOSED`; none from `CLOSED`. Any other move (including to the state the room is in)
    is `409 INVALID_QUEUE_STATE` with the room's `state`. No request body is needed.

    Checks, in order: authentication (401), the role (403), the event id (404 if it is not a decimal number), the action
    (404), the event (404), the room (404, 409).

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 EVENT_NOT_FOUND`
    (no such event, another organisation's event, or an `eventId` that is not a decimal
    number); `404 NOT_FOUND` (an unknown action); `404 QUEUE_NOT_FOUND` (the event has no
    waiting room); `409 INVALID_QUEUE_STATE`; `500 INTERNAL_ERROR`; `503 DEGRADED` (also
    when the waiting room's store is unreachable).
    """
    eid = _event_id(event_id)
    if action not in waiting_rooms.ACTIONS:
        raise NotFound(f"a waiting room has no action {action[:20]!r}: pause, resume, drain or close")
    with unit_of_work() as uow:
        return waiting_rooms.control(uow, redis_store.roles, actor(), eid, action)


# ---------------------------------------------------------------- door staff and the check-in window (README "Door check-in")


@bp.get("/door-staff")
@operation(
    "listDoorStaff",
    "The door staff of the caller's organisation",
    tags=("manage", "checkin"),
    answers={200: Answer("The door staff (possibly none).", model=DoorStaffList)},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_door_staff():
    """The accounts with the role `door` of the caller's organisation (an admin: of every
    organisation), by email. Door staff check tickets in at their organisation's shows and can use
    nothing else of the manager API.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    with unit_of_work() as uow:
        return {"doorStaff": door_staff.list_door_staff(uow, actor())}


@bp.post("/door-staff")
@operation(
    "addDoorStaff",
    "Make a fan's account door staff of the organisation",
    tags=("manage", "checkin"),
    body=DoorStaffRequest,
    answers={
        201: Answer("The account is now door staff.", model=DoorStaffMember),
        200: Answer("The account already was door staff of that organisation; nothing changed.", model=DoorStaffMember),
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: ACCOUNT_NOT_FOUND,
        409: ACCOUNT_NOT_ELIGIBLE,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def add_door_staff():
    """The account with that email (it signed up as a fan) gets the role `door` in the caller's
    organisation; an admin names the organisation in `organisationId`. A manager's, an admin's or
    another organisation's door staff account is `409 ACCOUNT_NOT_ELIGIBLE`.

    Errors: `400 VALIDATION_FAILED` (bad body; an admin without `organisationId`, or an unknown one);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 ACCOUNT_NOT_FOUND`;
    `409 ACCOUNT_NOT_ELIGIBLE`; `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(DoorStaffRequest)
    with unit_of_work() as uow:
        named = int(body.organisationId) if body.organisationId else None
        member, added = door_staff.add_door_staff(uow, actor(), body.email, named)
    return member, 201 if added else 200


@bp.delete("/door-staff/<user_id>")
@operation(
    "removeDoorStaff",
    "Remove door staff: the account becomes a fan's again",
    tags=("manage", "checkin"),
    answers={204: Answer("The account is a fan's again.")},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: ACCOUNT_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def remove_door_staff(user_id: str):
    """The account loses the role `door` at once (roles are read from the database on every call).

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 ACCOUNT_NOT_FOUND` (no
    such account, not door staff, or another organisation's); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    uid = parse_id(user_id, door_staff.AccountNotFound, "user")
    with unit_of_work() as uow:
        door_staff.remove_door_staff(uow, actor(), uid)
    return "", 204


@bp.put("/shows/<show_id>/checkin-window")
@operation(
    "setCheckinWindow",
    "Narrow (or restore) when tickets can be checked in",
    tags=("manage", "checkin"),
    body=CheckinWindowRequest,
    answers={200: Answer("The window now in force.", model=CheckinWindow)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: SHOW_NOT_FOUND,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def set_checkin_window(show_id: str):
    """By default tickets can be checked in any time until the show ends (its start plus the
    event's duration). `opensAt` and `closesAt` narrow that; null (or absent) restores the default
    bound. Scans outside the window are `422 CHECKIN_CLOSED`.

    Errors: `400 VALIDATION_FAILED` (bad times; `closesAt` not after `opensAt`); `401 AUTH_REQUIRED` /
    `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`; `413 PAYLOAD_TOO_LARGE`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        access.show(uow, actor(), sid)
    body = parse_body(CheckinWindowRequest)
    if body.opensAt and body.closesAt and body.closesAt <= body.opensAt:
        raise ValidationFailed(
            "the window closes before it opens", fields=[{"field": "closesAt", "message": "must be after opensAt"}]
        )
    with unit_of_work() as uow:
        return checkin.set_window(uow, actor(), sid, body.opensAt, body.closesAt)


# ---------------------------------------------------------------- presale codes and vouchers (README "Presale codes and vouchers")

ACCESS_CODE_EXISTS = Failure(
    ("ACCESS_CODE_EXISTS",),
    "`ACCESS_CODE_EXISTS`: the show (or event) already has a code with that text, in any case. Nothing changed.",
)
ACCESS_CODE_NOT_FOUND = Failure(
    ("ACCESS_CODE_NOT_FOUND",),
    "`ACCESS_CODE_NOT_FOUND`: no code has that id, or it is of another organisation's show or event.",
)
EVENT_NOT_FOUND = Failure(
    ("EVENT_NOT_FOUND",),
    "`EVENT_NOT_FOUND`: no event has that id, or the caller's organisation does not own it.",
)
_CODE_EXAMPLES = {
    "voucher": {"value": {"code": "FRIENDS10", "kind": "VOUCHER", "percentOff": 10, "maxUses": 100}},
    "presale": {
        "value": {"code": "FANCLUB", "kind": "PRESALE", "maxUses": 500, "opensAt": "2026-12-01T10:00:00+05:30"}
    },
}
_CREATE_FAILURES = {
    400: VALIDATION_FAILED,
    401: UNAUTHORIZED,
    403: MANAGER_ONLY,
    409: ACCESS_CODE_EXISTS,
    413: PAYLOAD_TOO_LARGE,
    500: INTERNAL_ERROR,
    503: DEGRADED,
}


def _create_code(show_id: int | None, event_id: int | None):
    body = parse_body(AccessCodeRequest)
    with unit_of_work() as uow:
        return access_codes.create(
            uow,
            actor(),
            show_id=show_id,
            event_id=event_id,
            code=body.code,
            kind=body.kind,
            percent_off=body.percentOff,
            amount_off=body.amountOff,
            max_uses=body.maxUses,
            opens_at=body.opensAt,
            closes_at=body.closesAt,
            active=body.active,
        ), 201


@bp.post("/shows/<show_id>/access-codes")
@operation(
    "createShowAccessCode",
    "Create a presale code or voucher for one show",
    tags=("manage",),
    body=AccessCodeRequest,
    body_examples=_CODE_EXAMPLES,
    answers={201: Answer("The code was created.", model=AccessCode)},
    failures={**_CREATE_FAILURES, 404: SHOW_NOT_FOUND},
)
def create_show_access_code(show_id: str):
    """A code fans enter when holding seats of this show (`accessCode` of `POST /shows/{showId}/holds`).
    A `PRESALE` code lets its holders hold seats from its `opensAt` on, before the public sale opens
    (until the sale closes), and may carry a discount; a `VOUCHER` takes `percentOff` or `amountOff`
    off the hold's amount. Each hold takes one of `maxUses`, given back if the hold ends unbooked.

    Checks, in order: authentication (401), the role (403), the show id and the show (404), the body
    (400), the code's text (409).

    Errors: `400 VALIDATION_FAILED` (bad body; both `percentOff` and `amountOff`; a voucher with
    neither; `closesAt` not after `opensAt`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`;
    `404 SHOW_NOT_FOUND` (also another organisation's show); `409 ACCESS_CODE_EXISTS`;
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        access.show(uow, actor(), sid)
    return _create_code(sid, None)


@bp.get("/shows/<show_id>/access-codes")
@operation(
    "listShowAccessCodes",
    "The codes that work for a show: its own and its event's",
    tags=("manage",),
    answers={200: Answer("The codes, with their uses.", model=AccessCodeList, headers={"Cache-Control": NO_STORE})},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_show_access_codes(show_id: str):
    """The show's own codes, then its event's, each with `used` (holds active or booked with it) and
    `remaining`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        codes = access_codes.list_for_show(uow, actor(), sid)
    return {"accessCodes": codes}, 200, {"Cache-Control": "no-store"}


@bp.post("/events/<event_id>/access-codes")
@operation(
    "createEventAccessCode",
    "Create a presale code or voucher for every show of an event",
    tags=("manage",),
    body=AccessCodeRequest,
    body_examples=_CODE_EXAMPLES,
    answers={201: Answer("The code was created.", model=AccessCode)},
    failures={**_CREATE_FAILURES, 404: EVENT_NOT_FOUND},
)
def create_event_access_code(event_id: str):
    """As `POST /manage/shows/{showId}/access-codes`, for every show of the event, now and later; its
    uses are shared by all of them. A show's own code of the same text wins over the event's.

    Errors: `400 VALIDATION_FAILED`; `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`;
    `404 EVENT_NOT_FOUND` (also another organisation's event); `409 ACCESS_CODE_EXISTS`;
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        access.event(uow, actor(), eid)
    return _create_code(None, eid)


@bp.get("/events/<event_id>/access-codes")
@operation(
    "listEventAccessCodes",
    "An event's codes",
    tags=("manage",),
    answers={200: Answer("The codes, with their uses.", model=AccessCodeList, headers={"Cache-Control": NO_STORE})},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: EVENT_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_event_access_codes(event_id: str):
    """The event's codes (not its shows' own), by code.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 EVENT_NOT_FOUND`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        codes = access_codes.list_for_event(uow, actor(), eid)
    return {"accessCodes": codes}, 200, {"Cache-Control": "no-store"}


def _code_id(raw: str) -> int:
    return parse_id(raw, access_codes.AccessCodeNotFound, "access code")


@bp.patch("/access-codes/<code_id>")
@operation(
    "updateAccessCode",
    "Change a code's use limit, window or whether it is active",
    tags=("manage",),
    body=AccessCodeChangeRequest,
    body_examples={"moreUses": {"value": {"maxUses": 200}}, "reopen": {"value": {"active": True, "closesAt": None}}},
    answers={200: Answer("The code as it is now.", model=AccessCode)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: MANAGER_ONLY,
        404: ACCESS_CODE_NOT_FOUND,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def update_access_code(code_id: str):
    """Changes the named fields; fields left out stay. The code's text, kind and discount do not
    change (holds were priced with them): create another code instead. A `maxUses` below `used`
    leaves the holds that use it be; the code just has no uses left.

    Errors: `400 VALIDATION_FAILED` (bad body; nothing to change; `closesAt` not after `opensAt`);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 ACCESS_CODE_NOT_FOUND`;
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    cid = _code_id(code_id)
    with unit_of_work() as uow:
        access_codes.get(uow, actor(), cid)
    changes = parse_body(AccessCodeChangeRequest).changes()
    if not changes:
        raise ValidationFailed("nothing to change")
    with unit_of_work() as uow:
        return access_codes.update(uow, actor(), cid, changes)


@bp.delete("/access-codes/<code_id>")
@operation(
    "deactivateAccessCode",
    "Deactivate a code",
    tags=("manage",),
    answers={200: Answer("The code, now inactive.", model=AccessCode, narrow={"active": {"const": False}})},
    failures={401: UNAUTHORIZED, 403: MANAGER_ONLY, 404: ACCESS_CODE_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def deactivate_access_code(code_id: str):
    """The code stops working at once (`422 CODE_INVALID` for holds naming it); holds that already
    use it keep their price and their use. The code is kept, with its figures, and can be made
    active again with `PATCH`. Deactivating it again changes nothing.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 ACCESS_CODE_NOT_FOUND`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    cid = _code_id(code_id)
    with unit_of_work() as uow:
        return access_codes.update(uow, actor(), cid, {"active": False})
