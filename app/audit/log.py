"""Writing and reading the audit log.

Who acted is an ``AuditActor``: a fan, a manager or an admin (with their user id), the
system (expiry, the sweeper, background jobs) or the payment gateway (its webhooks).

Single changes call :func:`record` in their transaction. Set-based and hot-path statements
insert their rows themselves, as one more data-modifying CTE reading the same RETURNING
rows as the change, with the columns in :data:`COLUMNS` and the actor from
:attr:`AuditActor.params` (bound as ``:actor_user_id`` and ``:actor_kind``, see :data:`ACTOR`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Row

from app.unit_of_work import UnitOfWork

ACTOR_KINDS = ("fan", "manager", "admin", "door", "system", "gateway")
COLUMNS = "(actor_user_id, actor_kind, action, subject_type, subject_id, show_id, details)"
ACTOR = "CAST(:actor_user_id AS bigint), CAST(:actor_kind AS text)"


@dataclass(frozen=True)
class AuditActor:
    kind: str
    user_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}")
        if self.kind not in ("system", "gateway") and self.user_id is None:
            raise ValueError(f"a {self.kind} is named by a user id")

    @property
    def params(self) -> dict[str, Any]:
        return {"actor_user_id": self.user_id, "actor_kind": self.kind}


SYSTEM = AuditActor("system")
GATEWAY = AuditActor("gateway")


def fan(user_id: int) -> AuditActor:
    return AuditActor("fan", user_id)


def manager(actor: Any) -> AuditActor:
    """A manager or admin acting through the dashboard or the manager API (``app.manage.access.Actor``)."""
    return AuditActor("admin" if actor.is_admin else "door" if actor.role == "door" else "manager", actor.user_id)


def to_json(details: Mapping[str, Any] | None) -> str:
    return orjson.dumps(dict(details or {}), option=orjson.OPT_NON_STR_KEYS).decode()


def record(
    uow: UnitOfWork,
    who: AuditActor,
    action: str,
    subject_type: str,
    subject_id: Any,
    *,
    show_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Adds one row, in the caller's transaction: it commits or rolls back with the change it records."""
    uow.execute(
        f"""
        INSERT INTO audit_log {COLUMNS}
        VALUES ({ACTOR}, :action, :subject_type, :subject_id, CAST(:show_id AS bigint), CAST(:details AS jsonb))
        """,
        {
            **who.params,
            "action": action,
            "subject_type": subject_type,
            "subject_id": str(subject_id),
            "show_id": show_id,
            "details": to_json(details),
        },
    )


def entries(
    uow: UnitOfWork,
    *,
    show_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    limit: int | None = None,
) -> list[Row[Any]]:
    """Rows in the order they were written, filtered by show, subject and action (None: any);
    with ``limit``, the latest ``limit`` of them."""
    filters = {"show_id": show_id, "subject_type": subject_type, "subject_id": subject_id, "action": action}
    where = " AND ".join(f"{column} = :{column}" for column, value in filters.items() if value is not None) or "true"
    rows = uow.execute(
        f"""
        SELECT id, at, actor_user_id, actor_kind, action, subject_type, subject_id, show_id, details
        FROM audit_log WHERE {where}
        ORDER BY id DESC LIMIT :limit
        """,
        {**{k: v for k, v in filters.items() if v is not None}, "limit": limit},
    ).all()
    return list(rows[::-1])
