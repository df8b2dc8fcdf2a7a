"""Rate limits on what bots hammer: holding seats, starting payments, joining a waiting room,
logging in and signing up.

Counted in Redis (``RATE_LIMIT_STORAGE_URL``, by default ``REDIS_URL``) with a moving window per
rule, scope and key (the ``limits`` library's items and key names), so every process of the web
app and the gate shares one count. Each limited call has a limit per fan (the authenticated
user) and one per client IP; logins count failed attempts per submitted email and client IP,
against password guessing (an email under attack from many addresses makes its logins wait a
little, ``app/api/login_slowdown.py``, never refuses them: nobody can lock a fan out). The API's
and the site's forms share their counts (a fan's holds are counted together, whichever way they
were made).

Over a limit the request is refused before it does anything: ``429 RATE_LIMITED`` with
``Retry-After`` (a page for the site's forms). If the store is unreachable, each process
counts in its own memory, allowing ``1/RATE_LIMIT_FALLBACK_DIVISOR`` of each limit, until the
store answers again; a warning is logged once per outage and ``/metrics`` shows it.

Each view says what limits it with ``@rate_limited(HOLDS)`` and the other rules of
``app/rate_limit_rules.py``, written at the view. Every app gets its own limiter (``init_app``,
called once its blueprints are registered), so the web app and the gate, or apps with different
settings side by side in a test run, never share a limiter's state: it wraps each view of its app
that carries the mark.

**One round trip.** Everything a limited request checks in Redis before its database work goes in
one pipeline (ARCHITECTURE.md "A hold, step by step"): the bearer token's (or the site session's)
revocation ``HMGET`` (``app/accounts/revocation.py``), one script that counts all of the request's
limits (``_COUNT``), and the read the view named with ``reads=`` (a hold's seat hints,
``app/inventory/hints.py``). The token's signature is verified first, without Redis, to know whose
limits these are; the revocation's answer is kept for ``current_user()``, and a revoked token is
refused there (401) as before. So the per-fan limit counts a signed, unexpired token before its
revocation is known: a revoked token's requests count against its own fan. With
``RATE_LIMIT_STORAGE_URL`` set to another server the limits take a second round trip of their own.

That is why the limits are counted here and not by Flask-Limiter, which this module used before:
it checks each limit item with a call of its own (four round trips for a hold), and evaluating a
request's limits together needs its storage's scripts run in the caller's pipeline, which its
decorators do not offer. ``_COUNT`` keeps its semantics: the items in order of their period, the
shortest first, each one counted only if every one before it had room, and the first that has
none refuses the request (earlier ones keep their count); a failures-only rule is only tested
before the request and counted after it, if the request failed. The in-memory fallback is the
``limits`` library's own moving window (``MemoryStorage``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import orjson
import redis
from flask import Flask, Response, after_this_request, current_app, g, render_template, request, session
from flask_babel import lazy_gettext
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter, Gauge
from redis.exceptions import NoScriptError

from app.accounts.revocation import revocations
from app.api.http import _wants_page, bearer_token_user, error_response
from app.api.login_slowdown import LoginSlowdown
from app.config import Settings
from app.errors import DomainError
from app.extensions import connect, is_cluster, redis_roles
from app.ops.metrics import registry
from app.rate_limit_rules import Key, Limits, Read, Rule, limits_of, remember_read

log = logging.getLogger(__name__)

EXTENSION = "seatline.rate_limits"
KEY_PREFIX = "seatline"
# Keys as Flask-Limiter named them, with whom they count as a hash tag in front:
# LIMITER:{<key>}:LIMITER/seatline/<key>/<scope>/<item>.
STORAGE_PREFIX = "LIMITER:"

# KEYS: one list of timestamps per limit item, in the order they are checked. ARGV[1]: now; then
# per item its amount, its period in seconds and whether to count it (1) or only test it (0).
# The moving window of the ``limits`` library's acquire_moving_window.lua, for several items at
# once: an item has room while its list's entry at index amount-1 is absent or older than the
# window. Returns 0 if every item had room, else {the item's index (from 1), its oldest entry}.
_COUNT = """
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local amount = tonumber(ARGV[i * 3 - 1])
  local expiry = tonumber(ARGV[i * 3])
  local entry = redis.call('LINDEX', KEYS[i], amount - 1)
  if entry and tonumber(entry) >= now - expiry then
    return {i, entry}
  end
  if ARGV[i * 3 + 1] == '1' then
    redis.call('LPUSH', KEYS[i], ARGV[1])
    redis.call('LTRIM', KEYS[i], 0, amount - 1)
    redis.call('EXPIRE', KEYS[i], expiry)
  end
end
return 0
"""
_PROBE_MAX_SECONDS = 32  # with a store of its own: while it is out, asked again after 1, 2, 4 ... 32 s


class RateLimited(Exception):
    """A request over one of its limits (answered 429)."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after


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
    # Whose token or session it is, without Redis: its revocation is checked in the same round trip
    # as the limits (``RateLimits.check``) and enforced by the call itself.
    who = _who()
    return f"user:{who[0]}" if who is not None else None


def _who() -> tuple[int, str | None, bool] | None:
    """(user id, the token's jti, whether its revocation is still to be checked) of a signed, unexpired
    token on the JSON APIs or the site session's user on pages; None if nobody."""
    if request.path.startswith(("/api/", "/gate/v1/")):
        if not request.headers.get("Authorization"):
            return None
        try:
            user = bearer_token_user()
        except DomainError:  # the call itself answers 401
            return None
        return user.id, user.jti, g.get("user") is None
    opened = session._get_current_object()  # type: ignore[attr-defined]
    user_id = dict.get(opened, "user_id")  # read unchecked: the check is queued, CheckedSession makes it
    return (user_id, None, bool(getattr(opened, "unchecked", False))) if isinstance(user_id, int) else None


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


def _failed_login(response: Response) -> bool:
    # 401 INVALID_CREDENTIALS from the API; 422 from the site's login form and the gate's join form.
    return response.status_code in (401, 422)


# Whom each rule counts (app/rate_limit_rules.py names them).
KEYS: dict[Key, Callable[[], str | None]] = {
    Key.FAN: fan,
    Key.CLIENT_IP: client_ip,
    Key.EMAIL_FROM_IP: email_from_ip,
    Key.EMAIL: submitted_email,
}

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
    "password-resets": "password-reset requests for this email",
    "password-resets-ip": "password-reset requests from your network",
    "verification-resends": "verification emails",
    "gateway-calls": "payment confirmations and releases",
    "gateway-calls-ip": "payment confirmations and releases from your network",
}

# The rate-limited page's sentence for each scope, in the page's language (``WHAT`` words the API's).
PAGE_WHAT = {
    "holds": lazy_gettext("Too many seat holds. Try again in %(seconds)s seconds."),
    "holds-ip": lazy_gettext("Too many seat holds from your network. Try again in %(seconds)s seconds."),
    "payment-intents": lazy_gettext("Too many payment attempts. Try again in %(seconds)s seconds."),
    "payment-intents-ip": lazy_gettext(
        "Too many payment attempts from your network. Try again in %(seconds)s seconds."
    ),
    "joins": lazy_gettext("Too many waiting-room joins. Try again in %(seconds)s seconds."),
    "joins-ip": lazy_gettext("Too many waiting-room joins from your network. Try again in %(seconds)s seconds."),
    "logins": lazy_gettext(
        "Too many failed logins for this email from your network. Try again in %(seconds)s seconds."
    ),
    "logins-ip": lazy_gettext("Too many logins from your network. Try again in %(seconds)s seconds."),
    "signups-ip": lazy_gettext("Too many sign-ups from your network. Try again in %(seconds)s seconds."),
    "password-changes": lazy_gettext("Too many wrong current passwords. Try again in %(seconds)s seconds."),
    "password-resets": lazy_gettext(
        "Too many password-reset requests for this email. Try again in %(seconds)s seconds."
    ),
    "password-resets-ip": lazy_gettext(
        "Too many password-reset requests from your network. Try again in %(seconds)s seconds."
    ),
    "verification-resends": lazy_gettext("Too many verification emails. Try again in %(seconds)s seconds."),
    "gateway-calls": lazy_gettext("Too many payment confirmations and releases. Try again in %(seconds)s seconds."),
    "gateway-calls-ip": lazy_gettext(
        "Too many payment confirmations and releases from your network. Try again in %(seconds)s seconds."
    ),
    "transfers": lazy_gettext("Too many ticket transfers. Try again in %(seconds)s seconds."),
    "transfers-ip": lazy_gettext("Too many ticket transfers from your network. Try again in %(seconds)s seconds."),
}


# ------------------------------------------------------------------------------ the limiter


@dataclass(frozen=True)
class _Item:
    rule: Rule
    item: RateLimitItem
    key: str  # whom it counts ("user:7", "ip:10.0.0.1", ...)

    @property
    def storage_key(self) -> str:
        # Whom it counts is the key's hash tag: a Redis Cluster keeps that fan's (or address's) counts
        # in one slot, where one script counts them together (``_queue_count``).
        return f"{STORAGE_PREFIX}{{{self.key}}}:" + self.item.key_for(KEY_PREFIX, self.key, self.rule.scope)

    @property
    def counted_now(self) -> bool:
        return not self.rule.failures_only


class _ClusterRound:
    """A request's checks as queued for a Redis Cluster (``RateLimits._run_on_cluster`` runs them): the
    commands the checks queue (``HMGET``, ``ZMSCORE``, the counting script's ``EVAL``), kept in
    order. redis-py's cluster pipeline keeps its commands out of reach and routes scripts slowly."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.commands)

    def execute_command(self, *args: Any) -> None:
        self.commands.append(args)

    def hmget(self, name: str, *keys: Any) -> None:
        self.execute_command("HMGET", name, *keys)

    def zmscore(self, key: str, members: list[Any]) -> None:
        self.execute_command("ZMSCORE", key, *members)


class RateLimits:
    """One app's limiter, with its limits read from Settings and its fallback state."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.settings = settings
        checks_url = settings.redis_url_for("limits")
        self.storage_url = settings.rate_limit_storage_url or checks_url
        # The limits share the client of the request's other checks (the revocation copy, the seat
        # hints: the limits role) and so their round trip, unless they have a store of their own.
        self.shared = self.storage_url == checks_url
        # Like the app's own Redis clients: short timeouts and one quick retry, never a stall.
        self.redis: Any = redis_roles(app).limits if self.shared else connect(self.storage_url, settings)
        self.cluster = is_cluster(self.redis)
        self._count = self.redis.register_script(_COUNT)  # its sha; run with EVALSHA in the pipeline
        self.memory = MovingWindowRateLimiter(MemoryStorage())
        self._items: dict[str, tuple[list[RateLimitItem], list[RateLimitItem]]] = {}  # setting: (items, in memory)
        self.endpoints: dict[str, Limits] = {}  # the endpoints this app limits (apply)
        self._outage_lock = threading.Lock()
        self.in_outage = False
        self._next_probe = 0.0
        self._probe_wait = 1.0
        metrics = registry(app)
        self.fallback_total = Counter(
            "seatline_rate_limit_fallback",
            "Times this process lost the rate-limit store and began counting in memory",
            registry=metrics,
        )
        self.fallback_active = Gauge(
            "seatline_rate_limit_fallback_active",
            "1 while this process (in multiprocess mode: any live one of its kind) counts rate limits in memory",
            registry=metrics,
            multiprocess_mode="livemax",
        )
        self.slowdown = LoginSlowdown(app, settings, submitted_email, _failed_login)
        self.limited_total = Counter(
            "seatline_rate_limited",
            "Requests refused with 429 RATE_LIMITED, by the limit they broke",
            ["limit"],
            registry=metrics,
        )

    # -------------------------------------------------------------------- wrapping the views

    def apply(self, app: Flask) -> None:
        """Wraps every view of ``app`` marked ``@rate_limited`` in its limits (outside whatever wraps it
        already, the booking breaker included: a refused request never reaches it)."""
        for endpoint in list(app.view_functions):
            view: Callable[..., Any] = app.view_functions[endpoint]
            limits = limits_of(view)
            if limits is None:
                continue
            for rule in limits.rules:
                if rule.setting not in self._items:
                    value = getattr(self.settings, rule.setting)
                    fallback = _fallback_value(value, self.settings.rate_limit_fallback_divisor)
                    self._items[rule.setting] = (
                        list(parse_many(value)) if value else [],
                        list(parse_many(fallback)) if fallback else [],
                    )
            if any(rule.failures_only for rule in limits.rules):
                view = self.slowdown.wrap(endpoint, view)
            app.view_functions[endpoint] = self._wrap(view, limits)
            self.endpoints[endpoint] = limits

    def _wrap(self, view: Callable[..., Any], limits: Limits) -> Callable[..., Any]:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if request.method in limits.methods:
                read = limits.reads(**kwargs) if limits.reads is not None else None
                self.check(limits, read)
            return view(*args, **kwargs)

        return limited

    # -------------------------------------------------------------------- the check

    def check(self, limits: Limits, read: Read | None) -> None:
        """The request's one round trip: its revocation check, its limits and its view's read."""
        who = _who()
        # The shared store is asked on every request anyway (the revocation check); a store of its own,
        # once out of reach, only now and then.
        in_memory = self.in_outage and not self.shared and time.monotonic() < self._next_probe
        items = self._request_items(limits, in_memory)
        counted_in_redis = bool(items) and not in_memory
        pipe = self._round()
        user_id, jti, check_token = who if who is not None else (0, None, False)
        if check_token:
            revocations().queue(pipe, user_id, jti)
        if read is not None:
            read.queue(pipe)
        counts = 0
        if counted_in_redis and self.shared:
            counts = self._queue_count(pipe, items)
        replies: list[Any] | None = self._run(pipe) if len(pipe) else []
        count_reply: Any = None
        if counted_in_redis and not self.shared:
            own = self._round()
            self._queue_count(own, items)
            own_replies = self._run(own)
            count_reply = self._merge_counts(items, own_replies) if own_replies is not None else None
        elif counted_in_redis:
            count_reply = self._merge_counts(items, replies[-counts:]) if replies is not None else None
        if check_token:
            revocations().prefetched(user_id, jti, replies[0] if replies is not None else None)
        if read is not None:
            offset = 1 if check_token else 0
            read.take(replies[offset : offset + 1] if replies is not None else None)
            remember_read(read)
        if not items:
            return
        if counted_in_redis and (count_reply is None or isinstance(count_reply, Exception)):
            if count_reply is not None:
                log.warning("rate limit script failed: %s", count_reply)
            self._note_outage(True)
            items = self._request_items(limits, True)
            in_memory = True
        elif counted_in_redis:
            self._note_outage(False)
        if in_memory:
            self._count_in_memory(items)
        elif count_reply != 0:
            index, oldest = int(count_reply[0]), float(count_reply[1])
            broken = items[index - 1]
            raise RateLimited(broken.rule.scope, max(1, math.ceil(oldest + broken.item.get_expiry() - time.time())))
        deductions = [item for item in items if not item.counted_now]
        if deductions:
            g.seatline_rate_limit_deductions = (deductions, in_memory)
            after_this_request(self.deduct)

    def _request_items(self, limits: Limits, in_memory: bool) -> list[_Item]:
        """The request's limit items, in the order Flask-Limiter checked them (by period, shortest first)."""
        items: list[_Item] = []
        for rule in limits.rules:
            key = KEYS[rule.key]()
            if key is None:
                continue  # nobody to count (the per-IP limit still counts the request)
            normal, fallback = self._items[rule.setting]
            items.extend(_Item(rule, item, key) for item in (fallback if in_memory else normal))
        return sorted(items, key=lambda i: i.item.GRANULARITY.seconds)

    def _queue_count(self, pipe: Any, items: list[_Item], only_count: bool = False) -> int:
        """Queues the count of ``items`` on ``pipe``; how many commands that took (one on a plain Redis).

        On a Redis Cluster a script only touches the keys of one hash slot: each key's items (its
        periods, the key a hash tag) are counted by a script of their own, and a request is refused
        by the first item, in the order above, that has no room. There an item over its limit does
        not stop the next key's items from being counted (README "Configuration")."""
        now = time.time()
        groups = [items] if not self.cluster else list(_by_key(items).values())
        for group in groups:
            args: list[Any] = [now]
            for i in group:
                args += [i.item.amount, i.item.get_expiry(), 1 if (only_count or i.counted_now) else 0]
            keys = [i.storage_key for i in group]
            if self.cluster:
                # Sent with EVALSHA on its own (_run_on_cluster): a cluster's pipelines refuse EVALSHA.
                pipe.execute_command("EVAL", _COUNT, len(keys), *keys, *args)
            else:
                pipe.evalsha(self._count.sha, len(keys), *keys, *args)
        return len(groups)

    def _merge_counts(self, items: list[_Item], replies: list[Any]) -> Any:
        """One reply like the script's from the replies of ``_queue_count``'s commands: 0 if every
        item had room, else ``[index, oldest]`` of the first (in ``items``' order) that had none, or
        the first failure (an exception) if any."""
        if not self.cluster:
            return replies[0]
        refused: list[tuple[int, Any]] = []
        for group, reply in zip(_by_key(items).values(), replies, strict=True):
            if reply is None or isinstance(reply, Exception):
                return reply
            if reply != 0:
                refused.append((items.index(group[int(reply[0]) - 1]) + 1, reply[1]))
        return [*min(refused, key=lambda r: r[0])] if refused else 0

    def _round(self) -> Any:
        """Where a request's checks are queued: a pipeline, or on a Redis Cluster a `_ClusterRound`."""
        return _ClusterRound() if self.cluster else self.redis.pipeline(transaction=False)

    def _run(self, pipe: Any) -> list[Any] | None:
        """The pipeline's replies (a failed command's as its exception), or None if Redis did not answer."""
        try:
            if isinstance(pipe, _ClusterRound):
                return self._run_on_cluster(pipe.commands)
            commands = list(pipe.command_stack)
            replies = pipe.execute(raise_on_error=False)
            if any(isinstance(r, NoScriptError) for r in replies):
                # The server lost its scripts (restarted, or SCRIPT FLUSH): load ours, ask once more.
                self.redis.script_load(_COUNT)
                again = self.redis.pipeline(transaction=False)
                again.command_stack.extend(commands)
                replies = again.execute(raise_on_error=False)
            return replies
        except redis.RedisError as exc:
            log.debug("rate limit and revocation checks: Redis did not answer: %s", exc)
            return None

    def _run_on_cluster(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """A round's commands, the same replies as a pipeline's ``execute(raise_on_error=False)``. The
        counting scripts go one by one, straight to their key's node: redis-py's cluster pipeline asks
        the server for the keys of every EVAL it routes (COMMAND GETKEYS, a round trip of its own
        each), which made a join's limits cost more round trips than they count; a script called on
        its own is routed by its keys without asking. The other commands (the revocation copy, the
        reads) go in one pipeline, a round trip per node."""
        replies: list[Any] = [None] * len(commands)
        keyed = self.redis.pipeline(transaction=False)
        positions = []
        for index, command in enumerate(commands):
            if command[0] != "EVAL":
                keyed.execute_command(*command)
                positions.append(index)
                continue
            try:
                try:
                    replies[index] = self.redis.execute_command("EVALSHA", self._count.sha, *command[2:])
                except NoScriptError:  # that node lost its scripts (restarted, or a new master): send it whole
                    replies[index] = self.redis.execute_command(*command)
            except redis.ResponseError as exc:
                replies[index] = exc
        if positions:
            for index, reply in zip(positions, keyed.execute(raise_on_error=False), strict=True):
                replies[index] = reply
        return replies

    def _count_in_memory(self, items: list[_Item], only_count: bool = False) -> None:
        for i in items:
            counted = only_count or i.counted_now
            args = (KEY_PREFIX, i.key, i.rule.scope)
            allowed = self.memory.hit(i.item, *args) if counted else self.memory.test(i.item, *args)
            if not allowed:
                reset = self.memory.get_window_stats(i.item, *args).reset_time
                raise RateLimited(i.rule.scope, max(1, math.ceil(reset - time.time())))

    def deduct(self, response: Response) -> Response:
        """After a failures-only request: counts it if it failed (a failed login)."""
        pending = g.pop("seatline_rate_limit_deductions", None)
        if pending is None or not _failed_login(response):
            return response
        items, in_memory = pending
        try:
            if in_memory:
                self._count_in_memory(items, only_count=True)
            else:
                pipe = self._round()
                self._queue_count(pipe, items, only_count=True)
                if self._run(pipe) is None:
                    self._note_outage(True)
        except RateLimited:
            pass  # counted as far as there was room: the next attempt is refused
        return response

    def _note_outage(self, dead: bool) -> None:
        """Whether the limiter counts in memory now; notes (once) when that starts or ends."""
        if dead:
            self._next_probe = time.monotonic() + self._probe_wait
            self._probe_wait = min(self._probe_wait * 2, _PROBE_MAX_SECONDS)
        else:
            self._probe_wait = 1.0
        if dead == self.in_outage:
            return
        with self._outage_lock:
            if dead == self.in_outage:
                return
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
                    "rate limit store %s answers again: rate limits are shared again", _redacted(self.storage_url)
                )


def _by_key(items: list[_Item]) -> dict[str, list[_Item]]:
    """``items`` grouped by the hash slot of their storage key (whom and what they count), in order."""
    groups: dict[str, list[_Item]] = {}
    for i in items:
        groups.setdefault(_hash_tag(i.storage_key), []).append(i)
    return groups


def _hash_tag(key: str) -> str:
    return key[key.index("{") + 1 : key.index("}")]


def _fallback_value(value: str, divisor: int) -> str:
    if not value:
        return value
    items: list[RateLimitItem] = parse_many(value)
    return ";".join(f"{max(1, item.amount // divisor)}/{item.multiples} {item.GRANULARITY.name}" for item in items)


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


def _rate_limited(exc: RateLimited) -> Response:
    limits: RateLimits = current_app.extensions[EXTENSION]
    limits.limited_total.labels(exc.scope).inc()
    retry_after = exc.retry_after
    message = f"too many {WHAT.get(exc.scope, 'requests')}; try again in {retry_after} s"
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if _wants_page():
        page = render_template(
            "site/rate_limited.html",
            message=str(PAGE_WHAT.get(exc.scope, lazy_gettext("Too many requests. Try again in %(seconds)s seconds.")))
            % {"seconds": retry_after},
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
    ``app.circuit.init_app``: the limits are checked before the breaker). Nothing runs on requests to
    views without limits."""
    settings: Settings = app.extensions["seatline.settings"]
    if not settings.rate_limits_enabled or EXTENSION in app.extensions:
        return
    limits = RateLimits(app, settings)
    app.extensions[EXTENSION] = limits
    limits.apply(app)
    app.register_error_handler(RateLimited, _rate_limited)
