"""The request models of the manager API, which the dashboard's forms are read through too, so that
both accept exactly the same values; and the small steps from a request to a service's input."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from app.errors import ValidationFailed
from app.manage import box_office, layouts, shows, venues
from app.manage.layouts import RowBlock
from app.text import single_line
from app.waiting_room.control import QueueRequest

# Titles and names lose control characters (app/text.py) before their length is checked.
Name = Annotated[str, BeforeValidator(lambda v: single_line(v) if isinstance(v, str) else v),
                 StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Text = Annotated[str, StringConstraints(max_length=2000)]
SeatId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Tier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Minor = Annotated[int, Field(ge=0, le=100_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class VenueRequest(Strict):
    cityId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
    name: Name
    kind: Literal[venues.VENUE_KINDS]  # type: ignore[valid-type]
    address: Text = ""
    organisationId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None


class SeatRequest(Strict):
    seatId: Annotated[str, StringConstraints(pattern=layouts.SEAT_ID.pattern)]
    section: Annotated[str, StringConstraints(pattern=layouts.LABEL.pattern)]
    row: Annotated[str, StringConstraints(pattern=layouts.LABEL.pattern)]
    number: Annotated[int, Field(ge=1, le=9999)]
    tier: Tier
    x: Annotated[int, Field(ge=0, le=layouts.MAX_COORDINATE)]
    y: Annotated[int, Field(ge=0, le=layouts.MAX_COORDINATE)]
    accessible: bool = False
    companion: bool = False
    sellable: bool = True


class LayoutRequest(Strict):
    seats: Annotated[list[SeatRequest], Field(min_length=1, max_length=layouts.MAX_SEATS)]


class BlockRequest(Strict):
    section: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    rows: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    seatsPerRow: Annotated[int, Field(ge=1, le=500)]
    tier: Tier
    firstNumber: Annotated[int, Field(ge=1, le=9000)] = 1
    aislesAfter: Annotated[list[Annotated[int, Field(ge=1, le=9999)]], Field(max_length=50)] = []
    accessible: Annotated[list[SeatId], Field(max_length=500)] = []
    companion: Annotated[list[SeatId], Field(max_length=500)] = []
    notForSale: Annotated[list[SeatId], Field(max_length=500)] = []
    seatIdPrefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{0,12}$")] = ""


def row_block(body: BlockRequest) -> RowBlock:
    try:
        rows = layouts.parse_rows(body.rows)
    except ValueError as exc:
        raise ValidationFailed(f"rows: {exc}", fields=[{"field": "rows", "message": str(exc)}]) from exc
    return RowBlock(body.section, rows, body.seatsPerRow, body.tier, body.firstNumber, tuple(body.aislesAfter),
                    tuple(body.accessible), tuple(body.companion), tuple(body.notForSale), body.seatIdPrefix)


class MarkSeatsRequest(Strict):
    seatIds: Annotated[list[SeatId], Field(min_length=1, max_length=10_000)]
    tier: Tier | None = None
    accessible: bool | None = None
    companion: bool | None = None
    sellable: bool | None = None


class EventRequest(Strict):
    title: Name
    category: Literal[shows.EVENT_CATEGORIES]  # type: ignore[valid-type]
    description: Text = ""
    durationMinutes: Annotated[int, Field(ge=1, le=24 * 60)]
    organisationId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None


class EventChangeRequest(Strict):
    title: Name | None = None
    category: Literal[shows.EVENT_CATEGORIES] | None = None  # type: ignore[valid-type]
    description: Text | None = None
    durationMinutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None

    def changes(self) -> dict[str, Any]:
        names = {"title": "title", "category": "category", "description": "description", "durationMinutes": "minutes"}
        return {names[k]: v for k, v in self.model_dump().items() if v is not None}


class RefundRule(Strict):
    hoursBefore: Annotated[int, Field(ge=0, le=24 * 365)]
    refundPercent: Annotated[int, Field(ge=0, le=100)]


class RefundPolicy(Strict):
    rules: Annotated[list[RefundRule], Field(max_length=10)]
    feeMinor: Minor = 0


# The date and the hours and minutes, at least; pydantic would also read a bare number as Unix time.
ISO_TIME_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str) or not ISO_TIME_START.match(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-12-01T19:30 (the venue's time) or with an offset")
    return value


# A date and time as text; without an offset it is the venue's local time.
Time = Annotated[datetime, BeforeValidator(_iso_text), Field(strict=False)]
Prices = Annotated[dict[Tier, Minor], Field(min_length=1, max_length=50)]


class ShowRequest(Strict):
    eventId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
    venueId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
    startTime: Time
    saleOpensAt: Time
    saleClosesAt: Time | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    prices: Prices
    refundPolicy: RefundPolicy | None = None
    queue: QueueRequest | None = None

    @field_validator("startTime", "saleOpensAt", "saleClosesAt")
    @classmethod
    def _bounded(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return value


    def show_input(self) -> shows.ShowInput:
        return shows.ShowInput(
            event_id=int(self.eventId), venue_id=int(self.venueId), starts_at=self.startTime,
            sale_opens_at=self.saleOpensAt, sale_closes_at=self.saleClosesAt, currency=self.currency,
            prices=dict(self.prices), refund_policy=self.refundPolicy.model_dump() if self.refundPolicy else None,
            queue=self.queue.settings() if self.queue else None,
        )


class ShowChangeRequest(Strict):
    startTime: Time | None = None
    saleOpensAt: Time | None = None
    saleClosesAt: Time | None = None
    prices: Prices | None = None
    refundPolicy: RefundPolicy | None = None
    queue: QueueRequest | None = None
    queueRequired: bool | None = None

    _bounded = field_validator("startTime", "saleOpensAt", "saleClosesAt")(ShowRequest._bounded.__func__)  # type: ignore[attr-defined]


def show_changes(body: ShowChangeRequest) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field, key in (("startTime", "starts_at"), ("saleOpensAt", "sale_opens_at"), ("saleClosesAt", "sale_closes_at")):
        if getattr(body, field) is not None:
            changes[key] = getattr(body, field)
    if body.prices is not None:
        changes["prices"] = dict(body.prices)
    if body.refundPolicy is not None:
        changes["refund_policy"] = body.refundPolicy.model_dump()
    if body.queue is not None:
        changes["queue"] = body.queue.settings()
    elif body.queueRequired is not None:
        changes["queue"] = shows.KEEP_QUEUE if body.queueRequired else None
    return changes


class BlockSeatsRequest(Strict):
    seatIds: Annotated[list[SeatId], Field(min_length=1, max_length=box_office.MAX_SEATS_PER_CHANGE)]
    kind: Literal["KILL", "HOUSE"] = "HOUSE"


class UnblockSeatsRequest(Strict):
    seatIds: Annotated[list[SeatId], Field(min_length=1, max_length=box_office.MAX_SEATS_PER_CHANGE)]


class CancelRequest(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
