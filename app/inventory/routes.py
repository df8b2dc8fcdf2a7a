from __future__ import annotations

from typing import Annotated

import orjson
from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app import admission
from app.api.http import check_body_user, current_user, parse_body, parse_id, parse_uuid, reply
from app.booking import release
from app.circuit import behind_breaker
from app.contract import (
    DEGRADED,
    GATEWAY_DEGRADED,
    HOLD_NOT_ACTIVE,
    HOLD_NOT_FOUND,
    HOLD_OR_CODE_REFUSED,
    INTERNAL_ERROR,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    SEATMAP_CACHE_CONTROL,
    SEATS_UNAVAILABLE,
    SHOW_NOT_FOUND,
    SHOW_OR_SECTION_NOT_FOUND,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    Answer,
    Failure,
    operation,
)
from app.errors import HoldNotFound, ShowNotFound, ValidationFailed
from app.extensions import redis_store, settings
from app.inventory import seatmap, services
from app.inventory.hints import HintRead, SeatHints
from app.inventory.schemas import CompactSeatMap, Hold, SeatMap, SeatMapSections, SectionSeatMap
from app.rate_limit_rules import GATEWAY_CALLS, HOLDS, prefetched, rate_limited
from app.replica import browsing_read
from app.response_cache import shared_response
from app.unit_of_work import direct_unit_of_work, unit_of_work

bp = Blueprint("inventory_api", __name__, url_prefix="/api/v1")

SeatId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
# A hard ceiling that stops absurd lists before any work; the configurable
# per-hold limit is checked by the service.
MAX_LISTED_SEATS = 100


class HoldRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    # At least one seat and no repeats, as the document says; services.validate_seat_request checks
    # both after userId (403 first) and names the repeats (duplicateSeatIds), so the model only states them.
    seatIds: Annotated[
        list[SeatId],
        Field(
            default_factory=list,
            max_length=MAX_LISTED_SEATS,
            description=(
                "The seats to hold, by `seatId` from the seat map: at least one, no repeats, and at most the show's "
                "`maxSeatsPerHold` (8 by default). Lists longer than 100 are refused before anything else is checked. "
                "Required unless the hold names `gaSection` and `quantity` instead."
            ),
            json_schema_extra={"minItems": 1, "uniqueItems": True},
        ),
    ]
    # A standing-room hold (README "General admission (standing)") names a section and a quantity
    # instead of seats; services.hold_standing checks the quantity against the per-hold limit.
    gaSection: Annotated[
        str | None,
        StringConstraints(min_length=1, max_length=40),
        Field(
            description=(
                "Instead of `seatIds`: the standing section to hold places in (a section whose `standing` is true "
                "on the seat map), with `quantity`."
            )
        ),
    ] = None
    quantity: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_LISTED_SEATS,
            description=(
                "With `gaSection`: how many places to hold, from 1 to the show's `maxSeatsPerHold`. The places are "
                "picked for the fan and listed in the answer's `seatIds`."
            ),
        ),
    ] = None
    userId: str | None = Field(
        None,
        description=(
            "Optional. If present (and not null) it must be the authenticated user's id, else `403 FORBIDDEN`."
        ),
    )
    accessCode: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None,
        description=(
            "Optional. A presale code or voucher of the show or its event, matched case-insensitively: a presale "
            "code lets its holders hold seats before the public sale opens; a voucher takes a percent or an amount "
            "off `amount`. `422 CODE_INVALID` / `CODE_EXHAUSTED` if it cannot be used; nothing is held then."
        ),
    )


def _standing_request(body: HoldRequest) -> tuple[str, int] | None:
    """(section, quantity) for a standing-room hold, None for a hold of seats; a body that names
    both, or only half of a standing request, is ``400 VALIDATION_FAILED``."""
    if body.gaSection is None and body.quantity is None:
        return None
    if "seatIds" in body.model_fields_set or body.gaSection is None or body.quantity is None:
        raise ValidationFailed(
            "name either seatIds, or gaSection with quantity",
            fields=[{"field": "gaSection", "message": "either seatIds, or gaSection with quantity"}],
        )
    return body.gaSection, body.quantity


def _hold_hint_read(show_id: str) -> HintRead | None:
    """The seat hints a hold will look at, read in its first round trip (app/api/rate_limits.py);
    None for a body the view will refuse anyway."""
    try:
        raw = request.get_data(cache=True)
        seat_ids = orjson.loads(raw).get("seatIds") if raw else None
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not (show_id.isascii() and show_id.isdigit() and len(show_id) <= 18) or not isinstance(seat_ids, list):
        return None
    if not 0 < len(seat_ids) <= MAX_LISTED_SEATS or not all(isinstance(seat, str) for seat in seat_ids):
        return None
    return HintRead(int(show_id), tuple(seat_ids))


def _seatmap_response(show_id: int, key: str, render) -> object:
    config = settings()

    def build() -> bytes:
        # The replica while it is fresh enough; the copy is dated by its data (app/replica.py).
        return browsing_read(render)

    return shared_response(redis_store.cache, key, config.seatmap_cache_seconds, build)


@bp.get("/shows/<show_id>/seatmap")
@operation(
    "getSeatMap",
    "The show's seats and their live status (full, one section, or compact)",
    tags=("seat maps",),
    auth=False,
    parameters=(
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "`full` (the default) or `compact`.",
            "schema": {"type": "string", "enum": ["full", "compact"], "default": "full"},
        },
        {
            "name": "section",
            "in": "query",
            "required": False,
            "description": "Only this section's seats (full format only). Matched exactly.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            "example": "101",
        },
    ),
    answers={
        200: Answer(
            "The seat map in the requested shape. At most 2 seconds stale.",
            one_of=(SeatMap, SectionSeatMap, CompactSeatMap),
            examples={
                "full": {
                    "summary": "Full map (GET /shows/2/seatmap), first seats only",
                    "value": {
                        "showId": "2",
                        "asOf": "2026-11-28T08:43:33.453496+00:00",
                        "seats": [
                            {
                                "seatId": "A1",
                                "section": "Hall",
                                "row": "A",
                                "number": 1,
                                "tier": "front",
                                "price": 20000,
                                "accessible": False,
                                "x": 0,
                                "y": 0,
                                "status": "AVAILABLE",
                            },
                            {
                                "seatId": "A2",
                                "section": "Hall",
                                "row": "A",
                                "number": 2,
                                "tier": "front",
                                "price": 20000,
                                "accessible": False,
                                "x": 1,
                                "y": 0,
                                "status": "HELD",
                            },
                        ],
                    },
                },
                "section": {
                    "summary": "One section (GET /shows/50/seatmap?section=101), first seat only",
                    "value": {
                        "showId": "50",
                        "asOf": "2026-11-28T08:43:33.453496+00:00",
                        "section": "101",
                        "seats": [
                            {
                                "seatId": "101-1-1",
                                "section": "101",
                                "row": "1",
                                "number": 1,
                                "tier": "lower",
                                "price": 15000,
                                "accessible": False,
                                "x": 0,
                                "y": 30,
                                "status": "AVAILABLE",
                            }
                        ],
                    },
                },
                "compact": {
                    "summary": "Compact (GET /shows/2/seatmap?format=compact), first seats only",
                    "value": {
                        "showId": "2",
                        "asOf": "2026-11-28T08:43:33.463324+00:00",
                        "format": "compact",
                        "statusCodes": {"A": "AVAILABLE", "H": "HELD", "B": "BOOKED"},
                        "seatIds": ["A1", "A2", "A3", "A4"],
                        "status": "AHBA",
                    },
                },
            },
            headers={"Cache-Control": SEATMAP_CACHE_CONTROL},
        )
    },
    failures={400: VALIDATION_FAILED, 404: SHOW_OR_SECTION_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def seat_map(show_id: str):
    """Three shapes, chosen by the query:

    - **full** (no query, or `format=full`): every seat of the show in layout order, with
      section, row, number, map position (`x`, `y` in seat-width units; gaps are missing
      positions), price tier, price, accessibility and status. Right for small venues; for
      a stadium it is about 9 MB.
    - **one section** (`section=…`, with `format` absent or `full`): the same seat objects
      for one section only, plus `section`. Section names come from
      `GET /shows/{showId}/seatmap/sections` and are matched exactly (case-sensitive).
      A section the show does not have is `404 SECTION_NOT_FOUND`.
    - **compact** (`format=compact`): the whole show as `seatIds` in layout order (the same
      order as the full map) and a `status` string with one character per seat at the
      same index: `A` available, `H` held, `B` booked (`statusCodes` spells this out). It
      has no layout or prices, so use it to refresh the state of a layout fetched before.
      It covers the whole show and cannot be combined with `section` (400).

    `status` is `AVAILABLE`, `HELD` or `BOOKED`; a held seat whose hold has expired reads
    `AVAILABLE`. Each shape is rendered from the database, kept in a shared cache until the
    end of the second it was rendered in and sent with `Cache-Control: public, max-age=1,
    stale-while-revalidate=1`: **at most 2 seconds stale**; `asOf` is
    when it was rendered. A seat that reads `AVAILABLE` may still be taken by the time you
    ask for it (`409 SEATS_UNAVAILABLE`).

    Errors: `400 VALIDATION_FAILED` (unknown `format`; `section` empty or longer than 64
    characters; `format=compact` together with `section`); `404 SHOW_NOT_FOUND` (including
    a `showId` that is not a decimal number); `404 SECTION_NOT_FOUND`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = parse_id(show_id, ShowNotFound, "show")
    fmt = request.args.get("format", "full")
    section = request.args.get("section")
    if fmt not in ("full", "compact"):
        raise ValidationFailed(
            "format must be full or compact", fields=[{"field": "format", "message": "unknown format"}]
        )
    if section is not None and (not section or len(section) > 64):
        raise ValidationFailed(
            "section must be 1 to 64 characters", fields=[{"field": "section", "message": "bad length"}]
        )
    if fmt == "compact":
        if section is not None:
            raise ValidationFailed("the compact format covers the whole show; leave out section")
        return _seatmap_response(sid, f"seatmap:{sid}:compact", lambda uow: seatmap.render_compact(uow, sid))
    if section is not None:
        return _seatmap_response(
            sid, f"seatmap:{sid}:section:{section}", lambda uow: seatmap.render_full(uow, sid, section)
        )
    return _seatmap_response(sid, f"seatmap:{sid}:full", lambda uow: seatmap.render_full(uow, sid))


@bp.get("/shows/<show_id>/seatmap/sections")
@operation(
    "getSeatMapSections",
    "Per-section summary of the seat map",
    tags=("seat maps",),
    auth=False,
    answers={
        200: Answer(
            "The sections of the show's venue. At most 2 seconds stale.",
            model=SeatMapSections,
            headers={"Cache-Control": SEATMAP_CACHE_CONTROL},
        )
    },
    failures={404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def seat_map_sections(show_id: str):
    """One entry per section, in layout order: how many seats it has and how many are
    available, held and booked (`available + held + booked = seats`), its price range and
    its bounding box on the map (inclusive, in the same `x`/`y` units as the seats). Small
    enough to poll for a venue overview; fetch the seats of a section with
    `GET /shows/{showId}/seatmap?section=…`. At most 2 seconds stale, like every seat map.

    Errors: `404 SHOW_NOT_FOUND` (including a `showId` that is not a decimal number);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = parse_id(show_id, ShowNotFound, "show")
    return _seatmap_response(sid, f"seatmap:{sid}:sections", lambda uow: seatmap.render_sections(uow, sid))


@bp.post("/shows/<show_id>/holds")
@operation(
    "createHold",
    "Hold seats of a show, all or nothing",
    tags=("holds",),
    body=HoldRequest,
    body_examples={
        "twoSeats": {"value": {"seatIds": ["C5", "C6"]}},
        "standing": {"value": {"gaSection": "Floor", "quantity": 2}},
    },
    answers={
        201: Answer(
            "The seats are held for the caller until `expiresAt`.",
            model=Hold,
            narrow={"status": {"const": "ACTIVE"}},
            headers={
                "Location": {"description": "The new hold, `/api/v1/holds/{holdId}`.", "schema": {"type": "string"}}
            },
        )
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: Failure(
            ("FORBIDDEN", "ADMISSION_REQUIRED"),
            (
                "`FORBIDDEN`: a `userId` in the body is not the authenticated user. `ADMISSION_REQUIRED`: "
                "the show is behind the waiting room (`queueRequired`) and the request carries no valid "
                "admission token for this fan and event, in the `X-Admission-Token` header or the gate's "
                "`seatline_admission` cookie. `eventId` names the event whose queue to join (`POST "
                "/gate/v1/queues/{eventId}/join` on the gate); `reason` says what was wrong with the token."
            ),
        ),
        404: SHOW_NOT_FOUND,
        409: SEATS_UNAVAILABLE,
        413: PAYLOAD_TOO_LARGE,
        422: HOLD_OR_CODE_REFUSED,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@rate_limited(HOLDS, reads=_hold_hint_read)
@behind_breaker
def create_hold(show_id: str):
    """Holds every listed seat for the caller, or none of them. A hold lasts 5 minutes by
    default (`expiresAt`); its `amount` is the sum of the seats' prices. The listed seats
    must be distinct and at most `maxSeatsPerHold` of them (see `GET /shows/{showId}`,
    8 by default); besides, a user may hold at most 8 seats (by default) of one show
    across all their active holds.

    Checks, in order: the rate limits (429), authentication (401), the show id (404 if it is not a decimal
    number), the body (400), `userId` (403), the seat list (400 empty, too many,
    duplicates), the access code (422), seats recently seen taken (409), the per-user cap (422),
    the sale window (404 / 422), then the seats themselves (400 for seat ids the show does not
    have, 409 for seats that are taken), then the code's use (422 `CODE_EXHAUSTED`).

    With `accessCode` (README "Presale codes and vouchers"): a presale code opens the sale to the
    caller from the code's `opensAt`; a voucher's discount is taken off `amount` (shown in
    `discount`), never below 0 (a hold of amount 0 is booked without a payment). Each hold takes one
    of the code's uses, given back if the hold ends without a booking.

    Errors: `400 VALIDATION_FAILED` (bad body; empty list; more seats than the per-hold
    limit; duplicate seat ids, listed in `duplicateSeatIds`; seat ids the show does not have,
    listed in `unknownSeatIds`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`
    (`userId` is not the token's user); `404 SHOW_NOT_FOUND`; `409 SEATS_UNAVAILABLE` (with
    `seatIds`, the requested seats that are taken; nothing is held); `413 PAYLOAD_TOO_LARGE`;
    `422 SALE_CLOSED` (with `saleStatus` `NOT_OPEN` and `saleOpensAt`, `CLOSED`, or
    `CANCELLED`); `422 SEAT_LIMIT_EXCEEDED` (with `limit` and `held`); `422 CODE_INVALID` (with
    `reason`: `UNKNOWN`, `INACTIVE`, `NOT_YET_VALID` with `validFrom`, `EXPIRED`);
    `422 CODE_EXHAUSTED`; `429 RATE_LIMITED`
    (too many holds by the caller or from the client's IP, counted before anything else
    is checked); `500 INTERNAL_ERROR`; `503 DEGRADED`.

    **Standing room** (README "General admission (standing)"): instead of `seatIds`, name
    `gaSection` and `quantity` (from 1 to `maxSeatsPerHold`); the first free places of the
    section are held, all or none, and listed in `seatIds`; the answer adds `gaSection` and
    `quantity`. Both `seatIds` and `gaSection`, or only one of `gaSection` and `quantity`, or
    a section the venue has no standing section of that name is `400 VALIDATION_FAILED`;
    fewer free places than asked is `409 SEATS_UNAVAILABLE` with `available`, the number
    free, and nothing is held. The per-fan cap counts places like seats.
    """
    user = current_user()
    sid = parse_id(show_id, ShowNotFound, "show")
    body = parse_body(HoldRequest)
    check_body_user(user, body.userId)
    standing = _standing_request(body)
    # Its two statements through psycopg directly: the Session's layers cost more CPU than they do.
    with direct_unit_of_work() as uow:
        token = request.headers.get(admission.HEADER) or request.cookies.get(admission.COOKIE)
        hints = SeatHints(redis_store.limits, prefetched())
        limits = services.HoldLimits.from_settings(settings())
        check = services.AdmissionCheck(current_app.extensions["seatline.admission"], token)
        if standing is not None:
            hold = services.hold_standing(
                uow, hints, limits, user.id, sid, *standing, check, access_code=body.accessCode
            )
        else:
            hold = services.hold_seats(
                uow, hints, limits, user.id, sid, body.seatIds, check, access_code=body.accessCode
            )
    return reply(hold.body(), 201, {"Location": f"/api/v1/holds/{hold.hold_id}"})


@bp.get("/holds/<hold_id>")
@operation(
    "getHold",
    "One of the caller's holds",
    tags=("holds",),
    answers={200: Answer("The hold. Never cached.", model=Hold, headers={"Cache-Control": NO_STORE})},
    failures={401: UNAUTHORIZED, 404: HOLD_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def get_hold(hold_id: str):
    """`status` is `ACTIVE` until `expiresAt`, then `EXPIRED`; `RELEASED` once released;
    `CONFIRMED` once paid for (the booking is in `GET /bookings`).

    `paymentIntentId` is set once `POST /holds/{holdId}/payment-intents` has created the
    hold's payment intent. A hold whose payment is under way **stays `ACTIVE` past
    `expiresAt`** (its seats stay held) until the gateway settles the payment: it becomes
    `CONFIRMED` if the payment succeeds, or `EXPIRED` once the payment is cancelled at the
    gateway after the hold lapsed (a failed card attempt alone does not end it: the fan may
    try again).

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 HOLD_NOT_FOUND` (no such hold, a
    hold of another user, or a `holdId` that is not a UUID); `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        hold = services.get_hold(uow, user.id, parse_uuid(hold_id, HoldNotFound, "hold"))
    return reply(hold.body(), 200, {"Cache-Control": "no-store"})


@bp.delete("/holds/<hold_id>")
@operation(
    "releaseHold",
    "Release one of the caller's holds",
    tags=("holds",),
    answers={
        200: Answer("The hold is no longer active.", model=Hold, narrow={"status": {"enum": ["RELEASED", "EXPIRED"]}})
    },
    failures={
        401: UNAUTHORIZED,
        404: HOLD_NOT_FOUND,
        409: HOLD_NOT_ACTIVE,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: GATEWAY_DEGRADED,
    },
)
@rate_limited(GATEWAY_CALLS, methods=["DELETE"])
@behind_breaker
def release_hold(hold_id: str):
    """Ends an active hold: its seats are `AVAILABLE` again at once (seat maps show it within
    2 seconds). The answer is the hold as it now stands: `RELEASED`, or `EXPIRED` if it had
    already lapsed. Releasing a hold that is already released or expired changes nothing
    and answers the same way.

    **A hold whose payment is under way** (it has a `paymentIntentId`) is not let go until
    the payment can no longer succeed: the server first cancels the payment intent at the
    gateway, and only then frees the seats. If the payment turned out to have gone through
    meanwhile, the hold is booked instead and the answer is `409 HOLD_NOT_ACTIVE` with
    `status` `CONFIRMED` (the booking is in `GET /bookings`). If the gateway does not answer,
    the answer is `503 DEGRADED` and the hold is kept; try again.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 HOLD_NOT_FOUND` (no such hold, a
    hold of another user, or a `holdId` that is not a UUID); `409 HOLD_NOT_ACTIVE` (the hold
    has been paid for: `status` is `CONFIRMED`); `429 RATE_LIMITED` (too many confirms and
    releases by the caller or from the client's IP, `RATE_LIMIT_GATEWAY_CALLS`: each may ask
    the payment gateway; nothing was done); `500 INTERNAL_ERROR`; `503 DEGRADED` (the
    database is busy, or the payment gateway did not answer, or was busy, while cancelling
    the hold's payment).
    """
    user = current_user()
    hid = parse_uuid(hold_id, HoldNotFound, "hold")
    with unit_of_work() as uow:
        hold = release.release_hold(
            uow, current_app.extensions["seatline.gateway"], SeatHints(redis_store.limits), user.id, hid
        )
    return reply(hold.body())
