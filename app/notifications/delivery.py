"""Delivering queued notifications: email over SMTP, SMS through a provider adapter.

A message is rendered here, by the job, from the context its row keeps (``outbox.render``): the
request that wrote it only recorded the event. The rendered subject and body are kept with the row;
a booking email's attachments (its tickets' PDF and calendar entry, ``outbox.attachments``) are not:
they are built again at every attempt, so a retry follows the same rules as the first try.

A message that fails counts an attempt and keeps its last error; after ``NOTIFICATION_MAX_ATTEMPTS``
it is DEAD: never re-queued, logged, and listed by ``flask notifications --dead`` (README "What
happens when…"). Failing to reach the mail server or the SMS provider at all is not the message's
fault: it is logged and retried without counting, so an outage does not kill every message. A
failure that no retry can mend (the provider says the number is not a phone it can text) makes the
message DEAD at once.

An SMS goes to the phone number on the fan's profile when it is sent (``users.phone``, which
PATCH /api/v1/me and the account page set): a number removed since the message was queued gets
nothing, and the row is DROPPED.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, Protocol

import orjson
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

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


class SmsProviderUnavailable(ConnectionError):
    """The provider did not take the message for a reason of its own (it is down, slow, refused our
    credentials or is throttling us): retried like an outage, not counted against the message."""


class PermanentDeliveryFailure(Exception):
    """The provider refused the message for good (the number cannot receive it): no retry will help."""


# Twilio error codes (its "more_info" pages) meaning that this number will never take this message:
# 21211 not a valid 'To' number, 21214 not reachable, 21217 not a valid number, 21408 a region we
# may not send to, 21610 the recipient replied STOP, 21612 / 21614 a number that cannot take SMS.
TWILIO_PERMANENT_CODES = frozenset({21211, 21214, 21217, 21408, 21610, 21612, 21614})
# Statuses that say nothing about the message: our credentials or account (401, 403), throttling (429).
TWILIO_OUTAGE_STATUSES = frozenset({401, 403, 429})


class ApiUrlHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, with its API's address swapped for ``api_url`` (TWILIO_API_URL): the
    ``twilio`` package names https://api.twilio.com in each resource, and its ``Client`` takes the
    HTTP client to use (``http_client=``), so this is where a local stand-in is put in its place."""

    TWILIO_API = "https://api.twilio.com"

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._api_url = api_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(self.TWILIO_API) and self._api_url != self.TWILIO_API:
            url = self._api_url + url[len(self.TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioSmsProvider:
    """Sends through Twilio's Messages API (``twilio`` package), from TWILIO_FROM or through the
    messaging service TWILIO_MESSAGING_SERVICE_SID; returns the message's SID. A crash between
    Twilio taking a message and the row being marked SENT sends it again on the retry: Twilio's
    Messages API has no idempotency key, and a second text beats a lost one."""

    def __init__(self, settings: Settings) -> None:
        self._from = settings.twilio_from
        self._service = settings.twilio_messaging_service_sid
        self._client = TwilioClient(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=ApiUrlHttpClient(settings.twilio_api_url, settings.twilio_timeout_seconds),
        )

    def send_sms(self, uow: UnitOfWork, to_number: str, body: str, reference: str) -> str:
        sender: dict[str, str] = (
            {"messaging_service_sid": self._service} if self._service and not self._from else {"from_": self._from}
        )
        try:
            message = self._client.messages.create(to=to_number, body=body, **sender)
        except TwilioRestException as exc:
            detail = f"Twilio {exc.status} error {exc.code}: {exc.msg}"
            if exc.code in TWILIO_PERMANENT_CODES:
                raise PermanentDeliveryFailure(detail) from exc
            if exc.status >= 500 or exc.status in TWILIO_OUTAGE_STATUSES:
                raise SmsProviderUnavailable(detail) from exc
            raise
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise SmsProviderUnavailable(f"Twilio not reached: {type(exc).__name__}") from exc
        log.info("%s sent through Twilio as %s", reference, message.sid)
        return str(message.sid)


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


def sms_provider(settings: Settings) -> SmsProvider:
    if settings.sms_backend == "twilio":
        return TwilioSmsProvider(settings)
    if settings.sms_backend == "outbox":
        return OutboxSmsProvider()
    raise ValueError(f"unknown SMS_BACKEND {settings.sms_backend!r}")


def channels_for(settings: Settings) -> dict[str, Channel]:
    return {"email": EmailChannel(settings), "sms": SmsChannel(sms_provider(settings))}


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
    SmsProviderUnavailable,
)


def send_notification(
    uow: UnitOfWork, channels: dict[str, Channel], notification_id: int, max_attempts: int = 5
) -> bool:
    """Sends one pending notification; True if this call sent it. The row stays locked while sending,
    so two workers never send the same message at the same time. A failure is recorded (see above)
    and raised again, so that the job is retried, unless the message is now DEAD."""
    row = uow.execute(
        """
        SELECT n.id, n.user_id, n.kind, n.channel, n.subject, n.body, n.context,
               CASE WHEN n.channel = 'sms' THEN NULLIF(u.phone, '') ELSE n.recipient END AS recipient
        FROM notifications n JOIN users u ON u.id = n.user_id
        WHERE n.id = :id AND n.status = 'PENDING' FOR UPDATE OF n SKIP LOCKED
        """,
        {"id": notification_id},
    ).first()
    if row is None:
        uow.rollback()
        return False
    if row.recipient is None:  # an SMS whose fan has removed their phone number since
        uow.execute(
            "UPDATE notifications SET status = 'DROPPED', last_error = 'no phone number on the profile' WHERE id = :id",
            {"id": row.id},
        )
        uow.commit()
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
        permanent = isinstance(exc, PermanentDeliveryFailure)
        if _record_failure(
            uow,
            row.id,
            exc,
            counts=not isinstance(exc, UNREACHABLE),
            max_attempts=1 if permanent else max_attempts,
        ):
            return False
        raise
    uow.execute(
        "UPDATE notifications SET status = 'SENT', sent_at = now(), last_error = NULL, recipient = :to WHERE id = :id",
        {"id": row.id, "to": row.recipient},
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
