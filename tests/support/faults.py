"""Network faults for the degraded-mode tests: a TCP proxy that can be cut, and a listener that
hangs up on everyone while counting who tried."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

from devstack.processes import free_port


class TcpProxy:
    """Forwards 127.0.0.1:port to ``target``. ``cut()`` drops every open connection and hangs up on
    new ones (what a restarting database looks like from the app); ``restore()`` forwards again.
    ``attempts`` counts the connections clients tried to open."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port, self.attempts = target, free_port(), 0
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._up = False
            for s in self._open:
                _close(s)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        _close(self._server)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.attempts += 1
                up = self._up
            if not up:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@contextmanager
def hang_up_listener() -> Iterator[TcpProxy]:
    """A port where every connection is accepted and closed at once (a gateway or database that
    answers nothing), counting the attempts."""
    proxy = TcpProxy(("127.0.0.1", 9))
    proxy.cut()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def database_proxy(app):
    """A TCP proxy in front of the test database, and the database URL that goes through it: cutting
    the proxy is Postgres going away for the app built on that URL."""
    url = make_url(app.extensions["seatline.settings"].database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()
