"""A unit of work: one short, explicit transaction that rolls back unless committed.

Work outside Postgres that a transaction asks for (queueing a job, updating the seat hints:
``Followups`` in ``app/background/dispatch.py``) is registered on the unit of work with
``after_commit`` while the transaction is open, and runs once ``commit`` has succeeded: never if the
transaction rolls back, and once. A unit of work that commits several times (batches, the
sweeper) runs at each commit what was registered since the one before (ARCHITECTURE.md, "after
commit").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Row, text
from sqlalchemy.orm import Session

from app.extensions import db

# One row's parameters, or a list of them to run the statement once per row.
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._committed = False
        self._after_commit: list[Callable[[], object]] = []

    def execute(self, sql: str, params: Params | None = None) -> CursorResult[Any]:
        return cast("CursorResult[Any]", self.session.execute(text(sql), params or {}))  # a text() statement's result

    def read_alone(self, sql: str, params: Params | None = None) -> list[Row[Any]]:
        """One read made on its own, outside any transaction: on a connection of its own from the
        pool, in autocommit, so without the BEGIN and ROLLBACK round trips a transaction costs. For
        a check made before the unit of work's real work; it neither sees nor touches what the unit
        of work has open."""
        with db.engine.connect() as connection:
            read = connection.execution_options(isolation_level="AUTOCOMMIT")
            return list(read.execute(text(sql), params or {}))

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Calls ``callback`` once the transaction now open has committed; never if it rolls back."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        self.session.commit()
        self._committed = True
        callbacks, self._after_commit = self._after_commit, []  # each runs after this commit only
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self.session.rollback()
        self._after_commit.clear()


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    uow = UnitOfWork(db.session)
    try:
        yield uow
    finally:
        # Callbacks still waiting belong to writes made after the last commit: both are dropped.
        if not uow._committed or uow._after_commit:
            uow.rollback()
