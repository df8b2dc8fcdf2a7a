"""Runs what a committed transaction asked for: queue the jobs, update the seat hints."""
from __future__ import annotations

from datetime import datetime, timedelta

from app.booking.saga import Followups
from app.extensions import redis_store
from app.inventory.hints import SeatHints
from workers import queues


def run_followups(followups: Followups) -> None:
    client = redis_store.client
    for notification_id in followups.notifications:
        queues.enqueue(client, queues.NOTIFICATIONS, "workers.jobs.send_notification", notification_id,
                       job_id=f"notification-{notification_id}")
    for refund_id in followups.refunds:
        queues.enqueue(client, queues.PAYMENTS, "workers.jobs.execute_refund", str(refund_id), job_id=f"refund-{refund_id}")
    hints = SeatHints(client)
    for show_id, seats in followups.booked_seats.items():
        hints.mark_booked(show_id, seats)
    for show_id, seats in followups.freed_seats.items():
        hints.clear(show_id, seats)


def schedule_hold_expiry(hold_id: str, expires_at: datetime) -> None:
    """The delayed job that ends a paying hold on time: once its time is up, only the gateway can say
    whether the payment went through. A hold nobody pays for needs no job: its seats are free to take
    the moment it lapses, and the sweeper tidies its rows. The sweeper also catches any job lost here.
    It runs a second late so that a clock a little ahead of the database's does not find the hold live."""
    queues.enqueue(redis_store.client, queues.HOLDS, "workers.jobs.expire_hold", hold_id,
                   job_id=f"expire-hold-{hold_id}", at=expires_at + timedelta(seconds=1))
