from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, request

from app.api.http import parse_id
from app.catalog import services
from app.errors import CityNotFound, ShowNotFound, ValidationFailed
from app.extensions import settings
from app.unit_of_work import unit_of_work

bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1")

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
# Browsing is shared by everyone: let an edge cache serve it for a moment.
CATALOG_CACHE = "public, max-age=2"


def _parse_date(raw: str) -> date:
    if not DATE_PATTERN.fullmatch(raw):
        raise ValidationFailed("date must be YYYY-MM-DD", fields=[{"field": "date", "message": "not YYYY-MM-DD"}])
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed("date is not a real calendar date", fields=[{"field": "date", "message": str(exc)}]) from exc


@bp.get("/cities")
def cities():
    with unit_of_work() as uow:
        body = {"cities": services.list_cities(uow)}
    return body, 200, {"Cache-Control": "public, max-age=60"}


@bp.get("/cities/<city_id>/shows")
def shows_by_date(city_id: str):
    cid = parse_id(city_id, CityNotFound, "city")
    raw_date = request.args.get("date")
    with unit_of_work() as uow:
        day = _parse_date(raw_date) if raw_date is not None else services.city_today(uow, cid)
        body = services.shows_on_date(uow, cid, day)
    return body, 200, {"Cache-Control": CATALOG_CACHE}


@bp.get("/shows/<show_id>")
def show_detail(show_id: str):
    sid = parse_id(show_id, ShowNotFound, "show")
    with unit_of_work() as uow:
        body = services.show_detail(uow, sid, settings().max_seats_per_hold)
    return body, 200, {"Cache-Control": CATALOG_CACHE}
