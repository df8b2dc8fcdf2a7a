from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class Booking(db.Model):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("status IN ('CONFIRMED', 'CANCELLED')", name="status_known"),
        CheckConstraint("(status = 'CANCELLED') = (cancelled_at IS NOT NULL)", name="cancelled_iff_cancelled_at"),
        CheckConstraint("cardinality(seat_ids) >= 1", name="has_seats"),
        CheckConstraint("amount >= 0 AND refund_amount BETWEEN 0 AND amount", name="amounts_sane"),
        CheckConstraint("payment_intent_id IS NOT NULL OR amount = 0", name="paid_unless_free"),
        CheckConstraint("ticket_version >= 1", name="ticket_version_positive"),
        Index("ix_bookings_show_created", "show_id", "created_at"),
        # An admin's sales report: every show's bookings in a date range (migration 0022).
        Index("ix_bookings_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("holds.id"), unique=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # A payment intent yields at most one booking. None only for a free booking (amount 0).
    payment_intent_id: Mapped[str | None] = mapped_column(Text, unique=True)
    seat_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), server_default="CONFIRMED")
    refund_amount: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The version every ticket code of the booking names; a transfer bumps it (app/tickets/codes.py).
    ticket_version: Mapped[int] = mapped_column(Integer, server_default="1")


class Payment(db.Model):
    """A payment intent at the gateway, mirrored for reconciliation."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('REQUIRES_PAYMENT', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED')",
            name="status_known",
        ),
        CheckConstraint("amount >= 0 AND refunded_amount BETWEEN 0 AND amount", name="amounts_sane"),
    )

    payment_intent_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("holds.id"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), server_default="REQUIRES_PAYMENT")
    refunded_amount: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEvent(db.Model):
    """Each gateway event id is stored once; a duplicate delivery finds it here."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Refund(db.Model):
    """A payment's refund, and at most one top-up when its show is cancelled after the fan had
    cancelled under the refund policy (unique per payment and ``top_up``): together never more
    than was paid, and never returned twice."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("payment_intent_id", "top_up", name="refunds_payment_intent_id_top_up_key"),
        # The sales report's refunds in a date range (migration 0022).
        Index("ix_refunds_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    payment_intent_id: Mapped[str] = mapped_column(ForeignKey("payments.payment_intent_id"))
    top_up: Mapped[bool] = mapped_column(Boolean, server_default=false())
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"))
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="PENDING")
    gateway_refund_id: Mapped[str | None] = mapped_column(Text, unique=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
