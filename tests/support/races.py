"""What a fair race for seats must end in, checked from the responses and from Postgres."""
from __future__ import annotations

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
