"""Many fans racing for the same seats through the real app and real Postgres.

Each client runs in its own thread with its own test client, session and
database connection; a barrier releases them together.
"""

from __future__ import annotations

import random
import threading

from tests.support.db import fetch
from tests.support.races import Attempt, assert_one_winner_per_seat, run_together

CLIENTS = 50


def race(app, fans, show_id, seat_sets, chaos=None) -> list[Attempt]:
    def attempt(i: int, start_line: threading.Barrier) -> Attempt:
        client = app.test_client()
        start_line.wait()
        response = client.post(
            f"/api/v1/shows/{show_id}/holds", json={"seatIds": seat_sets[i]}, headers=fans[i].headers
        )
        return Attempt(fans[i].user_id, seat_sets[i], response.status_code, response.get_json())

    return run_together(len(fans), attempt, chaos)


def test_fifty_clients_race_for_the_same_two_seats_over_many_rounds(app, make):
    fans = [make.fan() for _ in range(CLIENTS)]
    for _ in range(8):
        show = make.show(rows=2, per_row=5)
        attempts = race(app, fans, show.show_id, [["A3", "A4"]] * CLIENTS)
        assert sum(a.status == 201 for a in attempts) == 1
        assert_one_winner_per_seat(app, show.show_id, attempts)


def test_fifty_clients_race_for_overlapping_seat_sets(app, make):
    rng = random.Random(20261128)
    fans = [make.fan() for _ in range(CLIENTS)]
    for _ in range(8):
        show = make.show(rows=2, per_row=8)
        pool = show.seat_ids[:12]
        seat_sets = [rng.sample(pool, rng.randint(1, 4)) for _ in range(CLIENTS)]
        attempts = race(app, fans, show.show_id, seat_sets)
        assert any(a.status == 201 for a in attempts)
        assert_one_winner_per_seat(app, show.show_id, attempts)


def test_redis_flushed_again_and_again_mid_race_never_oversells(app, make, rds):
    rng = random.Random(7)
    fans = [make.fan() for _ in range(CLIENTS)]
    for _ in range(6):
        show = make.show(rows=2, per_row=8)
        seat_sets = [rng.sample(show.seat_ids[:10], rng.randint(1, 3)) for _ in range(CLIENTS)]
        attempts = race(app, fans, show.show_id, seat_sets, chaos=rds.flushdb)
        assert_one_winner_per_seat(app, show.show_id, attempts)


def test_one_fan_racing_themselves_cannot_pass_the_per_user_cap(app, make):
    show, fan = make.show(rows=4, per_row=10), make.fan()
    seat_sets = [[f"{row}{n}", f"{row}{n + 1}"] for row in "ABCD" for n in (1, 4, 7)][:12]
    attempts = race(app, [fan] * len(seat_sets), show.show_id, seat_sets)
    assert sum(a.status == 201 for a in attempts) == 4  # 8 seats at most, 2 at a time
    assert {a.body["error"]["code"] for a in attempts if a.status != 201} == {"SEAT_LIMIT_EXCEEDED"}
    (row,) = fetch(app, "SELECT count(*) AS n FROM show_seats WHERE show_id = :s AND status = 'HELD'", s=show.show_id)
    assert row.n == 8
