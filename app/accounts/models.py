from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, String, Text, func
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


class Organisation(db.Model):
    """A company running venues: it owns venues and events, and its managers see only those."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint("length(name) BETWEEN 1 AND 120", name="name_length"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
