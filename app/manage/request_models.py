"""The request models of the manager API, which the dashboard's forms are read through too, so that
both accept exactly the same values; and the small steps from a request to a service's input."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator

from app.errors import ValidationFailed
from app.manage import box_office, layouts, shows, venues
from app.manage.layouts import RowBlock
from app.text import single_line
from app.waiting_room.control import QueueRequest

# Titles and names lose control characters (app/text.py) before their length is checked.
Name = Annotated[
    str,
    BeforeValidator(lambda v: single_line(v) if isinstance(v, str) else v),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    Field(json_schema_extra={"pattern": r"\S"}),
]  # blank is empty once trimmed
Text = Annotated[str, StringConstraints(max_length=2000)]
SeatId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Tier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Minor = Annotated[int, Field(ge=0, le=100_000_000)]


class Strict(BaseModel):
    # A field's docstring is its description in the OpenAPI document (app/api/openapi.py).
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)


class VenueRequest(Strict):
    cityId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
    """The city the venue is in (see `GET /cities`); an unknown one is `404 CITY_NOT_FOUND`."""
    name: Name
    """The venue's name, unique within its city. Surrounding whitespace is trimmed; 1 to 120 characters remain."""
    kind: Literal[venues.VENUE_KINDS]  # type: ignore[valid-type]
    address: Text = ""
    organisationId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None
    """Admins only, and required for them (else `400 VALIDATION_FAILED`): the organisation that will own what is
    created. Ignored for managers, whose venues and events always belong to their own organisation.
    """


LABEL_LENGTH = {"minLength": 1, "maxLength": 40}  # what layouts.LABEL allows, spelled out for the document


class SeatRequest(Strict):
    seatId: Annotated[str, StringConstraints(pattern=layouts.SEAT_ID.pattern)]
    """A seat id, unique in the venue; 1 to 32 letters, digits, `.`, `-` or `_`, starting with a letter or digit."""
    section: Annotated[str, StringConstraints(pattern=layouts.LABEL.pattern), Field(json_schema_extra=LABEL_LENGTH)]
    """1 to 40 characters, no control characters."""
    row: Annotated[str, StringConstraints(pattern=layouts.LABEL.pattern), Field(json_schema_extra=LABEL_LENGTH)]
    """1 to 40 characters, no control characters."""
    number: Annotated[int, Field(ge=1, le=9999)]
    """The seat's number in its row; unique per section and row."""
    tier: Tier
    """A price tier of the venue's seats; lower-case letters, digits, `-` and `_`, up to 32."""
    x: Annotated[int, Field(ge=0, le=layouts.MAX_COORDINATE)]
    """Column on the drawn map, in seat-width units (gaps are aisles). The map is at most 1000 × 1000 seat widths."""
    y: Annotated[int, Field(ge=0, le=layouts.MAX_COORDINATE)]
    """Row on the drawn map, in seat-height units."""
    accessible: bool = False
    """A wheelchair space."""
    companion: bool = False
    """Next to a wheelchair space, for the person coming along."""
    sellable: bool = True
    """False for a seat that is on the map but never sold (a camera platform, a restricted view)."""
    standing: bool = False
    """An admission place of a standing section, sold by quantity (README "General admission (standing)")."""


class LayoutRequest(Strict):
    seats: Annotated[list[SeatRequest], Field(min_length=1, max_length=layouts.MAX_SEATS)]
    """The whole layout, in order. Seat ids and places (section, row, number) must be unique."""


class BlockRequest(Strict):
    section: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
        Field(json_schema_extra={"pattern": r"\S"}),
    ]
    """The section the rows belong to (new or existing). Surrounding whitespace is trimmed."""
    rows: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    """The rows, top to bottom: a range of letters or of numbers (`A-J`, `AA-AD`, `1-20`, up to two letters or
    three digits each end) or a list separated by spaces or commas (`A, B, C`; each 1 to 8 characters, no repeats).
    Anything else is `400 VALIDATION_FAILED` on `rows`.
    """
    seatsPerRow: Annotated[int, Field(ge=1, le=500)]
    tier: Tier
    """A price tier of the venue's seats; lower-case letters, digits, `-` and `_`, up to 32."""
    firstNumber: Annotated[int, Field(ge=1, le=9000)] = 1
    """The number of each row's first seat."""
    aislesAfter: Annotated[list[Annotated[int, Field(ge=1, le=9999)]], Field(max_length=50)] = []
    """Seat numbers followed by an aisle (a missing position on the map)."""
    accessible: Annotated[list[SeatId], Field(max_length=500)] = []
    """Seat ids of this block that are wheelchair spaces."""
    companion: Annotated[list[SeatId], Field(max_length=500)] = []
    """Seat ids of this block that are companion seats."""
    notForSale: Annotated[list[SeatId], Field(max_length=500)] = []
    """Seat ids of this block that are never sold (`sellable` false)."""
    seatIdPrefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{0,12}$")] = ""
    """Put before every seat id of the block (`U` gives `UA1`), to keep ids unique across sections."""


class StandingSectionRequest(Strict):
    section: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=layouts.LABEL.pattern),
        Field(json_schema_extra={"pattern": r"\S"}),
    ]
    """The standing section's name, new to the venue (e.g. `Floor`). Surrounding whitespace is trimmed."""
    tier: Tier
    """The price tier of its places; lower-case letters, digits, `-` and `_`, up to 32."""
    capacity: Annotated[int, Field(ge=1, le=layouts.MAX_STANDING_PLACES)]
    """How many people it admits: that many numbered admission places."""


class StandingCapacityRequest(Strict):
    section: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    """The standing section's name, exactly as in the layout."""
    capacity: Annotated[int, Field(ge=1, le=layouts.MAX_STANDING_PLACES)]
    """The section's new capacity. Shrinking removes only places no show has sold, holds or keeps for the house."""


def row_block(body: BlockRequest) -> RowBlock:
    try:
        rows = layouts.parse_rows(body.rows)
    except ValueError as exc:
        raise ValidationFailed(f"rows: {exc}", fields=[{"field": "rows", "message": str(exc)}]) from exc
    return RowBlock(
        body.section,
        rows,
        body.seatsPerRow,
        body.tier,
        body.firstNumber,
        tuple(body.aislesAfter),
        tuple(body.accessible),
        tuple(body.companion),
        tuple(body.notForSale),
        body.seatIdPrefix,
    )


class MarkSeatsRequest(Strict):
    """At least one of `tier`, `accessible`, `companion` and `sellable` must be present and not null."""

    seatIds: Annotated[list[SeatId], Field(min_length=1, max_length=10_000)]
    """Seats of the venue's layout; an unknown one is `400 VALIDATION_FAILED` (listed in `seatIds`)."""
    tier: Tier | None = None
    """The seats' new price tier; null or absent leaves it."""
    accessible: bool | None = None
    """Null or absent leaves it."""
    companion: bool | None = None
    """Null or absent leaves it."""
    sellable: bool | None = None
    """Null or absent leaves it."""


class EventRequest(Strict):
    title: Name
    """Unique within the organisation. Surrounding whitespace is trimmed; 1 to 120 characters remain."""
    category: Literal[shows.EVENT_CATEGORIES]  # type: ignore[valid-type]
    description: Text = ""
    durationMinutes: Annotated[int, Field(ge=1, le=24 * 60)]
    organisationId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None
    """Admins only, and required for them (else `400 VALIDATION_FAILED`): the organisation that will own what is
    created. Ignored for managers, whose venues and events always belong to their own organisation.
    """


class EventChangeRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # checked by update_event: "nothing to change"
    title: Name | None = None
    """Unique within the organisation."""
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
    """See `RefundPolicy` for how the rules apply when a fan cancels."""

    rules: Annotated[list[RefundRule], Field(max_length=10)]
    feeMinor: Minor = 0
    """A fee taken off every refund"""


# The date and the hours and minutes, at least; pydantic would also read a bare number as Unix time.
ISO_TIME_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str) or not ISO_TIME_START.match(value):
        raise ValueError(
            "must be an ISO 8601 date and time, e.g. 2026-12-01T19:30 (the venue's time) or with an offset"
        )
    return value


# A date and time as text; without an offset it is the venue's local time.
Time = Annotated[
    datetime,
    BeforeValidator(_iso_text),
    Field(strict=False),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ISO_TIME_START.pattern,
            "description": "An ISO 8601 date and time between the years 2000 and 2100, from the date to at least the minutes "
            "(a bare number is not read as Unix time). With a UTC offset (`2026-12-12T19:30:00+05:30`, `…Z`) it "
            "is that instant; without one (`2026-12-12T19:30:00`) it is the wall-clock time at the venue, which "
            "must exist there (not one skipped when the clocks go forward), else `400 VALIDATION_FAILED`.",
            "examples": ["2026-12-12T19:30:00", "2026-12-12T14:00:00Z"],
        }
    ),
]
Prices = Annotated[
    dict[Tier, Minor],
    Field(min_length=1, max_length=50),
    WithJsonSchema(
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 50,
            "propertyNames": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,31}$"},
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100_000_000},
            "description": "Price per tier, in minor units of the show's currency. Only tiers the venue has (else "
            "`unknownTiers`).",
            "examples": [{"stalls": 4500, "circle": 3500}],
        }
    ),
]


class ShowRequest(Strict):
    eventId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
    """An id in a request body, as a string of 1 to 18 decimal digits."""
    venueId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
    """An id in a request body, as a string of 1 to 18 decimal digits."""
    startTime: Time
    """An ISO 8601 date and time between the years 2000 and 2100, from the date to at least the minutes (a bare
    number is not read as Unix time). With a UTC offset (`2026-12-12T19:30:00+05:30`, `…Z`) it is that instant;
    without one (`2026-12-12T19:30:00`) it is the wall-clock time at the venue, which must exist there (not one
    skipped when the clocks go forward), else `400 VALIDATION_FAILED`.
    """
    saleOpensAt: Time
    """An ISO 8601 date and time between the years 2000 and 2100, from the date to at least the minutes (a bare
    number is not read as Unix time). With a UTC offset (`2026-12-12T19:30:00+05:30`, `…Z`) it is that instant;
    without one (`2026-12-12T19:30:00`) it is the wall-clock time at the venue, which must exist there (not one
    skipped when the clocks go forward), else `400 VALIDATION_FAILED`.
    """
    saleClosesAt: Time | None = None
    """When the sale ends; null or absent is the start time. At most a day after the start."""
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    """One Seatline sells in (USD, EUR, GBP, INR, AUD, CAD, CHF, SGD, AED, JPY, KWD); else `400 VALIDATION_FAILED`
    naming `currency`.
    """
    prices: Prices
    """A price for every tier of the venue (else `unpricedTiers`), and no tier it does not have (else
    `unknownTiers`), in minor units of `currency` (yen for JPY, fils for KWD). Each price is 0 (free seats: a hold
    of only those is booked without a payment) or one the payment gateway charges: at least its minimum charge in
    that currency (e.g. 50 USD cents, 30 pence, ¥50), a multiple of 10 for KWD, and at most its maximum
    (99,999,999) divided by the most seats one hold may have. Else `400 VALIDATION_FAILED` naming `prices.<tier>`.
    The same holds for `prices` in `PATCH /manage/shows/{showId}`.
    """
    refundPolicy: RefundPolicy | None = None
    """Null or absent is the default policy (100% up to 48 hours before the start, 50% up to 24 hours)."""
    queue: QueueRequest | None = None
    """Sell the show through the event's waiting room, with these settings. Null or absent sells it without one."""

    @field_validator("startTime", "saleOpensAt", "saleClosesAt")
    @classmethod
    def _bounded(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return value

    def show_input(self) -> shows.ShowInput:
        return shows.ShowInput(
            event_id=int(self.eventId),
            venue_id=int(self.venueId),
            starts_at=self.startTime,
            sale_opens_at=self.saleOpensAt,
            sale_closes_at=self.saleClosesAt,
            currency=self.currency,
            prices=dict(self.prices),
            refund_policy=self.refundPolicy.model_dump() if self.refundPolicy else None,
            queue=self.queue.settings() if self.queue else None,
        )


class ShowChangeRequest(Strict):
    """Absent and null fields stay as they are; at least one field must be given (else `400 VALIDATION_FAILED`)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # checked by update_show: "nothing to change"

    startTime: Time | None = None
    saleOpensAt: Time | None = None
    saleClosesAt: Time | None = None
    prices: Prices | None = None
    """New prices of the tiers named; other tiers keep theirs."""
    refundPolicy: RefundPolicy | None = None
    """Replaces the refund policy."""
    transferCutoffMinutes: Annotated[int, Field(ge=0, le=10080)] | None = None
    """How many minutes before the start fans can no longer transfer their tickets (60 for a new show; 0 allows
    transfers until the start). See `POST /bookings/{bookingId}/transfer`.
    """
    ticketCodes: Literal["STATIC", "ROTATING"] | None = None
    """`ROTATING`: the door admits only the live ticket's code, which changes every 15 s, on the fan's phone
    (README "Rotating codes"); `STATIC` (a new show's): the signed code alone, as printed or shown.
    """
    staticCodesAllowed: bool | None = None
    """At a rotating show: whether printed (static) codes still admit (false for a new show); when false, the
    tickets' PDF carries no code and says to show the live ticket.
    """
    queue: QueueRequest | None = None
    """Sell the show through the event's waiting room, opened (or re-set) with these settings. Takes precedence
    over `queueRequired`.
    """
    queueRequired: bool | None = None
    """Without `queue`: true sells the show through the waiting room, opened (or re-set) with the default settings;
    false sells it without the waiting room (the room itself stays as it is).
    """
    rescheduleRefundDays: Annotated[int, Field(ge=0, le=90)] | None = None
    """With a `startTime` that moves the show: for how many days (14 if not given) fans who booked before the move
    may cancel for a full refund, whatever the refund policy says; the window ends at the new start if that is
    sooner, and 0 offers none. Ignored when the start does not move (README "Rescheduling a show").
    """

    _bounded = field_validator("startTime", "saleOpensAt", "saleClosesAt")(ShowRequest._bounded.__func__)  # type: ignore[attr-defined]


def show_changes(body: ShowChangeRequest) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field, key in (
        ("startTime", "starts_at"),
        ("saleOpensAt", "sale_opens_at"),
        ("saleClosesAt", "sale_closes_at"),
    ):
        if getattr(body, field) is not None:
            changes[key] = getattr(body, field)
    if body.prices is not None:
        changes["prices"] = dict(body.prices)
    if body.refundPolicy is not None:
        changes["refund_policy"] = body.refundPolicy.model_dump()
    if body.transferCutoffMinutes is not None:
        changes["transfer_cutoff_minutes"] = body.transferCutoffMinutes
    if body.ticketCodes is not None:
        changes["ticket_codes"] = body.ticketCodes
    if body.staticCodesAllowed is not None:
        changes["static_codes_allowed"] = body.staticCodesAllowed
    if body.rescheduleRefundDays is not None:
        if body.startTime is None:
            raise ValidationFailed(
                "rescheduleRefundDays goes with a new startTime",
                fields=[{"field": "rescheduleRefundDays", "message": "only with startTime"}],
            )
        changes["reschedule_refund_days"] = body.rescheduleRefundDays
    if body.queue is not None:
        changes["queue"] = body.queue.settings()
    elif body.queueRequired is not None:
        changes["queue"] = shows.KEEP_QUEUE if body.queueRequired else None
    return changes


NO_REPEATS = {"uniqueItems": True}  # box_office checks it, once the show is known to be the caller's (404 first)


class BlockSeatsRequest(Strict):
    seatIds: Annotated[
        list[SeatId], Field(min_length=1, max_length=box_office.MAX_SEATS_PER_CHANGE, json_schema_extra=NO_REPEATS)
    ]
    """Seats of the show, no repeats (a repeat is `400 VALIDATION_FAILED`)."""
    kind: Literal["KILL", "HOUSE"] = "HOUSE"
    """`HOUSE`: kept back for the house; `KILL`: never sold (e.g. a blocked view)."""


class UnblockSeatsRequest(Strict):
    seatIds: Annotated[
        list[SeatId], Field(min_length=1, max_length=box_office.MAX_SEATS_PER_CHANGE, json_schema_extra=NO_REPEATS)
    ]
    """Seats of the show, no repeats (a repeat is `400 VALIDATION_FAILED`)."""


class CancelRequest(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    """Shown to the fans in the cancellation message. Surrounding whitespace is trimmed."""


# ---------------------------------------------------------------- door check-in (README "Door check-in")

Gate = Annotated[
    str,
    BeforeValidator(lambda v: single_line(v) if isinstance(v, str) else v),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
]


def _aware_time(v: Any) -> Any:
    """An ISO 8601 date-time with a UTC offset, as text, read into a ``datetime``; other types are refused."""
    if isinstance(v, str):
        try:
            parsed = datetime.fromisoformat(v.replace("Z", "+00:00")) if len(v) <= 40 else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or not 2000 <= parsed.year <= 2100:
            raise ValueError("must be an ISO 8601 date and time with a UTC offset, between the years 2000 and 2100")
        return parsed
    return v


AwareTime = Annotated[datetime, BeforeValidator(_aware_time)]
Nonce = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
TicketText = Annotated[str, StringConstraints(min_length=1, max_length=400)]


class CheckinRequest(Strict):
    ticket: TicketText
    """The ticket's code: exactly the text of its QR code."""
    gate: Gate
    """The gate or door the scan was made at (1 to 40 characters)."""
    nonce: Nonce
    """The scan's own id, 8 to 64 letters, digits, `-` or `_`: the same nonce again is answered as the first time."""


class OfflineScan(CheckinRequest):
    scannedAt: AwareTime
    """When the scanner read the code (ISO 8601 with an offset); a time ahead of the server's counts as now."""


class CheckinBatchRequest(Strict):
    scans: Annotated[list[OfflineScan], Field(min_length=1, max_length=200)]
    """1 to 200 offline scans (which fit the 64 KiB body limit)."""


class CheckinWindowRequest(Strict):
    opensAt: AwareTime | None = None
    """When check-in opens; null: any time before the show."""
    closesAt: AwareTime | None = None
    """When it closes; null: when the show ends (its start plus the event's duration)."""


class DoorStaffRequest(Strict):
    email: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    ]
    """The email of the fan account that becomes door staff."""
    organisationId: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")] | None = None
    """Admins only: the organisation the door staff work for (a manager's own otherwise)."""


# ---------------------------------------------------------------- presale codes and vouchers (README "Presale codes and vouchers")

CodeText = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,32}$")]


class AccessCodeRequest(Strict):
    code: CodeText
    """3 to 32 letters, digits, `-` or `_`; fans may type it in any case. Unique (in any case) per show or event."""
    kind: Literal["PRESALE", "VOUCHER"]
    """`PRESALE`: its holders may hold seats from `opensAt` on, before the public sale opens (it may carry a
    discount too); `VOUCHER`: a discount during the sale, `percentOff` or `amountOff`."""
    percentOff: Annotated[int, Field(ge=1, le=100)] | None = None
    """Percent taken off a hold's amount (1 to 100; 100 makes the hold free). Not with `amountOff`."""
    amountOff: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    """Amount taken off a hold's amount, in minor units of the show's currency; the amount never goes below 0."""
    maxUses: Annotated[int, Field(ge=1, le=1_000_000)]
    """How many holds may use the code at once or have been booked with it (1 to 1,000,000)."""
    opensAt: AwareTime | None = None
    """When the code starts to work (a presale code: when its holders may hold seats); null: at once."""
    closesAt: AwareTime | None = None
    """When it stops working; null: never (a hold still needs the sale to be open)."""
    active: bool = True
    """False: the code works for nobody until made active again."""


class AccessCodeChangeRequest(Strict):
    maxUses: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """The new use limit; holds that already use the code keep their use."""
    opensAt: AwareTime | None = None
    """When the code starts to work; null: at once."""
    closesAt: AwareTime | None = None
    """When it stops working; null: never."""
    active: bool | None = None
    """False deactivates the code (as DELETE does), true makes it work again."""

    def changes(self) -> dict[str, Any]:
        """The fields sent; ``opensAt`` and ``closesAt`` may be sent as null, the others not."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        for name in ("maxUses", "active"):
            if name in sent and sent[name] is None:
                raise ValidationFailed(f"{name} cannot be null", fields=[{"field": name, "message": "not null"}])
        return sent
