"""The HTTP contract of /api/v1, declared next to the code that keeps it.

Each API view carries an ``@operation`` declaration: its request model, the model of each
successful answer, the error codes it answers per status, and the prose a client author reads
(the summary here, the description in the view's docstring). Request and response bodies are
pydantic models; ``app/api/openapi.py`` builds the OpenAPI document from these declarations and
the app's URL map, and ``app/api/docs.py`` serves it. Nothing here changes how a request is
handled: bodies are still parsed by ``parse_body`` (app/api/http.py) and errors rendered by the
error handlers, so a declaration can only describe, never alter, an answer.

Also here: the shared field types of the contract (ids, money, currencies, statuses), the error
body and the per-code error schemas, and the error answers several operations share.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

F = TypeVar("F", bound=Callable[..., Any])


class ResponseBody(BaseModel):
    """A response body: exactly the fields declared (clients should still ignore unknown ones)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- shared field types

NumericId = Annotated[
    str, Field(pattern=r"^[0-9]+$", description="An id, as a string of decimal digits.", examples=["2"])
]
Currency = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        examples=["INR", "GBP", "USD"],
        description="ISO 4217 currency code; money next to it is in minor units of it.",
    ),
]
Money = Annotated[
    int,
    Field(
        ge=0,
        description=(
            "An amount in minor units of the currency, 10^-exponent of the major unit by ISO 4217: paise, pence, cents "
            "(2 decimals), yen (JPY, 0), fils (KWD, 3). `30000` INR is ₹300.00, `3000` JPY is ¥3,000."
        ),
    ),
]
ShowStatus = Annotated[Literal["SCHEDULED", "CANCELLED"], Field(description="Whether the show is going ahead.")]
SaleStatus = Annotated[
    Literal["NOT_OPEN", "ON_SALE", "CLOSED", "CANCELLED"],
    Field(
        description=(
            "Derived from the sale window at request time: `NOT_OPEN` before `saleOpensAt`, `ON_SALE` until "
            "`saleClosesAt`, `CLOSED` after; `CANCELLED` for a cancelled show. Seats can be held only while `ON_SALE`."
        )
    ),
]
HoldStatus = Annotated[
    Literal["ACTIVE", "EXPIRED", "RELEASED", "CONFIRMED"],
    Field(
        description=(
            "`ACTIVE` until `expiresAt`, then `EXPIRED`; `RELEASED` when released; `CONFIRMED` when paid for. A hold whose "
            "payment is under way stays `ACTIVE` past `expiresAt` until the gateway settles the payment."
        )
    ),
]
WaitingRoomState = Annotated[
    Literal["PREQUEUE", "DRAWING", "OPEN", "PAUSED", "DRAINING", "CLOSED"],
    Field(
        description=(
            "`PREQUEUE` before the sale opens (joiners are placed by lottery at the opening), `DRAWING` during the lottery, "
            "`OPEN` admitting batches, `PAUSED` admitting no one, `DRAINING` admitting everyone waiting (within "
            "`maxActive`), `CLOSED` for good."
        )
    ),
]
AsOf = Annotated[datetime, Field(description="Database time at which this seat map was rendered.")]


# ---------------------------------------------------------------- errors


class FieldError(ResponseBody):
    field: str = Field(
        description="The input, e.g. `seatIds`, `seatIds.3`, `email`, `date`, `section`, `format`; "
        "`body` for the body as a whole."
    )
    message: str


class LineError(ResponseBody):
    line: int = Field(
        ge=0, description="The CSV line, or the 1-based index of the seat in `seats`; 0 for the layout as a whole."
    )
    message: str


class ErrorDetail(BaseModel):
    """``code`` and ``message`` always; the other members only with the codes that name them.
    Members not listed here may be added: clients should ignore the ones they do not know."""

    model_config = ConfigDict(extra="allow")
    code: str = Field(
        description="Machine-readable error code (see the table in the introduction).",
        examples=["VALIDATION_FAILED", "SEATS_UNAVAILABLE"],
    )
    message: str = Field(description="A human-readable explanation. Not meant for parsing.")
    # Members below are absent unless the code names them (app/api/openapi.py drops their null).
    fields: list[FieldError] | None = Field(None, description="`VALIDATION_FAILED`: the inputs that were wrong.")
    seatIds: list[str] | None = Field(
        None,
        description=(
            "`SEATS_UNAVAILABLE`: the requested seats that are taken (empty for a standing-room hold, which names no "
            "seats: see `available`). `VALIDATION_FAILED` of a manager call: seat ids the venue or show does not "
            "have (up to 20)."
        ),
    )
    duplicateSeatIds: list[str] | None = Field(None, description="`VALIDATION_FAILED`: seat ids listed more than once.")
    unknownSeatIds: list[str] | None = Field(None, description="`VALIDATION_FAILED`: seat ids the show does not have.")
    limit: int | None = Field(
        None,
        description=("`SEAT_LIMIT_EXCEEDED`: the most seats a user may have of one show, held and booked together."),
    )
    held: int | None = Field(
        None, description=("`SEAT_LIMIT_EXCEEDED`: seats of the show the user holds or has booked already.")
    )
    available: int | None = Field(
        None,
        description=(
            "`WAITLIST_NOT_NEEDED`: seats of the kind asked for that can be held now. `SEATS_UNAVAILABLE` of a "
            "standing-room hold: the places of the section that are free now (fewer than asked for)."
        ),
    )
    gaSection: str | None = Field(
        None, description="`SEATS_UNAVAILABLE` of a standing-room hold: the standing section asked for."
    )
    unknownTier: str | None = Field(None, description="`VALIDATION_FAILED`: a `tier` the show does not have.")
    saleStatus: Literal["NOT_OPEN", "CLOSED", "CANCELLED"] | None = Field(
        None, description="`SALE_CLOSED`: why the show is not on sale."
    )
    saleOpensAt: datetime | None = Field(None, description="`SALE_CLOSED` with `NOT_OPEN`: when the sale opens.")
    status: HoldStatus | None = Field(None, description="`HOLD_NOT_ACTIVE`, `HOLD_EXPIRED`: the hold's status.")
    refund: bool | None = Field(
        None, description=("`HOLD_EXPIRED`: true when the payment arrived too late and is being refunded.")
    )
    paymentStatus: str | None = Field(
        None,
        description=(
            "`PAYMENT_NOT_COMPLETED`: the payment intent's status at the gateway, e.g. `requires_payment_method`."
        ),
    )
    retryAfter: int | None = Field(
        None, description=("`DEGRADED`, `RATE_LIMITED`: seconds to wait before retrying (same as `Retry-After`).")
    )
    lines: list[LineError] | None = Field(
        None,
        description=(
            "`VALIDATION_FAILED` of a venue layout: its problems (up to 50). `line` is the line of a CSV file (the "
            "header is line 1), the 1-based index of a seat in a JSON `seats` list, or 0 for the layout as a whole."
        ),
    )
    showIds: list[NumericId] | None = Field(
        None,
        description=(
            "`LAYOUT_IN_USE`: the scheduled shows with held or booked seats. `VALIDATION_FAILED` with `unpricedTiers`: "
            "the scheduled shows without a price for them."
        ),
    )
    removedSeats: list[str] | None = Field(
        None, description=("`LAYOUT_IN_USE`: seats the change would remove (up to 20).")
    )
    changedSeats: list[str] | None = Field(
        None,
        description=("`LAYOUT_IN_USE`: seats the change would give another section, row, number or tier (up to 20)."),
    )
    unpricedTiers: list[str] | None = Field(
        None,
        description=(
            "`VALIDATION_FAILED`: tiers of the venue that have no price (in the new show, or in the scheduled shows in "
            "`showIds`)."
        ),
    )
    unknownTiers: list[str] | None = Field(
        None, description=("`VALIDATION_FAILED`: tiers in `prices` that the venue does not have.")
    )
    state: WaitingRoomState | None = Field(
        None, description=("`INVALID_QUEUE_STATE`: the state the waiting room is in.")
    )


class Error(ResponseBody):
    """Every error answer: ``{"error": {"code", "message", …}}``."""

    error: ErrorDetail


@dataclass(frozen=True)
class ErrorShape:
    """The schema of one or more error codes: ``Error`` with ``code`` fixed and the members they always carry."""

    codes: tuple[str, ...]
    required: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)


# Schema name -> the codes it describes. Every code an operation answers must be here
# (app/api/openapi.py refuses to build otherwise).
ERROR_SHAPES: dict[str, ErrorShape] = {
    "ValidationFailedError": ErrorShape(("VALIDATION_FAILED",)),
    "UnauthorizedError": ErrorShape(("AUTH_REQUIRED", "INVALID_TOKEN")),
    "InvalidCredentialsError": ErrorShape(("INVALID_CREDENTIALS",)),
    "ForbiddenError": ErrorShape(("FORBIDDEN",)),
    "AdmissionRequiredError": ErrorShape(
        ("ADMISSION_REQUIRED",), ("eventId", "reason"), {"eventId": {"type": "string"}, "reason": {"type": "string"}}
    ),
    "NotFoundError": ErrorShape(("NOT_FOUND",)),
    "CityNotFoundError": ErrorShape(("CITY_NOT_FOUND",)),
    "ShowNotFoundError": ErrorShape(("SHOW_NOT_FOUND",)),
    "SectionNotFoundError": ErrorShape(("SECTION_NOT_FOUND",)),
    "HoldNotFoundError": ErrorShape(("HOLD_NOT_FOUND",)),
    "MethodNotAllowedError": ErrorShape(("METHOD_NOT_ALLOWED",)),
    "EmailTakenError": ErrorShape(("EMAIL_TAKEN",)),
    "ResetTokenInvalidError": ErrorShape(("RESET_TOKEN_INVALID",)),
    "TokenInvalidError": ErrorShape(("TOKEN_INVALID",)),
    # seatIds is empty only for a standing-room hold, which named no seats (README "General admission (standing)").
    "SeatsUnavailableError": ErrorShape(("SEATS_UNAVAILABLE",), ("seatIds",)),
    "HoldNotActiveError": ErrorShape(("HOLD_NOT_ACTIVE",), ("status",)),
    "HoldExpiredError": ErrorShape(("HOLD_EXPIRED",), (), {"refund": {"const": True}}),
    "PaymentRefusedError": ErrorShape(
        ("PAYMENT_REFUSED",),
        ("gatewayCode", "param"),
        {
            "gatewayCode": {
                "type": ["string", "null"],
                "description": "The gateway's error code, e.g. `amount_too_small`.",
            },
            "param": {"type": "string", "enum": ["amount", "currency"]},
        },
    ),
    "PaymentNotNeededError": ErrorShape(("PAYMENT_NOT_NEEDED",)),
    "PaymentInProgressError": ErrorShape(("PAYMENT_IN_PROGRESS",)),
    "PaymentNotCompletedError": ErrorShape(("PAYMENT_NOT_COMPLETED",), ("paymentStatus",)),
    "InvalidSignatureError": ErrorShape(("INVALID_SIGNATURE",)),
    "BookingNotFoundError": ErrorShape(("BOOKING_NOT_FOUND",)),
    "CancellationNotAllowedError": ErrorShape(("CANCELLATION_NOT_ALLOWED",)),
    "TransferNotAllowedError": ErrorShape(
        ("TRANSFER_NOT_ALLOWED",),
        ("reason",),
        {
            "reason": {
                "type": "string",
                "enum": ["BOOKING_CANCELLED", "SHOW_CANCELLED", "SHOW_STARTED", "TRANSFER_CUTOFF", "SAME_ACCOUNT"],
            },
            "cutoffMinutes": {"type": "integer", "minimum": 0, "description": "`TRANSFER_CUTOFF`: the show's cut-off."},
        },
    ),
    "RecipientNotFoundError": ErrorShape(("RECIPIENT_NOT_FOUND",)),
    "SaleClosedError": ErrorShape(("SALE_CLOSED",), ("saleStatus",)),
    "SeatLimitExceededError": ErrorShape(("SEAT_LIMIT_EXCEEDED",), ("limit", "held")),
    "PayloadTooLargeError": ErrorShape(("PAYLOAD_TOO_LARGE",)),
    "InternalError": ErrorShape(("INTERNAL_ERROR",)),
    "DegradedError": ErrorShape(("DEGRADED",), ("retryAfter",)),
    "RateLimitedError": ErrorShape(
        ("RATE_LIMITED",), ("retryAfter",), {"retryAfter": {"type": "integer", "minimum": 1}}
    ),
    "VenueNotFoundError": ErrorShape(("VENUE_NOT_FOUND",)),
    "EventNotFoundError": ErrorShape(("EVENT_NOT_FOUND",)),
    "QueueNotFoundError": ErrorShape(("QUEUE_NOT_FOUND",)),
    "LayoutInUseError": ErrorShape(
        ("LAYOUT_IN_USE",), ("showIds", "removedSeats", "changedSeats"), {"showIds": {"minItems": 1}}
    ),
    "ShowExistsError": ErrorShape(("SHOW_EXISTS",)),
    "EventExistsError": ErrorShape(("EVENT_EXISTS",)),
    "VenueExistsError": ErrorShape(("VENUE_EXISTS",)),
    "ShowCancelledError": ErrorShape(("SHOW_CANCELLED",)),
    "QueueClosedError": ErrorShape(("QUEUE_CLOSED",)),
    "InvalidQueueStateError": ErrorShape(("INVALID_QUEUE_STATE",), ("state",)),
    "WaitlistNotNeededError": ErrorShape(
        ("WAITLIST_NOT_NEEDED",), ("available",), {"available": {"type": "integer", "minimum": 1}}
    ),
    "WaitlistNotFoundError": ErrorShape(("WAITLIST_NOT_FOUND",)),
    "AlreadyCheckedInError": ErrorShape(
        ("ALREADY_CHECKED_IN",),
        ("at", "gate", "bookingId", "seatId"),
        {
            "at": {"type": "string", "format": "date-time", "description": "When the admitting scan was made."},
            "gate": {"type": "string", "description": "The gate of the admitting scan."},
            "bookingId": {"type": "string", "format": "uuid"},
            "seatId": {"type": "string"},
        },
    ),
    "TicketRefusedError": ErrorShape(
        ("TICKET_INVALID", "WRONG_SHOW", "TICKET_REVOKED", "TICKET_STATIC_NOT_ALLOWED", "TICKET_CODE_EXPIRED"),
        (),
        {
            "bookingId": {
                "type": "string",
                "format": "uuid",
                "description": "`TICKET_REVOKED`, `TICKET_STATIC_NOT_ALLOWED`, `TICKET_CODE_EXPIRED`: the ticket's booking.",
            },
            "seatId": {
                "type": "string",
                "description": "`TICKET_REVOKED`, `TICKET_STATIC_NOT_ALLOWED`, `TICKET_CODE_EXPIRED`: the ticket's seat.",
            },
            "ticketShowId": {"type": "string", "description": "`WRONG_SHOW`: the show the ticket is for."},
        },
    ),
    "CheckinClosedError": ErrorShape(
        ("CHECKIN_CLOSED",),
        ("closesAt",),
        {
            "opensAt": {"type": ["string", "null"], "format": "date-time"},
            "closesAt": {"type": "string", "format": "date-time"},
        },
    ),
    "AccountNotFoundError": ErrorShape(("ACCOUNT_NOT_FOUND",)),
    "AccountNotEligibleError": ErrorShape(("ACCOUNT_NOT_ELIGIBLE",)),
    # README "Presale codes and vouchers"
    "CodeInvalidError": ErrorShape(
        ("CODE_INVALID",), ("reason",), {"reason": {"enum": ["UNKNOWN", "INACTIVE", "NOT_YET_VALID", "EXPIRED"]}}
    ),
    "CodeExhaustedError": ErrorShape(("CODE_EXHAUSTED",)),
    "AccessCodeExistsError": ErrorShape(("ACCESS_CODE_EXISTS",), ("accessCode",)),
    "AccessCodeNotFoundError": ErrorShape(("ACCESS_CODE_NOT_FOUND",)),
}


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Answer:
    """A successful answer: its body's model (or raw schemas per media type), headers and prose."""

    description: str
    model: type[BaseModel] | None = None
    one_of: tuple[type[BaseModel], ...] = ()  # the body is one of these models
    narrow: Mapping[str, Any] | None = None  # property schemas that narrow the model for this answer
    headers: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Any] | None = None  # a raw schema, for a body no model describes
    content: Mapping[str, Any] = field(default_factory=dict)  # other media types: raw media type objects
    example: Any = None
    examples: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Failure:
    """An error answer: the codes it can carry and what they mean. ``name`` makes it a shared
    component of the document (``#/components/responses/<name>``)."""

    codes: tuple[str, ...]
    description: str
    name: str | None = None
    retry_after: bool = False  # carries a Retry-After header
    allow: bool = False  # carries an Allow header
    example: Any = None
    examples: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    description: str
    tags: tuple[str, ...]
    auth: bool
    answers: Mapping[int, Answer]
    failures: Mapping[int, Failure]
    body: type[BaseModel] | None = None
    body_required: bool = True
    body_content: Mapping[str, Any] = field(default_factory=dict)  # raw media types instead of (or beside) JSON
    body_examples: Mapping[str, Any] | None = None
    parameters: tuple[Mapping[str, Any], ...] = ()  # query and header parameters (path ones come from the URL)

    def error_codes(self) -> dict[int, tuple[str, ...]]:
        return {status: failure.codes for status, failure in self.failures.items()}


def operation(
    operation_id: str,
    summary: str,
    *,
    tags: tuple[str, ...] | list[str],
    answers: Mapping[int, Answer],
    failures: Mapping[int, Failure],
    auth: bool = True,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    body_content: Mapping[str, Any] | None = None,
    body_examples: Mapping[str, Any] | None = None,
    parameters: tuple[Mapping[str, Any], ...] = (),
) -> Callable[[F], F]:
    """Declares the view's operation for the OpenAPI document; the view's docstring is its description.
    The view itself is returned unchanged."""

    def declare(view: F) -> F:
        view.__openapi__ = Operation(  # type: ignore[attr-defined]
            operation_id=operation_id,
            summary=summary,
            description=inspect.cleandoc(view.__doc__ or ""),
            tags=tuple(tags),
            auth=auth,
            answers=dict(answers),
            failures=dict(failures),
            body=body,
            body_required=body_required,
            body_content=dict(body_content or {}),
            body_examples=body_examples,
            parameters=parameters,
        )
        return view

    return declare


def declared_operation(view: Callable[..., Any]) -> Operation | None:
    """The declaration of a view, looking through wrappers (breakers, rate limits) that keep ``__wrapped__``."""
    seen: Callable[..., Any] | None = view
    while seen is not None:
        found = getattr(seen, "__openapi__", None)
        if isinstance(found, Operation):
            return found
        seen = getattr(seen, "__wrapped__", None)
    return None


# ---------------------------------------------------------------- parameters and headers

# Path parameters by the name the document gives them (Flask's ``<show_id>`` is ``{showId}``).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "cityId": {
        **{"schema": {"type": "string"}, "example": "1"},
        "description": "A city id (decimal digits). Anything else is `404 CITY_NOT_FOUND`.",
    },
    "showId": {
        **{"schema": {"type": "string"}, "example": "2"},
        "description": "A show id (decimal digits). Anything else is `404 SHOW_NOT_FOUND`.",
    },
    "holdId": {
        **{"schema": {"type": "string"}, "example": "3f1c2a9e-8a4b-4d8e-9f60-2b7d1c5e4a10"},
        "description": (
            "A hold id (a UUID, as returned by `POST /shows/{showId}/holds`). Anything else is `404 HOLD_NOT_FOUND`."
        ),
    },
    "bookingId": {
        **{"schema": {"type": "string"}, "example": "0b5e8a36-3c8f-4d0a-9a53-1f9f0a7c2d11"},
        "description": (
            "A booking id (a UUID, as returned by `POST /holds/{holdId}/confirm`). Anything else is `404 "
            "BOOKING_NOT_FOUND`."
        ),
    },
    "waitlistId": {
        **{"schema": {"type": "string"}, "example": "5d1e0c5c-7a37-4c4e-a0cf-1f3f8e9b2b64"},
        "description": (
            "A waiting-list entry id (a UUID, as returned by `POST /shows/{showId}/waitlist`). Anything else is "
            "`404 WAITLIST_NOT_FOUND`."
        ),
    },
    "codeId": {
        **{"schema": {"type": "string"}, "example": "4"},
        "description": (
            "An access code's id (decimal digits, `accessCodeId`). Anything else, and another organisation's code, "
            "is `404 ACCESS_CODE_NOT_FOUND`."
        ),
    },
    "userId": {
        **{"schema": {"type": "string"}, "example": "12"},
        "description": (
            "A user id (decimal digits). Anything else, and an account that is not door staff of the caller's "
            "organisation, is `404 ACCOUNT_NOT_FOUND`."
        ),
    },
    "venueId": {
        **{"schema": {"type": "string"}, "example": "2"},
        "description": (
            "A venue id (decimal digits). Anything else, and a venue the caller's organisation does not own, is "
            "`404 VENUE_NOT_FOUND`."
        ),
    },
    "eventId": {
        **{"schema": {"type": "string"}, "example": "3"},
        "description": (
            "An event id (decimal digits). Anything else, and an event the caller's organisation does not own, "
            "is `404 EVENT_NOT_FOUND`."
        ),
    },
    "section": {
        **{"schema": {"type": "string", "minLength": 1}, "example": "Balcony"},
        "description": (
            "The section's name, exactly as in the layout (case-sensitive; percent-encode it. It may contain `/`)."
        ),
    },
    "action": {
        **{"schema": {"type": "string", "enum": ["pause", "resume", "drain", "close"]}},
        "description": (
            "`pause` (stop admitting; becomes `PAUSED`), `resume` (admit again; `OPEN`), `drain` (admit everyone "
            "still waiting, within `maxActive`; `DRAINING`) or `close` (no one joins any more; `CLOSED`, for "
            "good). Any other action is `404 NOT_FOUND`."
        ),
    },
}


def cache_control(value: str, description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", "const": value}}


NO_STORE = cache_control("no-store", "`no-store`")
SHARED_FOR_A_SECOND = cache_control(
    "public, max-age=1, stale-while-revalidate=1",
    "`public, max-age=1, stale-while-revalidate=1`: at most 2 seconds old end to end, counted from when the server "
    "rendered it.",
)
SEATMAP_CACHE_CONTROL = cache_control(
    "public, max-age=1, stale-while-revalidate=1",
    "`public, max-age=1, stale-while-revalidate=1`: counted from when the server rendered it, a seat map is at most "
    "2 seconds stale end to end.",
)
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
ALLOW = {"description": "The methods the URL supports, comma-separated.", "schema": {"type": "string"}}


# ---------------------------------------------------------------- error answers shared by many operations

VALIDATION_FAILED = Failure(
    ("VALIDATION_FAILED",),
    (
        "`VALIDATION_FAILED`: the request is malformed; nothing changed. `fields` lists the offending inputs "
        "when they are known."
    ),
    name="ValidationFailed",
    example={
        "error": {
            "code": "VALIDATION_FAILED",
            "message": "request body is invalid",
            "fields": [{"field": "seatIds.0", "message": "Input should be a valid string"}],
        }
    },
)
UNAUTHORIZED = Failure(
    ("AUTH_REQUIRED", "INVALID_TOKEN"),
    (
        "`AUTH_REQUIRED` (no `Authorization` header) or `INVALID_TOKEN` (not `Bearer <token>`, or an invalid "
        "or expired token)."
    ),
    name="Unauthorized",
)
INVALID_CREDENTIALS = Failure(
    ("INVALID_CREDENTIALS",),
    "`INVALID_CREDENTIALS`: the email or the password is wrong.",
    name="InvalidCredentials",
)
FORBIDDEN = Failure(
    ("FORBIDDEN",),
    "`FORBIDDEN`: a `userId` in the body is not the authenticated user.",
    name="Forbidden",
)
NOT_FOUND = Failure(
    ("NOT_FOUND",),
    "`NOT_FOUND`: no such URL.",
    name="NotFound",
)
CITY_NOT_FOUND = Failure(
    ("CITY_NOT_FOUND",),
    "`CITY_NOT_FOUND`: no city has that id.",
    name="CityNotFound",
)
SHOW_NOT_FOUND = Failure(
    ("SHOW_NOT_FOUND",),
    "`SHOW_NOT_FOUND`: no show has that id.",
    name="ShowNotFound",
)
SHOW_OR_SECTION_NOT_FOUND = Failure(
    ("SHOW_NOT_FOUND", "SECTION_NOT_FOUND"),
    "`SHOW_NOT_FOUND` (no show has that id) or `SECTION_NOT_FOUND` (the show has no such section).",
    name="ShowOrSectionNotFound",
)
HOLD_NOT_FOUND = Failure(
    ("HOLD_NOT_FOUND",),
    "`HOLD_NOT_FOUND`: the caller has no hold with that id (another user's hold reads the same).",
    name="HoldNotFound",
)
METHOD_NOT_ALLOWED = Failure(
    ("METHOD_NOT_ALLOWED",),
    "`METHOD_NOT_ALLOWED`: the URL exists, but not with this method.",
    name="MethodNotAllowed",
    allow=True,
)
EMAIL_TAKEN = Failure(
    ("EMAIL_TAKEN",),
    "`EMAIL_TAKEN`: an account with that email address already exists.",
    name="EmailTaken",
)
SEATS_UNAVAILABLE = Failure(
    ("SEATS_UNAVAILABLE",),
    (
        "`SEATS_UNAVAILABLE`: some of the requested seats are held or booked; `seatIds` lists them. Nothing "
        "was held: ask again without them. For a standing-room hold (`gaSection`), fewer places are free than "
        "`quantity`: `available` says how many are, `seatIds` is empty."
    ),
    name="SeatsUnavailable",
    example={
        "error": {"code": "SEATS_UNAVAILABLE", "message": "some of those seats are already taken", "seatIds": ["C6"]}
    },
)
HOLD_NOT_ACTIVE = Failure(
    ("HOLD_NOT_ACTIVE",),
    "`HOLD_NOT_ACTIVE`: the hold has been paid for (`status` `CONFIRMED`) and cannot be released.",
    name="HoldNotActive",
)
HOLD_EXPIRED = Failure(
    ("HOLD_EXPIRED",),
    (
        "`HOLD_EXPIRED`: the hold has no payment intent yet and can no longer be paid for: it was released, "
        "it lapsed, or its seats could not be kept. `status` is the hold's status when known. Hold the seats "
        "again."
    ),
    name="HoldExpired",
    example={
        "error": {"code": "HOLD_EXPIRED", "message": "this hold has run out; hold the seats again", "status": "EXPIRED"}
    },
)
CHECKOUT_NOT_POSSIBLE = Failure(
    ("HOLD_EXPIRED", "PAYMENT_IN_PROGRESS"),
    (
        "`HOLD_EXPIRED`: the hold is no longer active (released, lapsed, or booked already); `status` is the "
        "hold's status. `PAYMENT_IN_PROGRESS`: the hold's payment was started with "
        "`POST /holds/{holdId}/payment-intents`; pay that intent, or release the hold and hold the seats again."
    ),
    name="CheckoutNotPossible",
    example={
        "error": {"code": "HOLD_EXPIRED", "message": "this hold has run out; hold the seats again", "status": "EXPIRED"}
    },
)
PAYMENT_REFUSED = Failure(
    ("PAYMENT_REFUSED", "PAYMENT_NOT_NEEDED"),
    (
        "`PAYMENT_REFUSED`: the payment gateway refused to create an intent for the hold's amount or "
        "currency (`gatewayCode`: `amount_too_small`, `amount_too_large`, or a refused currency; `param`: "
        "`amount` or `currency`). Nothing exists at the gateway and nothing was charged; the hold is an "
        "ordinary hold again and lapses at its `expiresAt`. `PAYMENT_NOT_NEEDED`: the hold's `amount` is 0; "
        "confirm it without a payment."
    ),
    name="PaymentRefused",
    example={
        "error": {
            "code": "PAYMENT_REFUSED",
            "message": "the payment service will not take this payment: Amount must be at least 0.50 usd",
            "gatewayCode": "amount_too_small",
            "param": "amount",
            "amount": 20,
            "currency": "USD",
        }
    },
)
HOLD_EXPIRED_OR_REFUNDED = Failure(
    ("HOLD_EXPIRED",),
    (
        "`HOLD_EXPIRED`: with `refund: true`, a payment that came after the hold's seats were taken (being "
        "refunded in full); without it, a free hold that lapsed or was released before it was confirmed "
        "(`status`)."
    ),
    name="HoldExpiredOrRefunded",
)
PAYMENT_NOT_COMPLETED = Failure(
    ("PAYMENT_NOT_COMPLETED",),
    (
        "`PAYMENT_NOT_COMPLETED`: the gateway has not taken the payment; `paymentStatus` is the intent's "
        "status there (`requires_payment_method`, `requires_confirmation`, `requires_action`, `processing`, "
        "`canceled`, …). Nothing was booked."
    ),
    name="PaymentNotCompleted",
    example={
        "error": {
            "code": "PAYMENT_NOT_COMPLETED",
            "message": "the payment has not been completed at the gateway",
            "paymentStatus": "requires_payment_method",
        }
    },
)
INVALID_SIGNATURE = Failure(
    ("INVALID_SIGNATURE", "VALIDATION_FAILED"),
    (
        "`INVALID_SIGNATURE`: the `Stripe-Signature` header is missing, malformed, does not match the body, "
        "or is older than 5 minutes (or the body is not JSON). `VALIDATION_FAILED`: a correctly signed body "
        "that is not an event (no `id` or `type`). Nothing was stored."
    ),
    name="InvalidSignature",
)
BOOKING_NOT_FOUND = Failure(
    ("BOOKING_NOT_FOUND",),
    "`BOOKING_NOT_FOUND`: the caller has no booking with that id (another user's booking reads the same).",
    name="BookingNotFound",
)
CANCELLATION_NOT_ALLOWED = Failure(
    ("CANCELLATION_NOT_ALLOWED",),
    (
        "`CANCELLATION_NOT_ALLOWED`: the show's refund policy does not allow cancelling now (no rule applies "
        "this close to the start, or the show has started). Nothing changed."
    ),
    name="CancellationNotAllowed",
)
TRANSFER_REFUSED = Failure(
    ("TRANSFER_NOT_ALLOWED", "RECIPIENT_NOT_FOUND"),
    (
        "`TRANSFER_NOT_ALLOWED`: the booking cannot be transferred now; `reason` is `BOOKING_CANCELLED`, "
        "`SHOW_CANCELLED`, `SHOW_STARTED`, `TRANSFER_CUTOFF` (the show starts within its transfer cut-off, "
        "`cutoffMinutes`, 60 by default) or `SAME_ACCOUNT` (the email is the caller's own). "
        "`RECIPIENT_NOT_FOUND`: no account has that email address (the recipient signs up first). Nothing changed."
    ),
    name="TransferRefused",
)
HOLD_REFUSED = Failure(
    ("SALE_CLOSED", "SEAT_LIMIT_EXCEEDED"),
    (
        "`SALE_CLOSED`: the show is not on sale (`saleStatus` `NOT_OPEN` with `saleOpensAt`, `CLOSED` or "
        "`CANCELLED`); or `SEAT_LIMIT_EXCEEDED`: with this hold the caller would have more than `limit` "
        "seats of the show, held and booked together (`held`: the seats they hold or have booked already)."
    ),
    name="HoldRefused",
)
HOLD_OR_CODE_REFUSED = Failure(
    ("SALE_CLOSED", "SEAT_LIMIT_EXCEEDED", "CODE_INVALID", "CODE_EXHAUSTED"),
    (
        "`SALE_CLOSED`: the show is not on sale (`saleStatus` `NOT_OPEN` with `saleOpensAt`, `CLOSED` or "
        "`CANCELLED`); `SEAT_LIMIT_EXCEEDED`: with this hold the caller would have more than `limit` "
        "seats of the show, held and booked together (`held`: the seats they hold or have booked already); "
        "`CODE_INVALID`: the `accessCode` is not one of the show's or its event's, is deactivated or outside "
        "its window (`reason`); `CODE_EXHAUSTED`: the code has no uses left."
    ),
    name="HoldOrCodeRefused",
)
WAITLIST_NOT_NEEDED = Failure(
    ("WAITLIST_NOT_NEEDED",),
    (
        "`WAITLIST_NOT_NEEDED`: seats of the kind asked for (the `tier`, or any tier) can be held now; "
        "`available` says how many. Hold them instead."
    ),
    name="WaitlistNotNeeded",
    example={"error": {"code": "WAITLIST_NOT_NEEDED", "message": "seats of this kind are on sale", "available": 3}},
)
WAITLIST_NOT_FOUND = Failure(
    ("WAITLIST_NOT_FOUND",),
    "`WAITLIST_NOT_FOUND`: the caller has no waiting-list entry with that id (another fan's reads the same).",
    name="WaitlistNotFound",
)
PAYLOAD_TOO_LARGE = Failure(
    ("PAYLOAD_TOO_LARGE",),
    "`PAYLOAD_TOO_LARGE`: the request body is over 64 KiB.",
    name="PayloadTooLarge",
)
INTERNAL_ERROR = Failure(
    ("INTERNAL_ERROR",),
    (
        "`INTERNAL_ERROR`: an unexpected failure on the server. Nothing is promised about side effects "
        "beyond the rules of the operation."
    ),
    name="InternalError",
)
DEGRADED = Failure(
    ("DEGRADED",),
    (
        "`DEGRADED`: the database is overloaded or unreachable, so the request was shed rather than left to "
        "time out. Retry after `Retry-After` seconds (also in `retryAfter`)."
    ),
    name="Degraded",
    retry_after=True,
    example={
        "error": {"code": "DEGRADED", "message": "the booking service is busy; try again shortly", "retryAfter": 2}
    },
)
RATE_LIMITED = Failure(
    ("RATE_LIMITED",),
    (
        "`RATE_LIMITED`: too many calls of this kind in a short time, by the caller or from the client's IP "
        "(for logins: failed attempts for the email). Nothing was done. Retry after `Retry-After` seconds "
        "(also in `retryAfter`)."
    ),
    name="RateLimited",
    retry_after=True,
    example={"error": {"code": "RATE_LIMITED", "message": "too many seat holds; try again in 12 s", "retryAfter": 12}},
)
GATEWAY_DEGRADED = Failure(
    ("DEGRADED",),
    (
        "`DEGRADED`: the database is overloaded or unreachable, or the payment gateway did not answer (then "
        "`retryAfter` is 5). The hold and its seats are kept; retry after `Retry-After` seconds (also in "
        "`retryAfter`). Retrying is safe: the operation is idempotent."
    ),
    name="GatewayDegraded",
    retry_after=True,
    example={
        "error": {
            "code": "DEGRADED",
            "message": "the payment service is not answering; your seats stay held, try again in a moment",
            "retryAfter": 5,
        }
    },
)
MANAGER_ONLY = Failure(
    ("FORBIDDEN",),
    (
        "`FORBIDDEN`: the caller is not a manager or an admin (fans cannot use the manager API). The role is "
        "read from the database on every call, not from the token."
    ),
    name="ManagerOnly",
    example={"error": {"code": "FORBIDDEN", "message": "only venue managers can do this"}},
)
VENUE_NOT_FOUND = Failure(
    ("VENUE_NOT_FOUND",),
    ("`VENUE_NOT_FOUND`: no venue has that id, or the caller's organisation does not own it (the two read the same)."),
    name="VenueNotFound",
)
EVENT_OR_VENUE_NOT_FOUND = Failure(
    ("EVENT_NOT_FOUND", "VENUE_NOT_FOUND"),
    (
        "`EVENT_NOT_FOUND` or `VENUE_NOT_FOUND`: the `eventId` or the `venueId` names no event or venue the "
        "caller's organisation owns (one of another organisation reads the same)."
    ),
    name="EventOrVenueNotFound",
)
EVENT_OR_QUEUE_NOT_FOUND = Failure(
    ("EVENT_NOT_FOUND", "QUEUE_NOT_FOUND"),
    (
        "`EVENT_NOT_FOUND` (no event has that id, or the caller's organisation does not own it) or "
        "`QUEUE_NOT_FOUND` (the event has no waiting room)."
    ),
    name="EventOrQueueNotFound",
)
QUEUE_ACTION_NOT_FOUND = Failure(
    ("EVENT_NOT_FOUND", "QUEUE_NOT_FOUND", "NOT_FOUND"),
    (
        "`EVENT_NOT_FOUND` (no event has that id, or the caller's organisation does not own it), "
        "`QUEUE_NOT_FOUND` (the event has no waiting room) or `NOT_FOUND` (the action is not `pause`, "
        "`resume`, `drain` or `close`)."
    ),
    name="QueueActionNotFound",
)
LAYOUT_VALIDATION_FAILED = Failure(
    ("VALIDATION_FAILED",),
    (
        "`VALIDATION_FAILED`: the request or the layout it would make is not valid; nothing changed. "
        "`fields` lists bad inputs of a JSON body; `lines` lists the layout's problems (`line` is the line "
        "of a CSV file, the 1-based index of a seat in `seats`, or 0 for the layout as a whole); `seatIds` "
        "lists seat ids the venue does not have; `unpricedTiers` lists tiers new to the venue that the "
        "scheduled shows in `showIds` have no price for."
    ),
    name="LayoutValidationFailed",
    examples={
        "badLines": {
            "summary": "A CSV file with bad lines",
            "value": {
                "error": {
                    "code": "VALIDATION_FAILED",
                    "message": "the layout was not saved: line 3: number must be a whole number from 1 to 9999, not 'x'",
                    "lines": [
                        {"line": 3, "message": "number must be a whole number from 1 to 9999, not 'x'"},
                        {"line": 7, "message": "Stalls row B seat 4 is already on line 6"},
                    ],
                }
            },
        },
        "unpricedTiers": {
            "summary": "A new tier that scheduled shows have no price for",
            "value": {
                "error": {
                    "code": "VALIDATION_FAILED",
                    "message": "shows at this venue have no price for the new tier(s): set their prices first",
                    "unpricedTiers": ["premium"],
                    "showIds": ["12", "13"],
                }
            },
        },
    },
)
LAYOUT_IN_USE = Failure(
    ("LAYOUT_IN_USE",),
    (
        "`LAYOUT_IN_USE`: scheduled shows at the venue (`showIds`) have held or booked seats, so seats can "
        "be added, moved or marked, but not removed (`removedSeats`) or given another section, row, number "
        "or tier (`changedSeats`); each list names up to 20 seats. Nothing changed."
    ),
    name="LayoutInUse",
    example={
        "error": {
            "code": "LAYOUT_IN_USE",
            "message": "shows at this venue have booked or held seats: seats can be added, moved or marked, but not removed, renumbered or re-priced",
            "showIds": ["12"],
            "removedSeats": ["K7", "K8"],
            "changedSeats": [],
        }
    },
)
POSTER_TOO_LARGE = Failure(
    ("PAYLOAD_TOO_LARGE",),
    "`PAYLOAD_TOO_LARGE`: the image is over 10 MiB (POSTER_MAX_BYTES).",
    name="PosterTooLarge",
)
LAYOUT_TOO_LARGE = Failure(
    ("PAYLOAD_TOO_LARGE",),
    "`PAYLOAD_TOO_LARGE`: the request body is over 8 MiB (the limit for layouts).",
    name="LayoutTooLarge",
)
VENUE_EXISTS = Failure(
    ("VENUE_EXISTS",),
    "`VENUE_EXISTS`: the city already has a venue with that name (of any organisation). Nothing changed.",
    name="VenueExists",
)
EVENT_EXISTS = Failure(
    ("EVENT_EXISTS",),
    "`EVENT_EXISTS`: the organisation already has an event with that title. Nothing changed.",
    name="EventExists",
)
SHOW_EXISTS = Failure(
    ("SHOW_EXISTS",),
    "`SHOW_EXISTS`: the event already has a show at this venue at that start time. Nothing changed.",
    name="ShowExists",
)
SHOW_EXISTS_OR_CANCELLED = Failure(
    ("SHOW_CANCELLED", "SHOW_EXISTS"),
    (
        "`SHOW_CANCELLED`: the show is cancelled and can no longer be changed; or `SHOW_EXISTS`: the event "
        "already has a show at this venue at the new start time. Nothing changed."
    ),
    name="ShowExistsOrCancelled",
)
DOOR_STAFF_ONLY = Failure(
    ("FORBIDDEN",),
    (
        "`FORBIDDEN`: the caller is not door staff, a manager or an admin. The role is read from the database on "
        "every call, not from the token."
    ),
    name="DoorStaffOnly",
    example={"error": {"code": "FORBIDDEN", "message": "only door staff can do this"}},
)
ALREADY_CHECKED_IN = Failure(
    ("ALREADY_CHECKED_IN",),
    "`ALREADY_CHECKED_IN`: the ticket was admitted before; `at` and `gate` say when and where. Nothing changed.",
    name="AlreadyCheckedIn",
)
TICKET_REFUSED = Failure(
    (
        "TICKET_INVALID",
        "WRONG_SHOW",
        "TICKET_REVOKED",
        "CHECKIN_CLOSED",
        "TICKET_STATIC_NOT_ALLOWED",
        "TICKET_CODE_EXPIRED",
    ),
    (
        "`TICKET_INVALID`: not a ticket code Seatline signed (malformed, tampered with, an unknown key); "
        "`WRONG_SHOW`: a valid ticket for another show; `TICKET_REVOKED`: a code a transfer replaced, or of a "
        "cancelled booking; `CHECKIN_CLOSED`: the scan falls outside the show's check-in window; "
        "`TICKET_STATIC_NOT_ALLOWED`: a static (printed) code at a show that requires rotating codes; "
        "`TICKET_CODE_EXPIRED`: a rotating code whose one-time value is stale (a screenshot) or wrong. Nothing is admitted."
    ),
    name="TicketRefused",
)
ACCOUNT_NOT_FOUND = Failure(
    ("ACCOUNT_NOT_FOUND",),
    "`ACCOUNT_NOT_FOUND`: no such account (or not door staff of the caller's organisation).",
    name="AccountNotFound",
)
ACCOUNT_NOT_ELIGIBLE = Failure(
    ("ACCOUNT_NOT_ELIGIBLE",),
    "`ACCOUNT_NOT_ELIGIBLE`: only a fan's account can become door staff. Nothing changed.",
    name="AccountNotEligible",
)
SHOW_CANCELLED = Failure(
    ("SHOW_CANCELLED",),
    "`SHOW_CANCELLED`: the show is cancelled; its seats can no longer be changed. Nothing changed.",
    name="ShowCancelled",
)
BLOCK_REFUSED = Failure(
    ("SEATS_UNAVAILABLE", "SHOW_CANCELLED"),
    (
        "`SEATS_UNAVAILABLE`: some of the listed seats are held, booked or blocked with the other kind; "
        "`seatIds` lists them and nothing was blocked. Or `SHOW_CANCELLED`: the show is cancelled."
    ),
    name="BlockRefused",
    example={
        "error": {"code": "SEATS_UNAVAILABLE", "message": "some of these seats are held or booked", "seatIds": ["A2"]}
    },
)
INVALID_QUEUE_STATE = Failure(
    ("INVALID_QUEUE_STATE",),
    (
        "`INVALID_QUEUE_STATE`: the waiting room cannot make that move from the state it is in (`state`). "
        "Nothing changed."
    ),
    name="InvalidQueueState",
    example={
        "error": {
            "code": "INVALID_QUEUE_STATE",
            "message": "a CLOSED waiting room cannot become OPEN",
            "state": "CLOSED",
        }
    },
)
