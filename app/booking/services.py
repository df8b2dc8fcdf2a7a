"""Fans' bookings: listing them and cancelling them under the show's refund policy."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from app.audit import log as audit
from app.background.dispatch import Followups
from app.booking import queries
from app.booking.refund_policy import full_refund_applies, refund_for, refund_window
from app.errors import BookingNotFound, CancellationNotAllowed
from app.inventory import seat_state
from app.notifications.outbox import booking_context, queue_message
from app.ops.metrics import BOOKINGS_CANCELLED
from app.tickets import services as tickets
from app.unit_of_work import UnitOfWork
from app.waitlist import services as waitlist

BOOKING_SELECT = f"""
    SELECT b.id, b.hold_id, b.show_id, b.seat_ids, b.amount, b.currency, b.status, b.refund_amount,
           b.payment_intent_id, b.created_at, b.cancelled_at, b.user_id, b.ticket_version,
           e.organisation_id, e.title, s.starts_at, v.name AS venue_name, c.timezone,
            s.rescheduled_at, s.rescheduled_from, s.full_refund_until, s.ticket_codes,
            r.status AS refund_status, r.amount AS refund_total, bh.discount, ac.code AS access_code
    FROM bookings b
    JOIN shows s ON s.id = b.show_id JOIN events e ON e.id = s.event_id
    JOIN holds bh ON bh.id = b.hold_id LEFT JOIN access_codes ac ON ac.id = bh.access_code_id
    JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id
    {queries.REFUND_SUMMARY_JOIN}
"""


def ticket_signer(uow: UnitOfWork) -> tickets.TicketSigner:
    return tickets.TicketSigner(uow, current_app.extensions["seatline.settings"].ticket_keys_secret)


def _view(row: Any, signer: tickets.TicketSigner) -> dict[str, Any]:
    return {
        "bookingId": str(row.id),
        "holdId": str(row.hold_id),
        "showId": str(row.show_id),
        "title": row.title,
        "venueName": row.venue_name,
        "startTime": row.starts_at.astimezone(ZoneInfo(row.timezone)).isoformat(),
        "seatIds": list(row.seat_ids),
        "amount": row.amount,
        "currency": row.currency,
        "discount": row.discount,
        "accessCode": row.access_code,
        "status": row.status,
        "paymentIntentId": row.payment_intent_id,
        "refundAmount": row.refund_amount,
        "refund": None if row.refund_status is None else {"amount": row.refund_total, "status": row.refund_status},
        "createdAt": row.created_at.isoformat(),
        "cancelledAt": row.cancelled_at.isoformat() if row.cancelled_at else None,
        "tickets": _tickets(row, signer),
        "rescheduled": _rescheduled(row),
    }


def _tickets(row: Any, signer: tickets.TicketSigner) -> list[dict[str, Any]]:
    """The signed codes; at a show with rotating codes each also says so and links the live ticket
    page, whose QR code is the one the door admits (README "Rotating codes")."""
    rotating = row.ticket_codes == "ROTATING"
    live = f"/bookings/{row.id}/live" if rotating else None
    return [{**t, "rotating": rotating, "liveUrl": live} for t in signer.tickets(row)]


def _rescheduled(row: Any) -> dict[str, str] | None:
    """For a booking made before its show's start last moved: the start before and after the move, and
    until when cancelling it refunds in full (README "Rescheduling a show"); None otherwise."""
    window = refund_window(row)
    if window is None:
        return None
    tz = ZoneInfo(row.timezone)
    return {key: value.astimezone(tz).isoformat() for key, value in window.items()}


def list_bookings(uow: UnitOfWork, user_id: int) -> list[dict[str, Any]]:
    rows = uow.execute(f"{BOOKING_SELECT} WHERE b.user_id = :u ORDER BY s.starts_at, b.created_at", {"u": user_id})
    signer = ticket_signer(uow)
    return [_view(r, signer) for r in rows]


def get_booking(uow: UnitOfWork, user_id: int, booking_id: uuid.UUID) -> dict[str, Any]:
    row = uow.execute(f"{BOOKING_SELECT} WHERE b.id = :id", {"id": booking_id}).first()
    if row is None or row.user_id != user_id:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    return _view(row, ticket_signer(uow))


def cancel_booking(uow: UnitOfWork, user_id: int, booking_id: uuid.UUID) -> dict[str, Any]:
    """Cancels the fan's booking under the show's refund policy; in full if the show is cancelled, or if its
    start moved after the booking was made and the full-refund window is still open (README
    "Rescheduling a show").

    The show's row is read under a share lock: a show cancellation (which locks it for update)
    commits either before, and then this refunds in full, or after, and then the cancellation
    job tops this booking's refund up to the full amount (README "How money stays correct"). A
    reschedule (which locks it for update too) likewise comes wholly before or wholly after.
    """
    row = uow.execute(
        """
        SELECT b.id, b.user_id, b.show_id, b.status, b.amount, b.payment_intent_id, b.seat_ids, b.created_at,
               s.starts_at, s.refund_policy, s.status AS show_status, s.rescheduled_at, s.rescheduled_from,
               s.full_refund_until, now() AS db_now
        FROM bookings b JOIN shows s ON s.id = b.show_id WHERE b.id = :id FOR UPDATE OF b FOR SHARE OF s
        """,
        {"id": booking_id},
    ).first()
    if row is None or row.user_id != user_id:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    if row.status == "CONFIRMED":
        show_cancelled = row.show_status == "CANCELLED"
        reason = "SHOW_CANCELLED" if show_cancelled else "CUSTOMER_CANCELLED"
        rescheduled = not show_cancelled and full_refund_applies(row)
        refund = (
            row.amount
            if show_cancelled or rescheduled
            else refund_for(row.refund_policy, row.amount, row.starts_at, row.db_now)
        )
        if refund is None:
            raise CancellationNotAllowed("this booking can no longer be cancelled under the show's refund policy")
        uow.execute(
            "UPDATE bookings SET status = 'CANCELLED', cancelled_at = now(), refund_amount = :r WHERE id = :id",
            {"r": refund, "id": booking_id},
        )
        tickets.revoke(uow, [booking_id], "CANCELLED")
        freed = seat_state.free_booking_seats(uow, row.show_id, [booking_id])
        waitlist.seats_returned(uow, [row.show_id])
        followups = Followups(freed_seats={row.show_id: freed})
        who = audit.fan(user_id)
        audit.record(
            uow,
            who,
            "booking.cancelled",
            "booking",
            booking_id,
            show_id=row.show_id,
            details={
                "seatIds": list(row.seat_ids),
                "amount": row.amount,
                "refundAmount": refund,
                "paymentIntentId": row.payment_intent_id,
                "reason": reason,
                # Only when the show's move gave the full refund (README "Rescheduling a show").
                **({"fullRefundAfterReschedule": True} if rescheduled else {}),
            },
        )
        if refund > 0:
            refund_id = queries.insert_refund(uow, row.payment_intent_id, refund, reason, booking_id, who)
            if refund_id is not None:
                followups.refunds.append(refund_id)
        context = booking_context(uow, booking_id)
        followups.notifications += queue_message(
            uow, user_id, "booking_cancelled", str(booking_id), {**context, "refund_minor": refund}
        )
        uow.after_commit(followups.run)
        uow.after_commit(BOOKINGS_CANCELLED.labels("fan").inc)
        uow.commit()
    booking = get_booking(uow, user_id, booking_id)
    return {"bookingId": booking["bookingId"], "status": booking["status"], "refundAmount": booking["refundAmount"]}


def refund_quote(uow: UnitOfWork, user_id: int, booking_id: uuid.UUID) -> tuple[dict[str, Any], int | None]:
    """The booking, and what cancelling it now would refund (None: the policy does not allow it)."""
    booking = get_booking(uow, user_id, booking_id)
    show = uow.execute(
        """
        SELECT s.refund_policy, s.starts_at, s.status, s.rescheduled_at, s.rescheduled_from, s.full_refund_until,
               b.created_at, now() AS db_now
        FROM shows s JOIN bookings b ON b.show_id = s.id WHERE b.id = :b
        """,
        {"b": booking_id},
    ).one()
    if booking["status"] != "CONFIRMED":
        return booking, None
    if show.status == "CANCELLED" or full_refund_applies(show):
        return booking, booking["amount"]
    return booking, refund_for(show.refund_policy, booking["amount"], show.starts_at, show.db_now)
