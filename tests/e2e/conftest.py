"""The e2e tier: HTTP against real gunicorn processes."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.db import Builder, app, clean_state, make, rds, smtp_sink  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:  # noqa: F811
    settings = app.extensions["seatline.settings"]
    port = free_port()
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "PASSWORD_TIME_COST": "1",
        "PASSWORD_MEMORY_COST_KIB": "1024",
        "DB_POOL_SIZE": "8",
        "DB_MAX_OVERFLOW": "4",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "4",
        "WEB_THREADS": "16",
        "WEB_ACCESS_LOG": "",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/readyz", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield
