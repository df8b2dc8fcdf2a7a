from app.inventory.best_available import find_best


def seat(row, x, tier="gold", status="AVAILABLE", section="Main", y=None):
    return {
        "seatId": f"{row}{x}",
        "section": section,
        "row": row,
        "x": x,
        "y": y if y is not None else ord(row) - 65,
        "tier": tier,
        "status": status,
    }


def test_picks_the_run_closest_to_the_centre_then_the_front():
    seats = [seat(r, x) for r in "AB" for x in range(1, 10)]
    assert find_best(seats, 2, "gold") in (["A4", "A5"], ["A5", "A6"])
    assert find_best(seats, 3, "gold") == ["A4", "A5", "A6"]


def test_taken_seats_aisles_and_other_tiers_break_runs():
    seats = [seat("A", x) for x in range(1, 10)]
    seats[4] = seat("A", 5, status="HELD")
    seats += [seat("B", x) for x in (1, 2, 3, 6, 7, 8)]  # aisle between 3 and 6
    seats += [seat("C", x, tier="silver") for x in range(1, 10)]
    assert find_best(seats, 5, "gold") is None
    assert find_best(seats, 4, "gold") in (["A1", "A2", "A3", "A4"], ["A6", "A7", "A8", "A9"])
    assert find_best(seats, 3, "gold") in (
        ["A2", "A3", "A4"],
        ["A6", "A7", "A8"],
        ["B6", "B7", "B8"],
        ["B1", "B2", "B3"],
    )
    assert find_best(seats, 9, "silver") == [f"C{x}" for x in range(1, 10)]
    assert find_best(seats, 2, "platinum") is None


class CountedSeat(dict):
    """A seat that counts every field read of it, so a test can bound the work done on a layout."""

    reads = 0

    def __getitem__(self, key):
        CountedSeat.reads += 1
        return super().__getitem__(key)


def test_the_work_is_bounded_by_the_seats_whatever_the_layout():
    # Seats spread across x = 0..100,000, each in a section of its own (a layout saved before the drawn
    # area was bounded): the work must stay proportional to the seats, not to the area or sections².
    n = 3000
    seats = [CountedSeat(seat("A", x * 33, section=f"S{x}", y=x % 7)) for x in range(n)]
    seats += [CountedSeat(seat("B", 100_000 - x)) for x in range(4)]
    CountedSeat.reads = 0
    assert find_best(seats, 4, "gold") == [f"B{x}" for x in range(99_997, 100_001)]
    assert CountedSeat.reads <= 30 * len(seats), CountedSeat.reads
