"""Prometheus metrics: every figure Seatline's processes publish, named in one place.

How they are collected (README "Watching a sale", ARCHITECTURE.md "Metrics"):

- Each process kind (web, browse, gate, worker, scheduler) runs with its own
  ``PROMETHEUS_MULTIPROC_DIR``: prometheus_client's multiprocess mode, where every process (every
  gunicorn worker, every RQ work horse) writes its figures to files there, and one scrape adds them
  up. ``app.ops.listener`` serves that scrape on the kind's internal metrics address (``METRICS_BIND``),
  from the gunicorn master or the worker's and scheduler's main process, never through the edge.
- Without that variable (tests, ``flask shell``) the figures live in this process and ``GET /metrics``
  on a process's own address shows them.
- Figures about state rather than events (queue depths, the waiting rooms' lengths, notifications
  pending, the oldest payment not yet settled) are read at scrape time by the scheduler's listener
  (``app.ops.state``), so a cluster reports each once.

The metrics below are module-level: each process creates them once, whatever the number of apps.
Metrics that belong to one app instance (its rate limiter's fallback, login slowdowns, abandoned
requests) are created with ``registry(app)`` instead.
"""

from __future__ import annotations

import os

from flask import Flask
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

EXTENSION = "seatline.metrics"

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Request latency buckets, in seconds: a hold answers in a few ms on a quiet machine and the flash
# sale's targets are 0.5 s (waiting-room status) and 1 s (hold, payment, confirm).
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Jobs run from a few ms (a hold's expiry) to tens of seconds (a show's cancellation, refunds).
JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def registry(app: Flask) -> CollectorRegistry:
    """The app's own registry (for metrics that belong to one app instance), created on first use."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions[EXTENSION] = CollectorRegistry(auto_describe=True)
    return found


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


# The metrics below write to files there as soon as they are created (at import): it must exist.
if multiprocess_dir():
    os.makedirs(multiprocess_dir(), exist_ok=True)  # type: ignore[arg-type]


def exposition(app: Flask) -> bytes:
    """What a scrape of this process kind reads: every process's figures added up in multiprocess
    mode, else this process's own (module-level and the app's)."""
    path = multiprocess_dir()
    if path:
        collected = CollectorRegistry()
        MultiProcessCollector(collected, path)
        return generate_latest(collected)
    return generate_latest(REGISTRY) + generate_latest(registry(app))


# ------------------------------------------------------------------------------------------ HTTP

HTTP_REQUEST_DURATION = Histogram(
    "seatline_http_request_duration_seconds",
    "Requests answered, by service, method, route template and status; time inside the app",
    ["service", "method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)

# ------------------------------------------------------------------------------------ seats, holds

HOLDS_CREATED = Counter("seatline_holds_created", "Holds created", ["kind"])  # kind: seats, best
HOLDS_REJECTED = Counter("seatline_holds_rejected", "Hold requests refused, by the error code answered", ["reason"])
HOLDS_EXPIRED = Counter("seatline_holds_expired", "Holds that lapsed unpaid and gave their seats back")
HOLDS_RELEASED = Counter("seatline_holds_released", "Holds released by their fan (or a show's cancellation)")
SEAT_HINTS = Counter(
    "seatline_seat_hints", "Hold attempts checked against the seat hints first, by what the hint said", ["result"]
)  # result: hit (refused early: the seats are taken), miss (went on to Postgres)

# ----------------------------------------------------------------------------- payments, bookings

PAYMENT_INTENTS = Counter(
    "seatline_payment_intents", "Payment intent requests, by outcome", ["outcome"]
)  # outcome: created, reused, refused, gateway_error
CONFIRMS = Counter("seatline_confirms", "Confirm requests, by outcome", ["outcome"])
# outcome: confirmed, already_confirmed, pending, refused, gateway_error
BOOKINGS_CONFIRMED = Counter("seatline_bookings_confirmed", "Bookings confirmed (tickets issued)", ["path"])
# path: confirm (the fan's request), webhook, reconcile (the sweeper), box_office
BOOKINGS_CANCELLED = Counter("seatline_bookings_cancelled", "Bookings cancelled, by who", ["by"])  # fan, show
REFUNDS = Counter("seatline_refunds", "Refunds that reached a state", ["state"])  # requested, succeeded, failed
WEBHOOK_EVENTS = Counter(
    "seatline_webhook_events", "Gateway webhook deliveries, by event type and outcome", ["type", "outcome"]
)  # outcome: processed, duplicate, ignored, bad_signature, failed

# ---------------------------------------------------------------------- caches, breakers, limits

RESPONSE_CACHE = Counter(
    "seatline_response_cache", "Shared-response cache lookups, by cache and result", ["cache", "result"]
)  # result: hit, miss, stale
BREAKER_STATE = Gauge(
    "seatline_breaker_state",
    "Circuit breaker state, worst of this kind's processes: 0 closed, 1 half-open, 2 open",
    ["breaker"],
    multiprocess_mode="livemax",
)
BREAKER_TRIPS = Counter("seatline_breaker_trips", "Times a circuit breaker opened", ["breaker"])
# Requests refused by a rate limit: seatline_rate_limited_total{limit}, counted by the limiter
# (app/api/rate_limits.py) in its app's registry.

# ----------------------------------------------------------------------------------- PostgreSQL

DB_POOL_IN_USE = Gauge(
    "seatline_db_pool_connections_in_use",
    "Pooled PostgreSQL connections checked out, across this kind's processes",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "seatline_db_pool_waiting",
    "Threads waiting for a pooled PostgreSQL connection, across this kind's processes",
    multiprocess_mode="livesum",
)

# ------------------------------------------------------------------------------------------ jobs

JOB_DURATION = Histogram(
    "seatline_job_duration_seconds",
    "Background jobs run, by task (the job's function) and outcome",
    ["task", "outcome"],
    buckets=JOB_BUCKETS,
)  # outcome: succeeded, failed. Not "job": Prometheus' own label for the scraped target.
JOB_FAILURES = Counter("seatline_job_failures", "Background jobs that raised, by task", ["task"])

# --------------------------------------------------------------------------------- waiting rooms

WAITING_ROOM_JOINS = Counter("seatline_waiting_room_joins", "Places taken in a waiting room", ["event"])
WAITING_ROOM_ADMITTED = Counter("seatline_waiting_room_admitted", "Fans admitted from a waiting room", ["event"])
