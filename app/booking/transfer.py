"""Transferring a booking to another fan's account (README "Tickets and transfer").

The booking's row is locked for update, like a cancellation's (app/booking/services.py), so a
transfer and a cancel of one booking, or two transfers, take turns: the first decides, the others
then find a booking that is not the caller's any more (404) or is cancelled (422). The show's row is
read under a share lock so that a show cancellation cannot slip in between the check and the move.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.audit import log as audit
from app.background.dispatch import Followups
from app.errors import BookingNotFound, RecipientNotFound, TransferNotAllowed
from app.notifications.outbox import queue_message
from app.tickets import services as tickets
from app.unit_of_work import UnitOfWork

LOCK_BOOKING = """
    SELECT b.id, b.user_id, b.show_id, b.status, b.seat_ids, b.ticket_version, s.starts_at,
           s.status AS show_status, s.transfer_cutoff_minutes,
           now() >= s.starts_at AS started,
           now() >= s.starts_at - make_interval(mins => s.transfer_cutoff_minutes) AS past_cutoff
    FROM bookings b JOIN shows s ON s.id = b.show_id WHERE b.id = :id FOR UPDATE OF b FOR SHARE OF s
"""
MOVE = """
    UPDATE bookings SET user_id = :to, ticket_version = ticket_version + 1 WHERE id = :id RETURNING ticket_version
"""


def transfer_booking(uow: UnitOfWork, user_id: int, booking_id: uuid.UUID, email: str) -> dict[str, Any]:
    """Moves the caller's booking to the account with ``email``: the codes it had are revoked and its
    ticket version goes up, so the new owner's codes differ; both fans are emailed. Raises
    ``BookingNotFound`` (not the caller's), ``TransferNotAllowed`` (with ``reason``) or
    ``RecipientNotFound``; then nothing changed."""
    row = uow.execute(LOCK_BOOKING, {"id": booking_id}).first()
    if row is None or row.user_id != user_id:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    if row.status != "CONFIRMED":
        raise TransferNotAllowed("a cancelled booking cannot be transferred", reason="BOOKING_CANCELLED")
    if row.show_status == "CANCELLED":
        raise TransferNotAllowed("the show is cancelled", reason="SHOW_CANCELLED")
    if row.started:
        raise TransferNotAllowed("the show has started", reason="SHOW_STARTED")
    if row.past_cutoff:
        raise TransferNotAllowed(
            f"tickets cannot be transferred in the last {row.transfer_cutoff_minutes} minutes before the show",
            reason="TRANSFER_CUTOFF",
            cutoffMinutes=row.transfer_cutoff_minutes,
        )
    recipient = uow.execute(
        "SELECT id, email FROM users WHERE email = :email", {"email": email.strip().lower()}
    ).first()
    if recipient is None:
        raise RecipientNotFound("no Seatline account has that email address: ask the recipient to sign up first")
    if recipient.id == user_id:
        raise TransferNotAllowed("the booking is yours already", reason="SAME_ACCOUNT")
    tickets.revoke(uow, [booking_id], "TRANSFERRED")
    version = uow.execute(MOVE, {"to": recipient.id, "id": booking_id}).scalar_one()
    audit.record(
        uow,
        audit.fan(user_id),
        "booking.transferred",
        "booking",
        booking_id,
        show_id=row.show_id,
        details={
            "fromUserId": user_id,
            "toUserId": recipient.id,
            "seatIds": list(row.seat_ids),
            "ticketVersion": version,
        },
    )
    sender_email = uow.execute("SELECT email FROM users WHERE id = :id", {"id": user_id}).scalar_one()
    event_key = f"{booking_id}:{version}"
    followups = Followups()
    followups.notifications += queue_message(
        uow,
        recipient.id,
        "ticket_transfer_received",
        event_key,
        {"show_id": row.show_id, "sender_email": sender_email},
        booking=booking_id,
    )
    followups.notifications += queue_message(
        uow,
        user_id,
        "ticket_transfer_sent",
        event_key,
        {"show_id": row.show_id, "recipient_email": recipient.email},
        booking=booking_id,
    )
    uow.after_commit(followups.run)
    uow.commit()
    return {"bookingId": str(booking_id), "recipientEmail": recipient.email, "ticketVersion": version}
