"""Seat maps: a show's layout (cached per process) joined with its seats' current states.

Three shapes of the same data:
- full: every seat with its layout, tier, price and state (the contract's shape);
- a section of it (``?section=``), for big venues drawn section by section;
- compact (``?format=compact``): seat ids in layout order plus one status
  character per seat, for clients that already know the layout;
and a per-section summary. A held seat whose hold has lapsed reads AVAILABLE in
all of them.

The layout part of a seat (id, section, row, number, tier, price, position)
changes only when the venue's seats or the show's prices change, so it is
rendered to JSON once per process and keyed on ``venues.layout_version`` (bumped
by a trigger on any change to ``venue_seats``) and the show's prices. Each render
then costs one status query plus joining bytes: the stadium's 62,400 seats come
out of Postgres and into JSON without building a Python object per seat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import NotFound, ShowNotFound
from app.inventory.seat_state import SEAT_IS_FREE, seat_kept_for_line
from app.unit_of_work import UnitOfWork

STATUS_CODES = {"AVAILABLE": "A", "HELD": "H", "BOOKED": "B"}
_STATUS_TAIL = {code: orjson.dumps(status) + b"}" for status, code in STATUS_CODES.items()}
# One letter per seat: a free seat (AVAILABLE, or HELD by a hold that has lapsed) reads A. A seat the box
# office took out of sale reads B: fans see it as not for sale, within the contract's three states.
# A free seat kept for the show's waiting line (ARCHITECTURE.md rule 8) reads H: it is not for sale to
# the public. The statement names its show as ``:id``.
EFFECTIVE_CODE = (
    f"CASE WHEN {SEAT_IS_FREE} AND NOT {seat_kept_for_line('show_seats', 'CAST(:id AS bigint)')} THEN 'A' "
    f"WHEN {SEAT_IS_FREE} OR status = 'HELD' THEN 'H' ELSE 'B' END"
)
LAYOUT_CACHE_SIZE = 16


class SectionNotFound(NotFound):
    code = "SECTION_NOT_FOUND"


@dataclass(frozen=True)
class SectionLayout:
    name: str
    positions: tuple[int, ...]
    price_from: int
    price_to: int
    bounds: dict[str, int]
    # A standing section (README "General admission (standing)"): its places are sold by quantity.
    standing: bool = False


@dataclass(frozen=True)
class ShowLayout:
    seat_ids: tuple[str, ...]  # layout order
    fragments: tuple[bytes, ...]  # each seat's JSON object up to its status value
    sections: dict[str, SectionLayout]  # in layout order


class _LayoutCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], ShowLayout] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> ShowLayout | None:
        with self._lock:
            layout = self._items.get(key)
            if layout is not None:
                self._items.move_to_end(key)
            return layout

    def put(self, key: tuple[Any, ...], layout: ShowLayout) -> None:
        with self._lock:
            self._items[key] = layout
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_layouts = _LayoutCache(LAYOUT_CACHE_SIZE)


def _show_layout(uow: UnitOfWork, show_id: int) -> tuple[ShowLayout, str]:
    """The show's layout and the database time the render is as of."""
    head = uow.execute(
        """
        SELECT now() AS db_now, s.venue_id, v.layout_version,
               (SELECT array_agg(tier || '=' || price ORDER BY tier) FROM show_prices WHERE show_id = s.id) AS prices
        FROM shows s JOIN venues v ON v.id = s.venue_id WHERE s.id = :id
        """,
        {"id": show_id},
    ).first()
    if head is None:
        raise ShowNotFound(f"show {show_id} does not exist")
    key = (show_id, head.venue_id, head.layout_version, tuple(head.prices or ()))
    layout = _layouts.get(key)
    if layout is None:
        layout = _build_layout(uow, show_id, head.venue_id)
        _layouts.put(key, layout)
    return layout, head.db_now.isoformat()


def _build_layout(uow: UnitOfWork, show_id: int, venue_id: int) -> ShowLayout:
    rows = uow.execute(
        """
        SELECT vs.seat_id, vs.section, vs.row, vs.number, vs.tier, p.price, vs.accessible, vs.x, vs.y, vs.standing
        FROM venue_seats vs JOIN show_prices p ON p.show_id = :show_id AND p.tier = vs.tier
        WHERE vs.venue_id = :venue_id
        ORDER BY vs.ordinal
        """,
        {"show_id": show_id, "venue_id": venue_id},
    ).all()
    seat_ids, fragments, by_section = [], [], {}  # type: list[str], list[bytes], dict[str, list[Any]]
    standing_sections = set()
    for position, (seat_id, section, row, number, tier, price, accessible, x, y, standing) in enumerate(rows):
        seat: dict[str, Any] = {
            "seatId": seat_id,
            "section": section,
            "row": row,
            "number": number,
            "tier": tier,
            "price": price,
            "accessible": accessible,
            "x": x,
            "y": y,
        }
        if standing:  # only standing places say so: a seated venue's map stays as it was
            seat["standing"] = True
            standing_sections.add(section)
        seat_ids.append(seat_id)
        fragments.append(orjson.dumps(seat)[:-1] + b',"status":')
        by_section.setdefault(section, []).append((position, price, x, y))
    sections = {
        name: SectionLayout(
            name=name,
            positions=tuple(p for p, *_ in seats),
            price_from=min(price for _, price, _, _ in seats),
            price_to=max(price for _, price, _, _ in seats),
            bounds={
                "minX": min(x for *_, x, _ in seats),
                "minY": min(y for *_, y in seats),
                "maxX": max(x for *_, x, _ in seats),
                "maxY": max(y for *_, y in seats),
            },
            standing=name in standing_sections,
        )
        for name, seats in by_section.items()
    }
    return ShowLayout(tuple(seat_ids), tuple(fragments), sections)


def _statuses(uow: UnitOfWork, show_id: int, seat_ids: tuple[str, ...] | None = None) -> dict[str, str]:
    """Seat id -> status code letter. Two aggregates over the same rows pair up in order,
    and one row back is far cheaper than one row per seat."""
    only = "" if seat_ids is None else "AND seat_id = ANY(:seats)"
    ids, codes = uow.execute(
        f"""
        SELECT array_agg(seat_id), string_agg({EFFECTIVE_CODE}, '')
        FROM show_seats WHERE show_id = :id {only}
        """,
        {"id": show_id, "seats": list(seat_ids or ())},
    ).one()
    return dict(zip(ids or (), codes or ""))


def statuses_of(uow: UnitOfWork, show_id: int, seat_ids: list[str]) -> dict[str, str]:
    """The current status (``AVAILABLE``, ``HELD``, ``BOOKED``, as in the seat map) of each of these
    seats of the show that exists: read now, not from any cached copy."""
    names = {code: status for status, code in STATUS_CODES.items()}
    return {seat: names[code] for seat, code in _statuses(uow, show_id, tuple(seat_ids)).items()}


def _seats_json(layout: ShowLayout, positions: range | tuple[int, ...], statuses: dict[str, str]) -> bytes:
    ids, fragments = layout.seat_ids, layout.fragments
    return b"[" + b",".join(fragments[i] + _STATUS_TAIL[statuses[ids[i]]] for i in positions) + b"]"


def render_full(uow: UnitOfWork, show_id: int, section: str | None = None) -> bytes:
    layout, as_of = _show_layout(uow, show_id)
    head: dict[str, Any] = {"showId": str(show_id), "asOf": as_of}
    if section is None:
        positions: range | tuple[int, ...] = range(len(layout.seat_ids))
        statuses = _statuses(uow, show_id)
    else:
        part = layout.sections.get(section)
        if part is None:
            raise SectionNotFound(f"show {show_id} has no section {section[:40]!r}")
        head["section"] = section
        positions = part.positions
        statuses = _statuses(uow, show_id, tuple(layout.seat_ids[i] for i in positions))
    return orjson.dumps(head)[:-1] + b',"seats":' + _seats_json(layout, positions, statuses) + b"}"


def render_compact(uow: UnitOfWork, show_id: int) -> bytes:
    layout, as_of = _show_layout(uow, show_id)
    statuses = _statuses(uow, show_id)
    return orjson.dumps(
        {
            "showId": str(show_id),
            "asOf": as_of,
            "format": "compact",
            "statusCodes": {code: status for status, code in STATUS_CODES.items()},
            "seatIds": layout.seat_ids,
            "status": "".join(statuses[seat] for seat in layout.seat_ids),
        }
    )


def render_sections(uow: UnitOfWork, show_id: int) -> bytes:
    layout, as_of = _show_layout(uow, show_id)
    statuses = _statuses(uow, show_id)
    sections = []
    for part in layout.sections.values():
        counts = {"A": 0, "H": 0, "B": 0}
        for i in part.positions:
            counts[statuses[layout.seat_ids[i]]] += 1
        sections.append(
            {
                "section": part.name,
                "seats": len(part.positions),
                "available": counts["A"],
                "held": counts["H"],
                "booked": counts["B"],
                "priceFrom": part.price_from,
                "priceTo": part.price_to,
                "bounds": part.bounds,
                "standing": part.standing,
            }
        )
    return orjson.dumps({"showId": str(show_id), "asOf": as_of, "sections": sections})
