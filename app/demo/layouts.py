"""Seat layouts for the demo venues: a cinema, a concert hall, a stadium and a club with standing room."""

from __future__ import annotations

from collections.abc import Iterator

from app.catalog.layout import SeatSpec
from app.manage.layouts import build_standing


def cinema() -> list[SeatSpec]:
    """Rows A-J of 15 seats with two aisles; row A leaves room for wheelchairs. 147 seats."""
    seats: list[SeatSpec] = []
    for y, row in enumerate("ABCDEFGHIJ"):
        tier = "front" if row in "ABC" else "premium" if row in "IJ" else "standard"
        for number in range(1, 16):
            if row == "A" and number in (7, 8, 9):
                continue  # wheelchair spaces
            aisle_gap = (number > 4) + (number > 11)  # aisles after seats 4 and 11
            seats.append(
                SeatSpec(
                    f"{row}{number}",
                    "Hall",
                    row,
                    number,
                    number - 1 + aisle_gap,
                    y,
                    tier,
                    accessible=row == "A" and number in (6, 10),
                )
            )
    return seats


def club() -> list[SeatSpec]:
    """A standing floor of 300 places in front of the stage (README "General admission (standing)")
    and a mezzanine of three rows of 12 seats behind it."""
    floor = build_standing("Floor", "floor", 1, 300, 0)
    mezzanine = [
        SeatSpec(f"M{row}{number}", "Mezzanine", row, number, 19 + number, 8 + y, "mezzanine", accessible=False)
        for y, row in enumerate("ABC")
        for number in range(1, 13)
    ]
    return floor + mezzanine


def concert_hall() -> list[SeatSpec]:
    """Stalls, circle and balcony: 2,000 seats."""
    plan = [("Stalls", "ST", 26, 40, 0), ("Circle", "CI", 16, 36, 28), ("Balcony", "BA", 12, 32, 46)]
    seats: list[SeatSpec] = []
    for section, prefix, rows, per_row, y0 in plan:
        for r in range(rows):
            row = _row_letters(r)
            for number in range(1, per_row + 1):
                if section == "Stalls":
                    tier = "premium" if r < 8 else "standard"
                else:
                    tier = "standard" if section == "Circle" else "value"
                x = number - 1 + (40 - per_row) // 2 + (number > per_row // 2)  # centre aisle
                seats.append(
                    SeatSpec(
                        f"{prefix}-{row}{number}",
                        section,
                        row,
                        number,
                        x,
                        y0 + r,
                        tier,
                        accessible=section == "Stalls" and r == rows - 1 and number in (1, 2, per_row - 1, per_row),
                    )
                )
    return seats


def stadium() -> list[SeatSpec]:
    """Floor, a lower bowl (101-124) and an upper bowl (301-324): 62,400 seats."""
    return list(_stadium_seats())


def _stadium_seats() -> Iterator[SeatSpec]:
    for i in range(4):
        yield from _block(f"F{i + 1}", rows=20, per_row=30, tier="floor", x0=100 + i * 32, y0=90)
    for i in range(24):
        yield from _block(str(101 + i), rows=25, per_row=40, tier="lower", x0=(i % 12) * 42, y0=(i // 12) * 120 + 30)
    for i in range(24):
        yield from _block(str(301 + i), rows=30, per_row=50, tier="upper", x0=(i % 12) * 52, y0=(i // 12) * 200 + 400)


def _block(section: str, rows: int, per_row: int, tier: str, x0: int, y0: int) -> Iterator[SeatSpec]:
    for r in range(1, rows + 1):
        for number in range(1, per_row + 1):
            yield SeatSpec(
                f"{section}-{r}-{number}",
                section,
                str(r),
                number,
                x0 + number - 1,
                y0 + r - 1,
                tier,
                accessible=tier == "lower" and r == rows and number <= 4,
            )


def _row_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
