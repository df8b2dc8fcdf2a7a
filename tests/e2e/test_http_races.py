"""Fifty HTTP clients against four gunicorn worker processes, racing for seats."""
from __future__ import annotations

import random
import threading

import pytest
import requests

from tests.support.races import Attempt, assert_one_winner_per_seat

pytestmark = pytest.mark.slow
CLIENTS = 50


def http_race(base: str, fans, show_id: int, seat_sets, chaos=None) -> list[Attempt]:
    barrier = threading.Barrier(len(fans) + (1 if chaos else 0))
    results: list[Attempt | None] = [None] * len(fans)
    stop = threading.Event()

    def attempt(i: int) -> None:
        with requests.Session() as http:
            http.get(f"{base}/healthz")  # open the connection before the start line
            barrier.wait()
            r = http.post(f"{base}/api/v1/shows/{show_id}/holds", json={"seatIds": seat_sets[i]}, headers=fans[i].headers)
            results[i] = Attempt(fans[i].user_id, seat_sets[i], r.status_code, r.json())

    def run_chaos() -> None:
        barrier.wait()
        while not stop.is_set():
            chaos()
            stop.wait(0.001)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(fans))]
    if chaos:
        threads.append(threading.Thread(target=run_chaos))
    for t in threads:
        t.start()
    for t in threads[:len(fans)]:
        t.join(60)
    stop.set()
    for t in threads[len(fans):]:
        t.join(5)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def test_same_seats_across_processes(app, live_server, make):
    fans = [make.fan() for _ in range(CLIENTS)]
    for _ in range(10):
        show = make.show(rows=2, per_row=5)
        attempts = http_race(live_server, fans, show.show_id, [["B1", "B2", "B3"]] * CLIENTS)
        assert sum(a.status == 201 for a in attempts) == 1
        assert_one_winner_per_seat(app, show.show_id, attempts)


def test_overlapping_seats_with_redis_flushed_mid_race(app, live_server, make, rds):
    rng = random.Random(99)
    fans = [make.fan() for _ in range(CLIENTS)]
    for round_no in range(10):
        show = make.show(rows=3, per_row=8)
        seat_sets = [rng.sample(show.seat_ids[:14], rng.randint(1, 4)) for _ in range(CLIENTS)]
        chaos = rds.flushdb if round_no % 2 == 0 else None
        attempts = http_race(live_server, fans, show.show_id, seat_sets, chaos=chaos)
        assert_one_winner_per_seat(app, show.show_id, attempts)
