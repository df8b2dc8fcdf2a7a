"""An SMTP sink in this process (aiosmtpd in a thread) that keeps every message it receives."""

from __future__ import annotations

import threading
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from devstack.processes import free_port


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
    """``sink`` served on a free port of 127.0.0.1 from now until ``stop()``."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink
        self.port = free_port()
        self._controller = Controller(sink, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
