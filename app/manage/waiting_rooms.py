"""Managers' controls of an event's waiting room: the one service the manager API
(``/api/v1/manage/events/{id}/queue``), the gate's API (``/gate/v1/queues/{id}``) and the dashboard's
show page call to open, pause, resume, drain or close a room and read its figures."""

from __future__ import annotations

from typing import Any

from app.extensions import RedisRoles, settings as app_settings
from app.manage import access, dashboard
from app.manage.access import Actor
from app.unit_of_work import UnitOfWork
from app.waiting_room import control as room_control
from app.waiting_room.room import Settings

ACTIONS = tuple(room_control.STATES)  # pause, resume, drain, close


def control(
    uow: UnitOfWork, roles: RedisRoles, who: Actor, event_id: int, action: str, settings: Settings | None = None
) -> dict[str, Any]:
    """Runs ``action`` (``figures``, ``open`` with ``settings``, or one of ``ACTIONS``) on the waiting
    room of an event ``who`` manages (another organisation's event answers 404 like one that does
    not exist) and returns the room's figures. After a change the dashboards of the event's shows
    are read afresh."""
    access.event(uow, who, event_id)
    figures = room_control.control_queue(uow, roles.room, app_settings(), event_id, action, settings)
    if action != "figures":
        dashboard.forget_event(uow, roles, event_id)
    return figures
