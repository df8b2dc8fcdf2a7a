from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

ROLES = ("fan", "manager", "admin", "door")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('fan', 'manager', 'admin', 'door')", name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint(
            "(role IN ('manager', 'door')) = (organisation_id IS NOT NULL)", name="manager_has_organisation"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), server_default="fan")
    # For SMS notifications; optional.
    phone: Mapped[str | None] = mapped_column(Text)
    # E.164 since PATCH /api/v1/me (migration 0015); one of app.config.SUPPORTED_LOCALES, or none.
    locale: Mapped[str | None] = mapped_column(Text)
    # When the fan followed the link registration emails (app/accounts/recovery.py); None until then.
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Managers and door staff act for one organisation; fans and admins belong to none.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Revocation (app/accounts/revocation.py): tokens and sessions of an older epoch are dead, but
    # the kept one; the version orders the copies of this record in Redis.
    auth_epoch: Mapped[int] = mapped_column(Integer, server_default="0")
    auth_kept_jti: Mapped[str | None] = mapped_column(Text)
    auth_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class AccountToken(db.Model):
    """A single-use link's token (password reset, email verification): only its SHA-256 is kept."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('password_reset', 'email_verification')", name="purpose_known"),
        CheckConstraint("octet_length(token_hash) = 32", name="token_hash_sha256"),
        Index("ix_account_tokens_user", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RevokedToken(db.Model):
    """A bearer token logged out on its own, kept until it would have expired anyway."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_user", "user_id", "expires_at"),)

    jti: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevocationCopyPending(db.Model):
    """A user whose revocation could not be copied to Redis when it was made (app/accounts/revocation.py)."""

    __tablename__ = "revocation_copies_pending"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Organisation(db.Model):
    """A company running venues: it owns venues and events, and its managers see only those."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint("length(name) BETWEEN 1 AND 120", name="name_length"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
