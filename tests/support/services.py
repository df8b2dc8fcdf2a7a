"""Real collaborators for the payment tests: the SMTP server that keeps what it receives, as a
fixture, the secret the gateway simulator signs its webhooks with, and an HTTP server in a thread so
the simulator's webhooks reach the app under test. The processes themselves start from `devstack`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from devstack.mail import MailServer, MailSink
from devstack.processes import free_port

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[tuple[MailSink, int]]:
    server = MailServer(MailSink())
    yield server.sink, server.port
    server.stop()


class ThreadedServer:
    """Serves a WSGI app on a free port from a background thread."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
