"""Single-use links emailed to a fan: resetting a forgotten password, verifying an email address.

A link's token is 32 random bytes (``secrets.token_urlsafe``); ``account_tokens`` keeps only its
SHA-256, so the table alone cannot be used to reset anyone's password. The raw token is only in the
email, which the notifications outbox writes in the same transaction as the token and a job renders
and sends (app/notifications/outbox.py; once sent, the row keeps neither the token nor the link).

A token is spent by one conditional statement (``consume``): of any number of requests racing with
the same token, exactly one gets its user back; a used, expired, unknown or malformed token gets
nothing (README "Accounts").
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from app.accounts import revocation
from app.accounts.passwords import Passwords
from app.background.dispatch import Followups
from app.errors import ResetTokenInvalid, TokenInvalid
from app.notifications.outbox import QUEUE_ACCOUNT_MESSAGE, account_context
from app.unit_of_work import UnitOfWork

PASSWORD_RESET = "password_reset"
EMAIL_VERIFICATION = "email_verification"
# What ``secrets.token_urlsafe(TOKEN_BYTES)`` makes: anything else is not a token of ours.
TOKEN_BYTES = 32
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Issued:
    token: str
    notification_ids: list[int]


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def _issue(uow: UnitOfWork, purpose: str, ttl_seconds: int, user_sql: str, params: dict[str, object]) -> Issued:
    """A new token for the user ``user_sql`` selects (none: nothing is written) and its email, in one
    statement: the same statement runs whether or not there is such a user."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    rows = uow.execute(
        f"""
        WITH token AS (
            INSERT INTO account_tokens (user_id, purpose, token_hash, expires_at)
            SELECT id, :purpose, :hash, now() + make_interval(secs => :ttl) FROM ({user_sql}) AS who
            RETURNING id AS token_id, user_id
        )
        {QUEUE_ACCOUNT_MESSAGE}
        """,
        {
            **params,
            "purpose": purpose,
            "hash": token_hash(token),
            "ttl": ttl_seconds,
            "kind": purpose,
            "context": account_context(purpose, token, max(1, ttl_seconds // 60)),
        },
    ).all()
    ids = [row.id for row in rows]
    if ids:
        uow.after_commit(Followups(notifications=ids).run)
    return Issued(token, ids)


def request_password_reset(uow: UnitOfWork, email: str, ttl_seconds: int) -> Issued:
    """A reset link for the account with ``email``, if there is one; the caller cannot tell. Commits."""
    issued = _issue(
        uow, PASSWORD_RESET, ttl_seconds, "SELECT id FROM users WHERE email = :email", {"email": email.strip().lower()}
    )
    uow.commit()
    return issued


def queue_email_verification(uow: UnitOfWork, user_id: int, ttl_seconds: int) -> Issued:
    """A verification link for the user (not committed: the caller's transaction carries it)."""
    return _issue(uow, EMAIL_VERIFICATION, ttl_seconds, "SELECT id FROM users WHERE id = :uid", {"uid": user_id})


def consume(uow: UnitOfWork, token: str, purpose: str) -> int | None:
    """Spends a token: its user's id, or None if it is used, expired, unknown or malformed."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    return uow.execute(
        """
        UPDATE account_tokens SET used_at = now()
        WHERE token_hash = :h AND purpose = :p AND used_at IS NULL AND expires_at > now()
        RETURNING user_id
        """,
        {"h": token_hash(token), "p": purpose},
    ).scalar()


def usable(uow: UnitOfWork, token: str, purpose: str) -> bool:
    """Whether ``consume`` would take the token now (the site checks before showing its form); spends nothing."""
    if not TOKEN_SHAPE.fullmatch(token):
        return False
    return bool(
        uow.execute(
            """
            SELECT 1 FROM account_tokens
            WHERE token_hash = :h AND purpose = :p AND used_at IS NULL AND expires_at > now()
            """,
            {"h": token_hash(token), "p": purpose},
        ).scalar()
    )


def reset_password(uow: UnitOfWork, passwords: Passwords, token: str, new_password: str) -> int:
    """Sets the password of the token's user and revokes every token and session of that user (as
    logging out everywhere does); the token is spent. Commits; returns the user's id."""
    password_hash = passwords.hash(new_password)  # before the token is spent: no lock held while hashing
    user_id = consume(uow, token, PASSWORD_RESET)
    if user_id is None:
        uow.rollback()
        raise ResetTokenInvalid("the reset link is used, expired or not valid")
    uow.execute("UPDATE users SET password_hash = :h WHERE id = :id", {"h": password_hash, "id": user_id})
    revocation.revoke_all(uow, user_id)
    # A fan who could read the reset email owns the address: it is verified too.
    uow.execute(
        "UPDATE users SET email_verified_at = now() WHERE id = :id AND email_verified_at IS NULL", {"id": user_id}
    )
    uow.commit()
    return user_id


def verify_email(uow: UnitOfWork, token: str) -> int:
    """Marks the token's user's email verified (kept as first verified); the token is spent. Commits."""
    user_id = consume(uow, token, EMAIL_VERIFICATION)
    if user_id is None:
        uow.rollback()
        raise TokenInvalid("the verification link is used, expired or not valid")
    uow.execute(
        "UPDATE users SET email_verified_at = now() WHERE id = :id AND email_verified_at IS NULL", {"id": user_id}
    )
    uow.commit()
    return user_id


def is_verified(uow: UnitOfWork, user_id: int) -> bool:
    return bool(uow.execute("SELECT email_verified_at IS NOT NULL FROM users WHERE id = :id", {"id": user_id}).scalar())
