from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

SHOW_STATUSES = ("SCHEDULED", "CANCELLED")


class City(db.Model):
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    country: Mapped[str] = mapped_column(String(2))
    # IANA zone name; a city's "date" is its local calendar date.
    timezone: Mapped[str] = mapped_column(Text)


class Venue(db.Model):
    __tablename__ = "venues"
    __table_args__ = (UniqueConstraint("city_id", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(Text, server_default="")
    # Renewed from a sequence by a trigger whenever the venue's seats change (migration 0002).
    layout_version: Mapped[int] = mapped_column(BigInteger, server_default=text("nextval('venue_layout_versions')"))


class VenueSeat(db.Model):
    """One seat of a venue's layout. ``seat_id`` is the public, venue-unique label."""

    __tablename__ = "venue_seats"
    __table_args__ = (
        UniqueConstraint("venue_id", "section", "row", "number"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("length(seat_id) BETWEEN 1 AND 32", name="seat_id_length"),
        Index("ix_venue_seats_standing", "venue_id", "section", "ordinal", postgresql_where=text("standing")),
    )

    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), primary_key=True)
    seat_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    section: Mapped[str] = mapped_column(Text)
    row: Mapped[str] = mapped_column(Text)
    number: Mapped[int] = mapped_column(Integer)
    # Position on the drawn map, in seat-width units (gaps are missing positions).
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(32))
    accessible: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Next to a wheelchair space, for the person coming along.
    companion: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # False for seats that are never sold (camera platforms, restricted view): BLOCKED in every show.
    sellable: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # A numbered admission place of a standing section, sold by quantity (README "General admission
    # (standing)"); otherwise an ordinary seat.
    standing: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Display and iteration order of the layout (compact seat maps rely on it).
    ordinal: Mapped[int] = mapped_column(Integer)


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("organisation_id", "title", name="events_organisation_title_key"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, server_default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # The content hash naming the poster's stored renditions (app/images/), None without one.
    poster: Mapped[str | None] = mapped_column(Text)


class Show(db.Model):
    __tablename__ = "shows"
    __table_args__ = (
        # Lets show_seats reference (show, venue) so a show's seats are its venue's seats.
        UniqueConstraint("id", "venue_id", name="shows_id_venue_key"),
        UniqueConstraint("event_id", "venue_id", "starts_at"),
        CheckConstraint("status IN ('SCHEDULED', 'CANCELLED')", name="status_known"),
        CheckConstraint("sale_opens_at < sale_closes_at", name="sale_window_ordered"),
        CheckConstraint("sale_closes_at <= starts_at + interval '1 day'", name="sale_closes_near_start"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(status = 'CANCELLED') = (cancelled_at IS NOT NULL)", name="cancelled_iff_cancelled_at"),
        CheckConstraint("transfer_cutoff_minutes >= 0", name="transfer_cutoff_not_negative"),
        CheckConstraint(
            "(rescheduled_at IS NULL) = (rescheduled_from IS NULL) AND (rescheduled_at IS NULL) = (full_refund_until IS NULL)",
            name="rescheduled_together",
        ),
        CheckConstraint("ticket_codes IN ('STATIC', 'ROTATING')", name="ticket_codes_known"),
        CheckConstraint("ticket_codes = 'STATIC' OR rotation_key_sealed IS NOT NULL", name="rotating_has_key"),
        # The home page's listing: a city's venues' shows in a window of days (migration 0018).
        Index("ix_shows_venue_starts", "venue_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    sale_opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sale_closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), server_default="SCHEDULED")
    queue_required: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # e.g. {"rules": [{"hoursBefore": 48, "refundPercent": 100}, ...], "feeMinor": 0}
    refund_policy: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # No ticket transfer this close to the start (README "Tickets and transfer").
    transfer_cutoff_minutes: Mapped[int] = mapped_column(Integer, server_default="60")
    # A narrower door check-in window than the default (README "Door check-in"); None: the default's bound.
    checkin_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkin_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Rotating codes at the door (README "Rotating codes", migration 0024): the mode, whether printed (static)
    # tickets still admit at a rotating show, and the show's rotation key, sealed (app/tickets/rotating.py).
    ticket_codes: Mapped[str] = mapped_column(Text, server_default="STATIC")
    static_codes_allowed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    rotation_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The start's last move (README "Rescheduling a show", migration 0022): when, from what, and until when
    # fans who booked before it may cancel for a full refund; the count names each move's emails.
    rescheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rescheduled_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    full_refund_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reschedule_count: Mapped[int] = mapped_column(Integer, server_default="0")


class ShowPrice(db.Model):
    __tablename__ = "show_prices"
    __table_args__ = (CheckConstraint("price >= 0", name="price_not_negative"),)

    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Minor units of the show's currency (paise, cents, pence).
    price: Mapped[int] = mapped_column(Integer)
