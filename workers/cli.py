"""`flask worker` and `flask scheduler`: the background processes, started from the app's CLI."""
from __future__ import annotations

from datetime import datetime, timezone

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from workers import queues

SWEEP_JOB_ID = "seatline-periodic-sweep"
GATE_TICK_JOB_ID = "seatline-gate-tick"


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
    return redis.Redis.from_url(current_app.extensions["seatline.settings"].redis_url)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker on every Seatline queue (delayed jobs included)."""
    connection = _worker_connection()
    # Jobs run in this process, reusing one app and its connection pool: forking a work horse
    # per job would build the app and open new database connections every time (the gate's
    # admission tick runs every second).
    worker = SimpleWorker(
        [queues.queue(name, connection) for name in queues.ALL_QUEUES],
        connection=connection,
        serializer=JSONSerializer,
    )
    worker.work(with_scheduler=True, burst=burst)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run rq-scheduler with the periodic sweeper (hold expiry safety net and reconciliation)."""
    connection = _worker_connection()
    interval = current_app.extensions["seatline.settings"].sweeper_interval_seconds
    scheduler = Scheduler(queue_name=queues.HOLDS, connection=connection, job_class=JsonJob, interval=1)
    for job_id, func, every in ((SWEEP_JOB_ID, "workers.jobs.sweep", interval),
                                (GATE_TICK_JOB_ID, "workers.jobs.gate_tick", 1)):
        if job_id in scheduler:
            scheduler.cancel(job_id)
        scheduler.schedule(
            scheduled_time=datetime.now(timezone.utc),
            func=func,
            interval=every,
            repeat=None,
            id=job_id,
            timeout=queues.JOB_TIMEOUT,
            result_ttl=every * 2,
        )
    scheduler.run()
