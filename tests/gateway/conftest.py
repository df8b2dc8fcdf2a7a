"""Fixtures for the gateway simulator's tests: the simulator under gunicorn (one worker,
several threads) as a subprocess on a free port, and a tiny HTTP receiver that collects
the webhooks it sends. No Postgres or Redis needed."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from devstack import commands
from devstack.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_gateway_tests"
RETRY_BASE = 0.2
MAX_ATTEMPTS = 4


class Receiver:
    """Collects every webhook request; answers with the planned status codes, then 200."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.plan: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = receiver.plan.pop(0) if receiver.plan else 200
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                            "at": time.monotonic(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhook"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.plan.clear()

    def respond_with(self, *codes: int) -> None:
        with self.lock:
            self.plan.extend(codes)

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def acked(self) -> list[dict[str, Any]]:
        """Acknowledged deliveries, parsed, in arrival order."""
        return [json.loads(r["body"]) for r in self.all() if 200 <= r["status"] < 300]

    def wait_for(self, n: int, timeout: float = 15.0, acked: bool = True) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.acked() if acked else self.all()
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.02)


class Sim:
    """Thin helper around the control API."""

    def __init__(self, base: str, receiver: Receiver) -> None:
        self.base = base
        self.receiver = receiver
        self.http = requests.Session()

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(self.base + path, params=params, timeout=5)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body: Any = None, expect: int | None = None) -> Any:
        r = self.http.post(self.base + path, json=body, timeout=10)
        if expect is not None:
            assert r.status_code == expect, r.text
        else:
            r.raise_for_status()
        return r.json()

    def faults(self, *faults: dict[str, Any]) -> list[dict[str, Any]]:
        return self.post("/_sim/faults", list(faults), expect=201)["data"]

    def intents(self) -> list[dict[str, Any]]:
        return self.get("/_sim/payment_intents")["data"]

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/_sim/events", **filters)["data"]

    def wait_events(self, pred, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if pred(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.02)

    def client(self, timeout: float = 5.0, retries: int = 0, key: str = "sk_test_gateway") -> stripe.StripeClient:
        return stripe.StripeClient(
            key,
            base_addresses={"api": self.base},
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=retries,
        )


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()
    rec.thread.join(5)


@pytest.fixture(scope="session")
def sim_server(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("gateway") / "simulator.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIM_")},
        "ENV": "test",
        "SIM_WEBHOOK_URL": receiver.url,
        "SIM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIM_RETRY_BASE_SECONDS": str(RETRY_BASE),
        "SIM_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "SIM_WEBHOOK_TIMEOUT_SECONDS": "2",
        "SIM_LOG_LEVEL": "INFO",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            commands.gateway_simulator(f"127.0.0.1:{port}", 8, "--graceful-timeout", "3"),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"simulator exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if requests.get(base + "/_sim/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"simulator did not come up:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def sim(sim_server: str, receiver: Receiver) -> Iterator[Sim]:
    helper = Sim(sim_server, receiver)
    helper.post("/_sim/reset")
    helper.post(
        "/_sim/config",
        {
            "webhook_url": receiver.url,
            "webhook_secret": WEBHOOK_SECRET,
            "retry_base_seconds": RETRY_BASE,
            "max_attempts": MAX_ATTEMPTS,
        },
    )
    receiver.reset()
    yield helper
    helper.post("/_sim/reset")
    receiver.reset()
    helper.http.close()


@pytest.fixture
def client(sim: Sim) -> stripe.StripeClient:
    return sim.client()
