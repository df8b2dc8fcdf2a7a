"""The waiting list's API: join a sold-out show's line, see one's places and offers, leave."""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.http import current_user, parse_body, parse_id, parse_uuid
from app.circuit import behind_breaker
from app.contract import (
    DEGRADED,
    INTERNAL_ERROR,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    SHOW_NOT_FOUND,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    WAITLIST_NOT_FOUND,
    WAITLIST_NOT_NEEDED,
    Answer,
    Failure,
    operation,
)
from app.errors import ShowNotFound, WaitlistEntryNotFound
from app.extensions import redis_store
from app.inventory.hints import SeatHints
from app.unit_of_work import unit_of_work
from app.waitlist import services
from app.waitlist.schemas import WaitlistJoined, WaitlistList

bp = Blueprint("waitlist_api", __name__, url_prefix="/api/v1")

JOIN_REFUSED = Failure(
    ("SALE_CLOSED",),
    "`SALE_CLOSED`: the show is not on sale (`saleStatus` `NOT_OPEN` with `saleOpensAt`, `CLOSED` or `CANCELLED`).",
)


class JoinRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    quantity: Annotated[int, Field(ge=1, le=8)]
    """How many seats the fan wants together: an offer is made only when that many can be offered at once."""
    tier: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    """A price tier of the show (see `GET /shows/{showId}`): only seats of that tier are offered. Left out or
    null: seats of any tier."""


@bp.post("/shows/<show_id>/waitlist")
@operation(
    "joinWaitlist",
    "Join a sold-out show's waiting list",
    tags=("waiting list",),
    body=JoinRequest,
    body_examples={"two gold": {"value": {"quantity": 2, "tier": "gold"}}, "any": {"value": {"quantity": 1}}},
    answers={
        201: Answer("The caller is in line.", model=WaitlistJoined, headers={"Cache-Control": NO_STORE}),
        200: Answer(
            "The caller was in line already (or has an open offer): the same entry; nothing changed.",
            model=WaitlistJoined,
            headers={"Cache-Control": NO_STORE},
        ),
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        404: SHOW_NOT_FOUND,
        409: WAITLIST_NOT_NEEDED,
        413: PAYLOAD_TOO_LARGE,
        422: JOIN_REFUSED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@behind_breaker
def join_waitlist(show_id: str):
    """Puts the caller at the back of the show's line for `quantity` seats (1 to 8) of `tier`
    (or of any tier). Only while no such seat can be held: `409 WAITLIST_NOT_NEEDED` otherwise.
    One active entry per fan and show: joining again answers `200` with the same entry.

    When seats come back (a hold lapses or is released, a booking is cancelled, the box office
    puts seats back), the first fans in line whose whole `quantity` can be offered get an offer:
    a hold of theirs on the seats (`GET /waitlist` shows it; pay it like any hold) for
    `WAITLIST_OFFER_SECONDS` (15 minutes by default), and an email (and SMS) with the link. While
    someone waits for a seat's tier, the seat is kept for the line: nobody else can hold it.
    An unpaid offer passes to the next fan; its fan's entry ends `MISSED`.

    Checks, in order: authentication (401), the show id (404 if not digits), the body (400),
    the show (404), the tier (400 if the show has none such), the sale (422), then the seats (409).

    Errors: `400 VALIDATION_FAILED` (`quantity` not an integer from 1 to 8, an unknown `tier`:
    `unknownTier`); `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 SHOW_NOT_FOUND`; `409
    WAITLIST_NOT_NEEDED` (`available` seats can be held now); `422 SALE_CLOSED`; `500
    INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    sid = parse_id(show_id, ShowNotFound, "show")
    body = parse_body(JoinRequest)
    with unit_of_work() as uow:
        joined = services.join(uow, user.id, sid, body.quantity, body.tier)
    answer = WaitlistJoined(waitlistId=joined.entry.id, position=joined.entry.position or 0)
    return answer.model_dump(), 201 if joined.created else 200, {"Cache-Control": "no-store"}


@bp.get("/waitlist")
@operation(
    "listWaitlist",
    "The caller's waiting-list entries",
    tags=("waiting list",),
    answers={
        200: Answer(
            "The entries (possibly none). Never cached.", model=WaitlistList, headers={"Cache-Control": NO_STORE}
        )
    },
    failures={401: UNAUTHORIZED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_waitlist():
    """Every entry of the caller, the newest first: its place in line while `WAITING`, and while
    `OFFERED` the offer (`holdId`, seats, `expiresAt`, amount): pay that hold like any other
    (`POST /holds/{holdId}/payment-intents` or the site's checkout) before it expires.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        rows = services.entries(uow, user.id)
    body = WaitlistList.model_validate({"entries": [services.entry_body(r) for r in rows]})
    return body.model_dump(), 200, {"Cache-Control": "no-store"}


@bp.delete("/waitlist/<waitlist_id>")
@operation(
    "leaveWaitlist",
    "Leave a waiting list",
    tags=("waiting list",),
    answers={204: Answer("The caller is out of the line (now or before).")},
    failures={401: UNAUTHORIZED, 404: WAITLIST_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
@behind_breaker
def leave_waitlist(waitlist_id: str):
    """Ends the entry (`LEFT`). An open offer's hold is released and its seats pass down the line,
    unless its payment has started. Leaving again, or an entry that has ended, changes nothing
    and answers `204` too.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 WAITLIST_NOT_FOUND` (no such entry, another
    fan's, or an id that is not a UUID); `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    entry_id = parse_uuid(waitlist_id, WaitlistEntryNotFound, "waiting-list entry")
    with unit_of_work() as uow:
        services.leave(uow, SeatHints(redis_store.limits), user.id, entry_id)
    return Response(status=204)
