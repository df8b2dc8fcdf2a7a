"""What a fair race for seats must end in, checked from the responses and from Postgres."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from app.inventory.invariants import seat_invariant_violations
from app.unit_of_work import unit_of_work
from tests.support.db import fetch


@dataclass
class Attempt:
    user_id: int
    seats: list[str]
    status: int
    body: dict


def run_together(
    clients: int, attempt: Callable[[int, threading.Barrier], Attempt], chaos: Callable[[], object] | None = None
) -> list[Attempt]:
    """Runs ``attempt(i, start_line)`` in one thread per client; each waits at the start line
    (a barrier) once it is ready, so the requests leave together. ``chaos`` runs in a loop
    alongside until every client is done."""
    start_line = threading.Barrier(clients + (1 if chaos else 0))
    results: list[Attempt | None] = [None] * clients
    done = threading.Event()

    def client(i: int) -> None:
        results[i] = attempt(i, start_line)

    def run_chaos() -> None:
        start_line.wait()
        while not done.is_set():
            chaos()
            done.wait(0.001)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    chaos_thread = threading.Thread(target=run_chaos) if chaos else None
    for t in threads + ([chaos_thread] if chaos_thread else []):
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    if chaos_thread:
        chaos_thread.join(5)
    assert all(r is not None for r in results), "a client did not finish"
    return results  # type: ignore[return-value]


def assert_one_winner_per_seat(app: Flask, show_id: int, attempts: list[Attempt]) -> None:
    assert {a.status for a in attempts} <= {201, 409}, [a.body for a in attempts if a.status not in (201, 409)]
    winners = [a for a in attempts if a.status == 201]
    held: dict[str, str] = {}
    for w in winners:
        for seat in w.seats:
            assert seat not in held, f"seat {seat} sold twice"
            held[seat] = w.body["holdId"]
    for loser in (a for a in attempts if a.status == 409):
        error = loser.body["error"]
        assert error["code"] == "SEATS_UNAVAILABLE"
        assert error["seatIds"] and set(error["seatIds"]) <= set(loser.seats)
        assert set(error["seatIds"]) <= set(held), "a loser was told a seat was taken that nobody holds"
    rows = fetch(app, "SELECT seat_id, hold_id::text FROM show_seats WHERE show_id = :s AND status = 'HELD'", s=show_id)
    assert {r.seat_id: r.hold_id for r in rows} == held
    active = fetch(app, "SELECT id::text, seat_ids FROM holds WHERE show_id = :s AND status = 'ACTIVE'", s=show_id)
    assert {r.id: sorted(r.seat_ids) for r in active} == {w.body["holdId"]: sorted(w.seats) for w in winners}
    with app.app_context(), unit_of_work() as uow:
        assert seat_invariant_violations(uow) == {}
