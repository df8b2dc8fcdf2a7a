"""The fan's own account details: GET and PATCH /api/v1/me, and the site's account page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

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


# What a phone number may be written with; the library alone would pass stray letters (extensions).
PHONE_CHARACTERS = re.compile(r"\+[0-9][0-9 ().-]*")


def e164(value: str | None) -> str | None:
    """A phone number in international format (a leading `+`, spaces and dashes allowed), as E.164."""
    if value is None:
        return None
    if not PHONE_CHARACTERS.fullmatch(value):
        raise ValueError(
            "a phone number is + and the country code, then digits (spaces, dashes, dots, brackets allowed)"
        )
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number in international format (start with + and the country code)") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
