"""Short-lived Redis cache of rendered responses, rebuilt from Postgres on a miss.

Only one process rebuilds a key at a time; the others wait briefly for its
result. If Redis is unreachable the response is built directly: a cache outage
costs speed, never correctness.

A copy lives until the end of a whole second (``seconds - 1`` after the one it was built in),
and carries the moment it was built, so a response can tell caches in front exactly how long it
may be kept (``shared_response``): the edge keeps it fresh until the same second ends and may
serve it for one second more while it fetches the next copy in the background (README, "The edge
and a CDN"). A copy is therefore never more than ``seconds + 1`` old when a client gets it.

A copy's moment is that of its data: a copy built from a read replica is dated as of the replica's
proven freshness (``app/replica.py``), so the bound above counts from the data, replica or not.

Every rebuild of real content also keeps a "last good" copy for an hour (the caller says what is
real: an empty listing is not, and errors are never stored at all). When Postgres cannot be reached, the
catalog and seat maps are answered from it (ARCHITECTURE.md rule 6: browsing survives booking trouble),
marked with a ``Warning: 110`` header; a seat map's own ``asOf`` says how old it is. Holds are
still decided by Postgres alone, so a stale map can only make a seat look free that is not.

Every look-up is counted once (``RESPONSE_CACHE`` in ``app/ops/metrics.py``), under the family of its
key (``cache_name``: ``catalog``, ``seatmap``, ``page``) and by what answered it: ``hit`` (a stored
copy, also one a peer finished while this request waited), ``miss`` (built here), ``stale`` (the last
good copy, Postgres unreachable) or ``unavailable`` (Redis did not answer: built directly).
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Callable

import redis
from flask import Flask, Response, g, has_request_context

from app.api.http import json_bytes_response
from app.circuit import database_unreachable
from app.ops.metrics import RESPONSE_CACHE
from app.replica import data_dated

log = logging.getLogger(__name__)

LOCK_SECONDS = 5
LAST_GOOD_SECONDS = 3600
STALE_WARNING = '110 - "Response is Stale"'
WAIT_FOR_PEER_SECONDS = 1.0
POLL_SECONDS = 0.02
# A stored copy: the time it was built (seconds since the epoch, big-endian double), then the body.
_BUILT_AT = struct.Struct("!d")


def shared_response(
    client: redis.Redis,
    key: str,
    seconds: int,
    build: Callable[[], bytes],
    keep_last_good: Callable[[], bool] = lambda: True,
) -> Response:
    """A JSON response everyone shares, from the cache or built, with the headers caches in front obey.

    ``Cache-Control`` lets any cache keep it ``seconds`` and serve it ``stale-while-revalidate``
    one second more; ``X-Accel-Expires`` tells the edge (nginx, which counts whole seconds) the
    last second it is fresh, counted from when this copy was built rather than from now, so that
    the second the edge may add while revalidating keeps the whole under ``seconds + 1``.
    """
    built_at, body = cached_bytes(client, key, seconds, build, keep_last_good)
    return json_bytes_response(body, headers=shared_headers(built_at, seconds))


def shared_headers(built_at: float, seconds: int) -> dict[str, str]:
    """The headers of a response everyone shares whose content was built at ``built_at`` and is
    cached for ``seconds`` (``shared_response``; the site's anonymous pages send them too)."""
    if g.get("served_stale"):
        # The last good copy, marked with a Warning: the edge may share it until this second ends.
        built_at = time.time()
    return {
        "Cache-Control": f"public, max-age={seconds}, stale-while-revalidate=1",
        # After Cache-Control: nginx 1.22 lets the later of the two set the expiry.
        "X-Accel-Expires": f"@{math.floor(built_at) + seconds - 1}",
    }


def cache_name(key: str) -> str:
    """The family a key belongs to, its first part (``seatmap:12:full`` -> ``seatmap``): the
    ``cache`` label, a handful of values whatever the keys."""
    return key.split(":", 1)[0]


def cached_bytes(
    client: redis.Redis,
    key: str,
    seconds: int,
    build: Callable[[], bytes],
    keep_last_good: Callable[[], bool] = lambda: True,
) -> tuple[float, bytes]:
    """``(built_at, body)``: the stored copy of ``key``, or ``build()``'s, stored until the end of the
    second ``seconds - 1`` after this one; and as the last good copy if ``keep_last_good()`` says so
    (asked after ``build()``)."""
    name = cache_name(key)
    key = stored_key(key)
    try:
        deadline = time.monotonic() + WAIT_FOR_PEER_SECONDS
        while True:
            hit = client.get(key)
            if hit is not None:
                RESPONSE_CACHE.labels(name, "hit").inc()
                return _unpack(hit)
            # Whoever takes the lock rebuilds; the rest wait for its copy. A copy finished just as its
            # second ended is gone at once: the lock is free again and the next to look rebuilds.
            if client.set(f"{key}:rebuild", b"1", nx=True, ex=LOCK_SECONDS) or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
    except redis.RedisError as exc:
        log.warning("response cache unavailable, building %s directly: %s", key, exc)
        RESPONSE_CACHE.labels(name, "unavailable").inc()
        return _built(build)

    try:
        built_at, body = _built(build)
    except BaseException as exc:
        _forget_lock(client, key)
        if database_unreachable(exc):
            stale = _last_good(client, key)
            if stale is not None:
                log.warning("database unreachable; serving the last good copy of %s: %s", key, exc)
                if has_request_context():
                    g.served_stale = True
                RESPONSE_CACHE.labels(name, "stale").inc()
                return _unpack(stale)
        RESPONSE_CACHE.labels(name, "miss").inc()
        raise
    RESPONSE_CACHE.labels(name, "miss").inc()
    try:
        pipe = client.pipeline(transaction=False)
        # Gone when its last second ends, by Redis's clock (this machine's, as nginx's).
        expires_ms = (math.floor(built_at) + seconds) * 1000
        if expires_ms > time.time() * 1000:
            pipe.set(key, _BUILT_AT.pack(built_at) + body, pxat=expires_ms)
            if keep_last_good():
                # The last good copy is copied inside Redis: a stadium's 9 MB map crosses the wire once.
                pipe.copy(key, f"{key}:last", replace=True)
                pipe.expire(f"{key}:last", LAST_GOOD_SECONDS)
        elif keep_last_good():
            # Data from a second already over (a replica's): too old to share, still the last good.
            pipe.set(f"{key}:last", _BUILT_AT.pack(built_at) + body, ex=LAST_GOOD_SECONDS)
        pipe.delete(f"{key}:rebuild")
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not store %s in the response cache: %s", key, exc)
    return built_at, body


def stored_key(key: str) -> str:
    """The Redis key of ``key``'s copy: the key is its own hash tag, so that its copy, its lock and its
    last good copy share a slot of a Redis Cluster (COPY and the pipeline touch them together,
    ARCHITECTURE.md "Redis by role"); they are ``{key}``, ``{key}:rebuild`` and ``{key}:last``."""
    return "{" + key + "}"


def _built(build: Callable[[], bytes]) -> tuple[float, bytes]:
    """``(built_at, body)``, dated by its data: a read from a replica is as of the replica's
    freshness, earlier than now (app/replica.py)."""
    with data_dated() as dates:
        built_at = time.time()
        body = build()
    return min([built_at, *dates]), body


def _unpack(stored: bytes) -> tuple[float, bytes]:
    return _BUILT_AT.unpack_from(stored)[0], stored[_BUILT_AT.size :]


def _last_good(client: redis.Redis, key: str) -> bytes | None:
    try:
        return client.get(f"{key}:last")
    except redis.RedisError:
        return None


def init_app(app: Flask) -> None:
    @app.after_request
    def _mark_stale(response: Response) -> Response:
        if g.get("served_stale"):
            response.headers["Warning"] = STALE_WARNING
        return response


def _forget_lock(client: redis.Redis, key: str) -> None:
    try:
        client.delete(f"{key}:rebuild")
    except redis.RedisError:
        pass
