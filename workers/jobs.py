"""RQ jobs. Each takes ids, opens its own app context and unit of work, and is idempotent. What a
job's transactions ask for after they commit (more jobs, seat hints) their unit of work runs."""

from __future__ import annotations

import logging
import uuid
from functools import cache
from typing import Any

from flask import Flask

from app import create_app
from app.accounts.revocation import revocations
from app.background import queues
from app.booking import checkout, saga, sweeper
from app.extensions import redis_roles
from app.manage import cancellation, checkin
from app.notifications.delivery import channels_for, send_notification as deliver
from app.payments import services as payments
from app.unit_of_work import unit_of_work
from app.waiting_room.room import QueueNotFound, WaitingRoom
from app.waitlist import services as waitlist

log = logging.getLogger(__name__)


@cache
def job_app() -> Flask:
    return create_app()


def _gateway(app: Flask):
    return app.extensions["seatline.gateway"]


def process_webhook_event(event_id: str) -> None:
    app = job_app()
    with app.app_context(), unit_of_work() as uow:
        payments.process_webhook_event(uow, _gateway(app), event_id)


def settle_payment_intent(intent_id: str) -> str:
    """Queued by the sweeper alone, for a payment left open (``stale_open_payments``): a reconciliation."""
    app = job_app()
    with app.app_context():
        gateway = _gateway(app)
        with unit_of_work() as uow:
            settlement = saga.settle_intent(uow, gateway, gateway.retrieve_intent(intent_id), path=saga.RECONCILE)
        return settlement.outcome


def close_checkout_session(session_id: str) -> str:
    """Queued by the sweeper for a hosted-checkout session whose hold has ended (README "Hosted checkout")."""
    app = job_app()
    with app.app_context(), unit_of_work() as uow:
        return checkout.close_session(uow, _gateway(app), session_id)


def expire_hold(hold_id: str) -> str | None:
    app = job_app()
    with app.app_context():
        with unit_of_work() as uow:
            settlement = saga.expire_hold(uow, _gateway(app), uuid.UUID(hold_id))
        return None if settlement is None else settlement.outcome


def execute_refund(refund_id: str) -> None:
    app = job_app()
    with app.app_context(), unit_of_work() as uow:
        payments.execute_refund(uow, _gateway(app), uuid.UUID(refund_id))


def cancel_show(show_id: int) -> bool:
    """Ends a cancelled show's holds and cancels and refunds its bookings, a bounded amount per run;
    queues itself again while work is left (and the sweeper reruns it if that is lost)."""
    app = job_app()
    with app.app_context():
        with unit_of_work() as uow:
            finished = cancellation.work(uow, _gateway(app), int(show_id))
        if not finished:
            queues.enqueue(redis_roles(app).queues, queues.PAYMENTS, "workers.jobs.cancel_show", int(show_id))
        return finished


def send_notification(notification_id: int) -> bool:
    app = job_app()
    with app.app_context(), unit_of_work() as uow:
        settings = app.extensions["seatline.settings"]
        return deliver(uow, channels_for(settings), notification_id, settings.notification_max_attempts)


def offer_waitlist_seats(show_id: int) -> int:
    """The show's waiting line gets the seats that came back (README "Waiting list"): queued after a
    commit that returned seats of a show with a line, at each offer's end, and by the sweep."""
    app = job_app()
    with app.app_context(), unit_of_work() as uow:
        settings = app.extensions["seatline.settings"]
        return waitlist.make_offers(uow, int(show_id), settings.waitlist_offer_seconds, settings.public_url)


def sweep() -> dict[str, int]:
    """Periodic safety net: expire lapsed holds in batches and re-queue anything left behind."""
    app = job_app()
    with app.app_context():
        settings = app.extensions["seatline.settings"]
        client = redis_roles(app).queues
        counts = {"holds_expired": 0}
        with unit_of_work() as uow:
            while True:  # a batch per transaction, its seats' hints cleared after each commit
                ended = sweeper.release_expired_holds(uow)
                counts["holds_expired"] += ended
                if ended == 0:
                    break
            sweeper.free_orphaned_seats(uow, ended_within_seconds=10 * settings.sweeper_interval_seconds)
            counts["waitlist_entries_closed"] = waitlist.close_ended_lines(uow)
            retry_after = settings.outbox_retry_after_seconds
            work: dict[str, list[Any]] = {
                "expire_hold": [str(h) for h in sweeper.lapsed_paying_holds(uow)],
                "settle_payment_intent": sweeper.stale_open_payments(uow, settings.reconcile_after_seconds),
                "close_checkout_session": sweeper.open_sessions_of_ended_holds(uow),
                "process_webhook_event": sweeper.unprocessed_events(uow, retry_after),
                "execute_refund": [str(r) for r in sweeper.pending_refunds(uow, retry_after)],
                "send_notification": sweeper.pending_notifications(
                    uow, retry_after, per_organisation=settings.notification_sweep_per_organisation
                ),
                "cancel_show": cancellation.unfinished(uow),
                "offer_waitlist_seats": waitlist.shows_to_sweep(uow),
            }
        queue_of = {
            "expire_hold": queues.HOLDS,
            "settle_payment_intent": queues.PAYMENTS,
            "close_checkout_session": queues.PAYMENTS,
            "process_webhook_event": queues.WEBHOOKS,
            "execute_refund": queues.PAYMENTS,
            "send_notification": queues.NOTIFICATIONS,
            "cancel_show": queues.PAYMENTS,
            "offer_waitlist_seats": queues.HOLDS,
        }
        for func, ids in work.items():
            for item in ids:
                queues.enqueue(client, queue_of[func], f"workers.jobs.{func}", item, job_id=f"sweep-{func}-{item}")
            counts[func] = len(ids)
        if any(counts.values()):
            log.info("sweep: %s", counts)
        return counts


def gate_tick() -> int:
    """Every second: draws pre-queues whose sale has opened and admits the batches that are due."""
    app = job_app()
    with app.app_context():
        settings = app.extensions["seatline.settings"]
        admitted = 0
        with unit_of_work() as uow:
            events = (
                uow.execute(
                    "SELECT event_id FROM gate_queues WHERE state IN ('PREQUEUE', 'DRAWING', 'OPEN', 'DRAINING')"
                )
                .scalars()
                .all()
            )
            uow.rollback()
            for event_id in events:
                room = WaitingRoom(redis_roles(app).room, event_id, settings.gate_show_up_seconds)
                try:
                    admitted += room.admit_due(uow)
                except QueueNotFound:
                    continue
        return admitted


def forget_checkin_nonces() -> int:
    """Hourly: forgets the scan answers of shows whose check-in closed long ago (README "Door check-in")."""
    app = job_app()
    with app.app_context(), unit_of_work() as uow:
        forgotten = checkin.forget_old_nonces(uow)
    if forgotten:
        log.info("forgot %d check-in nonces", forgotten)
    return forgotten


def copy_revocations() -> int:
    """Every few seconds: copies to Redis the revocations a process could not copy when it made them."""
    app = job_app()
    with app.app_context():
        return revocations().copy_pending()
