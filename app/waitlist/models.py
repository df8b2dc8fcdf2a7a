from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

ENTRY_STATUSES = ("WAITING", "OFFERED", "CLAIMED", "MISSED", "LEFT", "CLOSED")


class WaitlistEntry(db.Model):
    """A fan's place in a sold-out show's line (migration 0017_waitlist; README "Waiting list")."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 8", name="quantity_in_range"),
        CheckConstraint("status IN ('WAITING', 'OFFERED', 'CLAIMED', 'MISSED', 'LEFT', 'CLOSED')", name="status_known"),
        CheckConstraint("(status IN ('OFFERED', 'CLAIMED', 'MISSED')) = (hold_id IS NOT NULL)", name="offer_iff_hold"),
        CheckConstraint(
            "(status IN ('CLAIMED', 'MISSED', 'LEFT', 'CLOSED')) = (ended_at IS NOT NULL)", name="ended_iff_over"
        ),
        Index(
            "ux_waitlist_one_active",
            "show_id",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('WAITING', 'OFFERED')"),
        ),
        Index("ix_waitlist_line", "show_id", "seq", postgresql_where=text("status = 'WAITING'")),
        Index("ix_waitlist_offered", "show_id", postgresql_where=text("status = 'OFFERED'")),
        Index("ix_waitlist_user", "user_id", "seq"),
        Index("ix_waitlist_hold", "hold_id", postgresql_where=text("hold_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="WAITING")
    hold_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("holds.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
