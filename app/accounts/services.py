"""Registering fans and exchanging credentials for a bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from app.accounts import recovery, revocation
from app.accounts.passwords import Passwords
from app.errors import EmailTaken, InvalidCredentials
from app.text import single_line
from app.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Account:
    user_id: int
    role: str
    # The session epoch tokens and sessions are made under (app/accounts/revocation.py).
    auth_epoch: int = 0


def register(
    uow: UnitOfWork,
    passwords: Passwords,
    email: str,
    password: str,
    name: str,
    role: str = "fan",
    organisation_id: int | None = None,
    verification_ttl_seconds: int | None = None,
) -> Account:
    """A new account; with ``verification_ttl_seconds``, the email asking to verify the address is
    written in the same transaction (app/accounts/recovery.py). Commits."""
    email, name = email.lower(), single_line(name)
    password_hash = passwords.hash(password)
    try:
        row = uow.execute(
            """
            INSERT INTO users (email, name, password_hash, role, organisation_id)
            VALUES (:email, :name, :password_hash, :role, :org)
            ON CONFLICT (email) DO NOTHING
            RETURNING id
            """,
            {"email": email, "name": name, "password_hash": password_hash, "role": role, "org": organisation_id},
        ).first()
    except IntegrityError as exc:  # a check constraint; validation should have caught it
        raise EmailTaken("that email address cannot be registered") from exc
    if row is None:
        raise EmailTaken("an account with that email address already exists")
    if verification_ttl_seconds is not None:
        recovery.queue_email_verification(uow, row.id, verification_ttl_seconds)
    uow.commit()
    return Account(user_id=row.id, role=role)


def authenticate(uow: UnitOfWork, passwords: Passwords, email: str, password: str) -> Account:
    row = uow.execute(
        "SELECT id, role, password_hash, auth_epoch FROM users WHERE email = :email", {"email": email.lower()}
    ).first()
    if not passwords.verify(row.password_hash if row else None, password) or row is None:
        raise InvalidCredentials("email or password is wrong")
    return Account(user_id=row.id, role=row.role, auth_epoch=row.auth_epoch)


def change_password(
    uow: UnitOfWork, passwords: Passwords, user_id: int, current: str, new: str, keep_jti: str | None = None
) -> int:
    """A new password, if ``current`` is right; every token and session of the user is revoked but
    ``keep_jti`` (the caller's token). Returns the new session epoch. Commits."""
    row = uow.execute("SELECT password_hash FROM users WHERE id = :id FOR UPDATE", {"id": user_id}).first()
    if not passwords.verify(row.password_hash if row else None, current) or row is None:
        raise InvalidCredentials("the current password is wrong")
    uow.execute("UPDATE users SET password_hash = :h WHERE id = :id", {"h": passwords.hash(new), "id": user_id})
    epoch = revocation.revoke_all(uow, user_id, keep_jti)
    uow.commit()
    return epoch
