"""Messages are written to the notifications table in the same transaction as the event they tell
of (an outbox), so each booking event yields exactly one message per channel; jobs deliver them."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template

from app.money import DEFAULT_LOCALE, format_money
from app.text import single_line
from app.unit_of_work import UnitOfWork

KINDS = ("booking_confirmed", "booking_cancelled", "payment_refunded", "show_cancelled")


def queue_message(uow: UnitOfWork, user_id: int, kind: str, event_key: str, context: dict[str, Any]) -> list[int]:
    """Writes the email (and SMS, if the user has a phone) for one event; returns the new rows' ids.
    ``context["show_id"]`` (``booking_context`` has it) names the organisation the message is for."""
    assert kind in KINDS
    user = uow.execute("SELECT email, name, phone FROM users WHERE id = :id", {"id": user_id}).one()
    context = {**context, "name": user.name}
    # A subject is one header line: no title or name may break it (app/text.py).
    subject = single_line(render_template(f"notifications/{kind}.subject.txt", **context))
    messages = [("email", user.email, render_template(f"notifications/{kind}.email.txt", **context))]
    if user.phone:
        messages.append(("sms", user.phone, render_template(f"notifications/{kind}.sms.txt", **context).strip()))
    ids = []
    for channel, recipient, body in messages:
        new_id = uow.execute(
            """
            INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, subject, body, organisation_id)
            VALUES (:key, :user_id, :kind, :channel, :recipient, :subject, :body,
                    (SELECT e.organisation_id FROM shows s JOIN events e ON e.id = s.event_id
                     WHERE s.id = CAST(:show_id AS bigint)))
            ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
            """,
            {
                "key": f"{kind}:{event_key}:{channel}",
                "user_id": user_id,
                "kind": kind,
                "channel": channel,
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "show_id": context.get("show_id"),
            },
        ).scalar()
        if new_id is not None:
            ids.append(new_id)
    return ids


def booking_context(uow: UnitOfWork, booking_id: Any) -> dict[str, Any]:
    row = uow.execute(
        """
        SELECT b.id, b.show_id, b.seat_ids, b.amount, b.currency, b.refund_amount, b.user_id, e.title, s.starts_at,
               v.name AS venue, c.timezone
        FROM bookings b JOIN shows s ON s.id = b.show_id JOIN events e ON e.id = s.event_id
        JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id
        WHERE b.id = :id
        """,
        {"id": booking_id},
    ).one()
    starts = row.starts_at.astimezone(ZoneInfo(row.timezone))
    return {
        "user_id": row.user_id,
        "show_id": row.show_id,
        "booking_id": str(row.id),
        "title": row.title,
        "venue": row.venue,
        "starts": starts.strftime("%a %d %b %Y, %H:%M %Z"),
        "seats": ", ".join(row.seat_ids),
        "amount": message_money(row.amount, row.currency),
        "amount_minor": row.amount,
        "refund": message_money(row.refund_amount, row.currency),
    }


def message_money(minor: int, currency: str) -> str:
    """Money in an email or SMS. Fans have no locale of their own yet, and a message must read the
    same whichever request or job wrote it, so every message uses the default locale."""
    return format_money(minor, currency, DEFAULT_LOCALE)
