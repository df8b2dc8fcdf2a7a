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
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

import psycopg
from flask import current_app
from sqlalchemy import CursorResult, Engine, Row, TextClause, create_engine, text
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
        """One read made on its own, outside any transaction: on a connection of its own from the
        pool, in autocommit, so without the BEGIN and ROLLBACK round trips a transaction costs. For
        a check made before the unit of work's real work; it neither sees nor touches what the unit
        of work has open."""
        with db.engine.connect() as connection:
            read = connection.execution_options(isolation_level="AUTOCOMMIT")
            return list(read.execute(_statement(sql), params or {}))

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

    def __init__(self, connection: PoolProxiedConnection, dialect: Dialect) -> None:
        self._committed = False
        self._after_commit = []
        self._pooled = connection
        self._conn: psycopg.Connection[Any] = connection.driver_connection  # type: ignore[assignment]
        self._dialect = dialect

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
    engine = _alone_engine()
    statement = _driver_statement(sql, engine.dialect)
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


@contextmanager
def direct_unit_of_work() -> Iterator[UnitOfWork]:
    """A unit of work on a connection of the engine's pool, used through psycopg (module docstring)."""
    engine = db.engine
    try:
        pooled = engine.raw_connection()  # checked out as the Session would: pre-ping, timeout, events
    except psycopg.Error as exc:
        raise DBAPIError.instance(None, None, exc, psycopg.Error, dialect=engine.dialect) from exc
    uow = DirectUnitOfWork(pooled, engine.dialect)
    try:
        yield uow
    finally:
        uow.close()
