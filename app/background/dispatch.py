"""What a committed transaction asks for: queue the jobs, update the seat hints. A transaction
registers its ``Followups`` on its unit of work (``uow.after_commit(followups.run)``), which runs
them once it commits (``app/unit_of_work.py``)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from app.background import queues
from app.extensions import redis_store
from app.inventory.hints import SeatHints

log = logging.getLogger(__name__)


@dataclass
class Followups:
    """Side effects outside Postgres that a transaction asks for, run after it commits: registered with
    ``uow.after_commit(followups.run)`` before the commit; whatever they carry is also recorded in
    Postgres, so the sweeper finds a lost job."""

    notifications: list[int] = field(default_factory=list)
    refunds: list[uuid.UUID] = field(default_factory=list)
    booked_seats: dict[int, list[str]] = field(default_factory=dict)
    freed_seats: dict[int, list[str]] = field(default_factory=dict)

    def merge(self, other: Followups) -> Followups:
        self.notifications += other.notifications
        self.refunds += other.refunds
        for target, source in ((self.booked_seats, other.booked_seats), (self.freed_seats, other.freed_seats)):
            for show_id, seats in source.items():
                target.setdefault(show_id, []).extend(seats)
        return self

    def run(self) -> None:
        """Queues the jobs and updates the seat hints, all in one round trip (one MULTI ... EXEC) when
        the queues and the hints share a Redis (ARCHITECTURE.md "Redis by role"), else one each."""
        client = redis_store.queues
        pipe = client.pipeline()
        pipe.multi()  # RQ puts a job's commands in a transaction; the hints ride along in it
        hints = redis_store.limits
        hints_pipe = pipe if hints is client else hints.pipeline(transaction=False)
        for notification_id in self.notifications:
            queues.enqueue(
                client,
                queues.NOTIFICATIONS,
                "workers.jobs.send_notification",
                notification_id,
                job_id=f"notification-{notification_id}",
                pipeline=pipe,
            )
        for refund_id in self.refunds:
            queues.enqueue(
                client,
                queues.PAYMENTS,
                "workers.jobs.execute_refund",
                str(refund_id),
                job_id=f"refund-{refund_id}",
                pipeline=pipe,
            )
        for show_id, seats in self.booked_seats.items():
            SeatHints.queue_booked(hints_pipe, show_id, seats)
        for show_id, seats in self.freed_seats.items():
            SeatHints.queue_clear(hints_pipe, show_id, seats)
        for each in (pipe, hints_pipe) if hints_pipe is not pipe else (pipe,):
            if not len(each):
                continue
            try:
                each.execute()
            except redis.RedisError as exc:
                # Jobs and hints alike are only hints of what Postgres holds: the sweeper re-queues the
                # jobs, and a missing or stale hint only sends a request to Postgres.
                log.warning("could not queue jobs or update seat hints after a commit: %s", exc)


def schedule_hold_expiry(hold_id: str, expires_at: datetime) -> None:
    """The delayed job that ends a paying hold on time: once its time is up, only the gateway can say
    whether the payment went through. A hold nobody pays for needs no job: its seats are free to take
    the moment it lapses, and the sweeper tidies its rows. The sweeper also catches any job lost here.
    It runs a second late so that a clock a little ahead of the database's does not find the hold live."""
    queues.enqueue(
        redis_store.queues,
        queues.HOLDS,
        "workers.jobs.expire_hold",
        hold_id,
        job_id=f"expire-hold-{hold_id}",
        at=expires_at + timedelta(seconds=1),
    )


def queue_webhook_event(event_id: str) -> None:
    """The job that acts on a stored gateway event; if it is lost, the sweeper finds the unprocessed event."""
    queues.enqueue(
        redis_store.queues,
        queues.WEBHOOKS,
        "workers.jobs.process_webhook_event",
        event_id,
        job_id=f"webhook-{event_id}",
    )
