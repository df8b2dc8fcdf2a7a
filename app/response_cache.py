"""Short-lived Redis cache of rendered responses, rebuilt from Postgres on a miss.

Only one process rebuilds a key at a time; the others wait briefly for its
result. If Redis is unreachable the response is built directly: a cache outage
costs speed, never correctness.

Every rebuild also keeps a "last good" copy for an hour. When Postgres cannot be reached, the
catalog and seat maps are answered from it (DESIGN rule 6: browsing survives booking trouble),
marked with a ``Warning: 110`` header; a seat map's own ``asOf`` says how old it is. Holds are
still decided by Postgres alone, so a stale map can only make a seat look free that is not.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from flask import Flask, Response, g, has_request_context

from app.circuit import database_unreachable

log = logging.getLogger(__name__)

LOCK_SECONDS = 5
LAST_GOOD_SECONDS = 3600
STALE_WARNING = '110 - "Response is Stale"'
WAIT_FOR_PEER_SECONDS = 1.0
POLL_SECONDS = 0.02


def cached_bytes(client: redis.Redis, key: str, ttl_ms: int, build: Callable[[], bytes]) -> bytes:
    try:
        hit = client.get(key)
        if hit is not None:
            return hit
        if not client.set(f"{key}:rebuild", b"1", nx=True, ex=LOCK_SECONDS):
            deadline = time.monotonic() + WAIT_FOR_PEER_SECONDS
            while time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                hit = client.get(key)
                if hit is not None:
                    return hit
    except redis.RedisError as exc:
        log.warning("response cache unavailable, building %s directly: %s", key, exc)
        return build()

    try:
        value = build()
    except BaseException as exc:
        _forget_lock(client, key)
        if database_unreachable(exc):
            stale = _last_good(client, key)
            if stale is not None:
                log.warning("database unreachable; serving the last good copy of %s: %s", key, exc)
                if has_request_context():
                    g.served_stale = True
                return stale
        raise
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(key, value, px=ttl_ms)
        # The last good copy is copied inside Redis: a stadium's 9 MB map crosses the wire once.
        pipe.copy(key, f"{key}:last", replace=True)
        pipe.expire(f"{key}:last", LAST_GOOD_SECONDS)
        pipe.delete(f"{key}:rebuild")
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not store %s in the response cache: %s", key, exc)
    return value


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
