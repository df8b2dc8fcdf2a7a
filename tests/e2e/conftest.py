"""The e2e tier: HTTP against real gunicorn processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from devstack import serve
from devstack.gateway import Simulator, start_simulator
from devstack.processes import ROOT, free_port
from devstack.stack import Stack
from tests.conftest import PER_IP_LIMITS
from tests.support.db import Builder, app, clean_state, make, rds, smtp_sink  # noqa: F401  (fixtures)
from tests.support.services import WEBHOOK_SECRET

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
        "MEDIA_DIR": settings.media_dir,  # posters uploaded in a test run: its own directory
        **{name.upper(): value for name, value in PER_IP_LIMITS.items()},
    }


def gunicorn(module: str, port: int, env: dict[str, str]) -> AbstractContextManager[str]:
    """Serves ``module`` with the project's gunicorn settings on ``port`` until the block ends (no
    access log unless ``env`` asks for one)."""
    return serve.gunicorn(module, port, {**os.environ, "WEB_ACCESS_LOG": "", **env})


@pytest.fixture(scope="session")
def live_server(app, stack_env) -> Iterator[str]:  # noqa: F811
    port = free_port()
    # PUBLIC_URL is the site's own address: the gateway's hosted page sends the fan back to it.
    env = {**stack_env, "WEB_WORKERS": "4", "WEB_THREADS": "16", "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with gunicorn("wsgi:app", port, env) as base:
        yield base


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield


@pytest.fixture(scope="session")
def live_gateway(app, live_server) -> Iterator[Simulator]:  # noqa: F811
    """The gateway simulator, sending its webhooks to the live web server."""
    proc, sim = start_simulator(
        f"{live_server}/api/v1/payments/webhook", WEBHOOK_SECRET, port=app.config["SIMULATOR_PORT"]
    )
    yield sim
    proc.terminate()
    proc.wait(10)


class WorkerProcess:
    """`flask worker` as its own process group, so a test can kill it mid-job like a crash; its
    output goes to ``logdir``/worker-1.log."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self._stack = Stack(logdir, {**os.environ, **env, "FLASK_APP": "wsgi"})
        self._name: str | None = None

    def start(self) -> None:
        self._name = self._stack.start_worker()

    def kill(self) -> None:
        self._stack.kill(self._name)

    def stop(self) -> None:
        self._stack.stop()


@pytest.fixture
def worker(stack_env, tmp_path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(stack_env, tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def live_gate(app, live_server, stack_env) -> Iterator[str]:  # noqa: F811
    """The queue gate under gunicorn, sending admitted fans back to the live web server."""
    with gunicorn(
        "queue_gate.wsgi:app", GATE_PORT, {**stack_env, "PUBLIC_URL": live_server, "WEB_WORKERS": "2"}
    ) as base:
        yield base


SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright for the whole run: a second one started beside it (sync API) fails, so every
    browser a test launches (the shared one below, the scanner's phone with a fake camera) comes from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_driver):
    chromium = playwright_driver.chromium.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
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
