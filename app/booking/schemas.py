"""Bookings, as the API answers them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from app.contract import Currency, Money, NumericId, ResponseBody

BookingStatus = Literal["CONFIRMED", "CANCELLED"]
RefundStatus = Annotated[
    Literal["PENDING", "SUCCEEDED", "FAILED"],
    Field(
        description=(
            "`PENDING` until the gateway has made the refund, then `SUCCEEDED`; `FAILED` if the gateway refused it."
        )
    ),
]


class ConfirmResponse(ResponseBody):
    bookingId: UUID = Field(description="The booking; see `GET /bookings/{bookingId}`.")


class CheckoutSessionCreated(ResponseBody):
    sessionId: str = Field(min_length=1, description="The gateway's Checkout Session id (`cs_…`).")
    checkoutUrl: str = Field(
        min_length=1,
        description=(
            "The gateway's hosted payment page: send the fan there. After paying, the gateway sends the fan "
            "back to Seatline's page for the hold, which shows the booking once the payment has landed."
        ),
    )


class BookingRefund(ResponseBody):
    amount: int = Field(ge=1, description="The refund, in minor units of `currency`.")
    status: RefundStatus


class Ticket(ResponseBody):
    seatId: str = Field(description="The seat this ticket is for.")
    code: str = Field(
        description=(
            "Exactly the text of the ticket's QR code: the booking, show, seat and ticket version, signed by "
            "Seatline with the show's organisation's Ed25519 key (base32, upper-case letters and digits; README "
            '"Tickets and transfer"). A transfer replaces every code of the booking; the old ones are revoked.'
        )
    )
    rotating: bool = Field(
        description=(
            "The show requires rotating codes: the door admits the live ticket's code, which changes every 15 s, "
            'and `code` alone only if the organiser allows printed tickets (README "Rotating codes").'
        )
    )
    liveUrl: str | None = Field(
        description="With `rotating`: the live ticket page (signed in on the site), which works offline once opened."
    )


class BookingRescheduled(ResponseBody):
    from_: datetime = Field(alias="from", description="The show's start before the organiser moved it.")
    to: datetime = Field(description="The start it was moved to (the show's start now).")
    fullRefundUntil: datetime = Field(
        description=(
            "Until then, cancelling the booking refunds all of it, whatever the show's refund policy says "
            '(README "Rescheduling a show").'
        )
    )


class Booking(ResponseBody):
    bookingId: UUID
    holdId: UUID = Field(description="The hold the booking was paid from.")
    showId: NumericId
    title: str = Field(description="The event's title.")
    venueName: str
    startTime: datetime = Field(description="The show's start time")
    seatIds: list[str] = Field(min_length=1, description="The booked seats, in the order they were held.")
    amount: Money = Field(description="What was paid, in minor units of `currency`.")
    currency: Currency
    discount: Money = Field(
        description="What the hold's presale code or voucher took off the seats' prices (README \"Presale codes and vouchers\")."
    )
    accessCode: str | None = Field(description="The code the booking's hold used; null if none.")
    status: BookingStatus
    paymentIntentId: str | None = Field(
        description="The payment intent that paid for the booking; null for a free booking (`amount` 0)."
    )
    refundAmount: Money = Field(
        description=("What the cancellation gives back under the refund policy, in minor units; 0 while `CONFIRMED`.")
    )
    refund: BookingRefund | None = Field(
        description=(
            "The refund of the booking's payment at the gateway, once there is one; null otherwise "
            "(also when a cancellation refunds nothing)."
        )
    )
    createdAt: datetime = Field(description="When the booking was made.")
    cancelledAt: datetime | None = Field(description="When the booking was cancelled; null while `CONFIRMED`.")
    tickets: list[Ticket] = Field(
        description=(
            "One ticket per seat, in the order of `seatIds`, while the booking is `CONFIRMED`; none once it is "
            "cancelled (its codes are revoked)."
        )
    )
    rescheduled: BookingRescheduled | None = Field(
        description=(
            "Set when the show's start last moved after this booking was made: from when, to when, and until "
            "when cancelling refunds in full; null otherwise."
        ),
    )


class BookingList(ResponseBody):
    bookings: list[Booking] = Field(description="Ordered by the show's start time, then by when the booking was made.")


class CancelResponse(ResponseBody):
    bookingId: UUID
    status: Literal["CANCELLED"]
    refundAmount: Money = Field(
        description=(
            "What comes back to the fan, in minor units of the booking's currency (0 when the policy's "
            "fee takes it all)."
        )
    )


class TransferResponse(ResponseBody):
    bookingId: UUID
    recipientEmail: str = Field(description="The account the booking now belongs to.")
    ticketVersion: int = Field(ge=2, description="The version the new ticket codes name; every older code is revoked.")
