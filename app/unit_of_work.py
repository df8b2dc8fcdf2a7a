"""A unit of work: one short, explicit transaction that rolls back unless committed.

Work outside Postgres that a transaction asks for (queueing a job, updating the seat hints:
``Followups`` in ``app/background/dispatch.py``) is registered on the unit of work with
``after_commit`` while the transaction is open, and runs once ``commit`` has succeeded: never if the
transaction rolls back, and once. A unit of work that commits several times (batches, the
sweeper) runs at each commit what was registered since the one before (ARCHITECTURE.md, "after
commit").

``direct_unit_of_work`` is the same unit of work on a connection of the engine's pool used through
the driver (psycopg) directly, without the ORM Session and SQLAlchemy's execution layers: for the
hold, a request whose few statements are its whole database work, where those layers took more
CPU than psycopg itself (bench/RESULTS.md, "Where a hold's Python time goes"). The statements, their
parameters and the rows they return (SQLAlchemy ``Row`` objects) are the same, and so are the
errors: psycopg's are raised as SQLAlchemy's (``OperationalError``, ``DataError``, ...), so the
breaker and the error handlers see what they always did; a connection that broke is dropped from
the pool, as SQLAlchemy does.

SQL outside a unit of work (one statement on its own, in autocommit) goes through ``execute_alone``
alone, on a connection of the same pool used the same way. Every connection the pool hands out,
to the Session or to these, has been checked without a round trip (app/db_pool.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

import psycopg
from sqlalchemy import CursorResult, Engine, Row, TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection

from app.extensions import db

# One row's parameters, or a list of them to run the statement once per row.
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._committed = False
        self._after_commit: list[Callable[[], object]] = []

    def execute(self, sql: str, params: Params | None = None) -> CursorResult[Any]:
        # a text() statement's result
        return cast("CursorResult[Any]", self.session.execute(_statement(sql), params or {}))

    def read_alone(self, sql: str, params: Params | None = None) -> list[Row[Any]]:
        """One read made on its own, outside any transaction (``execute_alone``): without the BEGIN and
        ROLLBACK round trips a transaction costs. For a check made before the unit of work's real
        work; it neither sees nor touches what the unit of work has open."""
        return execute_alone(sql, params)

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


class DirectUnitOfWork(UnitOfWork):
    """A unit of work on one pooled connection, through psycopg (``direct_unit_of_work``)."""

    def __init__(self, connection: PoolProxiedConnection, dialect: Dialect, autocommit: bool = False) -> None:
        self._committed = False
        self._after_commit = []
        self._pooled = connection
        self._conn: psycopg.Connection[Any] = connection.driver_connection  # type: ignore[assignment]
        self._dialect = dialect
        if autocommit:  # each statement its own transaction (execute_alone); no round trip to set
            try:
                self._conn.autocommit = True
            except psycopg.Error as exc:
                connection.close()
                raise self._translated(exc, "SET autocommit", None) from exc

    def execute(self, sql: str, params: Params | None = None) -> CursorResult[Any]:
        """The statement's rows as a SQLAlchemy result (``first``, ``one``, ``all``, ``scalar``, ...,
        iteration) with its ``rowcount``, like ``UnitOfWork.execute``; one row of parameters only."""
        statement = _driver_statement(sql, self._dialect)
        try:
            cursor = self._conn.execute(statement, params or {})
            returned = cursor.pgresult is not None and cursor.pgresult.nfields > 0
            rows = cursor.fetchall() if returned else []
        except psycopg.Error as exc:
            raise self._translated(exc, statement, params) from exc
        result: Any = IteratorResult(_columns(statement, cursor) if returned else _NO_COLUMNS, iter(rows))
        result.rowcount = cursor.rowcount
        return cast("CursorResult[Any]", result)

    def commit(self) -> None:
        try:
            self._conn.commit()
        except psycopg.Error as exc:
            raise self._translated(exc, "COMMIT", None) from exc
        self._committed = True
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self._after_commit.clear()
        try:
            self._conn.rollback()
        except psycopg.Error as exc:
            raise self._translated(exc, "ROLLBACK", None) from exc

    def _translated(self, exc: psycopg.Error, statement: str, params: Params | None) -> BaseException:
        """SQLAlchemy's exception for a psycopg error, as a Session would raise it; a connection that
        broke leaves the pool."""
        disconnected = self._dialect.is_disconnect(exc, self._conn, None)  # type: ignore[arg-type]
        if disconnected:
            self._pooled.invalidate(exc)
        return DBAPIError.instance(
            statement, params, exc, psycopg.Error, connection_invalidated=disconnected, dialect=self._dialect
        )

    def close(self) -> None:
        # Callbacks still waiting belong to writes made after the last commit: both are dropped.
        try:
            if not self._committed or self._after_commit:
                self._after_commit.clear()
                if not self._conn.closed:
                    self._conn.rollback()
            if self._conn.autocommit and not self._conn.closed:
                self._conn.autocommit = False  # as the pool's other users expect it
        except psycopg.Error:
            self._pooled.invalidate()  # whatever it is now, it is not handed out again
        finally:
            self._pooled.close()  # back to the pool, which resets it (no round trip when idle)


@lru_cache(maxsize=256)
def _driver_statement(sql: str, dialect: Dialect) -> str:
    """The statement as SQLAlchemy sends it to the driver (``:name`` -> ``%(name)s``, ``%`` escaped)."""
    return str(_statement(sql).compile(dialect=dialect))


_NO_COLUMNS = SimpleResultMetaData(())
_COLUMNS: dict[str, SimpleResultMetaData] = {}


def _columns(statement: str, cursor: psycopg.Cursor[Any]) -> SimpleResultMetaData:
    """The names of the columns a statement returns, found once per statement (psycopg's
    ``description`` makes an object per column on every call)."""
    known = _COLUMNS.get(statement)
    if known is not None and len(known.keys) == cursor.pgresult.nfields:  # type: ignore[union-attr]
        return known
    if len(_COLUMNS) >= 256:
        _COLUMNS.clear()
    known = _COLUMNS[statement] = SimpleResultMetaData(tuple(column.name for column in cursor.description or ()))
    return known


@lru_cache(maxsize=1024)
def _statement(sql: str) -> TextClause:
    """``text(sql)``, made once per statement: finding its bind parameters is a regular expression over
    the whole text, 7 % of a hold's CPU. A ``TextClause`` is never changed by executing it."""
    return text(sql)


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    uow = UnitOfWork(db.session)
    try:
        yield uow
    finally:
        # Callbacks still waiting belong to writes made after the last commit: both are dropped.
        if not uow._committed or uow._after_commit:
            uow.rollback()


def execute_alone(sql: str, params: Params | None = None) -> list[Row[Any]]:
    """One statement that is a transaction of its own, in autocommit: one round trip to Postgres,
    where a unit of work makes three (BEGIN, the statement, COMMIT or ROLLBACK), on a connection of
    the app's pool used through psycopg, without the Session's and the Core's layers, which cost as
    much CPU as the round trip (bench/RESULTS.md, "The waiting room's gate"). Its rows (``Row``s, as
    a unit of work's), if any. The one way the app runs SQL outside a unit of work.

    For the hottest single statements that must not wait for, or be undone with, anything else (a
    waiting-room join's record, a revocation record's read, a check made before a unit of work's
    real work), and only for statements that can run twice with the effect of once: a connection
    the server closed is not handed out (app/db_pool.py), but one it closes between that check and
    the statement fails the statement, which is then run once more on a new connection. ``:name``
    parameters as elsewhere. A failure is raised as SQLAlchemy's (``OperationalError`` and the
    rest), answered as every other."""
    return execute_alone_on(db.engine, sql, params)


def execute_alone_on(engine: Engine, sql: str, params: Params | None = None) -> list[Row[Any]]:
    """``execute_alone`` on another engine's pool (a read replica's, app/replica.py)."""
    for attempt in (1, 2):
        uow = DirectUnitOfWork(_checked_out(engine), engine.dialect, autocommit=True)
        try:
            return list(uow.execute(sql, params))
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == 2:
                raise
        finally:
            uow.close()
    raise AssertionError("unreachable")


def _checked_out(engine: Engine) -> PoolProxiedConnection:
    """A connection of the engine's pool, checked out as the Session would (the pool's check on
    checkout, its timeout, its events); the driver's error raised as SQLAlchemy's."""
    try:
        return engine.raw_connection()
    except psycopg.Error as exc:  # no connection to be had
        raise DBAPIError.instance(None, None, exc, psycopg.Error, dialect=engine.dialect) from exc


@contextmanager
def direct_unit_of_work() -> Iterator[UnitOfWork]:
    """A unit of work on a connection of the engine's pool, used through psycopg (module docstring)."""
    engine = db.engine
    uow = DirectUnitOfWork(_checked_out(engine), engine.dialect)
    try:
        yield uow
    finally:
        uow.close()
