"""Managers' controls of a waiting room, shared by the gate's API and the manager dashboard."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import redis

from app.config import Settings as AppSettings
from app.errors import InvalidQueueTransition, QueueIsClosed, QueueMissing
from app.unit_of_work import UnitOfWork
from app.waiting_room.room import InvalidTransition, QueueClosed, QueueNotFound, Settings, WaitingRoom

T = TypeVar("T")
STATES = {"pause": "PAUSED", "resume": "OPEN", "drain": "DRAINING", "close": "CLOSED"}


def guard(call: Callable[[], T]) -> T:
    """The waiting room's own exceptions as the contract's errors."""
    try:
        return call()
    except QueueNotFound as exc:
        raise QueueMissing(f"event {exc.args[0]} has no waiting room") from exc
    except QueueClosed as exc:
        raise QueueIsClosed("this waiting room is closed") from exc
    except InvalidTransition as exc:
        current, wanted = exc.args
        raise InvalidQueueTransition(f"a {current} waiting room cannot become {wanted}", state=current) from exc


def control_queue(
    uow: UnitOfWork, client: redis.Redis, app_settings: AppSettings, event_id: int, action: str,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """``figures``, ``open`` (with ``settings``; the sale's opening comes from the event's protected shows),
    or one of STATES' actions."""
    room = WaitingRoom(client, event_id, app_settings.gate_show_up_seconds)

    def run() -> dict[str, Any]:
        if action == "figures":
            room.admit_due(uow)
            return room.figures()
        if action == "open":
            opens = uow.execute(
                "SELECT min(sale_opens_at) FROM shows WHERE event_id = :e AND queue_required AND status = 'SCHEDULED'",
                {"e": event_id},
            ).scalar()
            assert settings is not None, "opening a waiting room needs its settings"
            return room.open(uow, replace(settings, sale_opens_at=opens))
        return room.set_state(uow, STATES[action])

    return guard(run)
