"""The shared response cache (app/response_cache.py) on the test Redis: a copy is fresh until the end
of the second it was built in and knows when that was, so the edge can be told how long to keep it;
in the second after, it is still answered at once while the next one is built behind it."""
from __future__ import annotations

import threading
import time

from app import response_cache
from app.response_cache import cached_bytes


def next_second(at: float = 0.0) -> None:
    """Waits until ``at`` past the start of the next second."""
    time.sleep(1 - time.time() % 1 + at)


def test_a_copy_is_fresh_until_its_second_ends_then_renewed_behind_the_answer(app, rds):
    builds: list[float] = []

    def build() -> bytes:
        builds.append(time.time())
        return b"copy %d" % len(builds)

    with app.app_context():
        next_second(0.3)
        built_at, body = cached_bytes(rds, "test:cache:a", 1, build)
        assert body == b"copy 1" and len(builds) == 1 and 0 <= builds[0] - built_at < 0.1  # taken just before
        assert 1000 < rds.pttl("test:cache:a") <= 1700  # its own second and the next
        assert cached_bytes(rds, "test:cache:a", 1, build) == (built_at, b"copy 1")  # no second build

        # Past its freshness: answered at once, and the next copy is built in the background.
        next_second(0.05)
        assert cached_bytes(rds, "test:cache:a", 1, build) == (built_at, b"copy 1")
        deadline = time.monotonic() + 5
        while (answer := cached_bytes(rds, "test:cache:a", 1, build))[1] != b"copy 2":
            assert time.monotonic() < deadline, "the copy was never renewed"
            time.sleep(0.01)
        assert int(answer[0]) == int(built_at) + 1 and len(builds) == 2

        # Left alone past the second after its freshness, a copy is gone: the next request builds.
        next_second()
        next_second(0.05)
        assert cached_bytes(rds, "test:cache:a", 1, build)[1] == b"copy 3"
        # Kept longer when asked to.
        cached_bytes(rds, "test:cache:b", 3, build)
        assert 3000 < rds.pttl("test:cache:b") <= 4000


def test_a_failed_renewal_keeps_the_copy_and_is_tried_again(app, rds):
    calls = []

    def build() -> bytes:
        calls.append(time.time())
        if len(calls) == 2:
            raise RuntimeError("render failed")
        return b"copy %d" % len(calls)

    with app.app_context():
        next_second(0.3)
        first = cached_bytes(rds, "test:cache:f", 1, build)
        next_second(0.05)
        assert cached_bytes(rds, "test:cache:f", 1, build) == first  # its renewal fails behind it
        deadline = time.monotonic() + 5
        while cached_bytes(rds, "test:cache:f", 1, build)[1] != b"copy 3":
            assert time.monotonic() < deadline, "a failed renewal was never tried again"
            time.sleep(0.01)


def test_nobody_waits_for_a_copy_that_was_gone_as_soon_as_it_was_stored(app, rds, monkeypatch):
    # A build that ends after the second its copy is kept for stores a copy that expires at once.
    # Whoever was waiting for it must not wait out their whole patience: the lock is free, so they build.
    monkeypatch.setattr(response_cache, "WAIT_FOR_PEER_SECONDS", 60.0)
    started = threading.Event()

    def slow_build() -> bytes:
        started.set()
        time.sleep(1.2)
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
