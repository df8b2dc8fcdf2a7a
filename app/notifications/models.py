from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class Notification(db.Model):
    """One message to one person on one channel about one event, sent once (unique dedupe_key)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(Text, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(Text)
    # Rendered by the job that sends the message, from ``context`` (app/notifications/outbox.py);
    # rows written before that was so have their text and no context.
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict | None] = mapped_column(JSONB)
    # PENDING, SENT, FAILED (old rows), DEAD: given up after MAX_ATTEMPTS (or at once for a failure no retry
    # mends), with its last error; or DROPPED: an SMS whose fan had no phone number any more when it was sent.
    status: Mapped[str] = mapped_column(String(16), server_default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # Whose show the message is about: the sweeper shares each pass among organisations.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SmsMessage(db.Model):
    """What the development SMS provider 'sent'."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    to_number: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    provider_message_id: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
