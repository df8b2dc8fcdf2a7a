"""The gate's HTTP API: joining, status, the counter, JWKS, and managers' controls."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, request

from app import admission
from app.api.http import current_user, parse_body, parse_id
from app.errors import EventNotFound, TicketNotFound, ValidationFailed
from app.extensions import redis_store
from app.manage import access, waiting_rooms
from app.rate_limit_rules import JOINS, rate_limited
from app.unit_of_work import UnitOfWork, unit_of_work
from app.waiting_room.control import OpenQueueRequest, guard as _guard
from app.waiting_room.room import WaitingRoom
from queue_gate.keys import jwks as jwks_document

bp = Blueprint("gate_api", __name__, url_prefix="/gate/v1")


def _room(event_id: int) -> WaitingRoom:
    return WaitingRoom(redis_store.room, event_id, current_app.extensions["seatline.settings"].gate_show_up_seconds)


def _event_id(raw: str) -> int:
    return parse_id(raw, EventNotFound, "event")


def _manager(uow: UnitOfWork) -> access.Actor:
    """The caller, if a manager or an admin (401 without a token, 403 for a fan). Only a manager of
    the organisation that owns an event (or an admin) controls its waiting room: the control
    service answers another organisation's event with 404, like one that does not exist."""
    return access.load_actor(uow, current_user().id)


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
        # Redis may have lost the ticket in a failover while Postgres has it (WaitingRoom.recover_ticket).
        with unit_of_work() as uow:
            if _guard(lambda: room.recover_ticket(uow, ticket)):
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
        who = _manager(uow)
        access.event(uow, who, eid)  # whose event it is comes before the body, as it always has here
        settings = parse_body(OpenQueueRequest).settings()
        return waiting_rooms.control(uow, redis_store.roles, who, eid, "open", settings), 200


@bp.get("/queues/<event_id>/stats")
def stats(event_id: str):
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        figures = waiting_rooms.control(uow, redis_store.roles, _manager(uow), eid, "figures")
    return figures, 200, {"Cache-Control": "no-store"}


def _control(event_id: str, action: str):
    eid = _event_id(event_id)
    with unit_of_work() as uow:
        return waiting_rooms.control(uow, redis_store.roles, _manager(uow), eid, action), 200


@bp.post("/queues/<event_id>/pause")
def pause(event_id: str):
    return _control(event_id, "pause")


@bp.post("/queues/<event_id>/resume")
def resume(event_id: str):
    return _control(event_id, "resume")


@bp.post("/queues/<event_id>/drain")
def drain(event_id: str):
    return _control(event_id, "drain")


@bp.post("/queues/<event_id>/close")
def close(event_id: str):
    return _control(event_id, "close")
