from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app import admission
from app.api.http import check_body_user, current_user, parse_body, parse_id, parse_uuid
from app.booking import release
from app.errors import HoldNotFound, ShowNotFound, ValidationFailed
from app.extensions import redis_store, settings
from app.inventory import seatmap, services
from app.inventory.hints import SeatHints
from app.response_cache import shared_response
from app.unit_of_work import unit_of_work

bp = Blueprint("inventory_api", __name__, url_prefix="/api/v1")

SeatId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
# A hard ceiling that stops absurd lists before any work; the configurable
# per-hold limit is checked by the service.
MAX_LISTED_SEATS = 100


class HoldRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    seatIds: Annotated[list[SeatId], Field(max_length=MAX_LISTED_SEATS)]
    userId: str | None = None


def _seatmap_response(show_id: int, key: str, render) -> object:
    config = settings()

    def build() -> bytes:
        with unit_of_work() as uow:
            return render(uow)

    return shared_response(redis_store.client, key, config.seatmap_cache_seconds, build)


@bp.get("/shows/<show_id>/seatmap")
def seat_map(show_id: str):
    sid = parse_id(show_id, ShowNotFound, "show")
    fmt = request.args.get("format", "full")
    section = request.args.get("section")
    if fmt not in ("full", "compact"):
        raise ValidationFailed("format must be full or compact", fields=[{"field": "format", "message": "unknown format"}])
    if section is not None and (not section or len(section) > 64):
        raise ValidationFailed("section must be 1 to 64 characters", fields=[{"field": "section", "message": "bad length"}])
    if fmt == "compact":
        if section is not None:
            raise ValidationFailed("the compact format covers the whole show; leave out section")
        return _seatmap_response(sid, f"seatmap:{sid}:compact", lambda uow: seatmap.render_compact(uow, sid))
    if section is not None:
        return _seatmap_response(
            sid, f"seatmap:{sid}:section:{section}", lambda uow: seatmap.render_full(uow, sid, section)
        )
    return _seatmap_response(sid, f"seatmap:{sid}:full", lambda uow: seatmap.render_full(uow, sid))


@bp.get("/shows/<show_id>/seatmap/sections")
def seat_map_sections(show_id: str):
    sid = parse_id(show_id, ShowNotFound, "show")
    return _seatmap_response(sid, f"seatmap:{sid}:sections", lambda uow: seatmap.render_sections(uow, sid))


@bp.post("/shows/<show_id>/holds")
def create_hold(show_id: str):
    user = current_user()
    sid = parse_id(show_id, ShowNotFound, "show")
    body = parse_body(HoldRequest)
    check_body_user(user, body.userId)
    with unit_of_work() as uow:
        token = request.headers.get(admission.HEADER) or request.cookies.get(admission.COOKIE)
        hold = services.hold_seats(
            uow, SeatHints(redis_store.client), services.HoldLimits.from_settings(settings()), user.id, sid,
            body.seatIds, services.AdmissionCheck(current_app.extensions["seatline.admission"], token),
        )
    return hold.to_json(), 201, {"Location": f"/api/v1/holds/{hold.hold_id}"}


@bp.get("/holds/<hold_id>")
def get_hold(hold_id: str):
    user = current_user()
    with unit_of_work() as uow:
        hold = services.get_hold(uow, user.id, parse_uuid(hold_id, HoldNotFound, "hold"))
    return hold.to_json(), 200, {"Cache-Control": "no-store"}


@bp.delete("/holds/<hold_id>")
def release_hold(hold_id: str):
    user = current_user()
    hid = parse_uuid(hold_id, HoldNotFound, "hold")
    with unit_of_work() as uow:
        hold = release.release_hold(uow, current_app.extensions["seatline.gateway"], SeatHints(redis_store.client),
                                    user.id, hid)
    return hold.to_json(), 200
