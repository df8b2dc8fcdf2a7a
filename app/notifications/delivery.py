"""Delivering queued notifications: email over SMTP, SMS through a provider adapter.

A message is rendered here, by the job, from the context its row keeps (``outbox.render``): the
request that wrote it only recorded the event. The rendered subject and body are kept with the row;
a booking email's attachments (its tickets' PDF and calendar entry, ``outbox.attachments``) are not:
they are built again at every attempt, so a retry follows the same rules as the first try.

A message that fails counts an attempt and keeps its last error; after ``NOTIFICATION_MAX_ATTEMPTS``
it is DEAD: never re-queued, logged, and listed by ``flask notifications --dead`` (README "What
happens when…"). Failing to reach the mail server at all is not the message's fault: it is
logged and retried without counting, so an outage does not kill every message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

import orjson

from app.config import Settings
from app.notifications.outbox import Attachment, attachments, kept, render
from app.text import single_line
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class Channel(Protocol):
    def send(
        self,
        uow: UnitOfWork,
        notification_id: int,
        recipient: str,
        subject: str,
        body: str,
        attached: Sequence[Attachment] = (),
    ) -> None: ...


class EmailChannel:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def send(
        self,
        uow: UnitOfWork,
        notification_id: int,
        recipient: str,
        subject: str,
        body: str,
        attached: Sequence[Attachment] = (),
    ) -> None:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = recipient
        message["Subject"] = single_line(subject)  # rows stored before titles were cleaned on the way in
        # A stable id: if a crash makes us send twice, mail software sees one message.
        message["Message-ID"] = f"<notification-{notification_id}@seatline.example>"
        message["X-Seatline-Notification"] = str(notification_id)
        message.set_content(body)
        for a in attached:
            message.add_attachment(a.content, maintype=a.maintype, subtype=a.subtype, filename=a.filename)
        settings = self._settings
        tls = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
        smtp = (
            smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds, context=tls)
            if settings.smtp_security == "tls"
            else smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        )
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=tls)  # refused (SMTPNotSupportedError) if the server cannot: never in clear
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)


class SmsProvider(Protocol):
    def send_sms(self, uow: UnitOfWork, to_number: str, body: str, reference: str) -> str: ...


class OutboxSmsProvider:
    """Development backend: records each message in the sms_outbox table instead of sending it."""

    def send_sms(self, uow: UnitOfWork, to_number: str, body: str, reference: str) -> str:
        message_id = f"dev-{uuid.uuid5(uuid.NAMESPACE_URL, reference)}"
        uow.execute(
            """
            INSERT INTO sms_outbox (to_number, body, provider_message_id) VALUES (:to, :body, :mid)
            ON CONFLICT (provider_message_id) DO NOTHING
            """,
            {"to": to_number, "body": body, "mid": message_id},
        )
        return message_id


class SmsChannel:
    def __init__(self, provider: SmsProvider) -> None:
        self._provider = provider

    def send(
        self,
        uow: UnitOfWork,
        notification_id: int,
        recipient: str,
        subject: str,
        body: str,
        attached: Sequence[Attachment] = (),
    ) -> None:
        self._provider.send_sms(uow, recipient, body, reference=f"notification-{notification_id}")


def channels_for(settings: Settings) -> dict[str, Channel]:
    if settings.sms_backend != "outbox":
        raise ValueError(f"unknown SMS_BACKEND {settings.sms_backend!r}")
    return {"email": EmailChannel(settings), "sms": SmsChannel(OutboxSmsProvider())}


# The server was not reached or went away, or the connection to it could not be set up as configured
# (its certificate not trusted, STARTTLS not offered, the login refused): no fault of the message's.
UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    ssl.SSLError,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPAuthenticationError,
)


def send_notification(
    uow: UnitOfWork, channels: dict[str, Channel], notification_id: int, max_attempts: int = 5
) -> bool:
    """Sends one pending notification; True if this call sent it. The row stays locked while sending,
    so two workers never send the same message at the same time. A failure is recorded (see above)
    and raised again, so that the job is retried, unless the message is now DEAD."""
    row = uow.execute(
        """
        SELECT id, user_id, kind, channel, recipient, subject, body, context FROM notifications
        WHERE id = :id AND status = 'PENDING' FOR UPDATE SKIP LOCKED
        """,
        {"id": notification_id},
    ).first()
    if row is None:
        uow.rollback()
        return False
    uow.execute("UPDATE notifications SET attempts = attempts + 1 WHERE id = :id", {"id": row.id})
    try:
        subject, body = row.subject, row.body
        if body is None:  # rendered here, off the request that wrote it; kept with the row once sent
            subject, body = render(uow, row.kind, row.channel, row.context, row.user_id)
            # Without a single-use link's token, for an account message (outbox.kept).
            context, kept_body = kept(row.kind, row.context, body)
            uow.execute(
                "UPDATE notifications SET subject = :subject, body = :body, "
                "context = COALESCE(CAST(:context AS jsonb), context) WHERE id = :id",
                {
                    "id": row.id,
                    "subject": subject,
                    "body": kept_body,
                    "context": orjson.dumps(context).decode() if context is not row.context else None,
                },
            )
        # A booking email's PDF and calendar entry, built now and for every attempt (outbox.attachments).
        attached = attachments(uow, row.kind, row.context, row.user_id) if row.channel == "email" else []
        channels[row.channel].send(uow, row.id, row.recipient, subject, body, attached)
    except Exception as exc:
        uow.rollback()
        if _record_failure(uow, row.id, exc, counts=not isinstance(exc, UNREACHABLE), max_attempts=max_attempts):
            return False
        raise
    uow.execute(
        "UPDATE notifications SET status = 'SENT', sent_at = now(), last_error = NULL WHERE id = :id", {"id": row.id}
    )
    uow.commit()
    return True


def _record_failure(uow: UnitOfWork, notification_id: int, exc: Exception, *, counts: bool, max_attempts: int) -> bool:
    """Keeps the error (and, if it ``counts``, the attempt); True if the message is now DEAD."""
    error = f"{type(exc).__name__}: {exc}"[:1000]
    row = uow.execute(
        """
        UPDATE notifications
        SET attempts = attempts + CAST(:counts AS int), last_error = :error,
            status = CASE WHEN attempts + CAST(:counts AS int) >= :max THEN 'DEAD' ELSE status END
        WHERE id = :id AND status = 'PENDING'
        RETURNING status, attempts, organisation_id
        """,
        {"id": notification_id, "counts": 1 if counts else 0, "error": error, "max": max_attempts},
    ).first()
    uow.commit()
    if row is None:
        return False
    if row.status == "DEAD":
        log.error(
            "notification %s is DEAD after %s attempts (organisation %s): %s",
            notification_id,
            row.attempts,
            row.organisation_id,
            error,
        )
        return True
    log.warning(
        "notification %s failed (attempt %s of %s%s): %s",
        notification_id,
        row.attempts,
        max_attempts,
        "" if counts else ", not counted: the server was unreachable",
        error,
    )
    return False
