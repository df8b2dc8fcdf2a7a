from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class GateQueue(db.Model):
    """A waiting room's settings and how far it has admitted (migration 0004)."""

    __tablename__ = "gate_queues"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), server_default="PREQUEUE")
    batch_size: Mapped[int] = mapped_column(Integer, server_default="1000")
    admission_interval_seconds: Mapped[float] = mapped_column(Float, server_default="10")
    max_active: Mapped[int] = mapped_column(Integer, server_default="5000")
    session_seconds: Mapped[int] = mapped_column(Integer, server_default="600")
    # Fans whose email is not verified are refused at the door (403 EMAIL_NOT_VERIFIED; migration 0015).
    verified_email_required: Mapped[bool] = mapped_column(Boolean, server_default="false")
    sale_opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    serving_up_to: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GateTicket(db.Model):
    """One fan's place in one waiting room; a position is given at most once per queue."""

    __tablename__ = "gate_tickets"
    __table_args__ = (UniqueConstraint("event_id", "position", name="gate_tickets_position_once"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("gate_queues.event_id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    ticket: Mapped[str] = mapped_column(Text, unique=True)
    prequeue: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int | None] = mapped_column(Integer)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    admitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
