"""Circuit breakers on the booking path (ARCHITECTURE.md rule 6: browsing survives booking trouble).

When Postgres stops answering (a restart, an exhausted pool, statements hitting their timeout),
every booking request would otherwise hold a thread for the pool's or the statement's timeout
before failing, and a flash sale's traffic would pile up behind them. After ``breaker_fail_max``
such failures in a row, the breaker opens: booking requests answer 503 DEGRADED with Retry-After at
once, without touching the pool, until ``breaker_reset_seconds`` have passed; then one request is
let through, and its success closes the breaker again. Catalog and seat-map reads are not behind
it: they are served from the shared cache (and its last good copy, app/response_cache.py).

The gateway has a breaker of its own, inside ``PaymentGateway`` (app/payments/gateway.py).
Breakers are per process: each gunicorn worker finds out for itself, after a handful of failures.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

import psycopg
import pybreaker
from flask import Flask
from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout

from app.config import Settings
from app.errors import Degraded

log = logging.getLogger(__name__)

# Every endpoint that writes bookings, holds or payments (API, pages and the gateway's webhook).
BOOKING_PATH = (
    "inventory_api.create_hold", "inventory_api.release_hold", "payments_api.create_payment_intent",
    "payments_api.gateway_webhook", "booking_api.confirm", "booking_api.cancel_booking",
    "site.hold_from_page", "site.hold_best_available", "site.release_from_page",
    "site_checkout.checkout", "site_checkout.cancel_from_page",
)


def database_unreachable(exc: BaseException) -> bool:
    """Postgres did not answer in time (not a constraint, not a bad request: those are the app's)."""
    return isinstance(exc, (OperationalError, PoolTimeout, psycopg.OperationalError))


class _Log(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        log.warning("circuit %s: %s -> %s", cb.name, getattr(old_state, "name", old_state), new_state.name)


def breaker(name: str, settings: Settings, counts: Callable[[BaseException], bool]) -> pybreaker.CircuitBreaker:
    """A breaker that counts only the failures ``counts`` accepts; any other exception passes through."""
    return pybreaker.CircuitBreaker(
        name=name, fail_max=settings.breaker_fail_max, reset_timeout=settings.breaker_reset_seconds,
        exclude=[lambda exc: not counts(exc)], listeners=[_Log()], throw_new_error_on_trip=False,
    )


def retry_after(cb: pybreaker.CircuitBreaker) -> int:
    """Whole seconds a client should wait: the breaker lets a request through after its reset time."""
    return max(1, math.ceil(cb.reset_timeout))


def init_app(app: Flask, settings: Settings) -> None:
    """Puts the booking path's views behind the Postgres breaker. Call after every blueprint."""
    postgres = breaker("postgres", settings, database_unreachable)
    app.extensions["seatline.breakers"] = {"postgres": postgres}
    for endpoint in BOOKING_PATH:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _behind(postgres, app.view_functions[endpoint])


def _behind(cb: pybreaker.CircuitBreaker, view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return cb.call(view, *args, **kwargs)
        except pybreaker.CircuitBreakerError as exc:
            raise Degraded(
                "booking is busy: the booking service is not answering; your place in the sale is kept, "
                "try again in a moment", retryAfter=retry_after(cb),
            ) from exc
    return guarded
