"""Seat maps: rendered from Postgres, cached in Redis for at most ``seatmap_cache_seconds``.

Three shapes of the same data:
- full: every seat with its layout, tier, price and state (the contract's shape);
- a section of it (``?section=``), for big venues drawn section by section;
- compact (``?format=compact``): seat ids in layout order plus one status
  character per seat, for clients that already know the layout.
A held seat whose hold has lapsed reads AVAILABLE in all of them.
"""
from __future__ import annotations

from typing import Any

import orjson

from app.errors import NotFound, ShowNotFound
from app.unit_of_work import UnitOfWork

STATUS_CODES = {"AVAILABLE": "A", "HELD": "H", "BOOKED": "B"}
EFFECTIVE_STATUS = "CASE WHEN ss.status = 'HELD' AND ss.hold_expires_at <= now() THEN 'AVAILABLE' ELSE ss.status END"


class SectionNotFound(NotFound):
    code = "SECTION_NOT_FOUND"


def _now_and_check(uow: UnitOfWork, show_id: int) -> str:
    row = uow.execute("SELECT now() AS db_now, EXISTS (SELECT 1 FROM shows WHERE id = :id) AS found", {"id": show_id}).one()
    if not row.found:
        raise ShowNotFound(f"show {show_id} does not exist")
    return row.db_now.isoformat()


def render_full(uow: UnitOfWork, show_id: int, section: str | None = None) -> bytes:
    as_of = _now_and_check(uow, show_id)
    rows = uow.execute(
        f"""
        SELECT vs.seat_id, vs.section, vs.row, vs.number, vs.tier, p.price, vs.accessible, vs.x, vs.y,
               {EFFECTIVE_STATUS} AS status
        FROM show_seats ss
        JOIN venue_seats vs ON vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id
        JOIN show_prices p ON p.show_id = ss.show_id AND p.tier = vs.tier
        WHERE ss.show_id = :show_id AND (CAST(:section AS text) IS NULL OR vs.section = :section)
        ORDER BY vs.ordinal
        """,
        {"show_id": show_id, "section": section},
    ).all()
    if section is not None and not rows:
        raise SectionNotFound(f"show {show_id} has no section {section[:40]!r}")
    seats = [
        {
            "seatId": r[0], "section": r[1], "row": r[2], "number": r[3], "tier": r[4], "price": r[5],
            "accessible": r[6], "x": r[7], "y": r[8], "status": r[9],
        }
        for r in rows
    ]
    body: dict[str, Any] = {"showId": str(show_id), "asOf": as_of, "seats": seats}
    if section is not None:
        body["section"] = section
    return orjson.dumps(body)


def render_compact(uow: UnitOfWork, show_id: int) -> bytes:
    as_of = _now_and_check(uow, show_id)
    row = uow.execute(
        f"""
        SELECT coalesce(array_agg(vs.seat_id ORDER BY vs.ordinal), '{{}}') AS seat_ids,
               coalesce(string_agg(CASE {EFFECTIVE_STATUS} WHEN 'AVAILABLE' THEN 'A' WHEN 'HELD' THEN 'H' ELSE 'B' END,
                                   '' ORDER BY vs.ordinal), '') AS status
        FROM show_seats ss
        JOIN venue_seats vs ON vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id
        WHERE ss.show_id = :show_id
        """,
        {"show_id": show_id},
    ).one()
    return orjson.dumps(
        {
            "showId": str(show_id),
            "asOf": as_of,
            "format": "compact",
            "statusCodes": {code: status for status, code in STATUS_CODES.items()},
            "seatIds": row.seat_ids,
            "status": row.status,
        }
    )


def render_sections(uow: UnitOfWork, show_id: int) -> bytes:
    as_of = _now_and_check(uow, show_id)
    rows = uow.execute(
        f"""
        SELECT vs.section,
               count(*) AS seats,
               count(*) FILTER (WHERE {EFFECTIVE_STATUS} = 'AVAILABLE') AS available,
               count(*) FILTER (WHERE {EFFECTIVE_STATUS} = 'HELD') AS held,
               count(*) FILTER (WHERE ss.status = 'BOOKED') AS booked,
               min(p.price) AS price_from, max(p.price) AS price_to,
               min(vs.ordinal) AS first_ordinal, min(vs.x) AS min_x, min(vs.y) AS min_y,
               max(vs.x) AS max_x, max(vs.y) AS max_y
        FROM show_seats ss
        JOIN venue_seats vs ON vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id
        JOIN show_prices p ON p.show_id = ss.show_id AND p.tier = vs.tier
        WHERE ss.show_id = :show_id
        GROUP BY vs.section
        ORDER BY first_ordinal
        """,
        {"show_id": show_id},
    )
    sections = [
        {
            "section": r.section, "seats": r.seats, "available": r.available, "held": r.held, "booked": r.booked,
            "priceFrom": r.price_from, "priceTo": r.price_to,
            "bounds": {"minX": r.min_x, "minY": r.min_y, "maxX": r.max_x, "maxY": r.max_y},
        }
        for r in rows
    ]
    return orjson.dumps({"showId": str(show_id), "asOf": as_of, "sections": sections})
