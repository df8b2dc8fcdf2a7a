"""Managers' controls of a waiting room and the one request model of its settings.

``control_queue`` is the room's side; ``app/manage/waiting_rooms.py`` adds who may manage the
event and the dashboards that follow, and is what the manager API, the dashboard and the gate's
API call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import redis
from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings as AppSettings
from app.errors import EmailNotVerified, InvalidQueueTransition, QueueIsClosed, QueueMissing
from app.unit_of_work import UnitOfWork
from app.waiting_room.room import (
    InvalidTransition,
    QueueClosed,
    QueueNotFound,
    Settings,
    UnverifiedEmail,
    WaitingRoom,
)

T = TypeVar("T")
STATES = {"pause": "PAUSED", "resume": "OPEN", "drain": "DRAINING", "close": "CLOSED"}


class QueueRequest(BaseModel):
    """A waiting room's settings; absent ones take their defaults."""

    # How every request gives a room's settings: the manager API's PUT /api/v1/manage/events/{id}/queue,
    # a show's ``queue`` (API and dashboard form) and, with the opening, the gate's PUT /gate/v1/queues/{id}.

    # A field's docstring is its description in the OpenAPI document (app/api/openapi.py).
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    batchSize: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """Fans admitted per batch."""
    admissionIntervalSeconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    """Seconds between batches."""
    maxActive: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    """The most admitted fans shopping at once."""
    sessionSeconds: Annotated[int, Field(ge=30, le=86_400)] = 600
    """How long an admission lasts."""
    verifiedEmailRequired: bool = False
    """Only fans who have verified their email address may join (others get 403 `EMAIL_NOT_VERIFIED`)."""

    def settings(self) -> Settings:
        """The room's settings; the sale's opening comes from the event's protected shows."""
        return Settings(
            self.batchSize,
            self.admissionIntervalSeconds,
            self.maxActive,
            self.sessionSeconds,
            verified_email_required=self.verifiedEmailRequired,
        )


class OpenQueueRequest(QueueRequest):
    """The gate's ``PUT /gate/v1/queues/{id}``: the same settings, and the opening named in the body
    (left out, the room opens now)."""

    saleOpensAt: Annotated[datetime | None, Field(strict=False)] = None

    def settings(self) -> Settings:
        return replace(super().settings(), sale_opens_at=self.saleOpensAt or datetime.now(UTC))


def guard(call: Callable[[], T]) -> T:
    """The waiting room's own exceptions as the contract's errors."""
    try:
        return call()
    except QueueNotFound as exc:
        raise QueueMissing(f"event {exc.args[0]} has no waiting room") from exc
    except QueueClosed as exc:
        raise QueueIsClosed("this waiting room is closed") from exc
    except UnverifiedEmail as exc:
        raise EmailNotVerified("this waiting room admits only fans who have verified their email address") from exc
    except InvalidTransition as exc:
        current, wanted = exc.args
        raise InvalidQueueTransition(f"a {current} waiting room cannot become {wanted}", state=current) from exc


def control_queue(
    uow: UnitOfWork,
    client: redis.Redis,
    app_settings: AppSettings,
    event_id: int,
    action: str,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """``figures``, ``open`` (with ``settings``; without its ``sale_opens_at`` the sale's opening comes
    from the event's protected shows), or one of STATES' actions."""
    room = WaitingRoom(client, event_id, app_settings.gate_show_up_seconds)

    def run() -> dict[str, Any]:
        if action == "figures":
            room.admit_due(uow)
            return room.figures()
        if action == "open":
            assert settings is not None, "opening a waiting room needs its settings"
            if settings.sale_opens_at is not None:
                return room.open(uow, settings)
            opens = uow.execute(
                "SELECT min(sale_opens_at) FROM shows WHERE event_id = :e AND queue_required AND status = 'SCHEDULED'",
                {"e": event_id},
            ).scalar()
            return room.open(uow, replace(settings, sale_opens_at=opens))
        return room.set_state(uow, STATES[action])

    return guard(run)
