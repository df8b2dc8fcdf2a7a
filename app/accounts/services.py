"""Registering fans and exchanging credentials for a bearer token."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from app.accounts.passwords import Passwords
from app.errors import EmailTaken, InvalidCredentials
from app.text import single_line
from app.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Account:
    user_id: int
    role: str


def register(
    uow: UnitOfWork, passwords: Passwords, email: str, password: str, name: str, role: str = "fan",
    organisation_id: int | None = None,
) -> Account:
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
    uow.commit()
    return Account(user_id=row.id, role=role)


def authenticate(uow: UnitOfWork, passwords: Passwords, email: str, password: str) -> Account:
    row = uow.execute(
        "SELECT id, role, password_hash FROM users WHERE email = :email", {"email": email.lower()}
    ).first()
    if not passwords.verify(row.password_hash if row else None, password) or row is None:
        raise InvalidCredentials("email or password is wrong")
    return Account(user_id=row.id, role=row.role)
