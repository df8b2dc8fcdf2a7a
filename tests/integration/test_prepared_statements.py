"""Statements stay prepared on a pooled connection across rollbacks (app/db_pool.py,
``KeepsPreparedStatements``): a request that only reads ends its transaction with a rollback, and
so does a hold refused with a 409, and psycopg on its own forgets every prepared statement there."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from app.db_pool import KeepsPreparedStatements
from app.extensions import db
from app.unit_of_work import direct_unit_of_work

STATEMENT = "SELECT count(*) FROM shows WHERE id > :n"


def _prepared(uow) -> int:
    return uow.execute("SELECT count(*) FROM pg_prepared_statements").scalar_one()


def test_psycopg_on_its_own_forgets_prepared_statements_on_a_rollback(app):
    url = make_url(app.extensions["seatline.settings"].database_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, prepare_threshold=1
    ) as conn:
        for n in range(3):
            conn.execute("SELECT count(*) FROM shows WHERE id > %s", (n,)).fetchall()
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] >= 1
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 0


def test_the_pools_connections_keep_them_across_a_rollback(app):
    threshold = app.extensions["seatline.settings"].db_prepare_threshold
    with app.app_context():
        with direct_unit_of_work() as uow:
            assert isinstance(uow._conn, KeepsPreparedStatements)
            for n in range(threshold + 1):
                uow.execute(STATEMENT, {"n": n}).scalar_one()
            before = _prepared(uow)
            assert before >= 1
            uow.rollback()  # as a hold refused with a 409 ends
            assert _prepared(uow) == before
            uow.rollback()
        # Through SQLAlchemy (the Session's way: the dialect's rollback, then the pool's reset on
        # return, which is a rollback of whatever a read left open) the connection keeps them too.
        with db.engine.connect() as conn:
            for n in range(threshold + 1):
                conn.exec_driver_sql("SELECT count(*) FROM shows WHERE id > %(n)s", {"n": n}).scalar_one()
            before = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one()
            conn.rollback()
            assert before >= 1
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one() == before


def test_a_failed_transaction_still_rolls_back_and_the_connection_works_after(app):
    with app.app_context(), direct_unit_of_work() as uow:
        for n in range(8):
            uow.execute(STATEMENT, {"n": n}).scalar_one()
        uow.execute("CREATE TEMPORARY TABLE rolled_back_here (x int)")
        try:
            uow.execute("SELECT 1 / 0")
        except Exception:
            uow.rollback()
        assert uow.execute(STATEMENT, {"n": 0}).scalar_one() >= 0
        assert uow.execute("SELECT to_regclass('pg_temp.rolled_back_here')").scalar_one() is None
        uow.rollback()
