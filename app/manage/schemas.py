"""The manager API's response bodies: venues and layouts, events, shows, the box office, waiting rooms."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from app.catalog.schemas import ShowRefundPolicy
from app.contract import Currency, Money, NumericId, ResponseBody, SaleStatus, ShowStatus, WaitingRoomState


class ManagedVenue(ResponseBody):
    venueId: NumericId
    name: str
    kind: str = Field(description="e.g. `cinema`, `concert_hall`, `stadium`.")
    address: str
    cityId: NumericId
    cityName: str
    timezone: str = Field(description="The city's IANA time zone.")
    organisationId: NumericId
    seatCount: int = Field(ge=0, description="Seats in the venue's layout (0 for a new venue).")


class ManagedVenueList(ResponseBody):
    venues: list[ManagedVenue] = Field(description="Ordered by city name, then venue name.")


class LayoutSectionSummary(ResponseBody):
    section: str
    seats: int = Field(ge=1)
    rows: list[str] = Field(description="The section's rows, in layout order.")
    tiers: list[str] = Field(description="The section's price tiers, in layout order.")
    accessible: int = Field(ge=0, description="Wheelchair spaces.")
    companion: int = Field(ge=0, description="Companion seats.")
    notForSale: int = Field(ge=0, description="Seats that are never sold (`sellable` false).")
    standing: bool = Field(
        description=(
            'A standing section (README "General admission (standing)"): `seats` is its capacity, in numbered '
            "admission places."
        )
    )


class ManagedVenueDetail(ResponseBody):
    venueId: NumericId
    name: str
    kind: str = Field(description="e.g. `cinema`, `concert_hall`, `stadium`.")
    address: str
    cityId: NumericId
    cityName: str
    timezone: str = Field(description="The city's IANA time zone.")
    organisationId: NumericId
    seatCount: int = Field(ge=0, description="Seats in the venue's layout (0 for a new venue).")
    layoutVersion: NumericId = Field(description="Changes whenever the venue's seats change.")
    sections: list[LayoutSectionSummary] = Field(
        description="One summary per section, in layout order (empty for a venue without seats)."
    )
    locked: bool = Field(
        description=(
            "A scheduled show at the venue has held or booked seats: seats can be added, moved and "
            "marked, but not removed or given another section, row, number or tier."
        )
    )


class LayoutSeat(ResponseBody):
    seatId: str
    section: str
    row: str
    number: int = Field(ge=1)
    x: int = Field(ge=0, description="Column on the drawn map, in seat-width units.")
    y: int = Field(ge=0, description="Row on the drawn map, in seat-height units.")
    tier: str
    accessible: bool
    companion: bool
    sellable: bool
    standing: bool = Field(description="An admission place of a standing section.")


class VenueLayout(ResponseBody):
    venueId: NumericId
    seats: list[LayoutSeat] = Field(description="Every seat, in layout order.")


class LayoutChange(ResponseBody):
    """What a layout change did."""

    seats: int = Field(ge=0, description="Seats in the layout now.")
    added: int = Field(ge=0, description="Seats that are new.")
    removed: int = Field(ge=0, description="Seats that were removed.")
    changed: int = Field(ge=0, description="Seats kept with something changed (place, tier or flags).")


class PosterRendition(ResponseBody):
    url: str = Field(
        description="Where the rendition is served; its name carries its content's hash (cache it for a year)."
    )
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    contentType: Literal["image/webp"]


class EventPoster(ResponseBody):
    """An event's poster as stored: a rendition per size, each fitting its box (aspect ratio kept)."""

    eventId: NumericId
    poster: str = Field(description="The content hash naming the renditions.")
    images: dict[Literal["card", "hero"], PosterRendition] = Field(
        description="`card`: fits 640×640, for the home page's cards; `hero`: fits 1600×1600, for the show page."
    )


class ManagedEvent(ResponseBody):
    eventId: NumericId
    title: str
    category: str = Field(description="e.g. `movie`, `concert`, `sport`.")
    description: str
    durationMinutes: int
    organisationId: NumericId
    queueState: WaitingRoomState | None = Field(
        description="The state of the event's waiting room; null when it has none."
    )
    posterUrl: str | None = Field(
        description="Where the poster's card rendition is served (`POST /manage/events/{eventId}/poster`); null without one."
    )


class ManagedEventList(ResponseBody):
    events: list[ManagedEvent] = Field(description="Ordered by title.")


class EventCreated(ResponseBody):
    eventId: NumericId
    title: str = Field(description="The title as stored (trimmed).")


class ManagedShowSummary(ResponseBody):
    showId: NumericId
    eventId: NumericId
    title: str = Field(description="The event's title.")
    venueId: NumericId
    venueName: str
    cityName: str
    startTime: datetime = Field(description="Start time with the venue city's local offset.")
    saleOpensAt: datetime = Field(description="When the sale opens (city-local offset).")
    saleClosesAt: datetime = Field(description="When the sale ends (city-local offset).")
    status: ShowStatus
    saleStatus: SaleStatus
    queueRequired: bool = Field(description="The sale goes through the event's waiting room.")
    currency: Currency


class ManagedShowList(ResponseBody):
    shows: list[ManagedShowSummary] = Field(
        description="Shows starting later than a day ago, by start time; at most 500."
    )


class ManagedShowQueue(ResponseBody):
    state: WaitingRoomState
    batchSize: int = Field(ge=1)
    admissionIntervalSeconds: float = Field(gt=0)
    maxActive: int = Field(ge=1)
    sessionSeconds: int = Field(ge=1)


class ManagedShow(ManagedShowSummary):
    """A show as the list names it, and the rest of what a manager sees of it."""

    timezone: str = Field(description="The venue city's IANA time zone.")
    prices: dict[str, Money] = Field(description="Price per tier, in minor units of `currency`, dearest first.")
    refundPolicy: ShowRefundPolicy
    transferCutoffMinutes: int = Field(
        ge=0, description="Fans can no longer transfer tickets this many minutes before the start (60 by default)."
    )
    ticketCodes: Literal["STATIC", "ROTATING"] = Field(
        description='`ROTATING`: the door admits the live ticket\'s rotating code only (README "Rotating codes").'
    )
    staticCodesAllowed: bool = Field(description="At a rotating show, whether printed (static) codes still admit.")
    cancelledAt: datetime | None = Field(
        description="When the show was cancelled (database zone); null while `SCHEDULED`."
    )
    cancelReason: str | None = Field(
        description="The reason given when cancelling; null if none was given or the show is not cancelled."
    )
    queue: ManagedShowQueue | None = Field(
        description=(
            "The event's waiting room (shared by all its shows), null when the event has none. It may "
            "exist while this show's `queueRequired` is false."
        )
    )


class ShowDashboardSeats(ResponseBody):
    """The show's seats by status (`available + held + booked + blocked = total`); lapsed holds count as available."""

    total: int = Field(ge=0)
    available: int = Field(ge=0)
    held: int = Field(ge=0)
    booked: int = Field(ge=0)
    blocked: int = Field(ge=0)


class ShowDashboardBookings(ResponseBody):
    confirmed: int = Field(ge=0)
    cancelled: int = Field(ge=0)


class ShowDashboardRevenue(ResponseBody):
    amount: Money = Field(description="What the confirmed bookings paid, in minor units of `currency`.")
    refunded: Money = Field(description="What cancelled bookings give back, in minor units of `currency`.")
    currency: Currency


class ShowDashboardSalesOverTimeItem(ResponseBody):
    minute: datetime = Field(description="The start of the minute.")
    holds: int = Field(ge=0)
    bookings: int = Field(ge=0)
    seatsBooked: int = Field(ge=0)


class ShowDashboardWaitingRoom(ResponseBody):
    state: WaitingRoomState
    queueLength: int = Field(ge=0)
    waiting: int
    admitted: int = Field(ge=0)
    active: int = Field(ge=0)
    admissionRatePerMinute: float = Field(ge=0)


class ShowDashboardStanding(ResponseBody):
    """One standing section's places by state (`available + held + booked + blocked = capacity`)."""

    section: str
    capacity: int = Field(ge=1)
    available: int = Field(ge=0)
    held: int = Field(ge=0)
    booked: int = Field(ge=0)
    blocked: int = Field(ge=0)


class ShowDashboard(ResponseBody):
    showId: NumericId
    status: ShowStatus
    asOf: datetime = Field(description="Database time at which the figures were computed.")
    seats: ShowDashboardSeats = Field(
        description=(
            "The show's seats by status (`available + held + booked + blocked = total`); lapsed holds "
            "count as available."
        )
    )
    bookings: ShowDashboardBookings
    revenue: ShowDashboardRevenue
    holdsPerMinute: int = Field(ge=0, description="Holds made in the last minute.")
    bookingsPerMinute: int = Field(ge=0, description="Bookings made in the last minute.")
    paymentFailures: int = Field(ge=0, description="Failed payments of holds made in the last hour.")
    salesOverTime: list[ShowDashboardSalesOverTimeItem] = Field(
        description="The last 60 minutes, oldest first, one entry per minute (the current one included)."
    )
    waitingRoom: ShowDashboardWaitingRoom | None = Field(
        description=(
            "The waiting room's headline figures (see `GET /manage/events/{eventId}/queue`); null when "
            "the show is not sold through the waiting room, or its figures cannot be read right now."
        )
    )
    standing: list[ShowDashboardStanding] = Field(
        description=(
            'Each standing section (README "General admission (standing)") in layout order, its places by state '
            "(they count in `seats` too); empty for a venue without one."
        )
    )


class SeatHeldBy(ResponseBody):
    model_config = ConfigDict(title="Held by")
    userId: NumericId
    name: str
    email: str
    holdId: UUID
    paying: bool = Field(description="The hold's payment is under way.")
    expiresAt: datetime = Field(description="When the hold lapses (unless its payment is under way).")


class SeatBookedBy(ResponseBody):
    model_config = ConfigDict(title="Booked by")
    userId: NumericId
    name: str
    email: str
    bookingId: UUID


class BoxOfficeSeat(ResponseBody):
    seatId: str
    row: str
    number: int = Field(ge=1)
    x: int
    y: int
    tier: str
    price: int | None = Field(
        ge=0,
        description=(
            "The tier's price in minor units of the show's currency; null if the show has no price for the tier."
        ),
    )
    accessible: bool
    companion: bool
    status: Literal["AVAILABLE", "HELD", "BOOKED", "BLOCKED"] = Field(
        description="A held seat whose hold has lapsed reads `AVAILABLE`."
    )
    blockKind: Literal["KILL", "HOUSE"] | None = Field(
        description="How a `BLOCKED` seat is out of sale; null otherwise."
    )
    holder: SeatHeldBy | SeatBookedBy | None = Field(
        description="Who holds (`HELD`) or booked (`BOOKED`) the seat; null otherwise."
    )


class BoxOfficeSeats(ResponseBody):
    showId: NumericId
    status: ShowStatus
    sections: list[str] = Field(description="Every section of the show's venue, in layout order.")
    section: str = Field(description="The section shown (empty when the venue has no seats).")
    seats: list[BoxOfficeSeat] = Field(description="The section's seats, in layout order.")
    standing: bool = Field(
        description=(
            'The section is standing room (README "General admission (standing)"): `seats` are its admission '
            "places, blocked and unblocked by id like seats."
        )
    )


class SeatsBlocked(ResponseBody):
    showId: NumericId
    seatIds: list[str] = Field(min_length=1, description="The seats now out of sale, sorted.")
    status: Literal["BLOCKED"]
    kind: Literal["KILL", "HOUSE"]


class SeatsUnblocked(ResponseBody):
    showId: NumericId
    seatIds: list[str] = Field(description="The seats that were blocked and are on sale again, sorted (possibly none).")
    status: Literal["AVAILABLE"]


class CancellationProgress(ResponseBody):
    showId: NumericId
    status: ShowStatus
    bookings: int = Field(ge=0, description="The show's bookings")
    bookingsCancelled: int = Field(ge=0)
    refundsCompleted: int = Field(ge=0, description="Refunds the gateway has made.")
    refundsPending: int = Field(ge=0)
    refundsFailed: int = Field(ge=0, description="Refunds the gateway refused; they need a person.")
    emailsSent: int = Field(ge=0, description='"Show cancelled" emails sent.')
    liveHolds: int = Field(ge=0, description="Holds of the show still active.")
    done: bool = Field(
        description=("The show is cancelled, every booking is cancelled, no refund is pending and no hold is live.")
    )


class WaitingRoomFigures(ResponseBody):
    eventId: NumericId
    state: WaitingRoomState
    batchSize: int = Field(ge=1, description="Fans admitted per batch.")
    admissionIntervalSeconds: float = Field(gt=0, description="Seconds between batches.")
    maxActive: int = Field(ge=1, description="The most admitted fans shopping at once.")
    sessionSeconds: int = Field(ge=1, description="How long an admission lasts.")
    verifiedEmailRequired: bool = Field(
        description="Fans whose email address is not verified are refused at joining (403 `EMAIL_NOT_VERIFIED`)."
    )
    saleOpensAt: datetime = Field(description="When the room starts admitting (UTC).")
    queueLength: int = Field(ge=0, description="Places given so far, pre-queue included.")
    waiting: int = Field(description="Places not admitted yet (`queueLength - servingUpTo`).")
    servingUpTo: int = Field(ge=0, description="Places up to this position have been admitted.")
    admitted: int = Field(ge=0, description="Fans admitted so far.")
    active: int = Field(ge=0, description="Admitted fans counting against `maxActive` now.")
    abandoned: int = Field(ge=0, description="Admitted fans who never came to collect their admission.")
    sessionsEnded: int = Field(ge=0, description="Admissions that were used and have run out.")
    admissionRatePerMinute: float = Field(ge=0, description="Fans admitted per minute")


# ---------------------------------------------------------------- door check-in (README "Door check-in")


class ReplacedScan(ResponseBody):
    at: datetime = Field(description="When the later scan this one replaced was made.")
    gate: str


class CheckinAdmitted(ResponseBody):
    result: Literal["ADMITTED"]
    showId: NumericId
    bookingId: UUID
    seatId: str
    version: int = Field(ge=1, description='The ticket code\'s version (README "Tickets and transfer").')
    at: datetime = Field(description="When the ticket was scanned (for an offline scan, its `scannedAt`).")
    gate: str
    replaced: ReplacedScan | None = Field(
        default=None, description="Offline uploads: the later scan of this ticket that this earlier one displaced."
    )


class ScanResult(ResponseBody):
    nonce: str
    status: int = Field(description="The status `POST /manage/shows/{showId}/checkins` answers for this scan.")
    result: str = Field(description="`ADMITTED`, or the error code (e.g. `ALREADY_CHECKED_IN`, `TICKET_REVOKED`).")
    body: dict[str, object] = Field(description="The body that scan alone would have been answered with.")


class ScanConflict(ResponseBody):
    nonce: str
    bookingId: UUID
    seatId: str
    gate: str = Field(description="The gate of the refused scan.")
    admittedAt: datetime = Field(description="When the admitting (earliest) scan was made.")
    admittedGate: str


class CheckinBatchResult(ResponseBody):
    results: list[ScanResult] = Field(description="One per scan, in the order sent.")
    conflicts: list[ScanConflict] = Field(description="Scans of a ticket another (earlier) scan admitted.")
    admitted: int = Field(ge=0, description="Tickets of the show admitted so far, after this upload.")


class BundleRevoked(ResponseBody):
    bookingId: UUID
    seatId: str
    version: int


class BundleCheckin(ResponseBody):
    bookingId: UUID
    seatId: str
    version: int
    gate: str
    at: datetime


class BundleRotation(ResponseBody):
    """How to check a rotating code offline (README "Rotating codes")."""

    key: str = Field(
        description="The show's 32-byte rotation key, base64url without padding. Secret: door staff and managers only."
    )
    stepSeconds: int = Field(description="A one-time value's step (15).")
    digits: int = Field(description="The one-time value's digits (8).")
    previousSteps: int = Field(description="Steps before the scanner's own that still admit (1).")
    earlySeconds: int = Field(description="The next step admits this many seconds before it begins (5).")
    separator: str = Field(description="Between the static code and the one-time value (`:`).")


class BundleStanding(ResponseBody):
    section: str
    prefix: str = Field(description="What the section's place ids start with, before the `-`.")


class CheckinBundle(ResponseBody):
    showId: NumericId
    generatedAt: datetime = Field(description="The server's time when the bundle was made.")
    checkinOpensAt: datetime | None = Field(description="None: any time before the show.")
    checkinClosesAt: datetime
    keys: dict[str, dict[str, str]] = Field(description="The organisation's public keys as JWKs (RFC 8037), by `kid`.")
    revoked: list[BundleRevoked] = Field(description="Ticket codes that no longer admit (booking, seat, version).")
    checkins: list[BundleCheckin] = Field(description="Tickets admitted so far.")
    ticketCodes: Literal["STATIC", "ROTATING"] = Field(
        description='`ROTATING`: the door wants the live ticket\'s rotating code (README "Rotating codes").'
    )
    staticCodesAllowed: bool = Field(description="At a rotating show, whether a static (printed) code still admits.")
    rotation: BundleRotation | None = Field(description="The rotation key and clock rules; null at a static show.")
    standing: list[BundleStanding] = Field(
        description='The venue\'s standing sections: their places are `{prefix}-0001`… (README "General admission").'
    )


class CheckinWindow(ResponseBody):
    showId: NumericId
    opensAt: datetime | None
    closesAt: datetime


class DoorStaffMember(ResponseBody):
    userId: NumericId
    email: str
    name: str
    organisationId: NumericId


class DoorStaffList(ResponseBody):
    doorStaff: list[DoorStaffMember] = Field(description="Ordered by email.")


class SalesFigures(ResponseBody):
    bookings: int = Field(ge=0, description="Bookings made (also those cancelled since).")
    seats: int = Field(ge=0, description="Seats in those bookings.")
    sales: Money = Field(description="What those bookings paid, in minor units of `currency`.")
    refunds: int = Field(ge=0, description="Refunds decided (pending or paid; refused ones are not counted).")
    refunded: Money = Field(description="Their amount, in minor units of `currency`.")


class SalesTotal(SalesFigures):
    currency: Currency


class SalesDay(SalesFigures):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="A UTC calendar day.")
    currency: Currency


class SalesShow(SalesFigures):
    showId: NumericId
    title: str
    venueName: str
    startTime: datetime = Field(description="The show's start, in the venue's time zone.")
    currency: Currency


class SalesTier(ResponseBody):
    tier: str | None = Field(description="The price tier; null for bookings of seats of several tiers.")
    currency: Currency
    bookings: int = Field(ge=0)
    seats: int = Field(ge=0)
    sales: Money = Field(description="What those bookings paid, in minor units of `currency`.")


class SalesReport(ResponseBody):
    from_: str = Field(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$", description="The first day (UTC), included.")
    to: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The last day (UTC), included.")
    timezone: Literal["UTC"] = Field(description="The days are calendar days in this zone.")
    totals: list[SalesTotal] = Field(
        description="One per currency, by currency code; amounts are never added across currencies."
    )
    days: list[SalesDay] = Field(description="Days with bookings or refunds, per currency, oldest first.")
    shows: list[SalesShow] = Field(
        description="Shows with bookings or refunds in the range, per currency, by start time."
    )
    tiers: list[SalesTier] = Field(description="The range's bookings by price tier and currency.")


class AccessCode(ResponseBody):
    """A presale code or voucher (README "Presale codes and vouchers")."""

    accessCodeId: NumericId
    showId: NumericId | None = Field(description="The show it works for; null for an event's code.")
    eventId: NumericId | None = Field(description="The event whose every show it works for; null for a show's code.")
    code: str
    kind: Literal["PRESALE", "VOUCHER"]
    percentOff: int | None = Field(ge=1, le=100)
    amountOff: int | None = Field(ge=1, description="In minor units of the show's currency.")
    maxUses: int = Field(ge=1)
    used: int = Field(
        ge=0,
        description="Uses taken: holds that use the code and are active or booked (an ended hold gives its use back).",
    )
    remaining: int = Field(ge=0, description="`maxUses - used`, at least 0.")
    opensAt: datetime | None
    closesAt: datetime | None
    active: bool
    createdAt: datetime


class AccessCodeList(ResponseBody):
    accessCodes: list[AccessCode] = Field(
        description="By code; for a show, its own codes first, then its event's (which work for it too)."
    )
