"""Catalog rules: a city's date is its local calendar date; sale status is derived, never stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.catalog import queries
from app.errors import CityNotFound, ShowNotFound
from app.unit_of_work import UnitOfWork


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants at which a local calendar day starts and ends (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def sale_status(status: str, opens: datetime, closes: datetime, now: datetime) -> str:
    if status == "CANCELLED":
        return "CANCELLED"
    if now < opens:
        return "NOT_OPEN"
    if now >= closes:
        return "CLOSED"
    return "ON_SALE"


def list_cities(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [
        {"cityId": str(c.id), "name": c.name, "country": c.country, "timezone": c.timezone}
        for c in queries.list_cities(uow)
    ]


def listing_window(utc_today: date, horizon_days: int) -> tuple[date, date]:
    """The first and last dates a listing answers for: from the day before today to ``horizon_days``
    after it, in every city's time zone (a city's date is at most a day off UTC's). Any other date is
    refused, so made-up dates cannot make new cache keys (nor overflow a date, as 9999-12-31 did)."""
    return utc_today - timedelta(days=2), utc_today + timedelta(days=horizon_days + 1)


def in_listing_window(day: date, horizon_days: int) -> bool:
    first, last = listing_window(datetime.now(UTC).date(), horizon_days)
    return first <= day <= last


def city_today(uow: UnitOfWork, city_id: int) -> date:
    city = queries.get_city(uow, city_id)
    if city is None:
        raise CityNotFound(f"city {city_id} does not exist")
    return datetime.now(ZoneInfo(city.timezone)).date()


def shows_on_date(uow: UnitOfWork, city_id: int, day: date) -> dict[str, Any]:
    city = queries.get_city(uow, city_id)
    if city is None:
        raise CityNotFound(f"city {city_id} does not exist")
    zone = ZoneInfo(city.timezone)
    start, end = local_day_bounds(day, zone)
    shows = [
        {
            "showId": str(s.id),
            "eventId": str(s.event_id),
            "title": s.title,
            "category": s.category,
            "venueId": str(s.venue_id),
            "venueName": s.venue_name,
            "startTime": s.starts_at.astimezone(zone).isoformat(),
            "status": s.status,
            "saleStatus": sale_status(s.status, s.sale_opens_at, s.sale_closes_at, s.db_now),
            "queueRequired": s.queue_required,
            "currency": s.currency,
            "priceFrom": s.price_from,
            "priceTo": s.price_to,
        }
        for s in queries.shows_in_city_between(uow, city_id, start, end)
    ]
    return {"cityId": str(city_id), "date": day.isoformat(), "timezone": city.timezone, "shows": shows}


def show_detail(uow: UnitOfWork, show_id: int, max_seats_per_hold: int) -> dict[str, Any]:
    show = queries.get_show(uow, show_id)
    if show is None:
        raise ShowNotFound(f"show {show_id} does not exist")
    zone = ZoneInfo(show.timezone)
    return {
        "showId": str(show.id),
        "eventId": str(show.event_id),
        "title": show.title,
        "category": show.category,
        "description": show.description,
        "durationMinutes": show.duration_minutes,
        "venue": {
            "venueId": str(show.venue_id),
            "name": show.venue_name,
            "kind": show.venue_kind,
            "address": show.address,
            "cityId": str(show.city_id),
            "cityName": show.city_name,
            "timezone": show.timezone,
            "seatCount": show.seat_count,
        },
        "startTime": show.starts_at.astimezone(zone).isoformat(),
        "saleOpensAt": show.sale_opens_at.astimezone(zone).isoformat(),
        "saleClosesAt": show.sale_closes_at.astimezone(zone).isoformat(),
        "status": show.status,
        "saleStatus": sale_status(show.status, show.sale_opens_at, show.sale_closes_at, show.db_now),
        "queueRequired": show.queue_required,
        "currency": show.currency,
        "priceTiers": [
            {"tier": p.tier, "price": p.price, "currency": show.currency} for p in queries.show_prices(uow, show_id)
        ],
        "refundPolicy": show.refund_policy,
        "transferCutoffMinutes": show.transfer_cutoff_minutes,
        "maxSeatsPerHold": max_seats_per_hold,
    }
