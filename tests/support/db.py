"""Storage fixtures shared by the integration and e2e tiers: a migrated test database,
a clean slate per test, and builders for users and shows."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.accounts.tokens import issue_token
from app.catalog import scheduling
from app.catalog.layout import SeatSpec
from app.extensions import db, redis_roles
from app.unit_of_work import unit_of_work
from devstack.gateway import Simulator, start_simulator
from devstack.mail import MailSink
from devstack.processes import free_port
from tests.conftest import ensure_database, settings_for_tests
from tests.support.contract import ContractClient
from tests.support.services import (
    WEBHOOK_SECRET,
    ThreadedServer,
    smtp_sink,  # noqa: F401  (a fixture: the conftest files import it from here)
)

TABLES = (
    "waitlist_entries, audit_log, gate_tickets, gate_queues, sms_outbox, notifications, refunds, checkout_sessions, webhook_events, payments, bookings, show_seats, holds, show_prices, shows, "
    "events, venue_seats, venues, cities, users, organisations"
)


def _reset_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(smtp_sink) -> Iterator[Flask]:
    yield from migrated_app(smtp_sink)


def migrated_app(smtp_sink, **overrides) -> Iterator[Flask]:
    """The app under test on a freshly migrated test database (``overrides``: its settings'); the
    schema is dropped and made again at DATABASE_DIRECT_URL if given (the primary's own address)."""
    _, smtp_port = smtp_sink
    simulator_port = free_port()  # the simulator starts there only for tests that ask for it
    settings = settings_for_tests(
        gateway_api_base=f"http://127.0.0.1:{simulator_port}",
        webhook_secret=WEBHOOK_SECRET,
        smtp_port=smtp_port,
        gateway_timeout_seconds=2.0,
        **overrides,
    )
    ensure_database(settings.database_direct_url or settings.database_url)
    _reset_schema(settings.database_direct_url or settings.database_url)
    application = create_app(settings)
    application.test_client_class = ContractClient
    application.config["PROPAGATE_EXCEPTIONS"] = os.environ.get("SEATLINE_TEST_RAISE") == "1"
    application.config["SIMULATOR_PORT"] = simulator_port
    with application.app_context():
        upgrade()  # the schema comes only from the migrations
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def web_server(app) -> Iterator[ThreadedServer]:
    """The app under test on a real port, so the simulator's webhooks can reach it."""
    server = ThreadedServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def simulator_process(app, web_server) -> Iterator[Simulator]:
    proc, sim = start_simulator(
        f"{web_server.url}/api/v1/payments/webhook", WEBHOOK_SECRET, port=app.config["SIMULATOR_PORT"]
    )
    yield sim
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def gateway(simulator_process) -> Simulator:
    simulator_process.reset()
    return simulator_process


@pytest.fixture
def mail(smtp_sink) -> MailSink:
    sink, _ = smtp_sink
    sink.clear()
    return sink


@pytest.fixture(autouse=True)
def _jobs_use_the_test_app(app, monkeypatch):
    import workers.jobs

    monkeypatch.setattr(workers.jobs, "job_app", lambda: app)


def run_jobs(app: Flask) -> None:
    """Works every queued job to the end with a real RQ worker (no fork, burst mode)."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from app.background import queues

    connection = redis.Redis.from_url(app.extensions["seatline.settings"].redis_url_for("queues"))
    worker = SimpleWorker(
        [queues.queue(name, connection) for name in queues.ALL_QUEUES], connection=connection, serializer=JSONSerializer
    )
    worker.work(burst=True, with_scheduler=False)


@pytest.fixture
def clean_state(app: Flask) -> Iterator[None]:
    with app.app_context():
        _truncate_all()
    for store in redis_roles(app).distinct.values():
        store.flushdb()
    # Each test starts with closed circuit breakers: one that provokes gateway or database failures
    # must not make the next one fail fast.
    for cb in (app.extensions["seatline.gateway"].breaker, *app.extensions.get("seatline.breakers", {}).values()):
        cb.close()
    yield


def _truncate_all(attempts: int = 5) -> None:
    """Empties every table. A request of the previous test that a server process is still finishing
    (an edge cache renewal, the gate's tick) can hold a share lock the TRUNCATE needs while it waits
    for one the TRUNCATE took; Postgres then aborts one side as a deadlock, sometimes this one: retry."""
    for attempt in range(attempts):
        try:
            db.session.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
            db.session.commit()
            return
        except OperationalError as exc:
            db.session.rollback()
            if not isinstance(exc.orig, psycopg.errors.DeadlockDetected) or attempt == attempts - 1:
                raise
        finally:
            db.session.remove()


def redis_client(app: Flask) -> redis.Redis:
    """The app's Redis: the tests give every role REDIS_URL, so this is each role's client."""
    return redis_roles(app).queues


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rds(app: Flask) -> redis.Redis:
    return redis_client(app)


_emails = itertools.count(1)
TEST_ORGANISATION = "Test Venues Ltd"


@dataclass(frozen=True)
class Fan:
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class ShowFixture:
    show_id: int
    venue_id: int
    city_id: int
    seat_ids: list[str]


class Builder:
    """Creates users and shows directly through the services, fast."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def fan(self, role: str = "fan", organisation: str | None = None) -> Fan:
        """A user with a bearer token; a manager or door staff belongs to ``organisation`` (the builder's
        shows' by default)."""
        with self.app.app_context(), unit_of_work() as uow:
            email = f"user{next(_emails)}@example.com"
            org = None
            if role in ("manager", "door"):
                org = scheduling.ensure_organisation(uow, organisation or TEST_ORGANISATION)
            user_id = uow.execute(
                """
                INSERT INTO users (email, name, password_hash, role, organisation_id)
                VALUES (:e, 'Test User', 'x', :r, :org) RETURNING id
                """,
                {"e": email, "r": role, "org": org},
            ).scalar_one()
            uow.commit()
        settings = self.app.extensions["seatline.settings"]
        return Fan(user_id, issue_token(settings.secret_key, user_id, role, 3600))

    def show(
        self,
        rows: int = 5,
        per_row: int = 10,
        *,
        city: str = "Testville",
        timezone_name: str = "Asia/Kolkata",
        starts_in: timedelta = timedelta(days=3),
        sale_opens_in: timedelta = timedelta(days=-1),
        sale_closes_in: timedelta | None = None,
        starts_at: datetime | None = None,
        title: str | None = None,
        prices: dict[str, int] | None = None,
        status: str = "SCHEDULED",
        organisation: str = TEST_ORGANISATION,
        currency: str = "INR",
    ) -> ShowFixture:
        now = datetime.now(UTC)
        starts = starts_at or now + starts_in
        seats = [
            SeatSpec(
                f"{chr(65 + r)}{n}", "Main", chr(65 + r), n, n, r, "gold" if r == 0 else "silver", r == 0 and n == 1
            )
            for r in range(rows)
            for n in range(1, per_row + 1)
        ]
        with self.app.app_context(), unit_of_work() as uow:
            org = scheduling.ensure_organisation(uow, organisation)
            city_id = scheduling.ensure_city(uow, city, "IN", timezone_name)
            venue_id = scheduling.ensure_venue(
                uow, city_id, f"Hall {rows}x{per_row}", "theatre", "", seats, organisation_id=org
            )
            event_id = scheduling.ensure_event(
                uow, title or f"Event {next(_emails)}", "concert", "", 90, organisation_id=org
            )
            show_id = scheduling.schedule_show(
                uow,
                event_id=event_id,
                venue_id=venue_id,
                starts_at=starts,
                sale_opens_at=min(now + sale_opens_in, starts - timedelta(hours=1)),
                sale_closes_at=now + sale_closes_in if sale_closes_in is not None else starts,
                currency=currency,
                prices=prices if prices is not None else {"gold": 50000, "silver": 25000},
            )
            if status != "SCHEDULED":
                uow.execute(
                    "UPDATE shows SET status = :s, cancelled_at = now() WHERE id = :id", {"s": status, "id": show_id}
                )
            uow.commit()
        return ShowFixture(show_id, venue_id, city_id, [s.seat_id for s in seats])


@pytest.fixture
def make(app: Flask) -> Builder:
    return Builder(app)


def fetch(app: Flask, sql: str, **params):
    with app.app_context(), unit_of_work() as uow:
        return uow.execute(sql, params).all()


def run_sql(app: Flask, sql: str, **params) -> None:
    """Changes rows behind the API's back, committed (to set up states such as a lapsed hold)."""
    with app.app_context(), unit_of_work() as uow:
        uow.execute(sql, params)
        uow.commit()
