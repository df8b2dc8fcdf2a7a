"""Which free seats an offer takes: a row's worth together when a row has enough, else the first."""

from __future__ import annotations

from types import SimpleNamespace

from app.waitlist.services import choose_seats


def seats(*ids: str):
    return [SimpleNamespace(seat_id=s, section="Main", row_label=s[0]) for s in ids]


def test_a_row_with_enough_seats_is_preferred():
    assert choose_seats(seats("A1", "B1", "B2", "C1", "C2", "C3"), 3) == ["C1", "C2", "C3"]
    assert choose_seats(seats("A1", "B1", "B2", "C1", "C2", "C3"), 2) == ["B1", "B2"]


def test_without_such_a_row_the_first_seats_in_layout_order():
    assert choose_seats(seats("A1", "B1", "C1"), 2) == ["A1", "B1"]


def test_too_few_seats_make_no_offer():
    assert choose_seats(seats("A1", "B1"), 3) is None
    assert choose_seats([], 1) is None
