"""A venue layout is a list of seats with their place on the map."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeatSpec:
    seat_id: str
    section: str
    row: str
    number: int
    x: int
    y: int
    tier: str
    accessible: bool
    companion: bool = False
    sellable: bool = True
    # A place of a standing section (README "General admission (standing)"): sold by quantity.
    standing: bool = False
