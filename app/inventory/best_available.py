"""Best available: N adjacent free seats of one tier in one row, as close to the centre as possible."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def find_best(seats: Iterable[dict[str, Any]], count: int, tier: str) -> list[str] | None:
    """``seats`` as the seat map gives them (seatId, section, row, x, y, tier, status). Adjacent means
    neighbouring map positions in the same section and row: an aisle breaks a run. Among all runs of
    ``count`` free seats, the one whose middle is nearest the section's centre line wins, then the one
    nearest the stage (smallest y).

    The work is O(seats × count) (sorting each row aside), whatever the layout: one pass finds each
    section's extent, and runs are looked for among the free seats only, never cell by cell."""
    if count < 1:
        return None
    extent: dict[str, tuple[int, int]] = {}
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for seat in seats:
        section, x = seat["section"], seat["x"]
        low, high = extent.get(section, (x, x))
        extent[section] = (min(low, x), max(high, x))
        if seat["tier"] == tier and seat["status"] == "AVAILABLE":
            rows[(section, seat["row"])].append(seat)
    centre = {section: (low + high) / 2 for section, (low, high) in extent.items()}
    best: tuple[float, int, list[str]] | None = None
    for (section, _), free in rows.items():
        free.sort(key=lambda s: s["x"])
        for start in range(len(free) - count + 1):
            run = free[start : start + count]
            if run[-1]["x"] - run[0]["x"] != count - 1:
                continue  # a gap or a taken seat in between
            middle = (run[0]["x"] + run[-1]["x"]) / 2
            score = (abs(middle - centre[section]), run[0]["y"], [s["seatId"] for s in run])
            if best is None or score[:2] < best[:2]:
                best = score
    return best[2] if best else None
