"""Figures about state, read when Prometheus scrapes: queues, waiting rooms, the outbox, money not settled.

``StateCollector(app)`` is a prometheus_client collector: each ``collect()`` reads Postgres once (one
statement, through ``execute_alone``: no transaction) and Redis once (one pipeline), and yields
gauges. Registered in one process of a cluster (the scheduler's metrics listener), so each figure is
reported once, however many processes run (``app/ops/metrics.py``).

- ``seatline_rq_queue_depth{queue}``: jobs waiting in each RQ queue (``app/background/queues.py``);
  jobs delayed until later (a paying hold's expiry) are not in it until they are due.
- ``seatline_rq_failed_jobs{queue}``: jobs in each queue's failed-job registry, those past their
  ``failure_ttl`` left out (as RQ's own count leaves them out).
- ``seatline_waiting_room_waiting{event}``, ``seatline_waiting_room_active{event}``: for each waiting
  room not closed, the fans with a place (or a pre-queue ticket) not yet admitted, and the admitted
  fans still counted against its cap: the figures of ``WaitingRoom.figures``.
- ``seatline_waiting_room_admission_rate{event}``: the room's configured admissions per second
  (batch size over admission interval, as the manager set them).
- ``seatline_notifications_pending``, ``seatline_notifications_dead_lettered``: outbox rows still to
  send, and given up (DEAD, ``NOTIFICATION_MAX_ATTEMPTS``).
- ``seatline_payments_unsettled_oldest_age_seconds``: how long ago the oldest payment intent still
  waiting to be settled (not yet succeeded or cancelled) was recorded; 0 if none is.
- ``seatline_refunds_failed``: refunds the gateway refused, in FAILED now.

Every count is read through an index (migration 0014 adds the partial ones the outbox's dead
letters, failed refunds and declined payments lacked). If Postgres or Redis does not answer, the
figures the other one gives are still yielded, the failure is logged once until it answers again,
and nothing is raised: a scrape never fails because a store is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq.registry import FailedJobRegistry

from app.background import queues
from app.extensions import redis_roles
from app.unit_of_work import execute_alone
from app.waiting_room.room import LIVE_FIGURE_REPLIES, live_figures, queue_live_figures

log = logging.getLogger(__name__)

RQ_QUEUE_DEPTH = "seatline_rq_queue_depth"
RQ_FAILED_JOBS = "seatline_rq_failed_jobs"
WAITING_ROOM_WAITING = "seatline_waiting_room_waiting"
WAITING_ROOM_ACTIVE = "seatline_waiting_room_active"
WAITING_ROOM_ADMISSION_RATE = "seatline_waiting_room_admission_rate"
NOTIFICATIONS_PENDING = "seatline_notifications_pending"
NOTIFICATIONS_DEAD_LETTERED = "seatline_notifications_dead_lettered"
PAYMENTS_UNSETTLED_OLDEST_AGE = "seatline_payments_unsettled_oldest_age_seconds"
REFUNDS_FAILED = "seatline_refunds_failed"

STATE_METRICS = (
    RQ_QUEUE_DEPTH,
    RQ_FAILED_JOBS,
    WAITING_ROOM_WAITING,
    WAITING_ROOM_ACTIVE,
    WAITING_ROOM_ADMISSION_RATE,
    NOTIFICATIONS_PENDING,
    NOTIFICATIONS_DEAD_LETTERED,
    PAYMENTS_UNSETTLED_OLDEST_AGE,
    REFUNDS_FAILED,
)

_HELP = {
    RQ_QUEUE_DEPTH: "Jobs waiting in each RQ queue",
    RQ_FAILED_JOBS: "Jobs in each RQ queue's failed-job registry",
    WAITING_ROOM_WAITING: "Fans in each open waiting room not yet admitted",
    WAITING_ROOM_ACTIVE: "Admitted fans still counted against each waiting room's cap",
    WAITING_ROOM_ADMISSION_RATE: "Each waiting room's configured admissions per second (batch size / interval)",
    NOTIFICATIONS_PENDING: "Outbox messages still to be sent",
    NOTIFICATIONS_DEAD_LETTERED: "Outbox messages given up after their last attempt (DEAD)",
    PAYMENTS_UNSETTLED_OLDEST_AGE: "Age of the oldest payment intent not yet settled (0 if none)",
    REFUNDS_FAILED: "Refunds the gateway refused (FAILED)",
}
_LABELS = {
    RQ_QUEUE_DEPTH: ["queue"],
    RQ_FAILED_JOBS: ["queue"],
    WAITING_ROOM_WAITING: ["event"],
    WAITING_ROOM_ACTIVE: ["event"],
    WAITING_ROOM_ADMISSION_RATE: ["event"],
}

# One statement for every Postgres figure, each through an index: the pending outbox rows
# (ix_notifications_pending), the dead ones (ix_notifications_dead), failed refunds
# (ix_refunds_failed), the oldest open payment (ix_payments_open for those awaiting payment or
# processing, ix_payments_declined for those whose card was declined and may be paid again), and the
# waiting rooms not closed (gate_queues: one row per event that has a room) with their rates.
STATE_SQL = """
    SELECT (SELECT count(*) FROM notifications WHERE status = 'PENDING') AS notifications_pending,
           (SELECT count(*) FROM notifications WHERE status = 'DEAD') AS notifications_dead,
           (SELECT count(*) FROM refunds WHERE status = 'FAILED') AS refunds_failed,
           coalesce(extract(epoch FROM now() - least(
               (SELECT min(created_at) FROM payments WHERE status IN ('REQUIRES_PAYMENT', 'PROCESSING')),
               (SELECT min(created_at) FROM payments WHERE status = 'FAILED')
           )), 0) AS oldest_unsettled_seconds,
           ARRAY(SELECT event_id FROM gate_queues WHERE state <> 'CLOSED' ORDER BY event_id) AS rooms,
           ARRAY(SELECT batch_size / admission_interval_seconds FROM gate_queues
                 WHERE state <> 'CLOSED' ORDER BY event_id) AS room_rates
"""


class StateCollector(Collector):
    """The state figures of the app's Postgres and Redis, read at each ``collect()`` (module docstring)."""

    def __init__(self, app: Flask, reporting: Callable[[], bool] = lambda: True) -> None:
        """``reporting()`` says whether this process reports them now: a scheduler only while it holds
        the scheduler lock (workers/cli.py), so that of several schedulers one reports, once."""
        self.app = app
        self.reporting = reporting
        roles = redis_roles(app)
        # RQ's queues and the waiting rooms: one pipeline when they share a Redis, else one each.
        self.redis: redis.Redis = roles.queues
        self.rooms: Any = roles.room
        # The Redis keys RQ keeps each queue and its failed jobs under (only their names: no round trip).
        self._rq_keys: list[tuple[str, str, str]] = []
        for name in queues.ALL_QUEUES:
            queue = queues.queue(name, self.redis)
            registry = FailedJobRegistry(queue=queue)
            self._rq_keys.append((name, queue.key, registry.key))
        self._failing: set[str] = set()  # the stores whose failure has been logged and not yet recovered

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The metrics' names for a registry's check, without reading anything."""
        for name in STATE_METRICS:
            yield GaugeMetricFamily(name, _HELP[name], labels=_LABELS.get(name))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.reporting():
            return
        families = {name: GaugeMetricFamily(name, _HELP[name], labels=_LABELS.get(name)) for name in STATE_METRICS}
        rooms: list[tuple[int, float]] = []
        database = self._read_database()
        if database is not None:
            families[NOTIFICATIONS_PENDING].add_metric([], database.notifications_pending)
            families[NOTIFICATIONS_DEAD_LETTERED].add_metric([], database.notifications_dead)
            families[REFUNDS_FAILED].add_metric([], database.refunds_failed)
            families[PAYMENTS_UNSETTLED_OLDEST_AGE].add_metric([], max(0.0, float(database.oldest_unsettled_seconds)))
            rooms = list(zip(database.rooms, database.room_rates))
            for event_id, rate in rooms:
                families[WAITING_ROOM_ADMISSION_RATE].add_metric([str(event_id)], float(rate))
        replies = self._read_redis([event_id for event_id, _ in rooms])
        if replies is not None:
            for name, _, _ in self._rq_keys:
                depth, unexpired, never_expire = replies[:3]
                replies = replies[3:]
                families[RQ_QUEUE_DEPTH].add_metric([name], depth)
                families[RQ_FAILED_JOBS].add_metric([name], unexpired + never_expire)
            for event_id, _ in rooms:
                waiting, active = live_figures(replies[:LIVE_FIGURE_REPLIES])
                replies = replies[LIVE_FIGURE_REPLIES:]
                families[WAITING_ROOM_WAITING].add_metric([str(event_id)], waiting)
                families[WAITING_ROOM_ACTIVE].add_metric([str(event_id)], active)
        for family in families.values():
            if family.samples:
                yield family

    def _read_database(self) -> Any:
        try:
            with self.app.app_context():
                row = execute_alone(STATE_SQL)[0]
        except Exception as exc:  # SQLAlchemy's errors above all; nothing may fail the scrape
            self._failed("postgres", exc)
            return None
        self._recovered("postgres")
        return row

    def _read_redis(self, rooms: list[int]) -> list[Any] | None:
        now = time.time()
        try:
            pipe = self.redis.pipeline(transaction=False)
            for _, queue_key, failed_key in self._rq_keys:
                pipe.llen(queue_key)
                # RQ scores a failed job with when it expires, or -1 for never (``FailedJobRegistry.add``).
                pipe.zcount(failed_key, now, "+inf")
                pipe.zcount(failed_key, "-inf", "(0")
            room_pipe = pipe if self.rooms is self.redis else self.rooms.pipeline(transaction=False)
            for event_id in rooms:
                queue_live_figures(room_pipe, event_id, now)
            replies = pipe.execute()
            if room_pipe is not pipe:
                replies += room_pipe.execute() if rooms else []
        except Exception as exc:  # RedisError above all; nothing may fail the scrape
            self._failed("redis", exc)
            return None
        self._recovered("redis")
        return replies

    def _failed(self, store: str, exc: Exception) -> None:
        if store not in self._failing:
            self._failing.add(store)
            log.warning("state metrics: %s did not answer, its figures are left out until it does: %s", store, exc)

    def _recovered(self, store: str) -> None:
        if store in self._failing:
            self._failing.discard(store)
            log.info("state metrics: %s answers again", store)
