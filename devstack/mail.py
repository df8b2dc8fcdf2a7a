"""An SMTP sink in this process (aiosmtpd in a thread) that keeps every message it receives."""

from __future__ import annotations

import ssl
import threading
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devstack.processes import free_port


def text_body(message: Message) -> str:
    """A message's text, whether it is the whole message or the first text/plain part of one with
    attachments (a booking's confirmation carries its tickets and calendar entry)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


class MailSink:
    """An aiosmtpd handler that keeps every message; like a real server, it refuses (550) every
    recipient at REFUSED_DOMAIN, so a message to one can never be sent."""

    REFUSED_DOMAIN = "bounce.example"

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's hook name)
        if address.lower().endswith("@" + self.REFUSED_DOMAIN):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


class MailServer:
    """``sink`` served on a free port of 127.0.0.1 from now until ``stop()``. Like a provider's server
    if asked: ``security`` "starttls" (STARTTLS offered and required before anything else) or "tls"
    (TLS from the first byte), with ``certificate`` (certificate and key files); with ``logins``
    (username: password), AUTH is required, and only over TLS."""

    def __init__(
        self,
        sink: MailSink,
        security: str = "none",
        certificate: tuple[str, str] | None = None,
        logins: dict[str, str] | None = None,
    ) -> None:
        self.sink = sink
        self.security = security
        self.port = free_port()
        self.refused_logins = 0
        options: dict[str, Any] = {}
        if security != "none":
            assert certificate is not None, "TLS needs a certificate"
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
            if security == "starttls":
                options.update(tls_context=context, require_starttls=True)
            else:
                options.update(ssl_context=context)
        if logins is not None:
            # auth_require_tls refuses AUTH until STARTTLS; with TLS from the first byte every command
            # is protected already (and aiosmtpd would never offer AUTH there).
            options.update(
                authenticator=self._authenticator(logins), auth_required=True, auth_require_tls=security != "tls"
            )
        self._controller = Controller(sink, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()

    def _authenticator(self, logins: dict[str, str]) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            username = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
            password = auth_data.password.decode() if isinstance(auth_data, LoginPassword) else None
            if username is not None and logins.get(username) == password:
                return AuthResult(success=True)
            self.refused_logins += 1
            return AuthResult(success=False, handled=False)

        return check

    def stop(self) -> None:
        self._controller.stop()
