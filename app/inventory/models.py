from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

SEAT_STATUSES = ("AVAILABLE", "HELD", "BOOKED", "BLOCKED")
HOLD_STATUSES = ("ACTIVE", "EXPIRED", "RELEASED", "CONFIRMED")


class ShowSeat(db.Model):
    """The state of one seat for one show. Changed only by conditional updates."""

    __tablename__ = "show_seats"
    __table_args__ = (
        ForeignKeyConstraint(["show_id", "venue_id"], ["shows.id", "shows.venue_id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["venue_id", "seat_id"], ["venue_seats.venue_id", "venue_seats.seat_id"]),
        CheckConstraint("status IN ('AVAILABLE', 'HELD', 'BOOKED', 'BLOCKED')", name="status_known"),
        # Out of sale by the box office: a kill (never sold) or held for the house.
        CheckConstraint("(status = 'BLOCKED') = (block_kind IS NOT NULL)", name="block_iff_blocked"),
        CheckConstraint("block_kind IS NULL OR block_kind IN ('KILL', 'HOUSE')", name="block_kind_known"),
        CheckConstraint("(status = 'HELD') = (hold_id IS NOT NULL)", name="hold_iff_held"),
        CheckConstraint("(status = 'HELD') = (hold_expires_at IS NOT NULL)", name="expiry_iff_held"),
        CheckConstraint("(status = 'BOOKED') = (booking_id IS NOT NULL)", name="booking_iff_booked"),
        # No index on hold_id (nor on status or hold_expires_at): a hold's seat update changes those
        # columns and stays HOT only while none is indexed and its page has room: the table's
        # fillfactor is 90 (migration 0013_hot_seat_updates).
        Index("ix_show_seats_booking_id", "booking_id", postgresql_where=text("booking_id IS NOT NULL")),
    )

    show_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seat_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    venue_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), server_default="AVAILABLE")
    hold_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("holds.id"))
    hold_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("bookings.id"))
    block_kind: Mapped[str | None] = mapped_column(String(8))


class Hold(db.Model):
    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("status IN ('ACTIVE', 'EXPIRED', 'RELEASED', 'CONFIRMED')", name="status_known"),
        CheckConstraint("cardinality(seat_ids) >= 1", name="has_seats"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("(status IN ('RELEASED', 'EXPIRED')) = (ended_at IS NOT NULL)", name="ended_iff_released"),
        Index("ix_holds_user_show_active", "user_id", "show_id", postgresql_where=text("status = 'ACTIVE'")),
        Index(
            "ix_holds_unpaid_expiry",
            "expires_at",
            postgresql_where=text("status = 'ACTIVE' AND payment_started_at IS NULL"),
        ),
        Index("ix_holds_show_created", "show_id", "created_at"),
        # The sweep of seats left behind by holds that ended (seat_state.free_orphaned_seats).
        Index("ix_holds_ended", "ended_at", postgresql_where=text("ended_at IS NOT NULL")),
        # Only paying holds have an intent: the holds without one write no entry here.
        Index(
            "ix_holds_payment_intent_id",
            "payment_intent_id",
            unique=True,
            postgresql_where=text("payment_intent_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), server_default="ACTIVE")
    seat_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when payment starts; while set and unsettled the hold's seats cannot lapse (rule 4).
    payment_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_intent_id: Mapped[str | None] = mapped_column(Text)
    # The access code the hold used (README "Presale codes and vouchers"), and what it took off ``amount``.
    access_code_id: Mapped[int | None] = mapped_column(ForeignKey("access_codes.id"))
    discount: Mapped[int] = mapped_column(Integer, server_default="0")


class AccessCode(db.Model):
    """A presale code or voucher of one show or of every show of an event (migration 0025_access_codes).
    ``used`` counts the holds that hold a use (ARCHITECTURE.md "Access code uses")."""

    __tablename__ = "access_codes"
    __table_args__ = (
        CheckConstraint("(show_id IS NULL) <> (event_id IS NULL)", name="show_or_event"),
        CheckConstraint("kind IN ('PRESALE', 'VOUCHER')", name="kind_known"),
        CheckConstraint("used >= 0", name="used_not_negative"),
        Index(
            "ix_access_codes_show_code",
            "show_id",
            text("lower(code)"),
            unique=True,
            postgresql_where=text("show_id IS NOT NULL"),
        ),
        Index(
            "ix_access_codes_event_code",
            "event_id",
            text("lower(code)"),
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    show_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shows.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    percent_off: Mapped[int | None] = mapped_column(Integer)
    amount_off: Mapped[int | None] = mapped_column(Integer)
    max_uses: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, server_default="0")
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
