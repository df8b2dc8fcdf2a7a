"""``execute_alone`` (app/unit_of_work.py): one statement in autocommit on a pool of its own whose
connections are not pinged when handed out. A connection the server closed while it sat in the pool
(a restart, a failover) fails its statement, which runs once more on a new connection; the caller
never sees it. A database that does not answer at all is SQLAlchemy's OperationalError, as anywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db
from app.unit_of_work import _alone_engine, execute_alone
from tests.conftest import settings_for_tests


def _backend_pids(app) -> set[int]:
    """The backends of every connection execute_alone's pool holds now (all idle in the pool)."""
    with app.app_context():
        pids = set()
        held = []
        try:  # check out as many as the pool has, so that each is seen once
            engine = _alone_engine()
            for _ in range(engine.pool.checkedin()):
                fairy = engine.raw_connection()
                held.append(fairy)
                pids.add(fairy.driver_connection.info.backend_pid)
        finally:
            for fairy in held:
                fairy.close()
        return pids


def test_a_statement_on_a_connection_the_server_closed_runs_again_on_a_new_one(app):
    with app.app_context():
        assert execute_alone("SELECT 1 + :n", {"n": 1}) == [(2,)]
        pids = _backend_pids(app)
        assert pids
        with db.engine.connect() as conn:  # the server ends them, as a restart would
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.commit()
        ((pid,),) = execute_alone("SELECT pg_backend_pid()", {})
        assert pid not in pids
        # It is autocommit: each statement is a transaction of its own, its writes seen at once.
        assert execute_alone("SELECT current_setting('transaction_isolation'), now() = statement_timestamp()", {}) == [
            ("read committed", True)
        ]


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
    from app import create_app

    down = create_app(settings_for_tests(database_url="postgresql+psycopg://seatline:seatline@127.0.0.1:1/nowhere"))
    with down.app_context(), pytest.raises(OperationalError):
        execute_alone("SELECT 1", {})
