"""The gate's HTTP API: joining, status, the counter, JWKS, and managers' controls."""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field

from app import admission
from app.api.http import current_user, parse_body, parse_id
from app.errors import EventNotFound, TicketNotFound, ValidationFailed
from app.extensions import redis_store
from app.manage import access
from app.rate_limit_rules import JOINS, rate_limited
from app.unit_of_work import UnitOfWork, unit_of_work
from app.waiting_room.control import guard as _guard
from app.waiting_room.room import Settings, WaitingRoom
from queue_gate.keys import jwks as jwks_document

bp = Blueprint("gate_api", __name__, url_prefix="/gate/v1")


class OpenQueueRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    batchSize: Annotated[int, Field(ge=1, le=100_000)] = 1000
    admissionIntervalSeconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    maxActive: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    sessionSeconds: Annotated[int, Field(ge=30, le=86_400)] = 600
    saleOpensAt: Annotated[datetime | None, Field(strict=False)] = None


def _room(event_id: int) -> WaitingRoom:
    return WaitingRoom(redis_store.client, event_id, current_app.extensions["seatline.settings"].gate_show_up_seconds)


def _event_id(raw: str) -> int:
    return parse_id(raw, EventNotFound, "event")


def _require_owner(uow: UnitOfWork, event_id: int) -> None:
    """Only a manager of the organisation that owns the event (or an admin) controls its waiting room;
    another organisation's event answers 404 like one that does not exist."""
    access.event(uow, access.load_actor(uow, current_user().id), event_id)


@bp.post("/queues/<event_id>/join")
@rate_limited(JOINS)
def join(event_id: str):
    user = current_user()
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        place = _guard(lambda: _room(eid).join(uow, user.id))
    body = {"ticket": place.ticket, "position": place.position, "state": place.state}
    return body, 201 if place.new else 200, {"Cache-Control": "no-store"}


@bp.get("/queues/<event_id>/status")
def status(event_id: str):
    eid = _event_id(event_id)
    ticket = request.args.get("ticket", "")
    if not ticket or len(ticket) > 64:
        raise ValidationFailed("ticket is required", fields=[{"field": "ticket", "message": "missing or too long"}])
    room = _room(eid)
    info = room.status(ticket)
    if info is None or info["admissionDue"]:
        # Redis lost the queue (rebuild it), or a batch is due and no tick has run yet.
        with unit_of_work() as uow:
            _guard(lambda: room.admit_due(uow))
        info = room.status(ticket)
    if info is None:
        raise TicketNotFound("no such ticket in this waiting room")
    body = {k: info[k] for k in ("state", "position", "aheadOfYou", "estimatedWaitSeconds")}
    if info["state"] == "ADMITTED":
        body.update(_admission(room, eid, ticket, info["userId"], info))
    return body, 200, {"Cache-Control": "no-store"}


def _admission(room: WaitingRoom, event_id: int, ticket: str, user_id: int, info: dict[str, Any]) -> dict[str, Any]:
    if info.get("token"):
        return {"admissionToken": info["token"], "admissionExpiresAt": int(info["sessionEndsAt"])}
    keys = current_app.extensions["seatline.gate_keys"]
    session = int(room.r.hget(room.key("meta"), "session") or 600)
    expires = room.claim(ticket, session)
    issued = expires - session
    # Same claims on every path, and Ed25519 signatures are deterministic: the same token each time.
    jti = hashlib.sha256(f"{ticket}:{issued}".encode()).hexdigest()[:32]
    token = admission.issue(keys[0].private_key, keys[0].kid, user_id, event_id, session, now=issued, jti=jti)
    room.remember_token(ticket, token)
    return {"admissionToken": token, "admissionExpiresAt": int(expires)}


@bp.get("/queues/<event_id>/counter")
def counter(event_id: str):
    eid = _event_id(event_id)
    room = _room(eid)
    with unit_of_work() as uow:
        _guard(lambda: room.ensure_loaded(uow))
    return room.counter(), 200, {"Cache-Control": "public, max-age=1"}


@bp.get("/jwks.json")
def jwks():
    return jwks_document(current_app.extensions["seatline.gate_keys"]), 200, {"Cache-Control": "public, max-age=300"}


@bp.put("/queues/<event_id>")
def open_queue(event_id: str):
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        _require_owner(uow, eid)
        body = parse_body(OpenQueueRequest)
        figures = _room(eid).open(uow, Settings(body.batchSize, body.admissionIntervalSeconds, body.maxActive,
                                                body.sessionSeconds, body.saleOpensAt))
    return figures, 200


@bp.get("/queues/<event_id>/stats")
def stats(event_id: str):
    eid = _event_id(event_id)
    room = _room(eid)
    with unit_of_work() as uow:
        _require_owner(uow, eid)
        _guard(lambda: room.admit_due(uow))
    return _guard(room.figures), 200, {"Cache-Control": "no-store"}


def _control(event_id: str, state: str):
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        _require_owner(uow, eid)
        figures = _guard(lambda: _room(eid).set_state(uow, state))
    return figures, 200


@bp.post("/queues/<event_id>/pause")
def pause(event_id: str):
    return _control(event_id, "PAUSED")


@bp.post("/queues/<event_id>/resume")
def resume(event_id: str):
    return _control(event_id, "OPEN")


@bp.post("/queues/<event_id>/drain")
def drain(event_id: str):
    return _control(event_id, "DRAINING")


@bp.post("/queues/<event_id>/close")
def close(event_id: str):
    return _control(event_id, "CLOSED")
