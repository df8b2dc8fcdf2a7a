"""Creating cities, venues with their layouts, events and shows. Each call is idempotent on natural keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from app.catalog.layout import SeatSpec
from app.errors import ValidationFailed
from app.inventory.seat_state import create_show_seats
from app.unit_of_work import UnitOfWork

DEFAULT_REFUND_POLICY: dict[str, Any] = {
    "rules": [{"hoursBefore": 48, "refundPercent": 100}, {"hoursBefore": 24, "refundPercent": 50}],
    "feeMinor": 0,
}


def ensure_city(uow: UnitOfWork, name: str, country: str, timezone: str) -> int:
    uow.execute(
        "INSERT INTO cities (name, country, timezone) VALUES (:name, :country, :tz) ON CONFLICT (name) DO NOTHING",
        {"name": name, "country": country, "tz": timezone},
    )
    return uow.execute("SELECT id FROM cities WHERE name = :name", {"name": name}).scalar_one()


def ensure_organisation(uow: UnitOfWork, name: str) -> int:
    uow.execute("INSERT INTO organisations (name) VALUES (:name) ON CONFLICT (name) DO NOTHING", {"name": name})
    return uow.execute("SELECT id FROM organisations WHERE name = :name", {"name": name}).scalar_one()


def ensure_venue(
    uow: UnitOfWork,
    city_id: int,
    name: str,
    kind: str,
    address: str,
    seats: Sequence[SeatSpec],
    *,
    organisation_id: int,
) -> int:
    uow.execute(
        """
        INSERT INTO venues (city_id, organisation_id, name, kind, address)
        VALUES (:city_id, :org, :name, :kind, :address)
        ON CONFLICT (city_id, name) DO NOTHING
        """,
        {"city_id": city_id, "org": organisation_id, "name": name, "kind": kind, "address": address},
    )
    venue_id = uow.execute(
        "SELECT id FROM venues WHERE city_id = :city_id AND name = :name", {"city_id": city_id, "name": name}
    ).scalar_one()
    has_layout = uow.execute("SELECT EXISTS (SELECT 1 FROM venue_seats WHERE venue_id = :v)", {"v": venue_id}).scalar()
    if not has_layout:
        add_layout(uow, venue_id, seats)
    return venue_id


def add_layout(
    uow: UnitOfWork, venue_id: int, seats: Sequence[SeatSpec], ordinals: Sequence[int] | None = None
) -> None:
    """Adds the seats in one statement (a 60,000-seat stadium in well under a second)."""
    if not seats:
        return
    names = (
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
        "ordinals",
        "standing",
    )
    ordinals = ordinals if ordinals is not None else range(len(seats))
    columns = list(
        zip(
            *[
                (
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
                    o,
                    s.standing,
                )
                for s, o in zip(seats, ordinals, strict=True)
            ]
        )
    )
    uow.execute(
        """
        INSERT INTO venue_seats (venue_id, seat_id, section, row, number, x, y, tier, accessible, companion, sellable,
                                 ordinal, standing)
        SELECT :venue_id, seat_id, section, row, number, x, y, tier, accessible, companion, sellable, ordinal, standing
        FROM unnest(CAST(:seat_ids AS text[]), CAST(:sections AS text[]), CAST(:rows AS text[]),
                    CAST(:numbers AS int[]), CAST(:xs AS int[]), CAST(:ys AS int[]), CAST(:tiers AS text[]),
                    CAST(:accessible AS boolean[]), CAST(:companion AS boolean[]), CAST(:sellable AS boolean[]),
                    CAST(:ordinals AS int[]), CAST(:standing AS boolean[]))
             AS t(seat_id, section, row, number, x, y, tier, accessible, companion, sellable, ordinal, standing)
        """,
        dict(zip(names, (list(c) for c in columns)), venue_id=venue_id),
    )


def ensure_event(
    uow: UnitOfWork, title: str, category: str, description: str, duration_minutes: int, *, organisation_id: int
) -> int:
    uow.execute(
        """
        INSERT INTO events (organisation_id, title, category, description, duration_minutes)
        VALUES (:org, :title, :category, :description, :duration) ON CONFLICT (organisation_id, title) DO NOTHING
        """,
        {
            "org": organisation_id,
            "title": title,
            "category": category,
            "description": description,
            "duration": duration_minutes,
        },
    )
    return uow.execute(
        "SELECT id FROM events WHERE organisation_id = :org AND title = :title",
        {"org": organisation_id, "title": title},
    ).scalar_one()


def schedule_show(
    uow: UnitOfWork,
    *,
    event_id: int,
    venue_id: int,
    starts_at: datetime,
    sale_opens_at: datetime,
    sale_closes_at: datetime,
    currency: str,
    prices: Mapping[str, int],
    queue_required: bool = False,
    refund_policy: Mapping[str, Any] | None = None,
) -> int:
    """Creates the show with a price for every tier of the venue and all its seats AVAILABLE."""
    tiers = set(uow.execute("SELECT DISTINCT tier FROM venue_seats WHERE venue_id = :v", {"v": venue_id}).scalars())
    unpriced = tiers - set(prices)
    if unpriced:
        # A seat without a price could never be shown or sold correctly.
        raise ValidationFailed("every price tier of the venue needs a price", unpricedTiers=sorted(unpriced))
    row = uow.execute(
        """
        INSERT INTO shows (event_id, venue_id, starts_at, sale_opens_at, sale_closes_at, currency,
                           queue_required, refund_policy)
        VALUES (:event_id, :venue_id, :starts_at, :opens, :closes, :currency, :queue, CAST(:policy AS jsonb))
        ON CONFLICT (event_id, venue_id, starts_at) DO NOTHING
        RETURNING id
        """,
        {
            "event_id": event_id,
            "venue_id": venue_id,
            "starts_at": starts_at,
            "opens": sale_opens_at,
            "closes": sale_closes_at,
            "currency": currency,
            "queue": queue_required,
            "policy": orjson.dumps(refund_policy or DEFAULT_REFUND_POLICY).decode(),
        },
    ).first()
    if row is None:
        return uow.execute(
            "SELECT id FROM shows WHERE event_id = :e AND venue_id = :v AND starts_at = :s",
            {"e": event_id, "v": venue_id, "s": starts_at},
        ).scalar_one()
    show_id = row.id
    uow.execute(
        "INSERT INTO show_prices (show_id, tier, price) VALUES (:show_id, :tier, :price)",
        [{"show_id": show_id, "tier": tier, "price": price} for tier, price in prices.items()],
    )
    create_show_seats(uow, show_id, venue_id)
    return show_id
