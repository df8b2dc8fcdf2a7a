from collections import Counter

from app.demo import layouts


def _check_unique(seats):
    assert len({s.seat_id for s in seats}) == len(seats)
    assert len({(s.section, s.row, s.number) for s in seats}) == len(seats)
    assert len({(s.x, s.y) for s in seats}) == len(seats), "two seats drawn on the same spot"


def test_cinema_is_about_150_seats_with_tiers_gaps_and_accessible_seats():
    seats = layouts.cinema()
    _check_unique(seats)
    assert 140 <= len(seats) <= 160
    assert set(Counter(s.tier for s in seats)) == {"front", "standard", "premium"}
    assert any(s.accessible for s in seats)
    row_a = sorted(s.number for s in seats if s.row == "A")
    assert len(row_a) < 15  # wheelchair gap


def test_concert_hall_is_2000_seats_in_sections():
    seats = layouts.concert_hall()
    _check_unique(seats)
    assert len(seats) == 2000
    assert {s.section for s in seats} == {"Stalls", "Circle", "Balcony"}


def test_stadium_has_at_least_60000_seats():
    seats = layouts.stadium()
    _check_unique(seats)
    assert len(seats) >= 60000
    assert len({s.section for s in seats}) == 52
