"""Presale codes and vouchers, as managers create, list and change them (README "Presale codes and
vouchers"). A code belongs to one show, or to an event and then works for every show of it; both
are scoped to the actor's organisation (another organisation's show, event or code is 404).

A code is PRESALE (its holders may hold seats from its ``opensAt``, before the public sale opens;
it may carry a discount too) or VOUCHER (a percent or an amount off; it needs one). Its ``used``
counts the holds that hold one of its uses; it is changed only on the hold path
(app/inventory/access_codes.py) and by the holds' trigger (ARCHITECTURE.md "Access code uses"),
never here: a manager changes the limit, the window and whether it is active.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.audit import log as audit
from app.errors import DomainError, NotFound, ValidationFailed
from app.manage import access
from app.manage.access import Actor, owned
from app.unit_of_work import UnitOfWork


class AccessCodeNotFound(NotFound):
    code = "ACCESS_CODE_NOT_FOUND"


class AccessCodeExists(DomainError):
    code = "ACCESS_CODE_EXISTS"
    status = 409


_COLUMNS = """c.id, c.show_id, c.event_id, c.code, c.kind, c.percent_off, c.amount_off, c.max_uses, c.used,
              c.opens_at, c.closes_at, c.active, c.created_at"""

# A code the actor may see: its show's venue, or its event, is their organisation's.
_OWNED_CODE = f"""
    ((c.show_id IS NOT NULL AND EXISTS (SELECT 1 FROM shows s JOIN venues v ON v.id = s.venue_id
                                        WHERE s.id = c.show_id AND {owned("v")}))
     OR (c.event_id IS NOT NULL AND EXISTS (SELECT 1 FROM events e WHERE e.id = c.event_id AND {owned("e")})))
"""


def to_body(row: Any) -> dict[str, Any]:
    return {
        "accessCodeId": str(row.id),
        "showId": None if row.show_id is None else str(row.show_id),
        "eventId": None if row.event_id is None else str(row.event_id),
        "code": row.code,
        "kind": row.kind,
        "percentOff": row.percent_off,
        "amountOff": row.amount_off,
        "maxUses": row.max_uses,
        "used": row.used,
        "remaining": max(0, row.max_uses - row.used),
        "opensAt": row.opens_at,
        "closesAt": row.closes_at,
        "active": row.active,
        "createdAt": row.created_at,
    }


def _check(kind: str, percent_off: int | None, amount_off: int | None, opens_at: Any, closes_at: Any) -> None:
    problems = []
    if percent_off is not None and amount_off is not None:
        problems.append({"field": "amountOff", "message": "a code takes a percent or an amount off, not both"})
    if kind == "VOUCHER" and percent_off is None and amount_off is None:
        problems.append({"field": "percentOff", "message": "a voucher needs percentOff or amountOff"})
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        problems.append({"field": "closesAt", "message": "must be after opensAt"})
    if problems:
        raise ValidationFailed("the code is not consistent", fields=problems)


def create(
    uow: UnitOfWork,
    actor: Actor,
    *,
    show_id: int | None,
    event_id: int | None,
    code: str,
    kind: str,
    percent_off: int | None,
    amount_off: int | None,
    max_uses: int,
    opens_at: datetime | None,
    closes_at: datetime | None,
    active: bool,
) -> dict[str, Any]:
    """Creates a code of the actor's show or event (404 otherwise); a code of the same text (any case)
    for the same show or event is ``ACCESS_CODE_EXISTS``. Audited; commits."""
    audit_show = None
    if show_id is not None:
        audit_show = access.show(uow, actor, show_id).id
    else:
        assert event_id is not None
        access.event(uow, actor, event_id)
    _check(kind, percent_off, amount_off, opens_at, closes_at)
    row = uow.execute(
        f"""
        INSERT INTO access_codes AS c (show_id, event_id, code, kind, percent_off, amount_off, max_uses,
                                       opens_at, closes_at, active, created_by)
        VALUES (:show_id, :event_id, :code, :kind, :pct, :amt, :max_uses, :opens_at, :closes_at, :active, :by)
        ON CONFLICT DO NOTHING
        RETURNING {_COLUMNS}
        """,
        {
            "show_id": show_id,
            "event_id": event_id,
            "code": code,
            "kind": kind,
            "pct": percent_off,
            "amt": amount_off,
            "max_uses": max_uses,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "active": active,
            "by": actor.user_id,
        },
    ).first()
    if row is None:
        raise AccessCodeExists(
            "a code with that text already exists for this " + ("show" if show_id is not None else "event"),
            accessCode=code,
        )
    body = to_body(row)
    audit.record(
        uow,
        audit.manager(actor),
        "access_code.create",
        "access_code",
        row.id,
        show_id=audit_show,
        details=_audited(body),
    )
    uow.commit()
    return body


def _audited(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in body.items() if k not in ("createdAt",)}


def list_for_show(uow: UnitOfWork, actor: Actor, show_id: int) -> list[dict[str, Any]]:
    """The show's codes, then its event's (which work for it too), each by code."""
    show = access.show(uow, actor, show_id)
    rows = uow.execute(
        f"""SELECT {_COLUMNS} FROM access_codes c WHERE c.show_id = :s OR c.event_id = :e
            ORDER BY c.show_id NULLS LAST, lower(c.code)""",
        {"s": show.id, "e": show.event_id},
    )
    return [to_body(r) for r in rows]


def list_for_event(uow: UnitOfWork, actor: Actor, event_id: int) -> list[dict[str, Any]]:
    access.event(uow, actor, event_id)
    rows = uow.execute(
        f"SELECT {_COLUMNS} FROM access_codes c WHERE c.event_id = :e ORDER BY lower(c.code)", {"e": event_id}
    )
    return [to_body(r) for r in rows]


def get(uow: UnitOfWork, actor: Actor, code_id: int, *, lock: bool = False) -> Any:
    row = uow.execute(
        f"SELECT {_COLUMNS} FROM access_codes c WHERE c.id = :id AND {_OWNED_CODE} {'FOR UPDATE' if lock else ''}",
        {"id": code_id, **actor.scope},
    ).first()
    if row is None:
        raise AccessCodeNotFound(f"access code {code_id} does not exist")
    return row


# What a manager may change: the fields of the PATCH body, as columns.
CHANGEABLE = {"maxUses": "max_uses", "opensAt": "opens_at", "closesAt": "closes_at", "active": "active"}


def update(uow: UnitOfWork, actor: Actor, code_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Changes the code's limit, window or whether it is active (fields left out stay). A limit below
    the uses already taken leaves those holds be; the code just has none left. Audited; commits."""
    row = get(uow, actor, code_id, lock=True)
    if all(getattr(row, CHANGEABLE[k]) == v for k, v in changes.items()):
        return to_body(row)  # nothing changes (deactivating again): nothing to record
    opens_at = changes.get("opensAt", row.opens_at)
    closes_at = changes.get("closesAt", row.closes_at)
    _check(row.kind, row.percent_off, row.amount_off, opens_at, closes_at)
    sets = ", ".join(f"{CHANGEABLE[k]} = :{k}" for k in changes)
    updated = uow.execute(
        f"UPDATE access_codes c SET {sets} WHERE c.id = :id RETURNING {_COLUMNS}", {"id": code_id, **changes}
    ).one()
    body = to_body(updated)
    audit.record(
        uow,
        audit.manager(actor),
        "access_code.deactivate" if changes == {"active": False} else "access_code.update",
        "access_code",
        code_id,
        show_id=row.show_id,
        details=_audited({k: changes[k] for k in changes}),
    )
    uow.commit()
    return body
