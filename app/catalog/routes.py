from __future__ import annotations

import re
from datetime import date

import orjson
from flask import Blueprint, Response, request

from app.api.http import parse_id
from app.catalog import services
from app.catalog.schemas import CityList, CityShows, ShowDetail
from app.contract import (
    CITY_NOT_FOUND,
    DEGRADED,
    INTERNAL_ERROR,
    SHARED_FOR_A_SECOND,
    SHOW_NOT_FOUND,
    VALIDATION_FAILED,
    Answer,
    operation,
)
from app.errors import CityNotFound, ShowNotFound, ValidationFailed
from app.extensions import redis_store, settings
from app.replica import browsing_read
from app.response_cache import shared_response

bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1")

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
# Browsing is shared by everyone: the server keeps a rendered answer in Redis until the end of the
# second it was built in, and an edge may keep it 1 s more, so a listing or a show's detail is at
# most 2 s old end to end (app/response_cache.py).
CATALOG_CACHE_SECONDS = 1


def _shared(key: str, build, worth_keeping=lambda body: True) -> Response:
    """The rendered body from the shared cache, or built (and stored) on a miss; errors are never stored,
    and a last good copy is kept only of what ``worth_keeping`` says is real content."""
    kept = [True]

    def render() -> bytes:
        body = browsing_read(build)  # the replica while it is fresh enough (app/replica.py)
        kept[0] = worth_keeping(body)
        return orjson.dumps(body)

    return shared_response(redis_store.cache, key, CATALOG_CACHE_SECONDS, render, keep_last_good=lambda: kept[0])


def _parse_date(raw: str) -> date:
    if not DATE_PATTERN.fullmatch(raw):
        raise ValidationFailed("date must be YYYY-MM-DD", fields=[{"field": "date", "message": "not YYYY-MM-DD"}])
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(
            "date is not a real calendar date", fields=[{"field": "date", "message": str(exc)}]
        ) from exc


def _listed_date(raw: str) -> date:
    day = _parse_date(raw)
    horizon = settings().booking_horizon_days
    if not services.in_listing_window(day, horizon):
        raise ValidationFailed(
            f"date must be from the day before today to {horizon} days ahead",
            fields=[{"field": "date", "message": f"outside the booking horizon ({horizon} days)"}],
        )
    return day


@bp.get("/cities")
@operation(
    "listCities",
    "List the cities, by name",
    tags=("catalog",),
    auth=False,
    answers={
        200: Answer(
            "Every city, ordered by name. Cacheable for 60 seconds.",
            model=CityList,
            headers={
                "Cache-Control": {
                    "description": "`public, max-age=60`",
                    "schema": {"type": "string", "const": "public, max-age=60"},
                }
            },
        )
    },
    failures={500: INTERNAL_ERROR, 503: DEGRADED},
)
def cities():
    """Errors: `500 INTERNAL_ERROR`; `503 DEGRADED`."""
    body = {"cities": browsing_read(services.list_cities)}
    return body, 200, {"Cache-Control": "public, max-age=60"}


@bp.get("/cities/<city_id>/shows")
@operation(
    "listShowsOnDate",
    "The shows in a city on one local calendar date",
    tags=("catalog",),
    auth=False,
    parameters=(
        {
            "name": "date",
            "in": "query",
            "required": False,
            "description": "The city-local calendar date, `YYYY-MM-DD`. Defaults to today's date in the city's\ntime zone. An empty or malformed value is a 400, not the default.\n",
            "schema": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "example": "2026-11-28",
        },
    ),
    answers={
        200: Answer(
            "The city's shows on that date (possibly none). Cacheable for 2 seconds.",
            model=CityShows,
            headers={"Cache-Control": SHARED_FOR_A_SECOND},
        )
    },
    failures={400: VALIDATION_FAILED, 404: CITY_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def shows_by_date(city_id: str):
    """The shows whose start time falls on the given calendar date **in the city's time zone**
    (a day is 23 or 25 hours long on daylight-saving changes), ordered by start time, then
    title. Cancelled shows and shows whose sale has ended are included; `saleStatus` tells
    them apart.

    Errors: `400 VALIDATION_FAILED` (`date` is not `YYYY-MM-DD`, not a real date, or outside
    the booking horizon: before the day before today, or more than `BOOKING_HORIZON_DAYS`,
    730 by default, after it); `404 CITY_NOT_FOUND` (including a `cityId` that is not a decimal number);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    cid = parse_id(city_id, CityNotFound, "city")
    raw_date = request.args.get("date")
    day = browsing_read(lambda uow: services.city_today(uow, cid)) if raw_date is None else _listed_date(raw_date)
    # A day without shows is answered (and shared for its second) but not kept as a last good copy.
    return _shared(
        f"catalog:shows:{cid}:{day.isoformat()}",
        lambda uow: services.shows_on_date(uow, cid, day),
        worth_keeping=lambda body: bool(body["shows"]),
    )


@bp.get("/shows/<show_id>")
@operation(
    "getShow",
    "A show's detail, with its venue, price tiers, sale window and refund policy",
    tags=("catalog",),
    auth=False,
    answers={
        200: Answer(
            "The show. Cacheable for 2 seconds.", model=ShowDetail, headers={"Cache-Control": SHARED_FOR_A_SECOND}
        )
    },
    failures={404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def show_detail(show_id: str):
    """Errors: `404 SHOW_NOT_FOUND` (including a `showId` that is not a decimal number);
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = parse_id(show_id, ShowNotFound, "show")
    limit = settings().max_seats_per_hold
    return _shared(f"catalog:show:{sid}", lambda uow: services.show_detail(uow, sid, limit))
