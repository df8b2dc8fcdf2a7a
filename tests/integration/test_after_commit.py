"""Work a transaction asks for outside Postgres (jobs, seat hints) is registered on its unit of work
and runs once the commit has succeeded (app/unit_of_work.py): never after a rollback or a failed
commit, never twice, and in a unit of work that commits in batches each commit runs what its batch
registered. A follow-up looks for its row from a connection of its own, so it sees only what was
committed; the jobs the booking paths register are looked up in Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.job import Job
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.background.dispatch import Followups
from app.extensions import db
from app.inventory.hints import key as hint_key
from app.unit_of_work import UnitOfWork, unit_of_work
from tests.integration.test_payments import confirm, hold, start_payment
from tests.support.db import fetch


def record(uow: UnitOfWork, event_id: str) -> None:
    uow.execute(
        "INSERT INTO webhook_events (event_id, type, payload) VALUES (:id, 'test.after_commit', '{}')", {"id": event_id}
    )


def committed(event_id: str) -> bool:
    """Whether the row is there for everyone else: read on a connection of its own."""
    with db.engine.connect() as other:
        return (
            other.execute(
                text("SELECT count(*) FROM webhook_events WHERE event_id = :id"), {"id": event_id}
            ).scalar_one()
            == 1
        )


def test_a_follow_up_runs_once_right_after_its_commit(app):
    seen: list[bool] = []
    with app.app_context(), unit_of_work() as uow:
        record(uow, "evt-1")
        uow.after_commit(lambda: seen.append(committed("evt-1")))
        assert seen == []  # not while the transaction is open
        uow.commit()
        assert seen == [True]  # at once, and the row was there for others to read
        uow.commit()
        record(uow, "evt-2")
        uow.commit()
    assert seen == [True]  # later commits do not run it again


def test_a_follow_up_never_runs_after_a_rollback(app):
    ran: list[str] = []
    with app.app_context(), unit_of_work() as uow:
        record(uow, "evt-undone")
        uow.after_commit(lambda: ran.append("undone"))
        uow.rollback()
        record(uow, "evt-kept")
        uow.commit()  # a commit of other work after the rollback does not revive it
        assert ran == []
        assert not committed("evt-undone") and committed("evt-kept")


def test_a_follow_up_never_runs_when_the_block_fails_or_ends_uncommitted(app):
    ran: list[str] = []
    with pytest.raises(RuntimeError), app.app_context(), unit_of_work() as uow:
        record(uow, "evt-failed")
        uow.after_commit(lambda: ran.append("failed"))
        raise RuntimeError("the request failed before its commit")
    with app.app_context(), unit_of_work() as uow:
        record(uow, "evt-first")
        uow.commit()
        record(uow, "evt-after-the-commit")  # written and registered after the last commit: both dropped
        uow.after_commit(lambda: ran.append("after the commit"))
    with app.app_context():
        assert ran == []
        assert committed("evt-first") and not committed("evt-failed") and not committed("evt-after-the-commit")


def test_a_commit_postgres_refuses_runs_nothing(app):
    ran: list[str] = []
    with app.app_context(), unit_of_work() as uow:
        # A deferred unique key is checked at COMMIT: the commit itself fails.
        uow.execute("CREATE TEMP TABLE once (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP")
        uow.execute("INSERT INTO once VALUES (1), (1)")
        record(uow, "evt-refused")
        uow.after_commit(lambda: ran.append("refused"))
        with pytest.raises(IntegrityError):
            uow.commit()
        assert ran == []
    with app.app_context():
        assert not committed("evt-refused")


def test_each_commit_of_a_batched_unit_of_work_runs_what_its_batch_registered(app):
    ran: list[tuple[int, bool]] = []
    with app.app_context(), unit_of_work() as uow:
        for batch in range(3):
            record(uow, f"evt-batch-{batch}")
            uow.after_commit(lambda batch=batch: ran.append((batch, committed(f"evt-batch-{batch}"))))
            assert len(ran) == batch  # not before its own commit
            uow.commit()
    assert ran == [(0, True), (1, True), (2, True)]


def test_followups_queue_their_jobs_only_once_committed(app, rds):
    with app.app_context(), unit_of_work() as uow:
        record(uow, "evt-rolled-back")
        uow.after_commit(Followups(notifications=[901], refunds=[]).run)
        uow.rollback()
        record(uow, "evt-committed")
        uow.after_commit(Followups(notifications=[902]).run)
        assert not Job.exists("notification-902", connection=rds)
        uow.commit()
    assert Job.exists("notification-902", connection=rds)
    assert not Job.exists("notification-901", connection=rds)


# ------------------------------------------------------------------ the booking paths register theirs


def jobs(rds, *job_ids: str) -> dict[str, bool]:
    return {job_id: Job.exists(job_id, connection=rds) for job_id in job_ids}


def test_paying_booking_and_cancelling_queue_their_jobs_and_hints_after_commit(app, client, make, gateway, rds):
    show, fan = make.show(starts_in=timedelta(days=10)), make.fan()
    held = hold(client, fan, show.show_id, ["A1", "A2"])
    intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
    # Starting the payment committed the intent and queued the job that ends the hold at its expiry.
    assert jobs(rds, f"expire-hold-{held['holdId']}") == {f"expire-hold-{held['holdId']}": True}

    gateway.succeed(intent)
    booking_id = confirm(client, fan, held["holdId"], intent).get_json()["bookingId"]
    confirmed = fetch(app, "SELECT id FROM notifications WHERE kind = 'booking_confirmed'")[0].id
    assert jobs(rds, f"notification-{confirmed}") == {f"notification-{confirmed}": True}
    assert rds.zscore(hint_key(show.show_id), "A1") is not None  # booked: hinted taken

    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    cancelled = fetch(app, "SELECT id FROM notifications WHERE kind = 'booking_cancelled'")[0].id
    refund = fetch(app, "SELECT id FROM refunds")[0].id
    assert jobs(rds, f"notification-{cancelled}", f"refund-{refund}") == {
        f"notification-{cancelled}": True,
        f"refund-{refund}": True,
    }
    assert rds.zscore(hint_key(show.show_id), "A1") is None  # freed: the hint is gone


def test_a_refused_cancellation_queues_nothing(app, client, make, rds):
    # Free seats, booked without a payment; the show starts within the hour, when the policy refunds
    # nothing and allows no cancellation.
    show, fan = make.show(prices={"gold": 0, "silver": 0}, starts_in=timedelta(minutes=30)), make.fan()
    held = hold(client, fan, show.show_id, ["B1"])
    booking_id = client.post(f"/api/v1/holds/{held['holdId']}/confirm", headers=fan.headers).get_json()["bookingId"]
    rds.flushdb()
    refused = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert refused.status_code == 422, refused.get_json()
    assert [key for key in rds.keys("rq:job:*")] == []
    assert fetch(app, "SELECT status FROM bookings")[0].status == "CONFIRMED"
