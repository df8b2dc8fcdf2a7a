"""Work a transaction asks for outside Postgres (jobs, seat hints) is registered on its unit of work
and runs once the commit has succeeded (app/unit_of_work.py): never after a rollback or a failed
commit, never twice, and in a unit of work that commits in batches each commit runs what its batch
registered. A follow-up looks for its row from a connection of its own, so it sees only what was
committed."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.unit_of_work import UnitOfWork, unit_of_work


def record(uow: UnitOfWork, event_id: str) -> None:
    uow.execute("INSERT INTO webhook_events (event_id, type, payload) VALUES (:id, 'test.after_commit', '{}')",
                {"id": event_id})


def committed(event_id: str) -> bool:
    """Whether the row is there for everyone else: read on a connection of its own."""
    with db.engine.connect() as other:
        return other.execute(text("SELECT count(*) FROM webhook_events WHERE event_id = :id"),
                             {"id": event_id}).scalar_one() == 1


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
