"""``execute_alone`` (app/unit_of_work.py): one statement in autocommit on a connection of the app's
pool. A connection the server closes after the pool's check (app/db_pool.py) and before the statement
fails the statement, which runs once more on a new connection; the caller never sees it. A database
that does not answer at all is SQLAlchemy's OperationalError, as anywhere."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from app import create_app
from app.extensions import db
from app.unit_of_work import execute_alone, unit_of_work
from tests.conftest import settings_for_tests
from tests.support.pool import kill_pooled_connections


def test_a_statement_on_a_connection_the_server_closed_runs_again_on_a_new_one(app):
    # The pool's check would not hand such a connection out at all: without it, the connection
    # reaches the statement, as one the server closes just after the check would.
    unchecked = create_app(
        settings_for_tests(database_url=app.extensions["seatline.settings"].database_url, db_pool_pre_ping=False)
    )
    try:
        with unchecked.app_context():
            assert execute_alone("SELECT 1 + :n", {"n": 1}) == [(2,)]
        pids = kill_pooled_connections(unchecked)
        assert pids
        with unchecked.app_context():
            ((pid,),) = execute_alone("SELECT pg_backend_pid()", {})
            assert pid not in pids
            # It is autocommit: each statement is a transaction of its own, its writes seen at once.
            assert execute_alone(
                "SELECT current_setting('transaction_isolation'), now() = statement_timestamp()", {}
            ) == [("read committed", True)]
    finally:
        with unchecked.app_context():
            db.engine.dispose()


def test_connections_go_back_to_the_pool_out_of_autocommit(app):
    with app.app_context():
        for _ in range(3):
            execute_alone("SELECT 1", {})
        engine = db.engine
        held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
        try:
            assert held
            assert not any(fairy.driver_connection.autocommit for fairy in held)  # type: ignore[union-attr]
        finally:
            for fairy in held:
                fairy.close()
        with unit_of_work() as uow:  # the Session's transactions are transactions still
            uow.execute("SET LOCAL statement_timeout = 1234")
            assert uow.execute("SHOW statement_timeout").scalar() == "1234ms"


def test_errors_are_sqlalchemys_and_leave_the_connection_usable(app, make):
    make.fan()
    with app.app_context():
        with pytest.raises(IntegrityError):
            execute_alone(
                "INSERT INTO users (id, email, name, password_hash) SELECT id, email, name, password_hash FROM users LIMIT 1",
                {},
            )
        assert execute_alone("SELECT 1", {}) == [(1,)]


def test_a_database_that_does_not_answer_is_an_operational_error(app):
    down = create_app(settings_for_tests(database_url="postgresql+psycopg://seatline:seatline@127.0.0.1:1/nowhere"))
    with down.app_context(), pytest.raises(OperationalError):
        execute_alone("SELECT 1", {})
