from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class AuditLogEntry(db.Model):
    """One recorded change. Append-only: a trigger raises on UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(
            "actor_kind IN ('fan', 'manager', 'admin', 'door', 'system', 'gateway')", name="actor_kind_known"
        ),
        CheckConstraint("actor_kind IN ('system', 'gateway') OR actor_user_id IS NOT NULL", name="people_are_named"),
        CheckConstraint("action ~ '^[a-z_]+\\.[a-z_]+$'", name="action_shape"),
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
        Index("ix_audit_log_show_at", "show_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    show_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
