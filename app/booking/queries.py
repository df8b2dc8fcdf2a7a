"""Statements of the booking saga: payments, bookings, refunds. Seat changes lock rows in seat order."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from app.unit_of_work import UnitOfWork

HOLD_COLUMNS = """
    id, user_id, show_id, status, seat_ids, amount, currency, expires_at, payment_started_at, payment_intent_id,
    expires_at > now() AS live
"""


def lock_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> Row[Any] | None:
    """Every step that settles a hold takes this lock first, so settlers queue up instead of racing."""
    return uow.execute(f"SELECT {HOLD_COLUMNS} FROM holds WHERE id = :id FOR UPDATE", {"id": hold_id}).first()


def protect_seats_while_paying(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int) -> int:
    """Rule 4: while a payment may still succeed, the hold's seats cannot lapse."""
    uow.execute("UPDATE holds SET payment_started_at = now() WHERE id = :id AND payment_started_at IS NULL", {"id": hold_id})
    return uow.execute(
        """
        WITH mine AS (
            SELECT show_id, seat_id FROM show_seats
            WHERE show_id = :show_id AND hold_id = :hold_id AND status = 'HELD'
            ORDER BY seat_id FOR UPDATE
        )
        UPDATE show_seats ss SET hold_expires_at = 'infinity'
        FROM mine WHERE ss.show_id = mine.show_id AND ss.seat_id = mine.seat_id
        """,
        {"show_id": show_id, "hold_id": hold_id},
    ).rowcount


def record_intent(uow: UnitOfWork, hold: Row[Any], intent_id: str) -> None:
    uow.execute("UPDATE holds SET payment_intent_id = :pi WHERE id = :id AND payment_intent_id IS NULL",
                {"pi": intent_id, "id": hold.id})
    uow.execute(
        """
        INSERT INTO payments (payment_intent_id, hold_id, user_id, amount, currency, status)
        VALUES (:pi, :hold_id, :user_id, :amount, :currency, 'REQUIRES_PAYMENT')
        ON CONFLICT (payment_intent_id) DO NOTHING
        """,
        {"pi": intent_id, "hold_id": hold.id, "user_id": hold.user_id, "amount": hold.amount, "currency": hold.currency},
    )


def show_cancelled(uow: UnitOfWork, show_id: int) -> bool:
    return uow.execute("SELECT status = 'CANCELLED' FROM shows WHERE id = :id", {"id": show_id}).scalar_one()


def booking_for_intent(uow: UnitOfWork, intent_id: str) -> uuid.UUID | None:
    return uow.execute("SELECT id FROM bookings WHERE payment_intent_id = :pi", {"pi": intent_id}).scalar()


def refund_for_intent(uow: UnitOfWork, intent_id: str) -> Row[Any] | None:
    return uow.execute("SELECT id, reason, amount, status FROM refunds WHERE payment_intent_id = :pi", {"pi": intent_id}).first()


def insert_booking(uow: UnitOfWork, booking_id: uuid.UUID, hold: Row[Any], intent_id: str) -> None:
    uow.execute(
        """
        INSERT INTO bookings (id, hold_id, show_id, user_id, payment_intent_id, seat_ids, amount, currency)
        VALUES (:id, :hold_id, :show_id, :user_id, :pi, :seat_ids, :amount, :currency)
        """,
        {"id": booking_id, "hold_id": hold.id, "show_id": hold.show_id, "user_id": hold.user_id, "pi": intent_id,
         "seat_ids": list(hold.seat_ids), "amount": hold.amount, "currency": hold.currency},
    )


def book_seats(uow: UnitOfWork, hold: Row[Any], booking_id: uuid.UUID) -> list[str]:
    """Books the hold's seats that are still its own, or free again after it lapsed; returns those it got."""
    rows = uow.execute(
        """
        WITH candidates AS (
            SELECT show_id, seat_id FROM show_seats
            WHERE show_id = :show_id AND seat_id = ANY(:seat_ids)
              AND ((status = 'HELD' AND hold_id = :hold_id)
                   OR status = 'AVAILABLE'
                   OR (status = 'HELD' AND hold_expires_at <= now()))
            ORDER BY seat_id FOR UPDATE
        )
        UPDATE show_seats ss
        SET status = 'BOOKED', booking_id = :booking_id, hold_id = NULL, hold_expires_at = NULL
        FROM candidates c WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
        RETURNING ss.seat_id
        """,
        {"show_id": hold.show_id, "seat_ids": list(hold.seat_ids), "hold_id": hold.id, "booking_id": booking_id},
    )
    return [r.seat_id for r in rows]


def mark_hold(uow: UnitOfWork, hold_id: uuid.UUID, status: str) -> None:
    ended = "now()" if status in ("EXPIRED", "RELEASED") else "NULL"
    uow.execute(f"UPDATE holds SET status = :status, ended_at = {ended} WHERE id = :id", {"status": status, "id": hold_id})


def free_hold_seats(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int) -> list[str]:
    rows = uow.execute(
        """
        WITH mine AS (
            SELECT show_id, seat_id FROM show_seats
            WHERE show_id = :show_id AND hold_id = :hold_id AND status = 'HELD'
            ORDER BY seat_id FOR UPDATE
        )
        UPDATE show_seats ss SET status = 'AVAILABLE', hold_id = NULL, hold_expires_at = NULL
        FROM mine WHERE ss.show_id = mine.show_id AND ss.seat_id = mine.seat_id
        RETURNING ss.seat_id
        """,
        {"show_id": show_id, "hold_id": hold_id},
    )
    return [r.seat_id for r in rows]


def set_payment_status(uow: UnitOfWork, intent_id: str, status: str) -> None:
    uow.execute(
        """
        UPDATE payments SET status = :status, updated_at = now()
        WHERE payment_intent_id = :pi AND status NOT IN ('SUCCEEDED', 'CANCELED')
        """,
        {"pi": intent_id, "status": status},
    )


def insert_refund(uow: UnitOfWork, intent_id: str, amount: int, reason: str, booking_id: uuid.UUID | None) -> uuid.UUID | None:
    """Creates the payment's one refund; None if it already has one."""
    return uow.execute(
        """
        INSERT INTO refunds (id, payment_intent_id, booking_id, amount, reason)
        VALUES (:id, :pi, :booking_id, :amount, :reason)
        ON CONFLICT (payment_intent_id) DO NOTHING
        RETURNING id
        """,
        {"id": uuid.uuid4(), "pi": intent_id, "booking_id": booking_id, "amount": amount, "reason": reason},
    ).scalar()
