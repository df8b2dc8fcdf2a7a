"""Seatline through PgBouncer in transaction mode (README "PgBouncer", ARCHITECTURE.md "Behind
PgBouncer"): no seat sold twice and a payment confirmed, as directly; the statement and lock
timeouts still bound every statement; nothing is prepared; migrations go straight to the database."""

from __future__ import annotations

import logging

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy.exc import DBAPIError, OperationalError

from app import create_app
from app.db_pool import KeepsPreparedStatements
from app.extensions import db
from app.unit_of_work import direct_unit_of_work, execute_alone, unit_of_work
from tests.conftest import settings_for_tests
from tests.integration import test_hold_races as hold_races, test_payments as payments
from tests.pgbouncer.conftest import start_pgbouncer


@pytest.mark.slow
def test_fifty_clients_racing_for_two_seats_never_oversell(app, make):
    hold_races.test_fifty_clients_race_for_the_same_two_seats_over_many_rounds(app, make)


@pytest.mark.slow
def test_one_fan_racing_themselves_cannot_pass_the_per_user_cap(app, make):
    # The per-user cap rests on the transaction-scoped advisory lock of the hold's first statement.
    hold_races.test_one_fan_racing_themselves_cannot_pass_the_per_user_cap(app, make)


def test_pay_confirm_book_and_email(app, client, make, gateway, mail):
    payments.test_pay_confirm_book_and_email(app, client, make, gateway, mail)


def test_nothing_is_prepared_behind_pgbouncer(app):
    settings = app.extensions["seatline.settings"]
    with app.app_context():
        with direct_unit_of_work() as uow:
            assert not isinstance(uow._conn, KeepsPreparedStatements)
            assert uow._conn.prepare_threshold is None
            # Directly, a statement run this often in one transaction would be prepared by now.
            for n in range(settings.db_prepare_threshold + 3):
                uow.execute("SELECT count(*) FROM shows WHERE id > :n", {"n": n}).scalar_one()
            assert uow.execute("SELECT count(*) FROM pg_prepared_statements").scalar_one() == 0
        with unit_of_work() as uow:
            for n in range(settings.db_prepare_threshold + 3):
                uow.execute("SELECT count(*) FROM shows WHERE id > :n", {"n": n}).scalar_one()
            assert uow.execute("SELECT count(*) FROM pg_prepared_statements").scalar_one() == 0


@pytest.fixture(scope="module")
def short_timeouts():
    """A PgBouncer of its own whose server connections time statements out after 200 ms and lock
    waits after 100 ms, and an app behind it told the same."""
    bouncer = start_pgbouncer(statement_timeout_ms=200, lock_timeout_ms=100, pool_size=3)
    application = create_app(
        settings_for_tests(
            database_url=bouncer.url, db_behind_pgbouncer=True, db_statement_timeout_ms=200, db_lock_timeout_ms=100
        )
    )
    yield application
    with application.app_context():
        db.engine.dispose()
    bouncer.stop()


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def test_the_statement_timeout_still_applies_through_pgbouncer(short_timeouts):
    with short_timeouts.app_context():
        # In a unit of work, alone in autocommit, and through the Session, on whichever server
        # connections PgBouncer hands out (a pool of three, each asked more than once).
        for _ in range(4):
            with direct_unit_of_work() as uow, pytest.raises(OperationalError) as raised:
                uow.execute("SELECT pg_sleep(3)")
            assert _sqlstate(raised.value) == "57014"  # query_canceled: statement timeout
            with pytest.raises(OperationalError) as raised:
                execute_alone("SELECT pg_sleep(3)")
            assert _sqlstate(raised.value) == "57014"
        with unit_of_work() as uow:
            assert uow.execute("SELECT current_setting('statement_timeout')").scalar_one() == "200ms"


def test_the_lock_timeout_still_applies_through_pgbouncer(short_timeouts, app):
    direct = settings_for_tests().database_url.replace("+psycopg", "")
    with psycopg.connect(direct) as holder:
        holder.execute("LOCK TABLE cities IN ACCESS EXCLUSIVE MODE")  # held until this block ends
        with short_timeouts.app_context(), direct_unit_of_work() as uow, pytest.raises(OperationalError) as raised:
            uow.execute("SELECT count(*) FROM cities")
        assert _sqlstate(raised.value) == "55P03"  # lock_not_available: lock timeout
        holder.rollback()


def test_an_app_expecting_other_timeouts_than_pgbouncers_says_so(short_timeouts, caplog):
    url = short_timeouts.extensions["seatline.settings"].database_url
    told_otherwise = create_app(settings_for_tests(database_url=url, db_behind_pgbouncer=True))  # 5000 and 3000 ms
    with caplog.at_level(logging.WARNING, logger="app.db_pool"):
        with short_timeouts.app_context():
            db.engine.dispose()  # a new connection: checked against the same timeouts, quietly
            execute_alone("SELECT 1")
        assert not [r for r in caplog.records if "PgBouncer" in r.getMessage()]
        with told_otherwise.app_context():
            execute_alone("SELECT 1")
            db.engine.dispose()
    (warning,) = [r.getMessage() for r in caplog.records if "PgBouncer" in r.getMessage()]
    assert "statement_timeout=200ms" in warning and "5000 ms" in warning


def test_pgbouncer_refuses_the_options_a_direct_connection_sends(pgbouncer):
    # Why DB_BEHIND_PGBOUNCER exists: the direct configuration cannot even connect through it.
    application = create_app(settings_for_tests(database_url=pgbouncer.url, db_behind_pgbouncer=False))
    with application.app_context(), pytest.raises(OperationalError, match="options"):
        execute_alone("SELECT 1")


def test_migrations_refuse_to_run_through_pgbouncer(pgbouncer, capfd):
    application = create_app(settings_for_tests(database_url=pgbouncer.url, db_behind_pgbouncer=True))
    with application.app_context(), pytest.raises(SystemExit):  # flask db upgrade's exit status 1
        upgrade()
    assert "DATABASE_DIRECT_URL" in capfd.readouterr().err
