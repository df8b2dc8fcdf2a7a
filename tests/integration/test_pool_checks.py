"""The pool's check on checkout (app/db_pool.py): a connection the server closed while it sat in the
pool is never handed out, found without a round trip; one idle for a while is still pinged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.db_pool import check_connections_on_checkout, closed_by_server
from app.extensions import db
from app.unit_of_work import execute_alone, unit_of_work
from tests.conftest import settings_for_tests
from tests.support.pool import dsn, kill_pooled_connections, terminate, wait_readable


def test_a_hold_and_reads_after_the_server_ended_every_pooled_connection(app, client, make):
    show, fan = make.show(), make.fan()
    assert (
        client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers).status_code
        == 201
    )
    killed = kill_pooled_connections(app)
    assert killed
    response = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A2"]}, headers=fan.headers)
    assert response.status_code == 201, response.get_json()
    killed = kill_pooled_connections(app)
    with app.app_context():
        with unit_of_work() as uow:  # the Session's path
            assert uow.execute("SELECT pg_backend_pid()").scalar() not in killed
        ((pid,),) = execute_alone("SELECT pg_backend_pid()", {})
        assert pid not in killed


def test_without_the_check_a_closed_connection_fails_the_request(app):
    """What the check is for: the same connections, handed out unchecked, fail the first statement."""
    unchecked = create_app(
        settings_for_tests(database_url=app.extensions["seatline.settings"].database_url, db_pool_pre_ping=False)
    )
    try:
        kill_pooled_connections(unchecked)
        with unchecked.app_context(), pytest.raises(OperationalError), unit_of_work() as uow:
            uow.execute("SELECT 1")
    finally:
        with unchecked.app_context():
            db.engine.dispose()


def test_an_idle_healthy_connection_passes_and_a_closed_one_does_not(app):
    with psycopg.connect(dsn(app), autocommit=True) as conn:
        assert not closed_by_server(conn)
        conn.execute("DO $$ BEGIN RAISE NOTICE 'a notice is read with its answer'; END $$")
        assert not closed_by_server(conn)
        conn.autocommit = False
        conn.execute("SELECT 1")
        assert closed_by_server(conn)  # a transaction left open is not handed out
        conn.rollback()
        assert not closed_by_server(conn)
        terminate(app, {conn.info.backend_pid})
        wait_readable(conn)
        assert closed_by_server(conn)


@contextmanager
def _engine(app: Flask, ping_after_idle_seconds: float) -> Iterator[Engine]:
    engine = create_engine(app.extensions["seatline.settings"].database_url, pool_size=1, max_overflow=0)
    check_connections_on_checkout(engine, ping_after_idle_seconds)
    try:
        yield engine
    finally:
        engine.dispose()


def _last_statement(app: Flask, pid: int) -> str:
    with psycopg.connect(dsn(app), autocommit=True) as admin:
        row = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(("idle_seconds", "pinged"), [(0, True), (3600, False)])
def test_a_connection_idle_long_enough_is_pinged(app, idle_seconds, pinged):
    with _engine(app, idle_seconds) as engine:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            conn.commit()
        assert _last_statement(app, pid) == "COMMIT"
        with engine.connect() as conn:  # the same connection, out again
            # The ping is an empty statement (";", SQLAlchemy's for psycopg): it replaced COMMIT.
            assert (_last_statement(app, pid) != "COMMIT") == pinged
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
