"""Live figures of a sale, cheap enough to read every few seconds while the sale runs.

Everything comes from indexed aggregates: seat counts by status from the
(show_id, status) index, activity from the (show_id, created_at) indexes over the
last hour only, the waiting room from its Redis counters. The result is shared
through Redis for ``CACHE_SECONDS``, so any number of open dashboards cost the
database one set of queries per show every two seconds. Each read is counted like the shared
responses' (``RESPONSE_CACHE`` with ``cache="dashboard"``: ``hit``, ``miss``, ``unavailable``).
"""

from __future__ import annotations

from typing import Any

import orjson
import redis
from flask import current_app

from app.extensions import RedisRoles
from app.inventory import seat_state
from app.manage import access
from app.manage.access import Actor
from app.ops.metrics import RESPONSE_CACHE
from app.unit_of_work import UnitOfWork, unit_of_work
from app.waiting_room.room import QueueNotFound, WaitingRoom

CACHE_SECONDS = 2
WINDOW_MINUTES = 60


def _key(show_id: int) -> str:
    return f"manage:dashboard:{show_id}"


def figures(uow: UnitOfWork, actor: Actor, show_id: int, roles: RedisRoles | None) -> dict[str, Any]:
    show = access.show(uow, actor, show_id)  # the check comes before any cached figure is shown
    client = roles.cache if roles is not None else None
    if client is not None:
        try:
            cached = client.get(_key(show_id))
            if cached:
                RESPONSE_CACHE.labels("dashboard", "hit").inc()
                return orjson.loads(cached)
        except redis.RedisError:
            client = None
    RESPONSE_CACHE.labels("dashboard", "miss" if client is not None else "unavailable").inc()
    result = _compute(uow, show, roles if client is not None else None)
    if client is not None:
        try:
            client.set(_key(show_id), orjson.dumps(result), ex=CACHE_SECONDS)
        except redis.RedisError:
            pass
    return result


def forget(roles: RedisRoles, show_id: int) -> None:
    """After a change a manager made to the show: the next read computes the figures afresh."""
    try:
        roles.cache.delete(_key(show_id))
    except redis.RedisError:
        pass


def forget_event(uow: UnitOfWork, roles: RedisRoles, event_id: int) -> None:
    """``forget`` for every show of the event (its waiting room is shared by all of them)."""
    show_ids = list(uow.execute("SELECT id FROM shows WHERE event_id = :e", {"e": event_id}).scalars())
    if not show_ids:
        return
    try:
        roles.cache.delete(*(_key(s) for s in show_ids))
    except redis.RedisError:
        pass


def _compute(uow: UnitOfWork, show: Any, roles: RedisRoles | None) -> dict[str, Any]:
    show_id = show.id
    counts = {
        r.status: r.n
        for r in uow.execute(
            "SELECT status, count(*) AS n FROM show_seats WHERE show_id = :s GROUP BY status", {"s": show_id}
        )
    }
    lapsed = uow.execute(
        f"SELECT count(*) FROM show_seats WHERE show_id = :s AND {seat_state.seat_hold_lapsed()}",
        {"s": show_id},
    ).scalar_one()
    money = uow.execute(
        """
        SELECT count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed,
               count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
               coalesce(sum(amount) FILTER (WHERE status = 'CONFIRMED'), 0) AS revenue,
               coalesce(sum(refund_amount), 0) AS refunded
        FROM bookings WHERE show_id = :s
        """,
        {"s": show_id},
    ).one()
    recent = uow.execute(
        """
        SELECT
          (SELECT count(*) FROM holds WHERE show_id = :s AND created_at > now() - interval '1 minute') AS holds_1m,
          (SELECT count(*) FROM bookings WHERE show_id = :s AND created_at > now() - interval '1 minute')
              AS bookings_1m,
          (SELECT count(*) FROM payments p JOIN holds h ON h.id = p.hold_id
            WHERE h.show_id = :s AND h.created_at > now() - make_interval(mins => :window)
              AND p.status = 'FAILED') AS failures,
          now() AS db_now
        """,
        {"s": show_id, "window": WINDOW_MINUTES},
    ).one()
    series = uow.execute(
        """
        WITH minutes AS (
            SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => :window - 1),
                                   date_trunc('minute', now()), interval '1 minute') AS minute
        ), h AS (
            SELECT date_trunc('minute', created_at) AS minute, count(*) AS n FROM holds
            WHERE show_id = :s AND created_at >= date_trunc('minute', now()) - make_interval(mins => :window - 1)
            GROUP BY 1
        ), b AS (
            SELECT date_trunc('minute', created_at) AS minute, count(*) AS n, sum(cardinality(seat_ids)) AS seats
            FROM bookings
            WHERE show_id = :s AND created_at >= date_trunc('minute', now()) - make_interval(mins => :window - 1)
            GROUP BY 1
        )
        SELECT m.minute, coalesce(h.n, 0) AS holds, coalesce(b.n, 0) AS bookings, coalesce(b.seats, 0) AS seats
        FROM minutes m LEFT JOIN h USING (minute) LEFT JOIN b USING (minute) ORDER BY m.minute
        """,
        {"s": show_id, "window": WINDOW_MINUTES},
    ).all()
    held = counts.get("HELD", 0) - lapsed
    result: dict[str, Any] = {
        "showId": str(show_id),
        "status": show.status,
        "asOf": recent.db_now.isoformat(),
        "seats": {
            "total": sum(counts.values()),
            "available": counts.get("AVAILABLE", 0) + lapsed,
            "held": held,
            "booked": counts.get("BOOKED", 0),
            "blocked": counts.get("BLOCKED", 0),
        },
        "bookings": {"confirmed": money.confirmed, "cancelled": money.cancelled},
        "revenue": {"amount": money.revenue, "refunded": money.refunded, "currency": show.currency},
        "holdsPerMinute": recent.holds_1m,
        "bookingsPerMinute": recent.bookings_1m,
        "paymentFailures": recent.failures,
        "salesOverTime": [
            {"minute": r.minute.isoformat(), "holds": r.holds, "bookings": r.bookings, "seatsBooked": r.seats}
            for r in series
        ],
        "waitingRoom": _waiting_room(uow, show, roles),
        "standing": _standing(uow, show_id),
    }
    return result


def _standing(uow: UnitOfWork, show_id: int) -> list[dict[str, Any]]:
    """Each standing section's places by state (README "General admission (standing)"), in layout
    order; a lapsed hold's place counts as available, as in ``seats``."""
    rows = uow.execute(
        f"""
        SELECT vs.section, count(*) AS capacity,
               count(*) FILTER (WHERE {seat_state.seat_is_free("ss")}) AS available,
               count(*) FILTER (WHERE ss.status = 'HELD' AND NOT {seat_state.seat_hold_lapsed("ss")}) AS held,
               count(*) FILTER (WHERE ss.status = 'BOOKED') AS booked,
               count(*) FILTER (WHERE ss.status = 'BLOCKED') AS blocked
        FROM shows s JOIN venue_seats vs ON vs.venue_id = s.venue_id AND vs.standing
        JOIN show_seats ss ON ss.show_id = s.id AND ss.seat_id = vs.seat_id
        WHERE s.id = :s GROUP BY vs.section ORDER BY min(vs.ordinal)
        """,
        {"s": show_id},
    )
    return [
        {
            "section": r.section,
            "capacity": r.capacity,
            "available": r.available,
            "held": r.held,
            "booked": r.booked,
            "blocked": r.blocked,
        }
        for r in rows
    ]


def _waiting_room(uow: UnitOfWork, show: Any, roles: RedisRoles | None) -> dict[str, Any] | None:
    if not show.queue_required or roles is None:
        return None
    room = WaitingRoom(roles.room, show.event_id, current_app.extensions["seatline.settings"].gate_show_up_seconds)
    try:
        # Rebuilding the queue in Redis writes what it reads: from the primary, never a replica.
        with unit_of_work() as primary:
            room.ensure_loaded(primary)
        f = room.figures()
    except (QueueNotFound, redis.RedisError):
        return None
    return {k: f[k] for k in ("state", "queueLength", "waiting", "admitted", "active", "admissionRatePerMinute")}


def chart(series: list[dict[str, Any]], width: int = 600, height: int = 160) -> dict[str, Any]:
    """Bars of seats booked per minute and a line of holds per minute, scaled to the box, for an inline SVG."""
    top = max([p["seatsBooked"] for p in series] + [p["holds"] for p in series] + [1])
    step = width / max(len(series), 1)
    bars, points = [], []
    for i, p in enumerate(series):
        h = p["seatsBooked"] / top * (height - 20)
        bars.append(
            {
                "x": round(i * step + 1, 1),
                "y": round(height - h, 1),
                "w": round(max(step - 2, 1), 1),
                "h": round(h, 1),
                "label": f"{p['minute'][11:16]}: {p['seatsBooked']} seats booked",
            }
        )
        points.append(f"{round(i * step + step / 2, 1)},{round(height - p['holds'] / top * (height - 20), 1)}")
    total = sum(p["seatsBooked"] for p in series)
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "line": " ".join(points),
        "top": top,
        "total": total,
        "first": series[0]["minute"][11:16] if series else "",
        "last": series[-1]["minute"][11:16] if series else "",
    }
