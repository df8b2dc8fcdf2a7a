"""Ticket signing keys and revoked ticket codes (migrations/versions/0016_tickets.py); door
check-ins (migrations/versions/0021_door_checkin.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class TicketKey(db.Model):
    """An organisation's Ed25519 key pair for ticket codes: the public half in the clear, for
    scanners; the private half sealed under TICKET_KEYS_SECRET (app/tickets/keys.py). One per
    organisation is in use (``retired_at`` NULL); retired keys stay so that older codes still verify."""

    __tablename__ = "ticket_keys"
    __table_args__ = (
        CheckConstraint("kid ~ '^[0-9a-f]{8}$'", name="kid_hex"),
        CheckConstraint("octet_length(public_key) = 32", name="public_key_ed25519"),
        Index("ix_ticket_keys_one_in_use", "organisation_id", unique=True, postgresql_where=text("retired_at IS NULL")),
    )

    kid: Mapped[str] = mapped_column(Text, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("organisations.id"))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedTicket(db.Model):
    """A ticket code that no longer admits: replaced by a transfer, or its booking cancelled."""

    __tablename__ = "revoked_tickets"
    __table_args__ = (
        CheckConstraint("reason IN ('TRANSFERRED', 'CANCELLED')", name="reason_known"),
        Index("ix_revoked_tickets_show", "show_id", "revoked_at"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("bookings.id"), primary_key=True)
    seat_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    show_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("shows.id"))
    reason: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CheckIn(db.Model):
    """A seat of a booking admitted at a show's door: the key admits each ticket once (README "Door check-in")."""

    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_show_at", "show_id", "at"),)

    show_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("shows.id"), primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("bookings.id"), primary_key=True)
    seat_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    gate: Mapped[str] = mapped_column(Text)
    # When the ticket was scanned: now for a scan sent at once, the scanner's time for an offline one.
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    by_user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    nonce: Mapped[str] = mapped_column(Text)
    offline: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class CheckinNonce(db.Model):
    """The answer given to one scan, by its nonce, so that a retried upload gets the same answer."""

    __tablename__ = "checkin_nonces"

    show_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("shows.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[int | None] = mapped_column(SmallInteger)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
