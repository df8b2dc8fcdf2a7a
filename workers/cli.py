"""`flask worker` and `flask scheduler`: the background processes, started from the app's CLI."""

from __future__ import annotations

import logging
import signal
import time
from contextlib import suppress
from datetime import UTC, datetime

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from app.background import queues
from app.ops import listener, metrics, observe
from app.ops.state import StateCollector

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "seatline-periodic-sweep"
GATE_TICK_JOB_ID = "seatline-gate-tick"
# Revocations that could not be copied to Redis when they were made (app/accounts/revocation.py).
REVOCATION_COPIES_JOB_ID = "seatline-revocation-copies"
REVOCATION_COPIES_SECONDS = 5
# Scan answers kept past their use (app/manage/checkin.py forget_old_nonces).
CHECKIN_NONCES_JOB_ID = "seatline-checkin-nonces"
CHECKIN_NONCES_SECONDS = 3600
# How often a worker checks that its delayed-job scheduler is alive (RQ restarts it when it is not, e.g.
# after Redis went away) and cleans its registries; RQ's default is every 10 minutes.
WORKER_MAINTENANCE_SECONDS = 30
REDIS_RETRY_SECONDS = 1.0
# The job meta field naming the scheduler that enqueued a periodic job (PeriodicScheduler).
ENQUEUED_BY = "enqueued_by"


class JsonJob(Job):
    """rq-scheduler creates jobs without a serializer; this makes them JSON like every other job."""

    @classmethod
    def create(cls, *args, **kwargs):
        kwargs["serializer"] = JSONSerializer
        return super().create(*args, **kwargs)

    @classmethod
    def fetch(cls, id, connection=None, serializer=None):  # noqa: A002 (RQ's signature)
        return super().fetch(id, connection=connection, serializer=JSONSerializer)


def _worker_connection() -> redis.Redis:
    # Workers block on Redis for new jobs: no short socket timeout here.
    return redis.Redis.from_url(current_app.extensions["seatline.settings"].redis_url_for("queues"))


class SeatlineWorker(SimpleWorker):
    """Jobs run in this process, reusing one app and its connection pool: forking a work horse per job
    would build the app and open new database connections every time (the gate's admission tick runs
    every second). Remembers whether it was asked to stop, so that a stop can be told from RQ giving up
    on a lost Redis connection. Each job runs under the id of the request that queued it (its log
    lines carry it) and is timed and counted by job and outcome (app/ops/metrics.py)."""

    stopping = False

    def perform_job(self, job: Job, queue) -> bool:
        token = observe.bind(job.meta.get(queues.REQUEST_ID_META))
        started = time.perf_counter()
        succeeded = False
        try:
            succeeded = super().perform_job(job, queue) is not False  # RQ answers False when it raised
            return succeeded
        finally:
            name = (job.func_name or "unknown").rsplit(".", 1)[-1]
            metrics.JOB_DURATION.labels(name, "succeeded" if succeeded else "failed").observe(
                time.perf_counter() - started
            )
            if not succeeded:
                metrics.JOB_FAILURES.labels(name).inc()
            observe.unbind(token)

    def request_stop(self, signum, frame):
        self.stopping = True
        super().request_stop(signum, frame)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker on every Seatline queue (delayed jobs included).

    RQ's worker waits out a lost Redis connection only while it waits for a job; lost anywhere else
    (between two jobs, say) it ends its loop. Redis is rebuildable and may restart at any time, so the
    worker then starts again once Redis answers, until it is asked to stop."""
    connection = _worker_connection()
    worker: SeatlineWorker | None = None
    listener.prepare_directory()
    listener.serve(current_app.extensions["seatline.settings"].metrics_bind)

    def stopping() -> bool:
        return worker is not None and worker.stopping

    while True:
        try:
            # Until a worker has run, SIGTERM has its default effect; after, the last worker's handler
            # notes it (raising StopRequested when idle, as here).
            _wait_for_redis(connection, stopping)
        except StopRequested:
            return
        if stopping():
            return
        try:
            worker = SeatlineWorker(
                [queues.queue(name, connection) for name in queues.ALL_QUEUES],
                connection=connection,
                serializer=JSONSerializer,
                maintenance_interval=WORKER_MAINTENANCE_SECONDS,
            )
            worker.work(with_scheduler=True, burst=burst)
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # from its start or its teardown
            log.warning("worker lost Redis: %s", exc)
            with suppress(Exception):
                worker.pubsub_thread.stop()  # type: ignore[union-attr]  # none yet: nothing to stop
        if burst or stopping():
            return
        log.warning("the worker ended on a Redis error; a new one starts once Redis answers")


def _wait_for_redis(connection: redis.Redis, stopping=lambda: False) -> None:
    announced = False
    while not stopping():
        try:
            connection.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not announced:
                log.warning("waiting for Redis: %s", exc)
                announced = True
            time.sleep(REDIS_RETRY_SECONDS)


# The scheduler lock: held by the one scheduler that enqueues (its own name in it), renewed on each
# pass; another takes over once it lapses, at most this long after its holder was lost.
SCHEDULER_LOCK_SECONDS = 10
# Renews the lock only if this scheduler still holds it; takes it if nobody does. 1 if held after.
_HOLD_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class PeriodicScheduler(Scheduler):
    """rq-scheduler running Seatline's periodic jobs, through Redis restarts and flushes, as one copy
    however many schedulers run (README, the table of processes).

    The schedule lives in Redis: after Redis restarts empty or is flushed, the periodic jobs (the
    sweeper, the gate's admission tick) would never run again. So before each pass the scheduler puts
    back any that are missing. A lost connection ends rq-scheduler's loop: ``run_forever`` waits for
    Redis and carries on instead.

    One copy: rq-scheduler takes ``rq:scheduler_lock`` for each pass and drops it after, so several
    schedulers take turns, and one whose pass outlived the lock deletes the next holder's lock. Here
    the lock holds this scheduler's name and is kept (renewed each pass, ``_HOLD_LOCK``) for as long
    as the scheduler lives, released only by its holder (``_RELEASE_LOCK``) when it stops; the others
    stand by and take over once it lapses (``SCHEDULER_LOCK_SECONDS`` after a holder is lost).
    Each job it enqueues names it (``ENQUEUED_BY``)."""

    def __init__(self, periodic: tuple[tuple[str, str, int], ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.periodic = periodic
        self.redis_lost = False
        self.leading = False
        self._hold = self.connection.register_script(_HOLD_LOCK)
        self._release = self.connection.register_script(_RELEASE_LOCK)

    def acquire_lock(self) -> bool:
        self._lock_acquired = bool(self._hold(keys=[self.scheduler_lock_key], args=[self.key, SCHEDULER_LOCK_SECONDS]))
        return self._lock_acquired

    def remove_lock(self) -> None:
        """Kept between passes (rq-scheduler drops it after each): released by ``release_lock``."""

    def release_lock(self) -> None:
        if self._lock_acquired:
            self._release(keys=[self.scheduler_lock_key], args=[self.key])
            self._lock_acquired = False

    def enqueue_job(self, job: Job) -> None:
        job.meta[ENQUEUED_BY] = self.key  # saved with the job as it is queued
        super().enqueue_job(job)

    def run(self, burst: bool = False) -> None:
        """rq-scheduler's loop, with the lock kept while this scheduler leads (``acquire_lock``)."""
        self.register_birth()
        self._install_signal_handlers()
        try:
            while True:
                started = time.time()
                self.heartbeat()
                if self.acquire_lock():
                    if not self.leading:
                        log.info("%s holds the scheduler lock: it enqueues the periodic jobs", self.key)
                        self.leading = True
                        self.schedule_periodic(replace=True)  # this run's intervals replace earlier ones
                    self.enqueue_jobs()
                elif self.leading:
                    log.warning("%s lost the scheduler lock: standing by", self.key)
                    self.leading = False
                if burst:
                    return
                time.sleep(max(0.0, self._interval - (time.time() - started)))
        finally:
            with suppress(redis.RedisError):
                self.register_death()

    def schedule_periodic(self, replace: bool = False) -> None:
        for job_id, func, every in self.periodic:
            if job_id in self:
                if not replace:
                    continue
                self.cancel(job_id)
            elif not replace:
                self.log.warning(
                    "periodic job %s was missing from the schedule (Redis lost it); scheduled again", job_id
                )
            self.schedule(
                scheduled_time=datetime.now(UTC),
                func=func,
                interval=every,
                repeat=None,
                id=job_id,
                timeout=queues.JOB_TIMEOUT,
                result_ttl=every * 2,
            )

    def enqueue_jobs(self):
        self.redis_lost = False
        self.schedule_periodic()
        return super().enqueue_jobs()

    def register_birth(self) -> None:
        # A key under this scheduler's own name can only be left over from before a lost connection.
        self.connection.delete(self.key)
        super().register_birth()

    def _install_signal_handlers(self) -> None:
        def stop(signum, frame):
            self.log.info("Shutting down RQ scheduler...")
            with suppress(redis.RedisError):
                self.release_lock()
                self.register_death()
            raise SystemExit()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def run_forever(self) -> None:
        while True:
            try:
                self.run()
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if not self.redis_lost:  # once per outage
                    self.log.warning("scheduler lost Redis (%s); carrying on once it answers", exc)
                    self.redis_lost = True
                time.sleep(REDIS_RETRY_SECONDS)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run rq-scheduler with the periodic sweeper (hold expiry safety net and reconciliation).

    Its metrics listener also reads, at each scrape, the figures about state (queue depths, waiting
    rooms, notifications and payments outstanding; app/ops/state.py), while it holds the scheduler
    lock: of several schedulers, the one that enqueues reports them, so they are counted once."""
    connection = _worker_connection()
    listener.prepare_directory()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    interval = current_app.extensions["seatline.settings"].sweeper_interval_seconds
    periodic = (
        (SWEEP_JOB_ID, "workers.jobs.sweep", interval),
        (GATE_TICK_JOB_ID, "workers.jobs.gate_tick", 1),
        (REVOCATION_COPIES_JOB_ID, "workers.jobs.copy_revocations", REVOCATION_COPIES_SECONDS),
        (CHECKIN_NONCES_JOB_ID, "workers.jobs.forget_checkin_nonces", CHECKIN_NONCES_SECONDS),
    )
    scheduler = PeriodicScheduler(
        periodic, queue_name=queues.HOLDS, connection=connection, job_class=JsonJob, interval=1
    )
    listener.serve(
        app.extensions["seatline.settings"].metrics_bind, [StateCollector(app, reporting=lambda: scheduler.leading)]
    )
    _wait_for_redis(connection)
    # The periodic jobs are scheduled (again, with this run's intervals) once it holds the lock.
    scheduler.run_forever()
