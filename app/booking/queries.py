"""Statements of the booking saga: payments, bookings, refunds. Seats change in ``app/inventory/seat_state.py``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.audit import log as audit
from app.audit.log import AuditActor
from app.inventory import seat_state
from app.ops.metrics import HOLDS_EXPIRED, HOLDS_RELEASED, REFUNDS
from app.standing import standing_places_sql
from app.unit_of_work import UnitOfWork

HOLD_COLUMNS = """
    id, user_id, show_id, status, seat_ids, amount, currency, expires_at, payment_started_at, payment_intent_id,
    expires_at > now() AS live
"""


LOCK_HOLD = f"SELECT {HOLD_COLUMNS} FROM holds WHERE id = :id FOR UPDATE"


def lock_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> Row[Any] | None:
    """Every step that settles a hold takes this lock first, so settlers queue up instead of racing."""
    return uow.execute(LOCK_HOLD, {"id": hold_id}).first()


def protect_seats_while_paying(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int) -> int:
    """Rule 4: while a payment may still succeed, the hold's seats cannot lapse."""
    uow.execute(
        "UPDATE holds SET payment_started_at = now() WHERE id = :id AND payment_started_at IS NULL", {"id": hold_id}
    )
    return seat_state.protect_while_paying(uow, hold_id, show_id)


def unprotect_seats(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int) -> None:
    """Undoes ``protect_seats_while_paying`` for a hold that has no intent (the gateway refused to
    create one): the seats lapse with the hold again, and a later attempt protects them anew."""
    started = uow.execute(
        """
        UPDATE holds SET payment_started_at = NULL
        WHERE id = :id AND status = 'ACTIVE' AND payment_intent_id IS NULL
        RETURNING expires_at
        """,
        {"id": hold_id},
    ).first()
    if started is None:
        return
    seat_state.unprotect(uow, hold_id, show_id, started.expires_at)


def booking_for_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> uuid.UUID | None:
    return uow.execute("SELECT id FROM bookings WHERE hold_id = :id", {"id": hold_id}).scalar()


def record_intent(uow: UnitOfWork, hold: Row[Any], intent_id: str) -> None:
    """The intent's payment row, and the hold's intent id if its payment was started through the API
    (``start_payment``). An intent made by the gateway's hosted page (README "Hosted checkout") has
    only its payment row: the hold's seats were never protected for it, and the hold lapses on time."""
    uow.execute(
        "UPDATE holds SET payment_intent_id = :pi "
        "WHERE id = :id AND payment_intent_id IS NULL AND payment_started_at IS NOT NULL",
        {"pi": intent_id, "id": hold.id},
    )
    uow.execute(
        """
        INSERT INTO payments (payment_intent_id, hold_id, user_id, amount, currency, status)
        VALUES (:pi, :hold_id, :user_id, :amount, :currency, 'REQUIRES_PAYMENT')
        ON CONFLICT (payment_intent_id) DO NOTHING
        """,
        {
            "pi": intent_id,
            "hold_id": hold.id,
            "user_id": hold.user_id,
            "amount": hold.amount,
            "currency": hold.currency,
        },
    )


def show_cancelled(uow: UnitOfWork, show_id: int) -> bool:
    return uow.execute("SELECT status = 'CANCELLED' FROM shows WHERE id = :id", {"id": show_id}).scalar_one()


RECORD_SUCCESS = """
    WITH paid AS (
        UPDATE payments SET status = 'SUCCEEDED', updated_at = now()
        WHERE payment_intent_id = :pi AND status NOT IN ('SUCCEEDED', 'CANCELED')
    )
    SELECT (SELECT id FROM bookings WHERE payment_intent_id = :pi) AS booking_id,
           EXISTS (SELECT 1 FROM refunds WHERE payment_intent_id = :pi) AS refunded,
           (SELECT status = 'CANCELLED' FROM shows WHERE id = :show_id) AS show_cancelled
"""


def record_success(uow: UnitOfWork, intent_id: str, show_id: int) -> Row[Any]:
    """Marks the payment SUCCEEDED and, in the same statement, reads what decides what it becomes:
    the intent's booking (``booking_id``, if it was booked already), whether it has a refund
    (``refunded``), and whether the show was cancelled (``show_cancelled``). Run under the hold's lock."""
    return uow.execute(RECORD_SUCCESS, {"pi": intent_id, "show_id": show_id}).one()


def end_hold(uow: UnitOfWork, hold_id: uuid.UUID, status: str, who: AuditActor, reason: str) -> None:
    """An ACTIVE hold becomes EXPIRED or RELEASED, with its ``hold.expired`` or ``hold.released`` audit row,
    counted (``HOLDS_EXPIRED``, ``HOLDS_RELEASED``) once the transaction commits."""
    if status not in ("EXPIRED", "RELEASED"):
        raise ValueError(f"a hold ends EXPIRED or RELEASED, not {status}")
    audited = uow.execute(
        f"""
        WITH ended AS (
            UPDATE holds SET status = :status, ended_at = now()
            WHERE id = :id AND status = 'ACTIVE'
            RETURNING id, show_id, user_id, seat_ids, payment_intent_id
        )
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT {audit.ACTOR}, :action, 'hold', CAST(e.id AS text), e.show_id,
               jsonb_build_object('seatIds', e.seat_ids, 'userId', e.user_id, 'reason', CAST(:reason AS text),
                                  'paymentIntentId', e.payment_intent_id)
        FROM ended e
        """,
        {"status": status, "id": hold_id, "action": f"hold.{status.lower()}", "reason": reason, **who.params},
    )
    if audited.rowcount:  # one audit row per hold that ended here: none if it had ended before
        uow.after_commit((HOLDS_EXPIRED if status == "EXPIRED" else HOLDS_RELEASED).inc)


def set_payment_status(uow: UnitOfWork, intent_id: str, status: str) -> None:
    uow.execute(
        """
        UPDATE payments SET status = :status, updated_at = now()
        WHERE payment_intent_id = :pi AND status NOT IN ('SUCCEEDED', 'CANCELED')
        """,
        {"pi": intent_id, "status": status},
    )


def insert_refund(
    uow: UnitOfWork,
    intent_id: str,
    amount: int,
    reason: str,
    booking_id: uuid.UUID | None,
    who: AuditActor,
    *,
    top_up: bool = False,
) -> uuid.UUID | None:
    """Creates the payment's one refund (or, ``top_up``, its one top-up after a show cancellation), with its
    ``payment.refunded`` audit row, counted (``REFUNDS`` ``requested``) once the transaction commits;
    None if it already has one (and then no row)."""
    refund_id: uuid.UUID | None = uow.execute(
        f"""
        WITH r AS (
            INSERT INTO refunds (id, payment_intent_id, booking_id, amount, reason, top_up)
            VALUES (:id, :pi, :booking_id, :amount, :reason, :top_up)
            ON CONFLICT (payment_intent_id, top_up) DO NOTHING
            RETURNING id, payment_intent_id, booking_id, amount, reason, top_up
        ), audit AS (
            INSERT INTO audit_log {audit.COLUMNS}
            SELECT {audit.ACTOR}, 'payment.refunded', 'payment', r.payment_intent_id, h.show_id,
                   jsonb_build_object('refundId', r.id, 'bookingId', r.booking_id, 'amount', r.amount,
                                      'currency', p.currency, 'reason', r.reason, 'userId', p.user_id)
                   || CASE WHEN r.top_up THEN jsonb_build_object('topUp', true) ELSE '{{}}'::jsonb END
            FROM r LEFT JOIN payments p ON p.payment_intent_id = r.payment_intent_id
            LEFT JOIN holds h ON h.id = p.hold_id
        )
        SELECT id FROM r
        """,
        {
            "id": uuid.uuid4(),
            "pi": intent_id,
            "booking_id": booking_id,
            "amount": amount,
            "reason": reason,
            "top_up": top_up,
            **who.params,
        },
    ).scalar()
    if refund_id is not None:
        uow.after_commit(REFUNDS.labels("requested").inc)
    return refund_id


# A booking's refunds as one: their total and one status (PENDING while any is, then FAILED if any
# failed). Joined as ``r`` (``r.amount``, ``r.status``; both NULL without a refund) on ``b``, a booking.
REFUND_SUMMARY_JOIN = """
    LEFT JOIN LATERAL (
        SELECT sum(amount) AS amount,
               CASE WHEN bool_or(status = 'PENDING') THEN 'PENDING' WHEN bool_or(status = 'FAILED') THEN 'FAILED'
                    ELSE 'SUCCEEDED' END AS status
        FROM refunds WHERE payment_intent_id = b.payment_intent_id HAVING count(*) > 0
    ) r ON true
"""


def standing_places(uow: UnitOfWork, booking_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each of the bookings, its standing places and their sections (README "General admission
    (standing)"), by booking id; a booking of seats only maps to an empty object."""
    rows = uow.execute(
        f"""
        SELECT CAST(b.id AS text) AS id, {standing_places_sql("b.show_id", "b.seat_ids")} AS standing
        FROM bookings b WHERE b.id = ANY(CAST(:ids AS uuid[]))
        """,
        {"ids": list(booking_ids)},
    )
    return {r.id: r.standing for r in rows}
