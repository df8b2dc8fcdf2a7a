"""Short-lived Redis cache of rendered responses, rebuilt from Postgres on a miss.

Only one process rebuilds a key at a time; the others wait briefly for its
result. If Redis is unreachable the response is built directly: a cache outage
costs speed, never correctness.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

LOCK_SECONDS = 5
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
    except BaseException:
        _forget_lock(client, key)
        raise
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(key, value, px=ttl_ms)
        pipe.delete(f"{key}:rebuild")
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not store %s in the response cache: %s", key, exc)
    return value


def _forget_lock(client: redis.Redis, key: str) -> None:
    try:
        client.delete(f"{key}:rebuild")
    except redis.RedisError:
        pass
