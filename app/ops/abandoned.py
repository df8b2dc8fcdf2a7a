"""Requests whose client has already hung up are not answered.

Under a crowd (the waiting room at a sale's opening, say) requests queue inside gunicorn for a
thread, and a client that waited too long gives up: the browser's or the load balancer's timeout
fires and it closes the connection, which nginx passes on by closing its own to us. Working
through such a queue would only make everyone behind it wait longer and give up too. So before a
request is handled, its connection is looked at (a peek that reads nothing): if the client has
already closed it, the request is dropped with 499 (nginx's "client closed request"), which
nobody reads, and ``seatline_requests_abandoned_total`` counts it. Nothing has been done for it,
so nothing needs undoing; a client that still wants an answer asks again.

Only gunicorn gives the app its connection (``gunicorn.socket``); elsewhere this does nothing.
A client that half-closes its side after sending a request and still waits for the answer would
be dropped too: browsers, nginx and the HTTP libraries used here never do that.
"""

from __future__ import annotations

import logging
import socket

from flask import Flask, Response, request
from prometheus_client import Counter

from app.ops.metrics import registry

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499


def client_has_gone(sock: socket.socket) -> bool:
    """Whether the peer has closed (or reset) the connection. Bytes still to read (a body, a next
    request) or nothing yet both mean it is there."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:  # reset by the peer, or no longer a connection
        return True


def init_app(app: Flask) -> None:
    abandoned = Counter(
        "seatline_requests_abandoned", "Requests dropped because their client had hung up", registry=registry(app)
    )

    @app.before_request
    def _drop_if_client_gone() -> Response | None:
        sock = request.environ.get("gunicorn.socket")
        if sock is None or not client_has_gone(sock):
            return None
        abandoned.inc()
        log.info("client hung up before %s %s was handled; dropped", request.method, request.path)
        return Response(status=CLIENT_CLOSED_REQUEST)
