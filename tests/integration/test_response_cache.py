"""The shared response cache (app/response_cache.py) on the test Redis: a copy lives until the end of
the second it was built in and knows when that was, so the edge can be told how long to keep it."""

from __future__ import annotations

import threading
import time

from app import response_cache
from app.response_cache import cached_bytes, stored_key


def next_second(at: float = 0.0) -> None:
    """Waits until ``at`` past the start of the next second."""
    time.sleep(1 - time.time() % 1 + at)


def test_a_copy_lives_until_the_end_of_the_second_it_was_built_in(rds):
    builds: list[float] = []

    def build() -> bytes:
        builds.append(time.time())
        return b"copy %d" % len(builds)

    next_second(0.3)
    built_at, body = cached_bytes(rds, "test:cache:a", 1, build)
    assert body == b"copy 1" and len(builds) == 1 and 0 <= builds[0] - built_at < 0.1  # taken just before
    assert 0 < rds.pttl(stored_key("test:cache:a")) <= 700
    assert cached_bytes(rds, "test:cache:a", 1, build) == (built_at, b"copy 1")  # no second build

    next_second(0.05)
    again_at, body = cached_bytes(rds, "test:cache:a", 1, build)
    assert body == b"copy 2" and int(again_at) == int(built_at) + 1
    # Kept a second longer when asked to.
    cached_bytes(rds, "test:cache:b", 3, build)
    assert 2000 < rds.pttl(stored_key("test:cache:b")) <= 3000


def test_nobody_waits_for_a_copy_that_was_gone_as_soon_as_it_was_stored(rds, monkeypatch):
    # A rebuild that ends after its second has ended stores a copy that expires at once. Whoever was
    # waiting for it must not wait out their whole patience: the lock is free, so they rebuild.
    monkeypatch.setattr(response_cache, "WAIT_FOR_PEER_SECONDS", 60.0)
    started = threading.Event()

    def slow_build() -> bytes:
        started.set()
        time.sleep(0.2)
        return b"late"

    answers: list[bytes] = []
    next_second(0.9)
    first = threading.Thread(target=lambda: answers.append(cached_bytes(rds, "test:cache:late", 1, slow_build)[1]))
    first.start()
    started.wait(5)
    waiter = threading.Thread(target=lambda: answers.append(cached_bytes(rds, "test:cache:late", 1, lambda: b"own")[1]))
    waiter.start()
    first.join(10)
    waiter.join(10)
    assert not waiter.is_alive(), "the waiter waited for a copy that will never come"
    assert sorted(answers) == [b"late", b"own"]
