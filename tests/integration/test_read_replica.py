"""Browsing reads from a real streaming replica of the test database's server while it is fresh
enough, and from the primary otherwise (app/replica.py; README, "Read replicas").

The replica is copied from the primary and started by devstack/pg_replica.py once for the module;
the last test stops it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask

from app import create_app
from app.extensions import db
from app.replica import browsing_read
from devstack.pg_replica import Replica, replica
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

BOUND = 1.0  # REPLICA_MAX_LAG_SECONDS's default
END_TO_END = 2.0  # the contract's bound for a seat's state, caches included


@pytest.fixture(scope="module")
def standby(app) -> Iterator[Replica]:
    with replica() as node:  # after `app`: the test database's schema is copied with the rest
        node.log_statements()
        yield node


@pytest.fixture(scope="module")
def replica_app(app, standby) -> Iterator[Flask]:
    """The app under test with DATABASE_REPLICA_URL pointing at the replica (defaults otherwise)."""
    settings = app.extensions["seatline.settings"]
    routed = create_app(dataclasses.replace(settings, database_replica_url=standby.url_for(settings.database_url)))
    yield routed
    with routed.app_context():
        routed.extensions["seatline.replica"].engine.dispose()
        db.engine.dispose()


def _database(app: Flask) -> str:
    return app.extensions["seatline.settings"].database_url.rsplit("/", 1)[1]


def _statements_on_replica(standby: Replica, app: Flask, action) -> list[str]:
    """What ``action()`` ran on the replica's copy of the test database, from the replica's log."""
    offset = standby.log_size()
    action()
    time.sleep(0.2)  # the server's log is written by its backends as they go; leave it a moment
    # Less the replica's lag checks, which every process makes on its own (app/replica.py).
    return [q for q in standby.statements_since(offset, _database(app)) if "pg_last_wal_replay_lsn" not in q]


def _answered_by_a_standby(app: Flask) -> bool:
    with app.app_context():
        return browsing_read(lambda uow: uow.execute("SELECT pg_is_in_recovery()").scalar_one())


def _on_replica(standby: Replica, app: Flask, sql: str):
    with psycopg.connect(host="127.0.0.1", port=standby.port, user="postgres", dbname=_database(app)) as conn:
        return conn.execute(sql).fetchall()


def _statuses(client, show_id: int) -> dict[str, str]:
    response = client.get(f"/api/v1/shows/{show_id}/seatmap")
    assert response.status_code == 200, response.get_json()
    return {s["seatId"]: s["status"] for s in response.get_json()["seats"]}


def test_browsing_reads_come_from_the_replica(replica_app, standby, make):
    show = make.show(rows=2, per_row=4)
    # Through the very path browsing takes: a standby answers while it keeps up.
    assert wait_for(lambda: _answered_by_a_standby(replica_app))
    wait_for(lambda: _on_replica(standby, replica_app, f"SELECT 1 FROM shows WHERE id = {show.show_id}"))
    client = replica_app.test_client()
    seat_map = _statements_on_replica(standby, replica_app, lambda: _statuses(client, show.show_id))
    assert any("string_agg" in q for q in seat_map), seat_map  # the seat states
    detail = _statements_on_replica(
        standby, replica_app, lambda: client.get(f"/api/v1/shows/{show.show_id}").status_code == 200
    )
    assert any("FROM show_prices" in q for q in detail), detail
    page = _statements_on_replica(standby, replica_app, lambda: client.get(f"/shows/{show.show_id}"))
    assert any("string_agg" in q for q in page), page  # the show page's shared body
    manager = make.fan(role="manager")
    wait_for(lambda: _on_replica(standby, replica_app, f"SELECT 1 FROM users WHERE id = {manager.user_id}"))

    def dashboard() -> None:
        response = client.get(f"/api/v1/manage/shows/{show.show_id}/dashboard", headers=manager.headers)
        assert response.status_code == 200, response.get_json()

    figures = _statements_on_replica(standby, replica_app, dashboard)
    assert any("FROM bookings" in q for q in figures), figures  # the dashboard's figures


def test_a_hold_shows_within_the_bound_while_replay_is_paused(replica_app, standby, make):
    show, fan = make.show(rows=2, per_row=4), make.fan()
    wait_for(lambda: _on_replica(standby, replica_app, f"SELECT 1 FROM shows WHERE id = {show.show_id}"))
    assert wait_for(lambda: _answered_by_a_standby(replica_app))
    client = replica_app.test_client()
    assert _statuses(client, show.show_id)["B2"] == "AVAILABLE"
    standby.pause_replay()
    try:
        held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["B2"]}, headers=fan.headers)
        assert held.status_code == 201, held.get_json()
        time.sleep(END_TO_END)
        # The replica still has the seat free: a map read from it would be stale past the bound.
        query = f"SELECT status FROM show_seats WHERE show_id = {show.show_id} AND seat_id = 'B2'"
        assert _on_replica(standby, replica_app, query) == [("AVAILABLE",)]
        assert _statuses(client, show.show_id)["B2"] == "HELD"
        assert client.get(f"/api/v1/shows/{show.show_id}/seatmap/sections").get_json()["sections"][0]["held"] == 1
        assert not _answered_by_a_standby(replica_app)  # past the bound: the primary answers
    finally:
        standby.resume_replay()
    assert wait_for(lambda: _answered_by_a_standby(replica_app))  # caught up: back on the replica


def test_holds_never_touch_the_replica(replica_app, standby, make):
    show, fan = make.show(rows=2, per_row=4), make.fan()
    client = replica_app.test_client()
    wait_for(lambda: _on_replica(standby, replica_app, f"SELECT 1 FROM shows WHERE id = {show.show_id}"))
    assert wait_for(lambda: _answered_by_a_standby(replica_app))

    def hold_look_release() -> None:
        held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1", "A2"]}, headers=fan.headers)
        assert held.status_code == 201, held.get_json()
        hold_id = held.get_json()["holdId"]
        assert client.get(f"/api/v1/holds/{hold_id}", headers=fan.headers).status_code == 200
        assert client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers).status_code in (200, 204)

    statements = _statements_on_replica(standby, replica_app, hold_look_release)
    assert statements == [], statements
    # The same log shows what a read there looks like: the check above would have seen one.
    assert any(
        "string_agg" in q for q in _statements_on_replica(standby, replica_app, lambda: _statuses(client, show.show_id))
    )


def test_browsing_answers_from_the_primary_when_the_replica_is_down(replica_app, standby, make):
    show, fan = make.show(rows=2, per_row=4), make.fan()
    client = replica_app.test_client()
    wait_for(lambda: _on_replica(standby, replica_app, f"SELECT 1 FROM shows WHERE id = {show.show_id}"))
    assert wait_for(lambda: _answered_by_a_standby(replica_app))
    assert _statuses(client, show.show_id)["A3"] == "AVAILABLE"  # the replica's pool has connections now
    standby.stop()
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A3"]}, headers=fan.headers)
    assert held.status_code == 201, held.get_json()
    time.sleep(END_TO_END)
    assert _statuses(client, show.show_id)["A3"] == "HELD"
    for path in (
        "/api/v1/cities",
        f"/api/v1/cities/{show.city_id}/shows",
        f"/api/v1/shows/{show.show_id}",
        f"/api/v1/shows/{show.show_id}/seatmap?format=compact",
        "/",
        f"/shows/{show.show_id}",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert "Warning" not in response.headers  # fresh from the primary, not a last good copy
    assert not _answered_by_a_standby(replica_app)
