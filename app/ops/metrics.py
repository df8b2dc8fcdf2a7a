"""Prometheus metrics: every figure Seatline's processes publish, named in one place.

How they are collected (README "Watching a sale", ARCHITECTURE.md "Metrics"):

- Each process kind (web, browse, gate, worker, scheduler) runs with its own
  ``PROMETHEUS_MULTIPROC_DIR``: prometheus_client's multiprocess mode, where every process (every
  gunicorn worker) writes its figures to files there, and one scrape adds them
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
#
# Each counted where its rule decides it, once the transaction that makes it true has committed
# (registered with ``uow.after_commit``): a hold rolled back was never created, a hold's end that
# rolled back never happened. Every hold created ends once: expired, released or confirmed (a booking).

# kind: seats (the fan's own seats: the API and the show page), best (the site's best available).
# app/inventory/services.py (hold_seats).
HOLDS_CREATED = Counter("seatline_holds_created", "Holds created", ["kind"])
# reason: the error code answered by the hold's rules (app/inventory/services.py hold_seats):
# SEATS_UNAVAILABLE (also best available finding no seats together), SEAT_LIMIT_EXCEEDED, SALE_CLOSED,
# SHOW_NOT_FOUND, ADMISSION_REQUIRED, VALIDATION_FAILED, INVALID_TOKEN. Refusals before the rules run
# (authentication, the body, rate limits, the breaker) show in the request histogram's status, in
# seatline_rate_limited_total and in BREAKER_STATE.
HOLDS_REJECTED = Counter("seatline_holds_rejected", "Hold requests refused, by the error code answered", ["reason"])
# Holds that ended EXPIRED: by the sweeper, the expiry job, a fan releasing a hold already lapsed, a
# hold or the box office taking over a lapsed hold's seats, a payment that came after its hold had
# lapsed (refunded). app/inventory/seat_state.py, app/inventory/queries.py, app/booking/queries.py (end_hold).
HOLDS_EXPIRED = Counter("seatline_holds_expired", "Holds that lapsed (ended EXPIRED) and gave their seats back")
# Holds that ended RELEASED: by their fan (a paying one once the gateway cancelled its payment), by a
# show's cancellation, or because the gateway refused to create their payment. Same modules.
# Door check-in scans by their answer: ADMITTED or the error code (app/manage/checkin_api.py).
CHECKINS = Counter("seatline_checkins", "Ticket scans at shows' doors, by answer", ["result"])
HOLDS_RELEASED = Counter("seatline_holds_released", "Holds released by their fan or by a show's cancellation")
# result: hit (refused early: the seats are taken), miss (went on to Postgres, also when Redis did
# not answer). app/inventory/services.py.
SEAT_HINTS = Counter(
    "seatline_seat_hints", "Hold attempts checked against the seat hints first, by what the hint said", ["result"]
)

# ----------------------------------------------------------------------------- payments, bookings
#
# app/booking/saga.py, app/booking/services.py, app/booking/queries.py, app/payments/services.py,
# app/manage/cancellation.py; what a transaction made true, once it has committed.

# outcome: created (recorded now), reused (the hold's intent again), refused (PAYMENT_REFUSED: the
# gateway will not take it), gateway_error (DEGRADED: it did not answer), not_payable (HOLD_NOT_FOUND,
# HOLD_EXPIRED, PAYMENT_NOT_NEEDED). The API's and the checkout page's alike (saga.start_payment).
PAYMENT_INTENTS = Counter("seatline_payment_intents", "Payment intent requests, by outcome", ["outcome"])
# outcome: confirmed (booked now), already_confirmed (booked before), not_paid (PAYMENT_NOT_COMPLETED),
# refunded (HOLD_EXPIRED with a refund: paid too late), gateway_error (DEGRADED), refused (any other
# error). Paid and free holds, the API's and the checkout page's alike (saga.confirm, saga.confirm_free).
CONFIRMS = Counter("seatline_confirms", "Confirm requests, by outcome", ["outcome"])
# path: confirm (the fan's confirm call), free (a hold costing nothing, confirmed without a payment),
# webhook (the gateway's event), reconcile (the sweeper's look at a payment left open), expiry (the job
# ending a paying hold found it paid), release (a fan releasing a paying hold found it paid);
# show_cancellation settles too but never books (saga.PATHS). The box office books nothing.
BOOKINGS_CONFIRMED = Counter("seatline_bookings_confirmed", "Bookings confirmed (tickets issued)", ["path"])
# by: fan (under the refund policy), show (the show's cancellation)
BOOKINGS_CANCELLED = Counter("seatline_bookings_cancelled", "Bookings cancelled, by who", ["by"])
# state: requested (a refund row written: a fan's cancellation, a show's, a top-up, a payment that could
# not be booked), succeeded (the gateway refunded it), failed (the gateway refused it)
REFUNDS = Counter("seatline_refunds", "Refunds that reached a state", ["state"])
# type: the event's type (e.g. payment_intent.succeeded), unknown for a delivery refused unread.
# outcome, per delivery: received (stored), duplicate (stored before), bad_signature (400
# INVALID_SIGNATURE), invalid (no id or type); per stored event's processing: processed (acted on),
# ignored (a type Seatline does not act on), failed (raised; its job is retried).
WEBHOOK_EVENTS = Counter(
    "seatline_webhook_events", "Gateway webhook deliveries, by event type and outcome", ["type", "outcome"]
)

# ---------------------------------------------------------------------- caches, breakers, limits

# cache: the key's family, catalog, seatmap, page (app/response_cache.py), or dashboard (the manager's
# sale figures, app/manage/dashboard.py). result: hit, miss (built here), stale (the last good copy:
# Postgres unreachable), unavailable (Redis did not answer: built directly).
RESPONSE_CACHE = Counter(
    "seatline_response_cache", "Shared-response cache lookups, by cache and result", ["cache", "result"]
)
# breaker: postgres (the booking path, app/circuit.py), gateway (app/payments/gateway.py); the state is
# set (0 when the breaker is created) and a trip counted by a listener on the breaker (app/circuit.py).
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
#
# Counted by the pool class of every app's engine (app/db_pool.py CountingQueuePool): a connection is
# in use from checkout to checkin; a thread waits while it is blocked on the pool's empty queue.

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
#
# event: the event's id. A join once its place is recorded in Postgres, admissions once committed
# (app/waiting_room/room.py); a room's length and active fans are state figures (app.ops.state).

WAITING_ROOM_JOINS = Counter("seatline_waiting_room_joins", "Places taken in a waiting room", ["event"])
WAITING_ROOM_ADMITTED = Counter("seatline_waiting_room_admitted", "Fans admitted from a waiting room", ["event"])
