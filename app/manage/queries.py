"""Every statement of the manager dashboard. Lists are scoped by the actor's organisation (see access.owned)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.catalog.layout import SeatSpec
from app.inventory import seat_state
from app.manage.access import Actor, owned
from app.text import single_line
from app.unit_of_work import UnitOfWork

# ---------------------------------------------------------------- venues and layouts


def list_venues(uow: UnitOfWork, actor: Actor) -> list[Row[Any]]:
    return list(
        uow.execute(
            f"""
        SELECT v.id, v.name, v.kind, v.address, v.city_id, c.name AS city_name, c.timezone, v.organisation_id,
               (SELECT count(*) FROM venue_seats vs WHERE vs.venue_id = v.id) AS seat_count
        FROM venues v JOIN cities c ON c.id = v.city_id
        WHERE {owned("v")} ORDER BY c.name, v.name
        """,
            actor.scope,
        )
    )


def venue_exists(uow: UnitOfWork, city_id: int, name: str) -> bool:
    return uow.execute(
        "SELECT EXISTS (SELECT 1 FROM venues WHERE city_id = :c AND name = :n)", {"c": city_id, "n": name}
    ).scalar_one()


def insert_venue(uow: UnitOfWork, organisation_id: int, city_id: int, name: str, kind: str, address: str) -> int:
    return uow.execute(
        """
        INSERT INTO venues (organisation_id, city_id, name, kind, address)
        VALUES (:org, :city, :name, :kind, :address) RETURNING id
        """,
        {"org": organisation_id, "city": city_id, "name": single_line(name), "kind": kind, "address": address},
    ).scalar_one()


def layout(uow: UnitOfWork, venue_id: int) -> list[SeatSpec]:
    rows = uow.execute(
        """
        SELECT seat_id, section, row, number, x, y, tier, accessible, companion, sellable, standing
        FROM venue_seats WHERE venue_id = :v ORDER BY ordinal
        """,
        {"v": venue_id},
    )
    return [SeatSpec(*r) for r in rows]


def seats_in_use(uow: UnitOfWork, venue_id: int) -> list[int]:
    """Shows at the venue that have sold or are holding seats: their layout may not change destructively."""
    return list(
        uow.execute(
            """
        SELECT DISTINCT s.id FROM shows s JOIN show_seats ss ON ss.show_id = s.id
        WHERE s.venue_id = :v AND s.status = 'SCHEDULED' AND ss.status IN ('BOOKED', 'HELD')
        ORDER BY s.id
        """,
            {"v": venue_id},
        ).scalars()
    )


def scheduled_shows_missing_tiers(uow: UnitOfWork, venue_id: int, tiers: Sequence[str]) -> list[Row[Any]]:
    return list(
        uow.execute(
            """
        SELECT s.id, array_agg(t.tier ORDER BY t.tier) AS tiers
        FROM shows s CROSS JOIN unnest(CAST(:tiers AS text[])) AS t(tier)
        WHERE s.venue_id = :v AND s.status = 'SCHEDULED'
          AND NOT EXISTS (SELECT 1 FROM show_prices p WHERE p.show_id = s.id AND p.tier = t.tier)
        GROUP BY s.id ORDER BY s.id
        """,
            {"v": venue_id, "tiers": list(tiers)},
        )
    )


def remove_seats(uow: UnitOfWork, venue_id: int, seat_ids: Sequence[str]) -> None:
    seat_state.remove_layout_seats(uow, venue_id, seat_ids)
    uow.execute(
        "DELETE FROM venue_seats WHERE venue_id = :v AND seat_id = ANY(:ids)", {"v": venue_id, "ids": list(seat_ids)}
    )


def update_seats(uow: UnitOfWork, venue_id: int, seats: Sequence[tuple[int, SeatSpec]]) -> None:
    """Rewrites seats that stay (new place, tier, flags and order) in one statement."""
    if not seats:
        return
    names = (
        "ordinals",
        "seat_ids",
        "sections",
        "rows",
        "numbers",
        "xs",
        "ys",
        "tiers",
        "accessible",
        "companion",
        "sellable",
        "standing",
    )
    columns = list(
        zip(
            *[
                (
                    o,
                    s.seat_id,
                    s.section,
                    s.row,
                    s.number,
                    s.x,
                    s.y,
                    s.tier,
                    s.accessible,
                    s.companion,
                    s.sellable,
                    s.standing,
                )
                for o, s in seats
            ]
        )
    )
    uow.execute(
        """
        UPDATE venue_seats vs
        SET ordinal = t.ordinal, section = t.section, row = t.row, number = t.number, x = t.x, y = t.y,
            tier = t.tier, accessible = t.accessible, companion = t.companion, sellable = t.sellable,
            standing = t.standing
        FROM unnest(CAST(:ordinals AS int[]), CAST(:seat_ids AS text[]), CAST(:sections AS text[]),
                    CAST(:rows AS text[]), CAST(:numbers AS int[]), CAST(:xs AS int[]), CAST(:ys AS int[]),
                    CAST(:tiers AS text[]), CAST(:accessible AS boolean[]), CAST(:companion AS boolean[]),
                    CAST(:sellable AS boolean[]), CAST(:standing AS boolean[]))
             AS t(ordinal, seat_id, section, row, number, x, y, tier, accessible, companion, sellable, standing)
        WHERE vs.venue_id = :v AND vs.seat_id = t.seat_id
        """,
        dict(zip(names, (list(c) for c in columns)), v=venue_id),
    )


# ---------------------------------------------------------------- events and shows


def list_events(uow: UnitOfWork, actor: Actor) -> list[Row[Any]]:
    return list(
        uow.execute(
            f"""
        SELECT e.id, e.title, e.category, e.description, e.duration_minutes, e.organisation_id,
               e.poster, q.state AS queue_state
        FROM events e LEFT JOIN gate_queues q ON q.event_id = e.id
        WHERE {owned("e")} ORDER BY e.title
        """,
            actor.scope,
        )
    )


def event_title_taken(uow: UnitOfWork, organisation_id: int, title: str) -> bool:
    return uow.execute(
        "SELECT EXISTS (SELECT 1 FROM events WHERE organisation_id = :o AND title = :t)",
        {"o": organisation_id, "t": title},
    ).scalar_one()


def insert_event(
    uow: UnitOfWork, organisation_id: int, title: str, category: str, description: str, minutes: int
) -> int:
    return uow.execute(
        """
        INSERT INTO events (organisation_id, title, category, description, duration_minutes)
        VALUES (:o, :t, :c, :d, :m) RETURNING id
        """,
        {"o": organisation_id, "t": single_line(title), "c": category, "d": description, "m": minutes},
    ).scalar_one()


def update_event(uow: UnitOfWork, event_id: int, changes: dict[str, Any]) -> None:
    columns = {"title": "title", "category": "category", "description": "description", "minutes": "duration_minutes"}
    assert set(changes) <= set(columns)
    if "title" in changes:
        changes = {**changes, "title": single_line(changes["title"])}
    if changes:
        sets = ", ".join(f"{columns[k]} = :{k}" for k in sorted(changes))
        uow.execute(f"UPDATE events SET {sets} WHERE id = :id", {**changes, "id": event_id})


def list_shows(uow: UnitOfWork, actor: Actor, limit: int = 500) -> list[Row[Any]]:
    return list(
        uow.execute(
            f"""
        SELECT s.id, s.event_id, e.title, s.venue_id, v.name AS venue_name, c.name AS city_name, c.timezone,
               s.starts_at, s.sale_opens_at, s.sale_closes_at, s.status, s.queue_required, s.currency, now() AS db_now
        FROM shows s JOIN events e ON e.id = s.event_id JOIN venues v ON v.id = s.venue_id
        JOIN cities c ON c.id = v.city_id
        WHERE {owned("v")} AND s.starts_at > now() - interval '1 day'
        ORDER BY s.starts_at, s.id LIMIT :limit
        """,
            {**actor.scope, "limit": limit},
        )
    )


def show_exists(uow: UnitOfWork, event_id: int, venue_id: int, starts_at: Any) -> bool:
    return uow.execute(
        "SELECT EXISTS (SELECT 1 FROM shows WHERE event_id = :e AND venue_id = :v AND starts_at = :s)",
        {"e": event_id, "v": venue_id, "s": starts_at},
    ).scalar_one()


def venue_tiers(uow: UnitOfWork, venue_id: int) -> list[str]:
    return list(
        uow.execute(
            "SELECT DISTINCT tier FROM venue_seats WHERE venue_id = :v ORDER BY tier", {"v": venue_id}
        ).scalars()
    )


def update_show(uow: UnitOfWork, show_id: int, changes: dict[str, Any]) -> None:
    columns = {
        "starts_at",
        "sale_opens_at",
        "sale_closes_at",
        "queue_required",
        "refund_policy",
        "transfer_cutoff_minutes",
        "ticket_codes",
        "static_codes_allowed",
        "rotation_key_sealed",
    }
    assert set(changes) <= columns
    if not changes:
        return
    sets = ", ".join(f"{c} = CAST(:{c} AS jsonb)" if c == "refund_policy" else f"{c} = :{c}" for c in sorted(changes))
    uow.execute(f"UPDATE shows SET {sets} WHERE id = :id", {**changes, "id": show_id})


def set_prices(uow: UnitOfWork, show_id: int, prices: dict[str, int]) -> None:
    uow.execute(
        """
        INSERT INTO show_prices (show_id, tier, price) VALUES (:show_id, :tier, :price)
        ON CONFLICT (show_id, tier) DO UPDATE SET price = EXCLUDED.price
        """,
        [{"show_id": show_id, "tier": t, "price": p} for t, p in prices.items()],
    )


def dead_letters(uow: UnitOfWork, actor: Actor, limit: int = 20) -> Sequence[Row[Any]]:
    """The DEAD messages the manager's organisation sent (every one for an admin), newest first."""
    return uow.execute(
        f"""
        SELECT n.id, to_char(n.created_at AT TIME ZONE 'UTC', 'DD Mon YYYY, HH24:MI "UTC"') AS written, n.kind,
               n.channel, n.recipient, n.attempts, n.last_error
        FROM notifications n
        WHERE n.status = 'DEAD' AND {owned("n")} ORDER BY n.created_at DESC, n.id DESC LIMIT :limit
        """,
        {**actor.scope, "limit": limit},
    ).all()


def event_poster(uow: UnitOfWork, event_id: int) -> str | None:
    return uow.execute("SELECT poster FROM events WHERE id = :id", {"id": event_id}).scalar()
