"""Messages are written to the notifications table in the same transaction as the event they tell
of (an outbox), so each booking event yields exactly one message per channel; jobs render and
deliver them (``app/notifications/delivery.py``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import orjson
from flask import current_app, render_template

from app.money import DEFAULT_LOCALE, format_money
from app.text import single_line
from app.unit_of_work import UnitOfWork

KINDS = ("booking_confirmed", "booking_cancelled", "payment_refunded", "show_cancelled", "waitlist_offer")
# Messages carrying a single-use link (app/accounts/recovery.py): email only, and once sent the row
# keeps neither the link's token nor the text that showed it (``kept``).
ACCOUNT_KINDS = ("password_reset", "email_verification")
# Where each account message's link points, under PUBLIC_URL. The site's pages for these come later
# (README "Accounts"); the API behind them (POST /api/v1/auth/password-reset/confirm and
# /api/v1/auth/verify-email) takes the token as it is.
ACCOUNT_LINKS = {"password_reset": "/account/reset", "email_verification": "/account/verify"}
LINK_REMOVED = "(the link is not kept once sent)"


QUEUE_MESSAGE = """
    INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, context, organisation_id)
    SELECT :kind || ':' || :event_key || ':' || ch.channel, u.id, :kind, ch.channel, ch.recipient,
           CAST(:context AS jsonb),
           (SELECT e.organisation_id FROM shows s JOIN events e ON e.id = s.event_id
            WHERE s.id = CAST(:show_id AS bigint))
    FROM users u CROSS JOIN LATERAL (VALUES (1, 'email', u.email), (2, 'sms', NULLIF(u.phone, ''))) AS ch(n, channel, recipient)
    WHERE u.id = :user_id AND ch.recipient IS NOT NULL
    ORDER BY ch.n
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
"""


def queue_message(
    uow: UnitOfWork,
    user_id: int,
    kind: str,
    event_key: str,
    context: dict[str, Any],
    booking: Any = None,
) -> list[int]:
    """Writes the email (and SMS, if the user has a phone) for one event; returns the new rows' ids.

    One statement, and nothing rendered: each row keeps the ``context`` (JSON) its templates need, and
    the job that sends it renders it (``render``): a booking's confirm answers without building
    emails. With ``booking``, the job also reads the booking's details (``booking_context``) when it
    renders, so the request need not. ``context["show_id"]`` names the organisation the message is
    for. A repeat of the same event and channel writes nothing (unique ``dedupe_key``)."""
    assert kind in KINDS
    stored = {**context, "booking": str(booking)} if booking is not None else context
    rows = uow.execute(
        QUEUE_MESSAGE,
        {
            "kind": kind,
            "event_key": event_key,
            "user_id": user_id,
            "context": orjson.dumps(stored).decode(),
            "show_id": context.get("show_id"),
        },
    ).all()
    return [row.id for row in rows]


# An account message (``ACCOUNT_KINDS``) for each token a data-modifying CTE named ``token``
# (``token_id``, ``user_id``) just wrote in the same statement: to the user's email alone, with the
# raw token in its context until it is sent (``kept``).
QUEUE_ACCOUNT_MESSAGE = """
    INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, context)
    SELECT :kind || ':' || CAST(t.token_id AS text) || ':' || 'email', u.id, :kind, 'email', u.email, CAST(:context AS jsonb)
    FROM token t JOIN users u ON u.id = t.user_id
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
"""


def account_context(kind: str, token: str, valid_minutes: int) -> str:
    """The JSON context of an account message: the token its link carries and how long it is valid."""
    assert kind in ACCOUNT_KINDS
    return orjson.dumps({"token": token, "valid_minutes": valid_minutes}).decode()


def kept(kind: str, context: dict[str, Any] | None, body: str) -> tuple[dict[str, Any] | None, str]:
    """What a sent message's row keeps: an account message's single-use token leaves both its context
    and its text (whoever reads the notifications table later must not be able to use the link)."""
    if kind not in ACCOUNT_KINDS or not context or "token" not in context:
        return context, body
    token = str(context["token"])
    return {k: v for k, v in context.items() if k != "token"}, body.replace(token, LINK_REMOVED)


def render(uow: UnitOfWork, kind: str, channel: str, context: dict[str, Any], user_id: int) -> tuple[str, str]:
    """``(subject, body)`` of a stored message, rendered by the job that sends it; the fan's name is
    read now, and a booking's details when the row names one (``queue_message``)."""
    name = uow.execute("SELECT name FROM users WHERE id = :id", {"id": user_id}).scalar_one()
    if kind in ACCOUNT_KINDS:
        public_url = current_app.extensions["seatline.settings"].public_url.rstrip("/")
        context = {**context, "link": f"{public_url}{ACCOUNT_LINKS[kind]}?token={context.get('token', '')}"}
    if "booking" in context:
        context = {**booking_context(uow, context["booking"]), **context}
    context = {**context, "name": name}
    # A subject is one header line: no title or name may break it (app/text.py).
    subject = single_line(render_template(f"notifications/{kind}.subject.txt", **context))
    if channel == "sms":
        return subject, render_template(f"notifications/{kind}.sms.txt", **context).strip()
    return subject, render_template(f"notifications/{kind}.email.txt", **context)


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
