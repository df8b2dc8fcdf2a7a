"""The e2e tier: HTTP against real gunicorn processes."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PER_IP_LIMITS
from tests.support.db import Builder, app, clean_state, make, rds, smtp_sink  # noqa: F401  (fixtures)
from tests.support.processes import free_port, wait_until_up  # noqa: F401  (for the e2e tests)
from tests.support.services import Simulator, start_simulator

ROOT = Path(__file__).resolve().parents[2]


GATE_PORT = free_port()


@pytest.fixture(scope="session")
def stack_env(app, smtp_sink) -> dict[str, str]:  # noqa: F811
    """The environment every process of the stack under test shares."""
    settings = app.extensions["seatline.settings"]
    return {
        "GATE_PUBLIC_URL": f"http://127.0.0.1:{GATE_PORT}",
        "ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "PASSWORD_TIME_COST": "1",
        "PASSWORD_MEMORY_COST_KIB": "1024",
        "DB_POOL_SIZE": "2",
        "DB_MAX_OVERFLOW": "8",
        "GATEWAY_API_BASE": settings.gateway_api_base,
        "WEBHOOK_SECRET": settings.webhook_secret,
        "GATEWAY_TIMEOUT_SECONDS": "2",
        "SMTP_PORT": str(smtp_sink[1]),
        "RECONCILE_AFTER_SECONDS": "1",
        "OUTBOX_RETRY_AFTER_SECONDS": "1",
        "GATE_SIGNING_KEYS": settings.gate_signing_keys,
        "GATE_JWKS": settings.gate_jwks,
        **{name.upper(): value for name, value in PER_IP_LIMITS.items()},
    }


@contextmanager
def gunicorn(module: str, port: int, env: dict[str, str]) -> Iterator[str]:
    """Serves ``module`` with the project's gunicorn settings on ``port`` until the block ends."""
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", module],
        cwd=ROOT, env={**os.environ, "WEB_ACCESS_LOG": "", **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/readyz", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="session")
def live_server(app, stack_env) -> Iterator[str]:  # noqa: F811
    with gunicorn("wsgi:app", free_port(), {**stack_env, "WEB_WORKERS": "4", "WEB_THREADS": "16"}) as base:
        yield base


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield


@pytest.fixture(scope="session")
def live_gateway(app, live_server) -> Iterator[Simulator]:  # noqa: F811
    """The gateway simulator, sending its webhooks to the live web server."""
    proc, sim = start_simulator(f"{live_server}/api/v1/payments/webhook", port=app.config["SIMULATOR_PORT"])
    yield sim
    proc.terminate()
    proc.wait(10)


class WorkerProcess:
    """`flask worker` as its own process group, so a test can kill it mid-job like a crash."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = {**os.environ, **env, "FLASK_APP": "wsgi"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/flask"), "worker"], cwd=ROOT, env=self._env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        import signal

        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker(stack_env) -> Iterator[WorkerProcess]:
    process = WorkerProcess(stack_env)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def live_gate(app, live_server, stack_env) -> Iterator[str]:  # noqa: F811
    """The queue gate under gunicorn, sending admitted fans back to the live web server."""
    with gunicorn("queue_gate.wsgi:app", GATE_PORT, {**stack_env, "PUBLIC_URL": live_server, "WEB_WORKERS": "2"}) as base:
        yield base


SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _close_pages(request):
    """Pages left open keep polling the live server, and their queries would then run into the
    next tests' TRUNCATE: every browser test ends with its pages closed."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()
