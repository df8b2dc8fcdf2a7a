"""Cancelling a show: the sale stops at once, then background jobs refund everyone.

1. ``cancel_show`` marks the show CANCELLED in one short transaction. From that
   commit on no hold can be made (holds are inserted only for SCHEDULED shows) and
   no payment can turn into a booking (settling refunds instead).
2. ``work`` (run by the ``cancel_show`` job, any number of times, in any order) ends
   the show's live holds, and cancels its confirmed bookings in batches: each gets a
   full refund row and one "show cancelled" message in the same transaction, then
   jobs carry them out. Refunds are unique per payment and messages per booking, so
   a crash anywhere and a rerun never pays or writes twice; the sweeper reruns the
   job for any cancelled show that still has confirmed bookings or live holds.
3. A booking the fan cancelled under the refund policy before the show was cancelled
   (or while it was being cancelled) is topped up: a second refund of the rest, decided
   under the booking's row lock, so the two refunds add up to exactly what was paid.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any

import redis

from app.audit import log as audit
from app.background import queues
from app.background.dispatch import Followups
from app.booking import queries as booking_queries
from app.booking.saga import SHOW_CANCELLATION, end_paying_hold
from app.errors import DomainError
from app.extensions import RedisRoles
from app.inventory import seat_state
from app.manage import access, dashboard, waiting_rooms
from app.manage.access import Actor
from app.notifications.outbox import booking_context, queue_message
from app.ops.metrics import BOOKINGS_CANCELLED
from app.payments.gateway import GatewayUnavailable, PaymentGateway
from app.tickets import services as tickets
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
BATCH = 50


def cancel_show(uow: UnitOfWork, actor: Actor, show_id: int, reason: str) -> bool:
    """Stops the sale; True if this call cancelled it (False: it already was)."""
    show = access.show(uow, actor, show_id, lock=True)
    if show.status == "CANCELLED":
        uow.rollback()
        return False
    uow.execute(
        "UPDATE shows SET status = 'CANCELLED', cancelled_at = now(), cancel_reason = :reason WHERE id = :id",
        {"reason": reason or None, "id": show_id},
    )
    audit.record(
        uow,
        audit.manager(actor),
        "show.cancelled",
        "show",
        show_id,
        show_id=show_id,
        details={"reason": reason or None, "title": show.title},
    )
    uow.commit()
    log.info("show %s cancelled by user %s", show_id, actor.user_id)
    return True


def start(uow: UnitOfWork, roles: RedisRoles, actor: Actor, show_id: int, reason: str) -> tuple[dict[str, Any], bool]:
    """What the manager API and the dashboard's "Cancel show" do: cancels the show, queues the job
    that refunds everyone, closes the waiting room nobody can use any more. Returns the progress
    and whether this call cancelled the show."""
    newly = cancel_show(uow, actor, show_id, reason)
    progress_now = progress(uow, show_id)
    if newly or not progress_now["done"]:
        queues.enqueue(
            roles.queues, queues.PAYMENTS, "workers.jobs.cancel_show", show_id, job_id=f"cancel-show-{show_id}"
        )
    if newly:
        _close_waiting_room_if_unused(uow, roles, actor, show_id)
    dashboard.forget(roles, show_id)
    return progress_now, newly


def _close_waiting_room_if_unused(uow: UnitOfWork, roles: RedisRoles, actor: Actor, show_id: int) -> None:
    """Fans still queueing for the event's only protected show would queue for nothing: close the room."""
    event_id = uow.execute(
        """
        SELECT s.event_id FROM shows s JOIN gate_queues q ON q.event_id = s.event_id
        WHERE s.id = :id AND q.state <> 'CLOSED' AND NOT EXISTS (
            SELECT 1 FROM shows o WHERE o.event_id = s.event_id AND o.queue_required AND o.status = 'SCHEDULED')
        """,
        {"id": show_id},
    ).scalar()
    if event_id is None:
        return
    try:
        waiting_rooms.control(uow, roles, actor, event_id, "close")
    except (DomainError, redis.RedisError) as exc:
        log.warning("could not close the waiting room of event %s: %s", event_id, exc)


def progress(uow: UnitOfWork, show_id: int) -> dict[str, Any]:
    row = uow.execute(
        f"""
        SELECT count(b.id) AS bookings,
               count(b.id) FILTER (WHERE b.status = 'CANCELLED') AS cancelled,
               count(b.id) FILTER (WHERE r.status = 'SUCCEEDED') AS refunded,
               count(b.id) FILTER (WHERE r.status = 'PENDING') AS refunds_pending,
               count(b.id) FILTER (WHERE r.status = 'FAILED') AS refunds_failed,
               count(b.id) FILTER (WHERE b.refund_amount < b.amount) AS short_refunds,
               count(n.id) FILTER (WHERE n.status = 'SENT') AS emails_sent,
               (SELECT count(*) FROM holds h WHERE h.show_id = :s AND h.status = 'ACTIVE') AS live_holds,
               (SELECT status FROM shows WHERE id = :s) AS show_status
        FROM bookings b
        {booking_queries.REFUND_SUMMARY_JOIN}
        LEFT JOIN notifications n ON n.dedupe_key = :key_prefix || b.id || :key_suffix
        WHERE b.show_id = :s
        """,
        {"s": show_id, "key_prefix": "show_cancelled:", "key_suffix": ":email"},
    ).one()
    cancelled = row.show_status == "CANCELLED"
    return {
        "showId": str(show_id),
        "status": row.show_status,
        "bookings": row.bookings,
        "bookingsCancelled": row.cancelled,
        "refundsCompleted": row.refunded,
        "refundsPending": row.refunds_pending,
        "refundsFailed": row.refunds_failed,
        "emailsSent": row.emails_sent,
        "liveHolds": row.live_holds,
        "done": cancelled
        and row.cancelled == row.bookings
        and row.refunds_pending == 0
        and row.live_holds == 0
        and row.short_refunds == 0,
    }


def _paying_holds(uow: UnitOfWork, show_id: int) -> list[uuid.UUID]:
    return list(
        uow.execute(
            "SELECT id FROM holds WHERE show_id = :s AND status = 'ACTIVE' AND payment_started_at IS NOT NULL",
            {"s": show_id},
        ).scalars()
    )


def _cancel_bookings(uow: UnitOfWork, show_id: int, reason: str | None) -> int:
    """Cancels up to BATCH confirmed bookings with a full refund each, in a transaction of their own;
    returns how many."""
    batch = uow.execute(
        """
        SELECT id, user_id, amount, payment_intent_id FROM bookings
        WHERE show_id = :s AND status = 'CONFIRMED' ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED
        """,
        {"s": show_id, "n": BATCH},
    ).all()
    if not batch:
        return 0
    ids = [b.id for b in batch]
    cancelled = uow.execute(
        f"""
        WITH cancelled AS (
            UPDATE bookings SET status = 'CANCELLED', cancelled_at = now(), refund_amount = amount
            WHERE id = ANY(:ids) AND status = 'CONFIRMED'
            RETURNING id, show_id, user_id, seat_ids, amount, refund_amount, payment_intent_id
        )
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT CAST(NULL AS bigint), 'system', 'booking.cancelled', 'booking', CAST(c.id AS text), c.show_id,
               jsonb_build_object('userId', c.user_id, 'seatIds', c.seat_ids, 'amount', c.amount,
                                  'refundAmount', c.refund_amount, 'paymentIntentId', c.payment_intent_id,
                                  'reason', 'SHOW_CANCELLED')
        FROM cancelled c
        """,
        {"ids": ids},
    )
    uow.after_commit(partial(BOOKINGS_CANCELLED.labels("show").inc, cancelled.rowcount))  # one audit row each
    tickets.revoke(uow, ids, "CANCELLED")
    followups = Followups(freed_seats={show_id: seat_state.free_booking_seats(uow, show_id, ids)})
    for b in batch:
        if b.amount > 0:
            refund_id = booking_queries.insert_refund(
                uow, b.payment_intent_id, b.amount, "SHOW_CANCELLED", b.id, audit.SYSTEM
            )
            if refund_id is not None:
                followups.refunds.append(refund_id)
        context = {**booking_context(uow, b.id), "reason": reason or ""}
        followups.notifications += queue_message(uow, b.user_id, "show_cancelled", str(b.id), context)
    uow.after_commit(followups.run)
    uow.commit()
    return len(batch)


def _top_up_fan_cancellations(uow: UnitOfWork, show_id: int, reason: str | None) -> int:
    """Refunds the rest of up to BATCH bookings the fans cancelled for part of their money."""
    batch = uow.execute(
        """
        SELECT id, user_id, amount, refund_amount, payment_intent_id FROM bookings
        WHERE show_id = :s AND status = 'CANCELLED' AND refund_amount < amount
        ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED
        """,
        {"s": show_id, "n": BATCH},
    ).all()
    if not batch:
        return 0
    followups = Followups()
    for b in batch:
        rest = b.amount - b.refund_amount
        uow.execute("UPDATE bookings SET refund_amount = amount WHERE id = :id", {"id": b.id})
        # A booking refunded nothing so far has no first refund: the rest is its first.
        refund_id = booking_queries.insert_refund(
            uow, b.payment_intent_id, rest, "SHOW_CANCELLED", b.id, audit.SYSTEM, top_up=b.refund_amount > 0
        )
        if refund_id is None:  # the unique (payment, top_up) says it was decided before: never pay twice
            raise RuntimeError(f"booking {b.id} already has the refund its top-up would be")
        followups.refunds.append(refund_id)
        audit.record(
            uow,
            audit.SYSTEM,
            "booking.refund_topped_up",
            "booking",
            b.id,
            show_id=show_id,
            details={
                "amount": b.amount,
                "refundedBefore": b.refund_amount,
                "topUp": rest,
                "paymentIntentId": b.payment_intent_id,
                "reason": "SHOW_CANCELLED",
            },
        )
        context = {**booking_context(uow, b.id), "reason": reason or ""}
        followups.notifications += queue_message(uow, b.user_id, "show_cancelled", str(b.id), context)
    uow.after_commit(followups.run)
    uow.commit()
    return len(batch)


def work(uow: UnitOfWork, gateway: PaymentGateway, show_id: int, max_batches: int = 40) -> bool:
    """One pass of the cancellation; True when nothing is left to cancel (refunds may still be running).
    Each batch commits on its own, and its jobs and seat hints follow that commit.

    Bookings come first: they need only Postgres. Holds whose payment has started need the
    gateway; if it does not answer, the pass ends with GatewayUnavailable once everything
    else is done, so the job is retried with back-off (and the sweeper reruns it anyway).
    """
    show = uow.execute("SELECT status, cancel_reason FROM shows WHERE id = :id", {"id": show_id}).first()
    if show is None or show.status != "CANCELLED":
        uow.rollback()
        return True
    freed = seat_state.release_unpaid_holds(uow, show_id)
    uow.after_commit(Followups(freed_seats={show_id: freed}).run)
    uow.commit()
    finished = False
    for _ in range(max_batches):
        if _cancel_bookings(uow, show_id, show.cancel_reason) == 0:
            finished = True
            break
    for _ in range(max_batches):
        if _top_up_fan_cancellations(uow, show_id, show.cancel_reason) == 0:
            break
    else:
        finished = False
    # A hold whose payment has started ends through the gateway: cancelled there, or refunded if it was paid.
    unreachable: GatewayUnavailable | None = None
    for hold_id in _paying_holds(uow, show_id):
        uow.rollback()
        try:
            end_paying_hold(uow, gateway, hold_id, audit.SYSTEM, path=SHOW_CANCELLATION)
        except GatewayUnavailable as exc:
            log.warning("show %s: hold %s waits for the gateway: %s", show_id, hold_id, exc)
            unreachable = exc
    if unreachable is not None:
        raise unreachable
    return finished


def unfinished(uow: UnitOfWork, limit: int = 100) -> list[int]:
    """Cancelled shows that still have confirmed bookings, bookings refunded in part or live holds
    (the sweeper reruns their job)."""
    return list(
        uow.execute(
            """
        SELECT s.id FROM shows s WHERE s.status = 'CANCELLED'
          AND (EXISTS (SELECT 1 FROM bookings b WHERE b.show_id = s.id
                       AND (b.status = 'CONFIRMED' OR b.refund_amount < b.amount))
               OR EXISTS (SELECT 1 FROM holds h WHERE h.show_id = s.id AND h.status = 'ACTIVE'))
        ORDER BY s.id LIMIT :n
        """,
            {"n": limit},
        ).scalars()
    )
