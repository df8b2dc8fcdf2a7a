from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints

from app.api.http import current_user, parse_body, parse_uuid, reply
from app.booking import checkout, saga, services, transfer
from app.booking.schemas import (
    Booking,
    BookingList,
    CancelResponse,
    CheckoutSessionCreated,
    ConfirmResponse,
    TransferResponse,
)
from app.circuit import behind_breaker
from app.config import Settings
from app.contract import (
    BOOKING_NOT_FOUND,
    CANCELLATION_NOT_ALLOWED,
    CHECKOUT_NOT_POSSIBLE,
    DEGRADED,
    GATEWAY_DEGRADED,
    HOLD_EXPIRED_OR_REFUNDED,
    HOLD_NOT_FOUND,
    HOLD_REFUSED,
    INTERNAL_ERROR,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    PAYMENT_NOT_COMPLETED,
    PAYMENT_REFUSED,
    RATE_LIMITED,
    TRANSFER_REFUSED,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    Answer,
    operation,
)
from app.errors import BookingNotFound, HoldNotFound
from app.rate_limit_rules import GATEWAY_CALLS, PAYMENT_INTENTS, TRANSFERS, rate_limited
from app.tickets import documents, services as tickets
from app.unit_of_work import unit_of_work

bp = Blueprint("booking_api", __name__, url_prefix="/api/v1")


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    # Left out (or an empty body) for a hold that costs nothing: it is booked without a payment.
    paymentIntentId: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    """The hold's payment intent, as returned by `POST /holds/{holdId}/payment-intents`. Any other value is `400
    VALIDATION_FAILED`. Left out for a hold whose `amount` is 0 (no payment); required for any other hold.
    """


@bp.post("/holds/<hold_id>/confirm")
@operation(
    "confirmHold",
    "Turn a paid hold into a booking",
    tags=("payments",),
    body=ConfirmRequest,
    body_examples={
        "confirm": {"value": {"paymentIntentId": "pi_3QhZ1f2eZvKYlo2C0a1b2c3d"}},
        "free": {"summary": "A hold whose amount is 0", "value": {}},
    },
    body_required=False,
    answers={
        201: Answer(
            (
                "The payment succeeded and the hold is now a booking (the hold reads `CONFIRMED`); a "
                "confirmation email is on its way."
            ),
            model=ConfirmResponse,
        ),
        200: Answer(
            ("The hold had been booked already with this payment; the same `bookingId` as before. Nothing changed."),
            model=ConfirmResponse,
        ),
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        402: PAYMENT_NOT_COMPLETED,
        404: HOLD_NOT_FOUND,
        409: HOLD_EXPIRED_OR_REFUNDED,
        413: PAYLOAD_TOO_LARGE,
        422: HOLD_REFUSED,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: GATEWAY_DEGRADED,
    },
)
@rate_limited(GATEWAY_CALLS)
@behind_breaker
def confirm(hold_id: str):
    """Call after paying the hold's intent at the gateway. The server asks the gateway about
    the intent (it does not trust the client) and, if the payment succeeded, books the
    hold's seats: `201` with the new `bookingId`. Every later call with the same
    `paymentIntentId` answers `200` with the same `bookingId` and changes nothing; a
    payment yields at most one booking, however often and in whatever order this call and
    the gateway's webhooks arrive (the webhook may have booked the hold already, in which
    case the first call here answers `200`).

    If the payment succeeded but the hold had lapsed and its seats were taken by someone
    else before the payment was settled, nothing is booked and the payment is refunded in
    full automatically: `409 HOLD_EXPIRED` with `refund: true`, on this and every later call.

    **A free hold** (`amount` 0) is confirmed with an empty body (or `{}`): no payment, no
    gateway. `201` with the new `bookingId`, `200` with the same one on every repeat; a
    confirmation email is sent as for a paid booking. Errors of this form: `400
    VALIDATION_FAILED` (the hold costs money: `paymentIntentId` is required), `409
    HOLD_EXPIRED` (the hold lapsed or was released first; `status`), `422 SALE_CLOSED` (the
    show was cancelled).

    Checks, in order: authentication (401), the hold id (404 if it is not a UUID), the body
    (400), the hold (404 if it is not the caller's), the intent (400 if it is not this
    hold's), then the gateway.

    Errors: `400 VALIDATION_FAILED` (bad body; a `paymentIntentId` that is not this hold's
    intent, including a hold that has none yet); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `402 PAYMENT_NOT_COMPLETED` (the gateway has not taken the payment; `paymentStatus` is
    the intent's status there: `requires_payment_method` for a declined or not yet paid
    intent — the fan may pay again and call again —, `processing` and the like while it is
    under way, `canceled` once it was cancelled and the hold ended); `404 HOLD_NOT_FOUND`;
    `409 HOLD_EXPIRED` (with `refund: true`: paid too late, being refunded);
    `413 PAYLOAD_TOO_LARGE`; `429 RATE_LIMITED` (too many confirms and releases by the
    caller or from the client's IP: each asks the gateway; nothing was done);
    `500 INTERNAL_ERROR`; `503 DEGRADED` (the database is busy, or the gateway did not
    answer or was busy; nothing changed, call again after `Retry-After` seconds).
    """
    user = current_user()
    hid = parse_uuid(hold_id, HoldNotFound, "hold")
    body = parse_body(ConfirmRequest) if request.get_data(cache=True) else ConfirmRequest()
    with unit_of_work() as uow:
        if body.paymentIntentId is None:
            settlement = saga.confirm_free(uow, user.id, hid)
        else:
            settlement = saga.confirm(
                uow, current_app.extensions["seatline.gateway"], user.id, hid, body.paymentIntentId
            )
    saga.raise_unless_booked(settlement)
    booked = ConfirmResponse(bookingId=settlement.booking_id)  # type: ignore[arg-type]  # set: raise_unless_booked
    return reply(booked, 201 if settlement.created else 200)


@bp.post("/holds/<hold_id>/checkout-session")
@operation(
    "createCheckoutSession",
    "Pay for a hold on the payment gateway's hosted page",
    tags=("payments",),
    answers={
        201: Answer(
            "The hold's open Checkout Session (the same one on every call while it is open). Never cached.",
            model=CheckoutSessionCreated,
            example={
                "sessionId": "cs_test_a1b2c3d4e5f6",
                "checkoutUrl": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3d4e5f6",
            },
            headers={"Cache-Control": NO_STORE},
        )
    },
    failures={
        401: UNAUTHORIZED,
        404: HOLD_NOT_FOUND,
        409: CHECKOUT_NOT_POSSIBLE,
        422: PAYMENT_REFUSED,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: GATEWAY_DEGRADED,
    },
)
@rate_limited(PAYMENT_INTENTS)
@behind_breaker
def create_checkout_session(hold_id: str):
    """Creates a Checkout Session at the payment gateway (Stripe Checkout) for the hold's `amount`
    and `currency`, and returns the address of the gateway's own payment page: the fan types the
    card there, so no card number ever reaches Seatline. No request body is needed.

    After paying, the gateway sends the fan back to `/holds/{holdId}/checkout/return`, which shows
    the booking once the payment has landed; the gateway's `checkout.session.completed` and
    `payment_intent.succeeded` webhooks book the hold through the same steps as
    `POST /holds/{holdId}/confirm` (also if the fan never comes back), and a cancelled
    payment leads back to the site's checkout page.

    A hold has **one** open session: calling this again returns the same one (`201`, also when
    many calls race). The session lasts as long as the hold, but at least 30 minutes (the
    gateway's shortest): starting it does not keep the seats past the hold's `expiresAt`. A
    payment made on the page after the hold lapsed still books the seats if nobody else took
    them; otherwise it is refunded in full.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 HOLD_NOT_FOUND` (no such hold, a hold of
    another user, or a `holdId` that is not a UUID); `409 HOLD_EXPIRED` (the hold is not active:
    released, lapsed or booked; `status`); `409 PAYMENT_IN_PROGRESS` (the hold's payment was
    started with `POST /holds/{holdId}/payment-intents`); `422 PAYMENT_NOT_NEEDED` (the hold is
    free: confirm it without a payment); `422 PAYMENT_REFUSED` (the gateway will not take this
    amount or currency); `429 RATE_LIMITED`; `500 INTERNAL_ERROR`; `503 DEGRADED` (the database is
    busy or the gateway did not answer; call again after `Retry-After` seconds).
    """
    user = current_user()
    hid = parse_uuid(hold_id, HoldNotFound, "hold")
    public_url = current_app.extensions["seatline.settings"].public_url.rstrip("/")
    with unit_of_work() as uow:
        session = checkout.open_session(
            uow,
            current_app.extensions["seatline.gateway"],
            user.id,
            hid,
            success_url=f"{public_url}/holds/{hid}/checkout/return?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{public_url}/holds/{hid}/checkout",
        )
    body = CheckoutSessionCreated(sessionId=session.session_id, checkoutUrl=session.url)
    return reply(body, 201, {"Cache-Control": "no-store"})


@bp.get("/bookings")
@operation(
    "listBookings",
    "The caller's bookings",
    tags=("bookings",),
    answers={
        200: Answer(
            "The caller's bookings (possibly none). Never cached.",
            model=BookingList,
            headers={"Cache-Control": NO_STORE},
        )
    },
    failures={401: UNAUTHORIZED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def list_bookings():
    """Every booking of the caller, confirmed and cancelled, ordered by the show's start time,
    then by when it was booked.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        bookings = services.list_bookings(uow, user.id)
    return {"bookings": bookings}, 200, {"Cache-Control": "no-store"}


@bp.get("/bookings/<booking_id>")
@operation(
    "getBooking",
    "One of the caller's bookings",
    tags=("bookings",),
    answers={200: Answer("The booking. Never cached.", model=Booking, headers={"Cache-Control": NO_STORE})},
    failures={401: UNAUTHORIZED, 404: BOOKING_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def get_booking(booking_id: str):
    """Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 BOOKING_NOT_FOUND` (no such
    booking, a booking of another user, or a `bookingId` that is not a UUID);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        booking = services.get_booking(uow, user.id, parse_uuid(booking_id, BookingNotFound, "booking"))
    return booking, 200, {"Cache-Control": "no-store"}


@bp.post("/bookings/<booking_id>/cancel")
@operation(
    "cancelBooking",
    "Cancel one of the caller's bookings, with a refund per the show's refund policy",
    tags=("bookings",),
    answers={
        200: Answer(
            "The booking is cancelled (now or before).",
            model=CancelResponse,
            example={"bookingId": "0b5e8a36-3c8f-4d0a-9a53-1f9f0a7c2d11", "status": "CANCELLED", "refundAmount": 37500},
        )
    },
    failures={
        401: UNAUTHORIZED,
        404: BOOKING_NOT_FOUND,
        422: CANCELLATION_NOT_ALLOWED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@behind_breaker
def cancel_booking(booking_id: str):
    """Cancels a confirmed booking: its seats are `AVAILABLE` again at once, and
    `refundAmount` (minor units of the booking's currency) is what comes back to the fan,
    worked out from the show's `refundPolicy` (see `GET /shows/{showId}`) at the moment of
    cancelling:

    - the policy is `{"rules": [{"hoursBefore": h, "refundPercent": p}, …], "feeMinor": f}`;
    - of the rules whose `hoursBefore` the show's start is at least that many hours away,
      the one with the most hours applies: the refund is `amount × p / 100` (rounded
      down; `p` is taken as a whole number) minus the fee `f`, never below 0 nor above
      `amount`;
    - if no rule applies (too close to the start, or a policy without rules) or the show
      has started, the booking cannot be cancelled: `422 CANCELLATION_NOT_ALLOWED`, and
      nothing changes.

    For example, with `{"rules": [{"hoursBefore": 48, "refundPercent": 100},
    {"hoursBefore": 24, "refundPercent": 50}], "feeMinor": 0}` a booking cancelled three
    days ahead is refunded in full, one cancelled 30 hours ahead half, and one cancelled
    12 hours ahead not at all (422).

    A positive refund is sent to the payment gateway in the background: the booking's
    `refund` shows its progress. Cancelling a booking that is already cancelled changes
    nothing and answers the same as the first time. No request body is needed.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 BOOKING_NOT_FOUND` (no such
    booking, a booking of another user, or a `bookingId` that is not a UUID);
    `422 CANCELLATION_NOT_ALLOWED`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        body = services.cancel_booking(uow, user.id, parse_uuid(booking_id, BookingNotFound, "booking"))
    return body, 200


class TransferRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    """The email address of the Seatline account that gets the booking (any case)."""


@bp.post("/bookings/<booking_id>/transfer")
@operation(
    "transferBooking",
    "Give one of the caller's bookings to another fan",
    tags=("bookings",),
    body=TransferRequest,
    body_examples={"friend": {"value": {"email": "friend@example.com"}}},
    answers={
        200: Answer(
            "The booking now belongs to the recipient, with new ticket codes; both fans are emailed.",
            model=TransferResponse,
            example={
                "bookingId": "0b5e8a36-3c8f-4d0a-9a53-1f9f0a7c2d11",
                "recipientEmail": "friend@example.com",
                "ticketVersion": 2,
            },
        )
    },
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        404: BOOKING_NOT_FOUND,
        413: PAYLOAD_TOO_LARGE,
        422: TRANSFER_REFUSED,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@rate_limited(TRANSFERS)
@behind_breaker
def transfer_booking(booking_id: str):
    """Moves the whole booking (every seat) to the account with `email`: from then on it is
    listed under that fan's `GET /bookings` and no longer under the caller's. Its ticket
    codes are replaced: the booking's ticket version goes up by one, every code of the old
    version is revoked (a scanner turns it away) and `tickets` lists the new ones. The
    recipient is emailed the tickets (PDF) and a calendar entry; the caller is emailed that
    the tickets are gone. A refund, if the new owner later cancels, goes back to the card
    that paid.

    Allowed while the booking is `CONFIRMED`, the show is not cancelled and it starts more
    than the show's transfer cut-off from now (60 minutes unless the show says otherwise).
    One booking's transfers and cancellations take turns: of several at once the first
    decides and the rest find a booking that is no longer the caller's (`404`) or is
    cancelled (`422`).

    Errors: `400 VALIDATION_FAILED` (bad body: `email` missing or not an email address);
    `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 BOOKING_NOT_FOUND` (no such booking, a
    booking of another user — including one the caller has just transferred —, or a
    `bookingId` that is not a UUID); `413 PAYLOAD_TOO_LARGE`; `422 TRANSFER_NOT_ALLOWED`
    (`reason`: `BOOKING_CANCELLED`, `SHOW_CANCELLED`, `SHOW_STARTED`, `TRANSFER_CUTOFF` with
    `cutoffMinutes`, `SAME_ACCOUNT`) or `RECIPIENT_NOT_FOUND` (no account has that email:
    the recipient signs up first); `429 RATE_LIMITED`; `500 INTERNAL_ERROR`;
    `503 DEGRADED`. Nothing changes on any error.
    """
    user = current_user()
    bid = parse_uuid(booking_id, BookingNotFound, "booking")
    body = parse_body(TransferRequest)
    with unit_of_work() as uow:
        moved = transfer.transfer_booking(uow, user.id, bid, body.email)
    return reply(TransferResponse(**moved))


PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary", "description": "A PDF file."}}}


@bp.get("/bookings/<booking_id>/tickets.pdf")
@operation(
    "getBookingTicketsPdf",
    "The booking's tickets as a PDF, one page per seat",
    tags=("bookings",),
    answers={
        200: Answer(
            "The PDF (`Content-Disposition: attachment`). Never cached.",
            content=PDF,
            headers={"Cache-Control": NO_STORE},
        )
    },
    failures={401: UNAUTHORIZED, 404: BOOKING_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def booking_tickets_pdf(booking_id: str):
    """One page per seat: the event's title, the venue, the date and time in the show's
    timezone, the seat (section, row, number), its price, the booking reference and the
    ticket's QR code, whose text is the ticket's `code` (see `GET /bookings/{bookingId}`).
    A cancelled booking has no tickets: `404 BOOKING_NOT_FOUND`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 BOOKING_NOT_FOUND` (no such booking,
    another user's, a cancelled one, or a `bookingId` that is not a UUID);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    bid = parse_uuid(booking_id, BookingNotFound, "booking")
    with unit_of_work() as uow:
        printed = tickets.owned_printed_booking(uow, settings().ticket_keys_secret, user.id, bid)
    if not printed.tickets:
        raise BookingNotFound(f"booking {bid} has no tickets: it is cancelled")
    return pdf_response(documents.tickets_pdf(printed), printed.booking_id)


def pdf_response(pdf: bytes, booking_id: str) -> Response:
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="tickets-{booking_id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


def settings() -> Settings:
    return current_app.extensions["seatline.settings"]
