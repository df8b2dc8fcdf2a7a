"""Door staff (README "Door check-in"): accounts with the role ``door``, which an organisation's managers
(or an admin) add and remove. Door staff check tickets in at their organisation's shows and nothing else.

An account becomes door staff by its email: it must be a fan's (a manager or an admin keeps their role,
door staff of another organisation stays theirs). Removing door staff makes the account a fan again.
"""

from __future__ import annotations

from typing import Any

from app.audit import log as audit
from app.errors import DomainError, NotFound
from app.manage.access import Actor, owned, owning_organisation
from app.unit_of_work import UnitOfWork


class AccountNotFound(NotFound):
    code = "ACCOUNT_NOT_FOUND"


class AccountNotEligible(DomainError):
    code = "ACCOUNT_NOT_ELIGIBLE"
    status = 409


def _member(row: Any) -> dict[str, Any]:
    return {"userId": str(row.id), "email": row.email, "name": row.name, "organisationId": str(row.organisation_id)}


def list_door_staff(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    rows = uow.execute(
        f"SELECT u.id, u.email, u.name, u.organisation_id FROM users u WHERE u.role = 'door' AND {owned('u')} "
        "ORDER BY u.email",
        actor.scope,
    )
    return [_member(r) for r in rows]


def add_door_staff(
    uow: UnitOfWork, actor: Actor, email: str, named_organisation: int | None
) -> tuple[dict[str, Any], bool]:
    """Makes the account with ``email`` door staff of the caller's organisation (an admin's: the one
    named); commits. True if it was not door staff of that organisation already. The account is looked
    up first: an unknown email is ``ACCOUNT_NOT_FOUND`` for everyone allowed to ask."""
    row = uow.execute(
        "SELECT id, email, name, role, organisation_id FROM users WHERE email = :e FOR UPDATE", {"e": email.lower()}
    ).first()
    if row is None:
        raise AccountNotFound("no account has that email")
    organisation_id = owning_organisation(uow, actor, named_organisation)
    if row.role == "door" and row.organisation_id == organisation_id:
        return _member(row), False
    if row.role != "fan":
        raise AccountNotEligible("only a fan's account can become door staff")
    added = uow.execute(
        "UPDATE users SET role = 'door', organisation_id = :org WHERE id = :id "
        "RETURNING id, email, name, organisation_id",
        {"org": organisation_id, "id": row.id},
    ).one()
    audit.record(
        uow, audit.manager(actor), "door_staff.add", "user", row.id, details={"organisationId": organisation_id}
    )
    uow.commit()
    return _member(added), True


def remove_door_staff(uow: UnitOfWork, actor: Actor, user_id: int) -> None:
    """The door staff account becomes a fan's again; another organisation's (or a non-door) account is
    ``ACCOUNT_NOT_FOUND``. Commits."""
    row = uow.execute(
        f"UPDATE users u SET role = 'fan', organisation_id = NULL WHERE u.id = :id AND u.role = 'door' AND {owned('u')} "
        "RETURNING u.id",
        {"id": user_id, **actor.scope},
    ).first()
    if row is None:
        raise AccountNotFound(f"user {user_id} is not door staff of your organisation")
    audit.record(uow, audit.manager(actor), "door_staff.remove", "user", user_id)
    uow.commit()
