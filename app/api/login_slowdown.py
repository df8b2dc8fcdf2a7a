"""Slowing down password guessing aimed at one email, without ever locking its owner out.

Failed logins are refused per (email, client address) and every login per address
(``app/api/rate_limits.py``): a guesser's own address is soon throttled, while the fan, from any
other address, still logs in at once with the right password. What is counted per email alone
is only used to slow things down: once an email has had more than ``LOGIN_SLOWDOWN_AFTER``
failed logins within ``LOGIN_SLOWDOWN_WINDOW_SECONDS`` (from anywhere), every login attempt
for it waits before the password is checked, longer as failures pile up, up to
``LOGIN_SLOWDOWN_MAX_SECONDS``. The fan pays that short wait once; a guesser pays it on every
try. The wait is bounded twice so that an attack on many emails cannot occupy a process: no
longer than the maximum, and at most ``LOGIN_SLOWDOWN_CONCURRENCY`` requests of a process wait at
once (others go on without waiting, counted in ``seatline_login_slowdown_skipped_total``).

The count lives in Redis (one ``GET`` before, one ``INCR`` after a failure); without Redis
nobody is slowed down, and the refusing limits fall back to their in-memory counts.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Response, after_this_request, current_app, request
from prometheus_client import Counter

from app.config import Settings
from app.extensions import redis_roles
from app.ops.metrics import registry

log = logging.getLogger(__name__)


def delay_for(failures: int, after: int, max_seconds: float) -> float:
    """Seconds to wait before checking a password for an email with ``failures`` recent failed logins:
    none up to ``after``, then growing linearly to ``max_seconds`` over the next ``after`` failures."""
    if failures <= after or max_seconds <= 0:
        return 0.0
    return max_seconds * min(1.0, (failures - after) / max(after, 1))


class LoginSlowdown:
    def __init__(
        self, app: Flask, settings: Settings, email_key: Callable[[], str | None], failed: Callable[[Response], bool]
    ) -> None:
        self.after = settings.login_slowdown_after
        self.window = settings.login_slowdown_window_seconds
        self.max_seconds = settings.login_slowdown_max_seconds
        self._waiting = threading.BoundedSemaphore(max(1, settings.login_slowdown_concurrency))
        self._email_key = email_key
        self._failed = failed
        metrics = registry(app)
        self.slowed_total = Counter(
            "seatline_login_slowdown", "Login attempts made to wait: their email is under attack", registry=metrics
        )
        self.skipped_total = Counter(
            "seatline_login_slowdown_skipped",
            "Login attempts that would have waited, let through at once because "
            "enough requests of this process were already waiting",
            registry=metrics,
        )

    def wrap(self, endpoint: str, view: Callable[..., Any]) -> Callable[..., Any]:
        """``view``, waiting first when its email is under attack (inside the limits: a refused request never waits)."""

        @functools.wraps(view)
        def slowed(*args: Any, **kwargs: Any) -> Any:
            if request.method == "POST":
                after_this_request(self._count_failure)  # only on these views: no hook on any other request
                self._wait()
            return view(*args, **kwargs)

        return slowed

    def _key(self, email: str) -> str:
        return f"seatline:login-failures:{email}"

    def _wait(self) -> None:
        email = self._email_key()
        if email is None:
            return
        try:
            failures = int(_redis().get(self._key(email)) or 0)
        except redis.RedisError:
            return
        delay = delay_for(failures, self.after, self.max_seconds)
        if delay <= 0:
            return
        if not self._waiting.acquire(blocking=False):
            self.skipped_total.inc()
            return
        try:
            self.slowed_total.inc()
            time.sleep(delay)
        finally:
            self._waiting.release()

    def _count_failure(self, response: Response) -> Response:
        if not self._failed(response):
            return response
        email = self._email_key()
        if email is None:
            return response
        try:
            with _redis().pipeline(transaction=False) as pipe:
                pipe.incr(self._key(email))
                pipe.expire(self._key(email), self.window, nx=True)
                pipe.execute()
        except redis.RedisError as exc:
            log.debug("could not count a failed login: %s", exc)
        return response


def _redis() -> redis.Redis:
    return redis_roles(current_app).limits
