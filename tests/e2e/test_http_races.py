"""Fifty HTTP clients against four gunicorn worker processes, racing for seats."""

from __future__ import annotations

import random
import threading

import pytest
import requests

from tests.support.races import Attempt, assert_one_winner_per_seat, run_together

pytestmark = pytest.mark.slow
CLIENTS = 50


def http_race(base: str, fans, show_id: int, seat_sets, chaos=None) -> list[Attempt]:
    def attempt(i: int, start_line: threading.Barrier) -> Attempt:
        with requests.Session() as http:
            http.get(f"{base}/healthz")  # open the connection before the start line
            start_line.wait()
            r = http.post(
                f"{base}/api/v1/shows/{show_id}/holds", json={"seatIds": seat_sets[i]}, headers=fans[i].headers
            )
            return Attempt(fans[i].user_id, seat_sets[i], r.status_code, r.json())

    return run_together(len(fans), attempt, chaos)


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
