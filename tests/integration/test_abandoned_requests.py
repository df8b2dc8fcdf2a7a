"""A request whose client hung up while it queued is dropped unhandled (app/ops/abandoned.py).

The connection is a real socket pair, as gunicorn hands the app its client's socket."""

from __future__ import annotations

import socket

import pytest
from flask.testing import FlaskClient

from app.ops.abandoned import client_has_gone
from tests.support.db import fetch


@pytest.fixture
def connection():
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_connection_is_gone_only_once_the_client_has_closed_it(connection):
    ours, theirs = connection
    assert not client_has_gone(ours)  # there, nothing more sent
    theirs.sendall(b"{}")
    assert not client_has_gone(ours)  # a body or a next request still to read
    assert ours.recv(2) == b"{}"
    theirs.close()
    assert client_has_gone(ours)


def test_a_hold_for_a_client_that_hung_up_is_not_made(app, client, make, connection):
    fan, show = make.fan(), make.show()
    ours, theirs = connection
    hold = dict(json={"seatIds": ["A1"]}, headers=fan.headers, environ_overrides={"gunicorn.socket": ours})

    theirs.close()
    # Nobody reads a 499 (its client is gone), so it is not in the API's contract: a plain client.
    dropped = FlaskClient(app, app.response_class).post(f"/api/v1/shows/{show.show_id}/holds", **hold)
    assert dropped.status_code == 499 and dropped.data == b""
    assert fetch(app, "SELECT count(*) AS n FROM holds WHERE show_id = :s", s=show.show_id)[0].n == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "seatline_requests_abandoned_total 1.0" in metrics

    ours2, theirs2 = socket.socketpair()
    try:
        made = client.post(
            f"/api/v1/shows/{show.show_id}/holds", **{**hold, "environ_overrides": {"gunicorn.socket": ours2}}
        )
        assert made.status_code == 201, made.get_data(as_text=True)
    finally:
        ours2.close()
        theirs2.close()
