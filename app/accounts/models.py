from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

ROLES = ("fan", "manager", "admin")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('fan', 'manager', 'admin')", name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("(role = 'manager') = (organisation_id IS NOT NULL)", name="manager_has_organisation"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), server_default="fan")
    # For SMS notifications; optional.
    phone: Mapped[str | None] = mapped_column(Text)
    # Managers act for one organisation; fans and admins belong to none.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Revocation (app/accounts/revocation.py): tokens and sessions of an older epoch are dead, but
    # the kept one; the version orders the copies of this record in Redis.
    auth_epoch: Mapped[int] = mapped_column(Integer, server_default="0")
    auth_kept_jti: Mapped[str | None] = mapped_column(Text)
    auth_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


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
