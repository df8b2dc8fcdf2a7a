"""Circuit breakers on the booking path (ARCHITECTURE.md rule 6: browsing survives booking trouble).

When Postgres stops answering (a restart, an exhausted pool, statements hitting their timeout),
every booking request would otherwise hold a thread for the pool's or the statement's timeout
before failing, and a flash sale's traffic would pile up behind them. After ``breaker_fail_max``
such failures in a row, the breaker opens: booking requests answer 503 DEGRADED with Retry-After at
once, without touching the pool, until ``breaker_reset_seconds`` have passed; then one request is
let through, and its success closes the breaker again. Catalog and seat-map reads are not behind
it: they are served from the shared cache (and its last good copy, app/response_cache.py).

Every view that writes bookings, holds or payments (API, pages and the gateway's webhook) says so
with ``@behind_breaker``, written at the view. The decorator only marks the view function: each
app has a breaker of its own (settings differ between apps in a test run), and ``init_app`` puts
every marked view of its app behind it. The rate limits (``app/api/rate_limits.py``) wrap the
views afterwards, so they are checked first and a refused request never counts for the breaker.
``tests/unit/test_view_guards.py`` fails if a view loses its decorator.

The gateway has a breaker of its own, inside ``PaymentGateway`` (app/payments/gateway.py).
Breakers are per process: each gunicorn worker finds out for itself, after a handful of failures.
Every breaker publishes its state (``BREAKER_STATE``, 0 from its creation) and counts the times it
opened (``BREAKER_TRIPS``), by its name (``postgres``, ``gateway``): ``app/ops/metrics.py``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import psycopg
import pybreaker
from flask import Flask
from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout

from app.config import Settings
from app.errors import Degraded
from app.ops.metrics import BREAKER_STATE, BREAKER_TRIPS

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])

_MARK = "seatline_behind_breaker"


def behind_breaker(view: View) -> View:
    """Marks a view of the booking path: ``init_app`` puts it behind the app's Postgres breaker.
    Write it under the route decorator."""
    setattr(view, _MARK, True)
    return view


def is_behind_breaker(view: Callable[..., Any]) -> bool:
    """Whether ``view`` (or a view it wraps with ``functools.wraps``) is marked ``@behind_breaker``."""
    return getattr(view, _MARK, False) is True


def database_unreachable(exc: BaseException) -> bool:
    """Postgres did not answer in time (not a constraint, not a bad request: those are the app's)."""
    return isinstance(exc, (OperationalError, PoolTimeout, psycopg.OperationalError))


class _Log(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        before = getattr(old_state, "name", old_state)
        if before is not None and before != new_state.name:  # not the breaker's creation
            log.warning("circuit %s: %s -> %s", cb.name, before, new_state.name)


# BREAKER_STATE's values, the worst highest (the gauge is the worst of a kind's processes).
STATE_VALUES = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}


class _Metrics(pybreaker.CircuitBreakerListener):
    """The breaker's state as a gauge, and each time it opens (from closed or half-open) as a trip."""

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        BREAKER_STATE.labels(cb.name).set(STATE_VALUES.get(new_state.name, 0))
        if new_state.name == pybreaker.STATE_OPEN and getattr(old_state, "name", None) != pybreaker.STATE_OPEN:
            BREAKER_TRIPS.labels(cb.name).inc()


def breaker(name: str, settings: Settings, counts: Callable[[BaseException], bool]) -> pybreaker.CircuitBreaker:
    """A breaker that counts only the failures ``counts`` accepts; any other exception passes through.
    It starts closed, and its gauge says so."""
    cb = pybreaker.CircuitBreaker(
        name=name,
        fail_max=settings.breaker_fail_max,
        reset_timeout=settings.breaker_reset_seconds,
        exclude=[lambda exc: not counts(exc)],
        listeners=[_Log(), _Metrics()],
        throw_new_error_on_trip=False,
    )
    BREAKER_STATE.labels(name).set(STATE_VALUES[cb.current_state])
    return cb


def retry_after(cb: pybreaker.CircuitBreaker) -> int:
    """Whole seconds a client should wait: the breaker lets a request through after its reset time."""
    return max(1, math.ceil(cb.reset_timeout))


def init_app(app: Flask, settings: Settings) -> None:
    """Puts the app's views marked ``@behind_breaker`` behind its Postgres breaker. Call after every
    blueprint, and before ``app.api.rate_limits.init_app`` (the limits wrap the breaker)."""
    postgres = breaker("postgres", settings, database_unreachable)
    app.extensions["seatline.breakers"] = {"postgres": postgres}
    guarded: list[str] = []
    for endpoint, view in list(app.view_functions.items()):
        if is_behind_breaker(view):
            app.view_functions[endpoint] = _behind(postgres, view)
            guarded.append(endpoint)
    app.extensions["seatline.booking_path"] = tuple(guarded)  # the endpoints behind it


def _behind(cb: pybreaker.CircuitBreaker, view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return cb.call(view, *args, **kwargs)
        except pybreaker.CircuitBreakerError as exc:
            raise Degraded(
                "booking is busy: the booking service is not answering; your place in the sale is kept, "
                "try again in a moment",
                retryAfter=retry_after(cb),
            ) from exc

    return guarded
