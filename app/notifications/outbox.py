"""Messages are written to the notifications table in the same transaction as the event they tell
of (an outbox), so each booking event yields exactly one message per channel; jobs render and
deliver them (``app/notifications/delivery.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from flask import current_app, render_template
from flask_babel import force_locale

from app.i18n import format_show_time, message_locale
from app.money import DEFAULT_LOCALE, format_money
from app.standing import seat_words, standing_places_sql
from app.text import single_line
from app.tickets import documents
from app.tickets.services import printed_booking
from app.unit_of_work import UnitOfWork

KINDS = (
    "booking_confirmed",
    "booking_cancelled",
    "payment_refunded",
    "show_cancelled",
    "show_rescheduled",
    "ticket_transfer_received",
    "ticket_transfer_sent",
    "waitlist_offer",
    "waitlist_closed",
)
# Emails that carry the booking's tickets (PDF) and calendar entry (ICS), built when the email is
# sent (``attachments``), never stored with the row.
WITH_TICKETS = ("booking_confirmed", "ticket_transfer_received")
# Messages carrying a single-use link (app/accounts/recovery.py): email only, and once sent the row
# keeps neither the link's token nor the text that showed it (``kept``).
ACCOUNT_KINDS = ("password_reset", "email_verification")
# Where each account message's link points, under PUBLIC_URL: the site's pages (app/site/recovery.py,
# README "Account pages"); the API behind them (POST /api/v1/auth/password-reset/confirm and
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


# One message per channel for each confirmed booking of a show, in one statement (``queue_for_bookings``).
QUEUE_BOOKING_MESSAGES = """
    INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, context, organisation_id)
    SELECT :kind || ':' || b.id || ':' || :event_suffix || ':' || ch.channel, u.id, :kind, ch.channel, ch.recipient,
           CAST(:context AS jsonb) || jsonb_build_object('booking', CAST(b.id AS text)),
           (SELECT e.organisation_id FROM shows s JOIN events e ON e.id = s.event_id WHERE s.id = :show_id)
    FROM bookings b JOIN users u ON u.id = b.user_id
    CROSS JOIN LATERAL (VALUES (1, 'email', u.email), (2, 'sms', NULLIF(u.phone, ''))) AS ch(n, channel, recipient)
    WHERE b.show_id = :show_id AND b.status = 'CONFIRMED' AND ch.recipient IS NOT NULL
    ORDER BY b.id, ch.n
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
"""


def queue_for_bookings(
    uow: UnitOfWork, kind: str, show_id: int, event_suffix: str, context: dict[str, Any]
) -> list[int]:
    """``queue_message`` for every confirmed booking of the show at once (``booking`` set to each), with
    the event key ``{booking id}:{event_suffix}``; returns the new rows' ids."""
    assert kind in KINDS
    rows = uow.execute(
        QUEUE_BOOKING_MESSAGES,
        {
            "kind": kind,
            "event_suffix": event_suffix,
            "show_id": show_id,
            "context": orjson.dumps({**context, "show_id": show_id}).decode(),
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
    """``(subject, body)`` of a stored message, rendered by the job that sends it; the fan's name and
    language are read now, and a booking's details when the row names one (``queue_message``). It is
    written in the fan's language (``users.locale``, English if unset: README "Languages"), its dates
    and times in the show's time zone and money for that language (``localised``)."""
    user = uow.execute("SELECT name, locale FROM users WHERE id = :id", {"id": user_id}).one()
    with force_locale(message_locale(user.locale)):
        return _render(uow, kind, channel, context, user.name, message_locale(user.locale))


def _render(
    uow: UnitOfWork, kind: str, channel: str, context: dict[str, Any], name: str, locale: str
) -> tuple[str, str]:
    if kind in ACCOUNT_KINDS:
        public_url = current_app.extensions["seatline.settings"].public_url.rstrip("/")
        context = {**context, "link": f"{public_url}{ACCOUNT_LINKS[kind]}?token={context.get('token', '')}"}
    if "booking" in context:
        context = {**booking_context(uow, context["booking"]), **context}
    context = {**localised(context, locale), "name": name}
    # A subject is one header line: no title or name may break it (app/text.py).
    subject = single_line(render_template(f"notifications/{kind}.subject.txt", **context))
    if channel == "sms":
        return subject, render_template(f"notifications/{kind}.sms.txt", **context).strip()
    return subject, render_template(f"notifications/{kind}.email.txt", **context)


def booking_context(uow: UnitOfWork, booking_id: Any) -> dict[str, Any]:
    row = uow.execute(
        f"""
        SELECT b.id, b.show_id, b.seat_ids, b.amount, b.currency, b.refund_amount, b.user_id, e.title, s.starts_at,
               v.name AS venue, c.timezone, {standing_places_sql("b.show_id", "b.seat_ids")} AS standing
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
        "seats": seat_words(row.seat_ids, row.standing),
        # What ``localised`` words the seats from again: standing places by their section.
        "seat_ids": list(row.seat_ids),
        "standing": row.standing,
        "amount": message_money(row.amount, row.currency),
        "amount_minor": row.amount,
        "refund": message_money(row.refund_amount, row.currency),
        # What ``localised`` words again for the recipient's language when the message is rendered.
        "starts_at": starts.isoformat(),
        "timezone": row.timezone,
        "currency": row.currency,
        "refund_amount_minor": row.refund_amount,
    }


def localised(context: dict[str, Any], locale: str) -> dict[str, Any]:
    """The context's show time and amounts worded for ``locale``: the time in the show's zone (its
    abbreviation after it, ``IST``), money by Babel for the currency. A row stored before the raw
    values were kept has only the English words, and keeps them."""
    words: dict[str, Any] = {}
    # A reschedule's message also has the start before the move and the end of its refund window.
    for shown, raw in (("starts", "starts_at"), ("old_starts", "old_starts_at"), ("refund_until", "refund_until_at")):
        if context.get(raw) and context.get("timezone"):
            when = datetime.fromisoformat(context[raw]).astimezone(ZoneInfo(context["timezone"]))
            words[shown] = f"{format_show_time(when, context['timezone'], locale)} {when.strftime('%Z')}"
    if context.get("currency"):
        for shown, minor in (("amount", "amount_minor"), ("refund", "refund_amount_minor")):
            if isinstance(context.get(minor), int):
                words[shown] = format_money(context[minor], context["currency"], locale)
    if isinstance(context.get("seat_ids"), list) and isinstance(context.get("standing"), dict):
        words["seats"] = seat_words(context["seat_ids"], context["standing"])
    return {**context, **words}


def message_money(minor: int, currency: str) -> str:
    """Money in a stored message context, in the default locale: a message must read the same whichever
    request or job wrote it. The context also keeps the minor units and currency, and ``localised``
    words them again for the recipient when the message is rendered."""
    return format_money(minor, currency, DEFAULT_LOCALE)


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    content: bytes


def attachments(uow: UnitOfWork, kind: str, context: dict[str, Any] | None, user_id: int) -> list[Attachment]:
    """A booking email's tickets and calendar entry, built now from the database: each attempt at
    sending builds them again (the row keeps none), with the codes as they are now, in the fan's
    language. Only while the booking is still the recipient's and confirmed: a booking transferred
    or cancelled before its confirmation went out sends no codes to whoever no longer holds it."""
    if kind not in WITH_TICKETS or not context or "booking" not in context:
        return []
    secret = current_app.extensions["seatline.settings"].ticket_keys_secret
    booking = printed_booking(uow, secret, context["booking"], owner_id=user_id)
    if booking is None or not booking.tickets:
        return []
    # Labelled in the recipient's language, as the email they come with (``render``).
    locale = uow.execute("SELECT locale FROM users WHERE id = :id", {"id": user_id}).scalar_one()
    with force_locale(message_locale(locale)):
        return [
            Attachment(f"tickets-{booking.booking_id}.pdf", "application", "pdf", documents.tickets_pdf(booking)),
            Attachment(f"event-{booking.booking_id}.ics", "text", "calendar", documents.event_ics(booking)),
        ]
