"""Catalog reads: cities, shows by city-local date, show detail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from app.unit_of_work import UnitOfWork


def list_cities(uow: UnitOfWork) -> list[Row[Any]]:
    return list(uow.execute("SELECT id, name, country, timezone FROM cities ORDER BY name"))


def get_city(uow: UnitOfWork, city_id: int) -> Row[Any] | None:
    return uow.execute("SELECT id, name, country, timezone FROM cities WHERE id = :id", {"id": city_id}).first()


def shows_in_city_between(uow: UnitOfWork, city_id: int, start: datetime, end: datetime) -> list[Row[Any]]:
    return list(
        uow.execute(
            """
            SELECT s.id, s.event_id, e.title, e.category, s.venue_id, v.name AS venue_name,
                   s.starts_at, s.status, s.queue_required, s.currency,
                   s.sale_opens_at, s.sale_closes_at, now() AS db_now,
                   p.price_from, p.price_to
            FROM shows s
            JOIN venues v ON v.id = s.venue_id
            JOIN events e ON e.id = s.event_id
            LEFT JOIN LATERAL (
                SELECT min(price) AS price_from, max(price) AS price_to FROM show_prices WHERE show_id = s.id
            ) p ON true
            WHERE v.city_id = :city_id AND s.starts_at >= :start AND s.starts_at < :end
            ORDER BY s.starts_at, e.title, s.id
            """,
            {"city_id": city_id, "start": start, "end": end},
        )
    )


def browse_shows(
    uow: UnitOfWork,
    city_id: int,
    start: datetime,
    end: datetime,
    *,
    search: str | None,
    category: str | None,
    limit: int,
) -> list[Row[Any]]:
    """The home page's shows: a city's between two instants, optionally those whose event title or
    venue name contains ``search`` (any case) and of one ``category``, first ``limit`` by start time.

    The city's shows in the window come from the index on ``shows.starts_at`` (the window is at most
    the listing horizon, and a city has few venues); the search and the category only filter those
    rows (README, "Search and filters": the EXPLAIN on the demo data)."""
    pattern = None
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        uow.execute(
            """
            SELECT s.id, s.event_id, e.title, e.category, e.poster, s.venue_id, v.name AS venue_name,
                   s.starts_at, s.status, s.queue_required, s.currency,
                   s.sale_opens_at, s.sale_closes_at, now() AS db_now,
                   p.price_from, p.price_to
            FROM shows s
            JOIN venues v ON v.id = s.venue_id
            JOIN events e ON e.id = s.event_id
            LEFT JOIN LATERAL (
                SELECT min(price) AS price_from, max(price) AS price_to FROM show_prices WHERE show_id = s.id
            ) p ON true
            WHERE v.city_id = :city_id AND s.starts_at >= :start AND s.starts_at < :end
              AND (CAST(:pattern AS text) IS NULL OR e.title ILIKE :pattern OR v.name ILIKE :pattern)
              AND (CAST(:category AS text) IS NULL OR e.category = :category)
            ORDER BY s.starts_at, e.title, s.id
            LIMIT :limit
            """,
            {
                "city_id": city_id,
                "start": start,
                "end": end,
                "pattern": pattern,
                "category": category,
                "limit": limit,
            },
        )
    )


def event_poster(uow: UnitOfWork, event_id: int) -> str | None:
    return uow.execute("SELECT poster FROM events WHERE id = :e", {"e": event_id}).scalar()


def get_show(uow: UnitOfWork, show_id: int) -> Row[Any] | None:
    return uow.execute(
        """
        SELECT s.id, s.event_id, e.title, e.category, e.description, e.duration_minutes,
               s.venue_id, v.name AS venue_name, v.kind AS venue_kind, v.address,
               c.id AS city_id, c.name AS city_name, c.timezone,
               s.starts_at, s.sale_opens_at, s.sale_closes_at, s.status, s.queue_required,
               s.currency, s.refund_policy, s.transfer_cutoff_minutes, now() AS db_now,
               (SELECT count(*) FROM venue_seats vs WHERE vs.venue_id = s.venue_id) AS seat_count
        FROM shows s
        JOIN events e ON e.id = s.event_id
        JOIN venues v ON v.id = s.venue_id
        JOIN cities c ON c.id = v.city_id
        WHERE s.id = :id
        """,
        {"id": show_id},
    ).first()


def show_prices(uow: UnitOfWork, show_id: int) -> list[Row[Any]]:
    return list(
        uow.execute(
            "SELECT tier, price FROM show_prices WHERE show_id = :id ORDER BY price DESC, tier", {"id": show_id}
        )
    )


def protected_show_of_event(uow: UnitOfWork, event_id: int) -> int | None:
    return uow.execute(
        "SELECT id FROM shows WHERE event_id = :e AND queue_required ORDER BY starts_at LIMIT 1", {"e": event_id}
    ).scalar()


def event_exists(uow: UnitOfWork, event_id: int) -> bool:
    return uow.execute("SELECT EXISTS (SELECT 1 FROM events WHERE id = :e)", {"e": event_id}).scalar_one()


def event_queue(uow: UnitOfWork, event_id: int) -> Row[Any] | None:
    return uow.execute(
        "SELECT e.title, q.state FROM events e JOIN gate_queues q ON q.event_id = e.id WHERE e.id = :e", {"e": event_id}
    ).first()
