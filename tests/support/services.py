"""Real collaborators for the payment tests: the gateway simulator process, an SMTP server
that keeps what it receives, and an HTTP server in a thread so the simulator's webhooks
reach the app under test."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_test_secret"


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


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[tuple[MailSink, int]]:
    sink, port = MailSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


class Simulator:
    def __init__(self, base: str) -> None:
        self.base = base

    def reset(self) -> None:
        requests.post(f"{self.base}/_sim/reset", timeout=5).raise_for_status()

    def configure(self, **config) -> None:
        requests.post(f"{self.base}/_sim/config", json=config, timeout=5).raise_for_status()

    def fault(self, **fault) -> None:
        requests.post(f"{self.base}/_sim/faults", json=fault, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base}/_sim/faults", timeout=5).raise_for_status()

    def succeed(self, intent_id: str) -> dict:
        r = requests.post(f"{self.base}/_sim/payment_intents/{intent_id}/succeed", json={}, timeout=5)
        r.raise_for_status()
        return r.json()

    def fail(self, intent_id: str) -> dict:
        r = requests.post(f"{self.base}/_sim/payment_intents/{intent_id}/fail", json={}, timeout=5)
        r.raise_for_status()
        return r.json()

    def intents(self) -> list[dict]:
        data = requests.get(f"{self.base}/_sim/payment_intents", timeout=5).json()["data"]
        return [{**i, "refund_count": len(i.get("refunds") or [])} for i in data]

    def intent(self, intent_id: str) -> dict:
        return next(i for i in self.intents() if i["id"] == intent_id)

    def events(self, **params) -> list[dict]:
        return requests.get(f"{self.base}/_sim/events", params=params, timeout=5).json()["data"]

    def release_held_webhooks(self) -> list[str]:
        return requests.post(f"{self.base}/_sim/webhooks/release", json={}, timeout=5).json()["released"]


def start_simulator(webhook_url: str, port: int | None = None) -> tuple[subprocess.Popen, Simulator]:
    port = port or free_port()
    env = {
        **os.environ,
        "ENV": "test",  # never production's rules by default (README "Security")
        "SIM_WEBHOOK_URL": webhook_url,
        "SIM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIM_RETRY_BASE_SECONDS": "0.2",
        "SIM_RETRY_MAX_SECONDS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "8", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "--no-control-socket", "gateway_simulator.wsgi:app"],
        cwd=ROOT, env=env,
    )
    sim = Simulator(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{sim.base}/_sim/health", timeout=1).ok:
                return proc, sim
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway simulator did not start")


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
