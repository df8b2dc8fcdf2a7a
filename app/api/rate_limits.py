"""Rate limits on what bots hammer: holding seats, starting payments, joining a waiting room,
logging in and signing up.

Flask-Limiter counts in Redis (``RATE_LIMIT_STORAGE_URL``, by default ``REDIS_URL``) with a
moving window, so every process of the web app and the gate shares one count. Each limited
call has a limit per fan (the authenticated user) and one per client IP; logins count failed
attempts per submitted email and client IP, against password guessing (an email under attack from
many addresses makes its logins wait a little, ``app/api/login_slowdown.py``, never refuses
them: nobody can lock a fan out). The API's and the site's forms share their counts (a fan's
holds are counted together, whichever way they were made).

Over a limit the request is refused before it does anything: ``429 RATE_LIMITED`` with
``Retry-After`` (a page for the site's forms). If the store is unreachable, each process
counts in its own memory, allowing ``1/RATE_LIMIT_FALLBACK_DIVISOR`` of each limit, until the
store answers again; a warning is logged once per outage and ``/metrics`` shows it.

Each view says what limits it with ``@rate_limited(HOLDS)`` and the other rules of
``app/rate_limit_rules.py``, written at the view. Every app gets its own limiter (``init_app``,
called once its blueprints are registered), so the web app and the gate, or apps with different
settings side by side in a test run, never share a limiter's state: it wraps each view of its app
that carries the mark.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import orjson
from flask import Flask, Response, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import RateLimitItem, parse_many
from prometheus_client import Counter, Gauge
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.accounts.signed_in import signed_in_user
from app.api.http import _wants_page, current_user, error_response
from app.api.login_slowdown import LoginSlowdown
from app.config import Settings
from app.errors import DomainError
from app.ops.metrics import registry
from app.rate_limit_rules import Key, Limits, limits_of

log = logging.getLogger(__name__)

EXTENSION = "seatline.rate_limits"


# ------------------------------------------------------------------------------ whom a limit counts


def client_ip() -> str:
    """The client's address: the TCP peer's, or with TRUSTED_PROXY_HOPS the one the edge saw (ProxyFix)."""
    return f"ip:{request.remote_addr or 'unknown'}"


def _once(name: str, compute: Callable[[], str | None]) -> str | None:
    """``compute()``, worked out once per request (each limit asks for its key and its exemption)."""
    cache = request.environ.setdefault("seatline.rate_limit_keys", {})
    if name not in cache:
        cache[name] = compute()
    return cache[name]


def fan() -> str | None:
    """The authenticated user: the bearer token's on the JSON APIs, the session's on pages; None if nobody
    (the call then answers 401 or sends the browser to log in, and only the per-IP limit counts it)."""
    return _once("fan", _fan)


def _fan() -> str | None:
    if request.path.startswith(("/api/", "/gate/v1/")):
        if not request.headers.get("Authorization"):
            return None
        try:
            return f"user:{current_user().id}"
        except DomainError:  # the call itself answers 401
            return None
    user_id = signed_in_user()
    return f"user:{user_id}" if user_id is not None else None


def submitted_email() -> str | None:
    """The email a login names (hashed: no addresses in Redis keys), or None if there is none."""
    return _once("email", _submitted_email)


def _submitted_email() -> str | None:
    try:
        if request.path.startswith("/api/"):
            body = orjson.loads(request.get_data(cache=True) or b"null")
            email = body.get("email") if isinstance(body, dict) else None
        else:
            email = request.form.get("email")
        if not isinstance(email, str) or not email.strip():
            return None
        return "email:" + hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    except Exception:  # a body that is not JSON, or too large: the call itself answers 400 or 413
        # (and an error here must not pass for the store being down).
        return None


def email_from_ip() -> str | None:
    """The submitted email together with the client's address: failed logins count per pair, so
    someone guessing a fan's password from one address never locks the fan out of another."""
    return _once("email-ip", lambda: (email + "|" + client_ip()) if (email := submitted_email()) else None)


def _no_key(key: Callable[[], str | None]) -> bool:
    return key() is None


def _failed_login(response: Response) -> bool:
    # 401 INVALID_CREDENTIALS from the API; 422 from the site's login form and the gate's join form.
    return response.status_code in (401, 422)


# Whom each rule counts (app/rate_limit_rules.py names them).
KEYS: dict[Key, Callable[[], str | None]] = {Key.FAN: fan, Key.CLIENT_IP: client_ip, Key.EMAIL_FROM_IP: email_from_ip}

WHAT = {
    "holds": "seat holds",
    "holds-ip": "seat holds from your network",
    "payment-intents": "payment attempts",
    "payment-intents-ip": "payment attempts from your network",
    "joins": "waiting-room joins",
    "joins-ip": "waiting-room joins from your network",
    "logins": "failed logins for this email from your network",
    "logins-ip": "logins from your network",
    "signups-ip": "sign-ups from your network",
    "password-changes": "wrong current passwords",
    "gateway-calls": "payment confirmations and releases",
    "gateway-calls-ip": "payment confirmations and releases from your network",
}


# ------------------------------------------------------------------------------ the limiter


class RateLimits:
    """One app's limiter, with its limits read from Settings and its fallback state."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.settings = settings
        self.storage_url = settings.rate_limit_storage_url or settings.redis_url
        timeout = settings.redis_socket_timeout_seconds
        self.limiter = Limiter(
            key_func=client_ip,
            strategy="moving-window",
            storage_uri=self.storage_url,
            # Like the app's own Redis client: short timeouts and one quick retry, never a stall.
            storage_options=cast(
                "dict[str, Any]",
                {
                    "socket_timeout": timeout,
                    "socket_connect_timeout": timeout,
                    "retry": Retry(NoBackoff(), 1),
                    "health_check_interval": 30,
                },
            ),
            in_memory_fallback_enabled=True,
            # A failure inside the limiter lets the request through rather than failing it.
            swallow_errors=True,
            key_prefix="seatline",
            headers_enabled=False,
        )
        self.limiter.init_app(app)
        self._values: dict[str, tuple[str, str]] = {}  # each rule's setting: (its limit, its in-memory share)
        self.endpoints: dict[str, Limits] = {}  # the endpoints this app limits (apply)
        self._outage_lock = threading.Lock()
        self.in_outage = False
        metrics = registry(app)
        self.fallback_total = Counter(
            "seatline_rate_limit_fallback",
            "Times this process lost the rate-limit store and began counting in memory",
            registry=metrics,
        )
        self.fallback_active = Gauge(
            "seatline_rate_limit_fallback_active",
            "1 while this process counts rate limits in memory (store unreachable)",
            registry=metrics,
        )
        self.slowdown = LoginSlowdown(app, settings, submitted_email, _failed_login)
        self.limited_total = Counter(
            "seatline_rate_limited",
            "Requests refused with 429 RATE_LIMITED, by the limit they broke",
            ["limit"],
            registry=metrics,
        )

    def value(self, setting: str) -> str:
        """The limit now: the configured one, or its in-memory share while the store is unreachable."""
        normal, fallback = self._values[setting]
        return fallback if self.sync_outage() else normal

    def sync_outage(self) -> bool:
        """Whether the limiter counts in memory now; notes (once) when that starts or ends."""
        dead = bool(getattr(self.limiter, "_storage_dead", False))
        if dead != self.in_outage:
            with self._outage_lock:
                if dead != self.in_outage:
                    self.in_outage = dead
                    self.fallback_active.set(1 if dead else 0)
                    if dead:
                        self.fallback_total.inc()
                        log.warning(
                            "rate limit store %s is unreachable: each process now counts rate limits in memory, "
                            "allowing 1/%d of each limit, until it answers again",
                            _redacted(self.storage_url),
                            self.settings.rate_limit_fallback_divisor,
                        )
                    else:
                        log.warning(
                            "rate limit store %s answers again: rate limits are shared again",
                            _redacted(self.storage_url),
                        )
        return dead

    def apply(self, app: Flask) -> None:
        """Wraps every view of ``app`` marked ``@rate_limited`` in its limits (outside whatever wraps it
        already, the booking breaker included: a refused request never reaches it)."""
        for endpoint in list(app.view_functions):
            view: Callable[..., Any] = app.view_functions[endpoint]
            limits = limits_of(view)
            if limits is None:
                continue
            for rule in limits.rules:
                if rule.setting not in self._values:
                    value = getattr(self.settings, rule.setting)
                    self._values[rule.setting] = (
                        value,
                        _fallback_value(value, self.settings.rate_limit_fallback_divisor),
                    )
            if any(rule.failures_only for rule in limits.rules):
                view = self.slowdown.wrap(endpoint, view)
            for rule in limits.rules:
                key = KEYS[rule.key]
                view = self.limiter.shared_limit(
                    partial(self.value, rule.setting),
                    scope=rule.scope,
                    key_func=cast("Callable[[], str]", key),  # None only when exempt_when skips the count
                    methods=list(limits.methods),
                    exempt_when=partial(_no_key, key),
                    deduct_when=_failed_login if rule.failures_only else None,
                )(view)
            app.view_functions[endpoint] = view
            self.endpoints[endpoint] = limits

    def retry_after(self, exc: RateLimitExceeded) -> int:
        """Whole seconds until the broken limit lets one more request through."""
        current = self.limiter.current_limit
        try:
            if current is not None and current.breached:
                return max(1, math.ceil(current.window[0] - time.time()))
        except Exception:  # the store went away since: the limit's own period is a safe answer
            pass
        return max(1, int(exc.limit.limit.get_expiry()))


def _fallback_value(value: str, divisor: int) -> str:
    if not value:
        return value
    items: list[RateLimitItem] = parse_many(value)
    return ";".join(f"{max(1, item.amount // divisor)}/{item.multiples} {item.GRANULARITY.name}" for item in items)


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


def _rate_limited(exc: RateLimitExceeded) -> Response:
    limits: RateLimits = current_app.extensions[EXTENSION]
    scope = str(exc.limit.scope)
    limits.limited_total.labels(scope).inc()
    retry_after = limits.retry_after(exc)
    message = f"too many {WHAT.get(scope, 'requests')}; try again in {retry_after} s"
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if _wants_page():
        page = render_template(
            "site/rate_limited.html",
            message=message[:1].upper() + message[1:] + ".",
            retry_after=retry_after,
            back_url=_back_url(),
        )
        return Response(page, status=429, mimetype="text/html", headers=headers)
    return error_response(429, "RATE_LIMITED", message, headers=headers, retryAfter=retry_after)


def _back_url() -> str:
    """The page the form was on (same site only), else the home page."""
    referrer = request.referrer or ""
    host = request.host_url
    if referrer.startswith(host):
        return "/" + referrer[len(host) :]
    return current_app.config.get("PUBLIC_URL") or "/"


def init_app(app: Flask) -> None:
    """Limits the app's views marked ``@rate_limited``; call once its blueprints are registered (and after
    ``app.circuit.init_app``: the limits are checked before the breaker)."""
    settings: Settings = app.extensions["seatline.settings"]
    if not settings.rate_limits_enabled or EXTENSION in app.extensions:
        return
    limits = RateLimits(app, settings)
    app.extensions[EXTENSION] = limits
    limits.apply(app)
    # Every limit is a decorator's, checked by the view it wraps. The hook Flask-Limiter adds before
    # every request looks for application-wide limits, and Seatline sets none: without it an
    # unlimited call (a waiting page's status poll, a seat map) costs ~0.1 ms less.
    hooks = app.before_request_funcs.get(None, [])
    hooks[:] = [hook for hook in hooks if hook != limits.limiter._check_request_limit]
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    # The store's state also changes on calls without limits (the limiter looks for it coming back).
    app.after_request(_note_outage)
    # Flask-Limiter logs every refusal at INFO and its own outage warning; ours above say it once.
    logging.getLogger("flask-limiter").setLevel(logging.ERROR)


def _note_outage(response: Response) -> Response:
    current_app.extensions[EXTENSION].sync_outage()
    return response
