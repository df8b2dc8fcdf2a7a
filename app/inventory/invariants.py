"""Checks that the seat tables tell one consistent story. Used by tests and benchmarks.

Each query returns the rows that break a rule; an empty result everywhere means
no seat is in two live holds or bookings, and holds and seats agree.
"""

from __future__ import annotations

from app.unit_of_work import UnitOfWork

# A hold is live while ACTIVE and unexpired, or while its payment may still succeed.
LIVE = "h.status = 'ACTIVE' AND (h.expires_at > now() OR h.payment_started_at IS NOT NULL)"

RULES: dict[str, str] = {
    "a held seat belongs to a live hold of the same show that lists it": """
        SELECT ss.show_id, ss.seat_id, ss.hold_id FROM show_seats ss
        LEFT JOIN holds h ON h.id = ss.hold_id
        WHERE ss.status = 'HELD' AND ss.hold_expires_at > now()
          AND (h.id IS NULL OR h.status <> 'ACTIVE' OR h.show_id <> ss.show_id OR NOT ss.seat_id = ANY(h.seat_ids)
               OR ss.hold_expires_at <> CASE WHEN h.payment_started_at IS NULL THEN h.expires_at ELSE 'infinity' END)
    """,
    "a live hold holds every seat it lists": f"""
        SELECT h.id, s.seat_id FROM holds h CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        LEFT JOIN show_seats ss ON ss.show_id = h.show_id AND ss.seat_id = s.seat_id
        WHERE {LIVE} AND (ss.seat_id IS NULL OR ss.status <> 'HELD' OR ss.hold_id <> h.id)
    """,
    "no seat is listed by two live holds": f"""
        SELECT h.show_id, s.seat_id, count(*) FROM holds h CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        WHERE {LIVE}
        GROUP BY h.show_id, s.seat_id HAVING count(*) > 1
    """,
    "no seat is in two confirmed bookings": """
        SELECT b.show_id, s.seat_id, count(*) FROM bookings b CROSS JOIN LATERAL unnest(b.seat_ids) AS s(seat_id)
        WHERE b.status = 'CONFIRMED'
        GROUP BY b.show_id, s.seat_id HAVING count(*) > 1
    """,
    "a booked seat belongs to a confirmed booking that lists it": """
        SELECT ss.show_id, ss.seat_id FROM show_seats ss LEFT JOIN bookings b ON b.id = ss.booking_id
        WHERE ss.status = 'BOOKED'
          AND (b.id IS NULL OR b.status <> 'CONFIRMED' OR b.show_id <> ss.show_id OR NOT ss.seat_id = ANY(b.seat_ids))
    """,
    "a live hold's seats are not booked by someone else": f"""
        SELECT h.id, s.seat_id FROM holds h CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        JOIN bookings b ON b.show_id = h.show_id AND b.status = 'CONFIRMED' AND s.seat_id = ANY(b.seat_ids)
        WHERE {LIVE} AND b.hold_id <> h.id
    """,
}


def seat_invariant_violations(uow: UnitOfWork, limit: int = 20) -> dict[str, list[tuple]]:
    """Returns, for each broken rule, up to ``limit`` offending rows (empty when all hold)."""
    # One snapshot for every rule, so a commit in between cannot look like a violation.
    uow.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    broken: dict[str, list[tuple]] = {}
    for rule, sql in RULES.items():
        rows = uow.execute(f"{sql} LIMIT {int(limit)}").all()
        if rows:
            broken[rule] = [tuple(r) for r in rows]
    return broken
