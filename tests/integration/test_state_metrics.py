"""The state figures (app/ops/state.py) read at scrape time from real rows, queue entries and rooms,
through indexes, and what is left when Postgres or Redis does not answer."""

from __future__ import annotations

import logging
import uuid

import orjson
import pytest
from prometheus_client import CollectorRegistry
from rq.registry import FailedJobRegistry

from app import create_app
from app.background import queues
from app.extensions import db
from app.ops.state import STATE_METRICS, STATE_SQL, StateCollector
from app.unit_of_work import unit_of_work
from devstack.processes import free_port
from tests.conftest import settings_for_tests
from tests.integration.test_gate import admit, event_with_show, join, open_queue
from tests.support.db import run_sql


def scrape(app) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StateCollector(app))
    return registry


def figure(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def names(registry: CollectorRegistry) -> set[str]:
    return {family.name for family in registry.collect()}


def test_with_nothing_going_on_every_figure_is_there_and_zero(app):
    registry = scrape(app)
    assert names(registry) == set(STATE_METRICS) - {
        "seatline_waiting_room_waiting",
        "seatline_waiting_room_active",
        "seatline_waiting_room_admission_rate",
    }
    for name in (
        "seatline_notifications_pending",
        "seatline_notifications_dead_lettered",
        "seatline_payments_unsettled_oldest_age_seconds",
        "seatline_refunds_failed",
    ):
        assert figure(registry, name) == 0, name
    for queue in queues.ALL_QUEUES:
        assert figure(registry, "seatline_rq_queue_depth", queue=queue) == 0
        assert figure(registry, "seatline_rq_failed_jobs", queue=queue) == 0


def test_queue_depths_and_failed_jobs_are_read_from_rq(app, rds):
    for n in range(3):
        assert queues.enqueue(rds, queues.NOTIFICATIONS, "workers.jobs.send_notification", n)
    queue = queues.queue(queues.PAYMENTS, rds)
    job = queue.enqueue("workers.jobs.execute_refund", str(uuid.uuid4()))
    queue.remove(job)
    registry = FailedJobRegistry(queue=queue)
    registry.add(job, ttl=3600, exc_string="the gateway said no")
    registry.add(queue.enqueue("workers.jobs.execute_refund", "gone"), ttl=-1)  # never expires
    expired = queue.enqueue("workers.jobs.execute_refund", "old")
    registry.add(expired, ttl=3600)
    rds.zadd(registry.key, {expired.id: 1})  # its failure_ttl is over: RQ no longer counts it

    scraped = scrape(app)
    assert figure(scraped, "seatline_rq_queue_depth", queue=queues.NOTIFICATIONS) == 3
    assert figure(scraped, "seatline_rq_queue_depth", queue=queues.PAYMENTS) == 2  # "gone" and "old" wait still
    assert figure(scraped, "seatline_rq_failed_jobs", queue=queues.PAYMENTS) == 2
    assert figure(scraped, "seatline_rq_failed_jobs", queue=queues.NOTIFICATIONS) == 0


def notification(app, user_id: int, key: str, status: str) -> None:
    run_sql(
        app,
        """
        INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, status, attempts, sent_at, context)
        VALUES (:k, :u, 'booking_confirmed', 'email', 'fan@example.com', CAST(:s AS text), 0,
                CASE WHEN CAST(:s AS text) = 'SENT' THEN now() END, '{}')
        """,
        k=key,
        u=user_id,
        s=status,
    )


def test_the_outbox_the_oldest_open_payment_and_failed_refunds_are_counted(app, client, make, gateway):
    fan, show = make.fan(), make.show()
    for n, status in enumerate(("PENDING", "PENDING", "DEAD", "SENT")):
        notification(app, fan.user_id, f"test:{n}:email", status)

    def paying(seat: str) -> str:
        held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seat]}, headers=fan.headers)
        r = client.post(f"/api/v1/holds/{held.get_json()['holdId']}/payment-intents", headers=fan.headers)
        return r.get_json()["paymentIntentId"]

    waiting, declined, paid = paying("A1"), paying("A2"), paying("A3")
    run_sql(
        app, "UPDATE payments SET created_at = now() - interval '90 seconds' WHERE payment_intent_id = :p", p=waiting
    )
    run_sql(
        app,
        "UPDATE payments SET status = 'FAILED', created_at = now() - interval '1 hour' WHERE payment_intent_id = :p",
        p=declined,
    )
    run_sql(
        app,
        "UPDATE payments SET status = 'SUCCEEDED', created_at = now() - interval '1 day' WHERE payment_intent_id = :p",
        p=paid,
    )
    for top_up, status in ((False, "FAILED"), (True, "PENDING")):
        run_sql(
            app,
            """
            INSERT INTO refunds (id, payment_intent_id, amount, reason, status, top_up)
            VALUES (:id, :p, 100, 'SHOW_CANCELLED', :s, :t)
            """,
            id=uuid.uuid4(),
            p=paid,
            s=status,
            t=top_up,
        )

    registry = scrape(app)
    assert figure(registry, "seatline_notifications_pending") == 2
    assert figure(registry, "seatline_notifications_dead_lettered") == 1
    assert figure(registry, "seatline_refunds_failed") == 1
    # The declined one is the oldest still open (the succeeded one is older but settled).
    age = figure(registry, "seatline_payments_unsettled_oldest_age_seconds")
    assert 3600 <= age < 2 * 3600

    run_sql(app, "UPDATE payments SET status = 'CANCELED' WHERE payment_intent_id = :p", p=declined)
    age = figure(scrape(app), "seatline_payments_unsettled_oldest_age_seconds")
    assert 90 <= age < 3600
    run_sql(app, "UPDATE payments SET status = 'SUCCEEDED' WHERE status <> 'CANCELED'")
    assert figure(scrape(app), "seatline_payments_unsettled_oldest_age_seconds") == 0


def test_each_open_waiting_room_reports_its_length_its_active_fans_and_its_rate(gate_app, gate, app, make):
    _, event_id = event_with_show(make)
    _, closed_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=2, admissionIntervalSeconds=4)
    open_queue(gate, manager, closed_id)
    assert gate.post(f"/gate/v1/queues/{closed_id}/close", headers=manager.headers).status_code == 200
    for fan in [make.fan() for _ in range(5)]:
        join(gate, fan, event_id)
    assert admit(gate_app, event_id) == 2

    registry = scrape(app)
    event = str(event_id)
    assert figure(registry, "seatline_waiting_room_waiting", event=event) == 3
    assert figure(registry, "seatline_waiting_room_active", event=event) == 2
    assert figure(registry, "seatline_waiting_room_admission_rate", event=event) == 0.5
    assert figure(registry, "seatline_waiting_room_waiting", event=str(closed_id)) is None  # closed: not reported


def test_the_figures_come_from_one_statement_read_through_indexes(app):
    """With sequential scans priced out, the plan still needs none: an index serves every count, so the
    statement's cost does not grow with the outbox, the refunds or the payments."""
    with app.app_context(), unit_of_work() as uow:
        uow.execute("SET LOCAL enable_seqscan = off")
        plan = uow.execute("EXPLAIN (FORMAT JSON) " + STATE_SQL).scalar_one()
        uow.rollback()
    plan = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]

    def nodes(node: dict) -> list[dict]:
        return [node] + [n for child in node.get("Plans", []) for n in nodes(child)]

    scanned = {(n["Node Type"], n.get("Relation Name")) for n in nodes(plan) if "Relation Name" in n}
    assert {table for kind, table in scanned if kind == "Seq Scan"} == set()
    assert {table for _, table in scanned} == {"notifications", "refunds", "payments", "gate_queues"}


@pytest.fixture
def app_without_redis():
    down = create_app(settings_for_tests(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    yield down
    with down.app_context():
        db.engine.dispose()


@pytest.fixture
def app_without_postgres():
    down = create_app(
        settings_for_tests(database_url=f"postgresql+psycopg://seatline@127.0.0.1:{free_port()}/seatline_test")
    )
    yield down
    with down.app_context():
        db.engine.dispose()


@pytest.fixture
def state_log(monkeypatch, caplog):
    # The session's migrations ran Alembic's logging set-up, which disables the loggers that existed then.
    monkeypatch.setattr(logging.getLogger("app.ops.state"), "disabled", False)
    return caplog


def test_without_redis_the_postgres_figures_are_still_reported_and_the_failure_logged_once(
    app_without_redis, app, make, state_log
):
    caplog = state_log
    notification(app, make.fan().user_id, "test:redis-down:email", "DEAD")
    registry = scrape(app_without_redis)
    with caplog.at_level(logging.WARNING, logger="app.ops.state"):
        assert figure(registry, "seatline_notifications_dead_lettered") == 1  # each read is a scrape
        assert figure(registry, "seatline_rq_queue_depth", queue=queues.HOLDS) is None
        assert figure(registry, "seatline_notifications_dead_lettered") == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "app.ops.state"]
    assert len(logged) == 1 and "redis did not answer" in logged[0]


def test_without_postgres_the_queue_figures_are_still_reported(app_without_postgres, rds, state_log):
    caplog = state_log
    assert queues.enqueue(rds, queues.HOLDS, "workers.jobs.expire_hold", "x")
    registry = scrape(app_without_postgres)
    with caplog.at_level(logging.WARNING, logger="app.ops.state"):
        assert figure(registry, "seatline_rq_queue_depth", queue=queues.HOLDS) == 1
        assert figure(registry, "seatline_notifications_pending") is None
        assert names(registry) == {"seatline_rq_queue_depth", "seatline_rq_failed_jobs"}
    logged = [r.getMessage() for r in caplog.records if r.name == "app.ops.state"]
    assert len(logged) == 1 and "postgres did not answer" in logged[0]
