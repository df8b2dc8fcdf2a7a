"""The edge in front of several copies of a process (README "Running as a cluster"): requests go
round robin, one that cannot reach a copy goes to the next, a POST already sent is never sent
twice, and what no copy could answer is the contract's 503 DEGRADED, never nginx's bare 502."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from devstack import commands, serve
from devstack.processes import free_port, wait_until_up
from devstack.stack import Stack
from tests.support.db import fetch

pytestmark = pytest.mark.slow


@dataclass
class Dropper:
    """A server that takes a request and closes the connection without a word, like a process that
    crashed while working on it. It counts what it was sent, by method."""

    port: int = field(default_factory=free_port)
    received: list[str] = field(default_factory=list)

    def serve(self) -> None:
        with socket.create_server(("127.0.0.1", self.port)) as listener:
            listener.settimeout(0.2)
            while not self.stopped.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.settimeout(2)
                    try:
                        head = conn.recv(65536)
                    except OSError:
                        continue
                    if head:
                        self.received.append(head.split(b" ", 1)[0].decode())

    def __post_init__(self) -> None:
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()


@dataclass
class Balanced:
    url: str
    stack: Stack
    webs: list[str]


@pytest.fixture
def balanced(stack_env, tmp_path) -> Iterator[Balanced]:
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        pytest.fail("nginx is missing: `make nginx` installs it (`make test` does)")
    edge_port, gate_port = free_port(), free_port()
    url = f"http://127.0.0.1:{edge_port}"
    env = {**os.environ, **stack_env, "PUBLIC_URL": url, "WEB_WORKERS": "1", "WEB_THREADS": "4", "WEB_ACCESS_LOG": ""}
    stack = Stack(tmp_path, env)
    webs = []
    for name in ("web-1", "web-2"):
        port = free_port()
        proc = stack.start_gunicorn(name, "wsgi:app", port)
        wait_until_up(f"http://127.0.0.1:{port}/readyz", proc, name=name)
        webs.append(f"127.0.0.1:{port}")
    edge_env = {
        **os.environ,
        **commands.edge_env(f"127.0.0.1:{edge_port}", ",".join(webs), f"127.0.0.1:{gate_port}", tmp_path / "nginx"),
    }
    try:
        with serve.edge(edge_port, edge_env, timeout=20, stop_timeout=10):
            yield Balanced(url, stack, webs)
    finally:
        stack.stop()


def edge_with(web_bind: str, tmp: Path) -> tuple[int, dict[str, str]]:
    port = free_port()
    return port, {**os.environ, **commands.edge_env(f"127.0.0.1:{port}", web_bind, f"127.0.0.1:{free_port()}", tmp)}


def account() -> dict[str, str]:
    return {"email": f"fan-{uuid.uuid4().hex[:12]}@example.com", "password": "a long enough password", "name": "Fan"}


def test_a_copy_killed_is_left_out_and_no_request_fails(balanced, app):
    # Both copies answer, round robin.
    for _ in range(4):
        assert requests.get(f"{balanced.url}/api/v1/openapi.json", timeout=10).status_code == 200
    balanced.stack.kill("web-1")
    # Each request that is sent to the dead copy is refused before anything was sent, so nginx
    # sends it to the other, a POST included; the dead one is then left out for a while. The one
    # exception: a POST that an nginx worker wrote to a connection it kept open to web-1 in the
    # instant before it saw the connection close (one per nginx worker at most) is answered 503
    # DEGRADED, and the client tries again after the Retry-After, as a client of the contract does.
    created, degraded = [], 0
    for _ in range(10):
        assert requests.get(f"{balanced.url}/api/v1/openapi.json", timeout=10).status_code == 200
        fan = account()
        answer = requests.post(f"{balanced.url}/api/v1/auth/register", json=fan, timeout=10)
        if answer.status_code == 503:
            assert answer.json()["error"]["code"] == "DEGRADED", answer.text
            degraded += 1
            time.sleep(int(answer.headers["Retry-After"]))
            answer = requests.post(f"{balanced.url}/api/v1/auth/register", json=fan, timeout=10)
        assert answer.status_code == 201, answer.text
        created.append(fan["email"])
    assert degraded <= 2  # the edge runs two nginx workers
    rows = fetch(app, "SELECT count(*) AS n FROM users WHERE email = ANY(:emails)", emails=created)
    assert rows[0].n == len(created)


def test_a_post_cut_off_mid_request_is_not_sent_again_and_is_answered_503_degraded(balanced, app, tmp_path):
    dropper = Dropper()
    port, env = edge_with(f"127.0.0.1:{dropper.port},{balanced.webs[1]}", tmp_path / "nginx")
    try:
        with serve.edge(port, env, timeout=20, stop_timeout=10) as url:
            # A GET that the dropper cut off is sent again to the other copy: every one is answered.
            for _ in range(6):
                assert requests.get(f"{url}/api/v1/openapi.json", timeout=10).status_code == 200
            assert "GET" in dropper.received
            # A POST that reached the dropper is not: its client gets 503 DEGRADED with a Retry-After,
            # and the other copy never saw it (no account was made).
            refused = None
            for _ in range(20):
                before = dropper.received.count("POST")
                fan = account()
                answer = requests.post(f"{url}/api/v1/auth/register", json=fan, timeout=10)
                if dropper.received.count("POST") > before:
                    refused = (fan, answer)
                    break
                assert answer.status_code == 201, answer.text
                # The dropper is left out for UPSTREAM_FAIL_SECONDS after each failure: wait it out.
                dropper.stopped.wait(2.1)
            assert refused is not None, "no POST reached the dropper"
            fan, answer = refused
            assert answer.status_code == 503
            assert answer.headers["Retry-After"] == "1"
            assert answer.json()["error"]["code"] == "DEGRADED"
            assert answer.json()["error"]["requestId"] == answer.headers["X-Request-Id"]
            rows = fetch(app, "SELECT count(*) AS n FROM users WHERE email = :email", email=fan["email"])
            assert rows[0].n == 0
            # A page of the site gets a page, not JSON.
            balanced.stack.kill("web-2")
            page = requests.get(f"{url}/login", timeout=10)
            assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
            assert page.headers["X-Request-Id"] in page.text
    finally:
        dropper.stopped.set()
        dropper.thread.join(5)
