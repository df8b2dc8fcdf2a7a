"""The caller's own account details: GET and PATCH /api/v1/me."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import InvalidToken
from app.unit_of_work import UnitOfWork

# PATCH /api/v1/me's fields and their columns: only those the request names change.
COLUMNS = {"name": "name", "phone": "phone", "locale": "locale"}


@dataclass(frozen=True)
class Profile:
    user_id: int
    email: str
    name: str
    phone: str | None
    locale: str | None
    email_verified: bool


_SELECT = "SELECT id, email, name, phone, locale, email_verified_at IS NOT NULL AS verified FROM users WHERE id = :id"


def _profile(row: Any) -> Profile:
    if row is None:  # a token whose account is gone
        raise InvalidToken("the bearer token is invalid or expired")
    return Profile(row.id, row.email, row.name, row.phone, row.locale, row.verified)


def load(uow: UnitOfWork, user_id: int) -> Profile:
    return _profile(uow.execute(_SELECT, {"id": user_id}).first())


def update(uow: UnitOfWork, user_id: int, changes: dict[str, Any]) -> Profile:
    """Sets the named fields (already checked and normalised) and returns the account. Commits."""
    if not changes:
        return load(uow, user_id)
    assignments = ", ".join(f"{COLUMNS[name]} = :{name}" for name in changes)
    row = uow.execute(
        f"UPDATE users SET {assignments} WHERE id = :id "
        "RETURNING id, email, name, phone, locale, email_verified_at IS NOT NULL AS verified",
        {**changes, "id": user_id},
    ).first()
    profile = _profile(row)
    uow.commit()
    return profile
