"""Named RQ queues and the one way the app puts work on them.

Every job takes ids only and is safe to run twice or concurrently; what it acts
on is also recorded in Postgres (an outbox row, a pending refund, an unprocessed
webhook event, an expired hold), so if Redis loses a job the periodic sweeper
finds the work again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from app.ops.observe import current_request_id

log = logging.getLogger(__name__)

WEBHOOKS = "webhooks"
PAYMENTS = "payments"
HOLDS = "holds"
NOTIFICATIONS = "notifications"
# Workers take queues in this order: money first, then seats, then mail.
ALL_QUEUES = (WEBHOOKS, PAYMENTS, HOLDS, NOTIFICATIONS)

JOB_TIMEOUT = 60
REQUEST_ID_META = "request_id"
FAILURE_TTL = 7 * 24 * 3600
RETRY = Retry(max=5, interval=[2, 5, 15, 30, 60])


def queue(name: str, connection: redis.Redis) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer, default_timeout=JOB_TIMEOUT)


def enqueue(
    connection: redis.Redis,
    queue_name: str,
    func: str,
    *args: Any,
    job_id: str | None = None,
    at: datetime | None = None,
    delay: timedelta | None = None,
    pipeline: redis.client.Pipeline | None = None,
) -> bool:
    """Queues ``func(*args)``; returns False (and logs) if Redis is unavailable — the sweeper catches up.

    With ``pipeline`` (a transaction, ``connection.pipeline()``) the job's commands are only added to
    it: the caller sends them, with whatever else it carries, in one round trip (``Followups.run``)."""
    q = queue(queue_name, connection)
    options: dict[str, Any] = {"job_id": job_id, "failure_ttl": FAILURE_TTL, "retry": RETRY, "job_timeout": JOB_TIMEOUT}
    request_id = current_request_id()
    if request_id is not None:  # the job's log lines name the request that queued it (workers/cli.py)
        options["meta"] = {REQUEST_ID_META: request_id}
    if pipeline is not None:
        options["pipeline"] = pipeline
    try:
        if at is not None:
            q.enqueue_at(at, func, *args, **options)
        elif delay is not None:
            q.enqueue_in(delay, func, *args, **options)
        else:
            q.enqueue(func, *args, **options)
        return True
    except redis.RedisError as exc:
        log.warning("could not queue %s%r on %s (the sweeper will pick it up): %s", func, args, queue_name, exc)
        return False
