"""A unit of work: one short, explicit transaction that rolls back unless committed.

Work outside Postgres that a transaction asks for (queueing a job, updating the seat hints:
``Followups`` in ``app/background/dispatch.py``) is registered on the unit of work with
``after_commit`` while the transaction is open, and runs once ``commit`` has succeeded: never if the
transaction rolls back, and once. A unit of work that commits several times (batches, the
sweeper) runs at each commit what was registered since the one before (ARCHITECTURE.md, "after
commit").
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from flask import current_app
from sqlalchemy import CursorResult, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
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


def execute_alone(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """One statement that is a transaction of its own, in autocommit: one round trip to Postgres,
    where a unit of work makes four (the pool's ping, BEGIN, the statement, COMMIT or ROLLBACK), and
    the driver's cursor straight away, without the Session's and the Core's layers, which cost as
    much CPU as the round trip (bench/RESULTS.md, "The waiting room's gate"). Its rows, if any.

    For the hottest single statements that must not wait for, or be undone with, anything else (a
    waiting-room join's record, a revocation record's read), and only for statements that can run
    twice with the effect of once: a connection is not pinged when it leaves the pool, so one that
    the server closed while it sat there (a restart, a failover) fails the statement, which is then
    run once more on a new connection. ``:name`` parameters as elsewhere. A failure is raised as
    SQLAlchemy's (``OperationalError`` and the rest), answered as every other."""
    statement = _driver_style(sql)
    engine = _alone_engine()
    for attempt in (1, 2):
        try:
            fairy = engine.raw_connection()
        except psycopg.Error as exc:  # no connection to be had
            raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
        conn = cast("psycopg.Connection[Any]", fairy.driver_connection)
        try:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as exc:
            if not conn.broken or attempt == 2:
                if conn.broken:
                    fairy.invalidate()
                raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
            # The server closed it while it was in the pool, and so the others it had: all are replaced.
            fairy.invalidate()
            engine.dispose()
        finally:
            fairy.close()
    raise AssertionError("unreachable")


_alone_engines: dict[str, Engine] = {}
_alone_lock = threading.Lock()


def _alone_engine() -> Engine:
    """execute_alone's connections: a pool of their own (the app's database and settings), in
    autocommit, handed out without the ping that the app's pool makes on every checkout."""
    url = db.engine.url
    key = url.render_as_string(hide_password=False)
    engine = _alone_engines.get(key)
    if engine is None:
        with _alone_lock:
            engine = _alone_engines.get(key)
            if engine is None:
                options = {**current_app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
                engine = _alone_engines[key] = create_engine(url, isolation_level="AUTOCOMMIT", **options)
    return engine


@functools.lru_cache(maxsize=64)
def _driver_style(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (a ``%`` in the text doubled)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))
