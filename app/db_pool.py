"""Connections leave the pool alive, without a round trip to find out.

A connection that the server closed while it sat in the pool (PostgreSQL restarted, an idle
connection ended by a timeout, ``pg_terminate_backend``) must not fail a fan's request. SQLAlchemy's
``pool_pre_ping`` makes sure of that with a ``SELECT 1`` before every checkout: a round trip to
PostgreSQL per request, the largest single cost left in a hold once its SQL was tuned
(bench/RESULTS.md, "The pool's check without a round trip").

A server that ends a connection tells the client: it sends an error message (``57P01``,
"terminating connection due to administrator command", or an idle timeout's) and closes the socket,
and the client's kernel has both waiting at once. A connection idle in the pool has nothing else to
receive (every answer was read before it went back, and Seatline listens to no notifications), so
**an idle connection whose socket is readable has been closed by the server**. The check on checkout
looks at the connection as psycopg knows it (closed, broken, not idle in a transaction) and at its
socket (``poll`` with no wait): a system call, no round trip. A connection that fails it is thrown
away and the pool hands out another one instead, checked the same way, or a new one; the request
never sees it (SQLAlchemy's "pessimistic disconnect handling": ``DisconnectionError`` from a
``checkout`` event). A false alarm (something else waiting on a healthy connection) would cost a
new connection, never a failed request.

What the socket cannot show is a server that vanished without closing anything (a host that lost
power, a middlebox that dropped the connection silently). A connection that sat unused for
``DB_POOL_PING_IDLE_SECONDS`` or more is therefore still pinged as before; under load connections
go back and forth far more often than that and are never pinged. A ping that fails, too, only
replaces the connection. Settings: ``DB_POOL_PRE_PING`` off leaves every check out,
``DB_POOL_PING_IDLE_SECONDS=0`` pings on every checkout (SQLAlchemy's pre-ping).

The pool publishes how many of its connections are checked out (``DB_POOL_IN_USE``) and how many
threads are waiting for one (``DB_POOL_WAITING``, ``app/ops/metrics.py``), counted by the pool class
itself (``CountingQueuePool``, every app's engine's: ``app/extensions.py``), not by pool events: a
``checkout`` event runs again for the same checkout when a listener (the check above) refuses the
connection, and no event marks the start of a wait. A thread waits in one place only: in the pool's
queue of idle connections, when it is empty and no new connection may be made (``pool_size`` plus
``max_overflow`` are out); ``_WaitCountingQueue`` counts the threads blocked there, under the
queue's own lock, from the moment they find it empty until they get a connection or time out.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.util import queue as sqla_queue

from app.ops.metrics import DB_POOL_IN_USE, DB_POOL_WAITING

log = logging.getLogger(__name__)

# When the connection last went back to the pool (its pool entry's ``info``, which SQLAlchemy clears
# when the connection is replaced: a connection without it has just been made).
_CHECKED_IN_AT = "seatline_checked_in_at"
_READABLE = select.POLLIN | select.POLLPRI  # POLLHUP and POLLERR are always reported


def closed_by_server(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection is no longer usable, found without a round trip: psycopg knows it
    is closed or broken, it is not idle (a transaction left open, or its state unknown), or its socket
    has something to read (the server's goodbye, or the end of the stream)."""
    if conn.closed or conn.broken:
        return True
    pgconn = conn.pgconn
    if pgconn.transaction_status != TransactionStatus.IDLE:
        return True
    poller = select.poll()
    poller.register(pgconn.socket, _READABLE)
    return bool(poller.poll(0))


def check_connections_on_checkout(engine: Engine, ping_after_idle_seconds: float) -> None:
    """Every connection ``engine``'s pool hands out is checked first (module docstring)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:  # None: it was thrown away instead
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None:
            return  # made for this checkout
        if closed_by_server(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")
        if time.monotonic() - checked_in_at >= ping_after_idle_seconds:
            try:
                dialect.do_ping(dbapi_connection)
            except psycopg.Error as exc:
                raise DisconnectionError(f"a pooled connection idle for a while did not answer: {exc}") from exc


def warn_of_other_timeouts(engine: Engine, statement_timeout_ms: int, lock_timeout_ms: int) -> None:
    """Behind PgBouncer the timeouts are PgBouncer's to set (its ``connect_query``, ARCHITECTURE.md
    "Behind PgBouncer"), not the app's: each new connection reads the ones its server connection
    has, and a warning names any that differ from the app's settings (a PgBouncer configured for
    other values, or none, lets statements and lock waits run longer than the app expects). One
    round trip per connection the pool makes, none per checkout."""

    @event.listens_for(engine, "connect")
    def _check(dbapi_connection: Any, record: Any) -> None:
        row = dbapi_connection.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
            " (SELECT setting FROM pg_settings WHERE name = 'statement_timeout')::int,"
            " (SELECT setting FROM pg_settings WHERE name = 'lock_timeout')::int"
        ).fetchone()
        dbapi_connection.rollback()
        if (row[2], row[3]) != (statement_timeout_ms, lock_timeout_ms):
            log.warning(
                "behind PgBouncer the server connection has statement_timeout=%s and lock_timeout=%s, not"
                " the %d ms and %d ms of DB_STATEMENT_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS: set them in"
                " PgBouncer's connect_query (scripts/pgbouncer.sh)",
                row[0],
                row[1],
                statement_timeout_ms,
                lock_timeout_ms,
            )


class KeepsPreparedStatements(psycopg.Connection[Any]):
    """psycopg's connection, except that rolling back keeps the statements prepared on it.

    psycopg forgets every prepared statement when a transaction is rolled back and sends
    ``DEALLOCATE ALL`` with the next statement, in case the transaction had dropped or recreated
    something the statements name. Here that happened on nearly every request: a request that only
    reads ends its transaction with a rollback (the pool's reset), and so does a hold refused with a
    409. Statements were then seldom run often enough on one connection to be prepared, the hold's
    statement was planned afresh on most calls (planning it costs more than running it:
    bench/RESULTS.md "Hold SQL: where the time went"), and a rollback cost a second round trip.
    Nothing run on these connections changes the schema but migrations, which run before the app
    serves (``flask db upgrade``), and PostgreSQL itself replans a prepared statement whose tables
    have changed. ``tests/integration/test_prepared_statements.py`` checks both behaviours."""

    def _rollback_gen(self) -> Any:
        # psycopg's own (psycopg/_connection_base.py), without clearing the prepared statements.
        if self._num_transactions:
            raise psycopg.ProgrammingError("Explicit rollback() forbidden within a Transaction context.")
        if self._tpc:
            raise psycopg.ProgrammingError("rollback() cannot be used during a two-phase transaction")
        if self._pipeline:
            yield from self._pipeline._sync_gen()
        if self.pgconn.transaction_status == TransactionStatus.IDLE:
            return
        yield from self._exec_command(b"ROLLBACK")
        if self._pipeline:
            yield from self._pipeline._sync_gen()


def keep_prepared_statements(engine: Engine) -> None:
    """``engine``'s new connections are :class:`KeepsPreparedStatements`, made with the same arguments."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        return KeepsPreparedStatements.connect(*cargs, **cparams)


class _WaitCountingQueue(sqla_queue.Queue[ConnectionPoolEntry]):
    """The pool's queue of idle connections, counting in ``DB_POOL_WAITING`` the threads blocked in it.

    ``QueuePool`` asks it to block only once no new connection may be made; a thread that finds it
    empty then is counted until ``get`` returns or raises ``Empty`` at the pool's timeout. The check
    and the wait happen under the queue's own lock (a re-entrant lock, which the wait releases), so a
    thread that finds a connection at once is never counted and one that waits always is."""

    def get(self, block: bool = True, timeout: float | None = None) -> ConnectionPoolEntry:
        if not block:
            return super().get(block, timeout)
        with self.mutex:
            if not self._empty():
                return super().get(block, timeout)
            DB_POOL_WAITING.inc()
            try:
                return super().get(block, timeout)
            finally:
                DB_POOL_WAITING.dec()


_getting = threading.local()


class CountingQueuePool(QueuePool):
    """SQLAlchemy's ``QueuePool``, publishing its connections in use and the threads waiting for one.

    A connection is in use from the pool's handing it out (``_do_get``, once per checkout) until it is
    handed back (``_do_return_conn``, once per return, also for a connection invalidated or detached
    on its way). ``QueuePool._do_get`` calls itself again when it loses a race for a new connection's
    place: only the outermost call counts. A pool recreated after ``dispose`` is of the same class."""

    _queue_class = _WaitCountingQueue

    def _do_get(self) -> ConnectionPoolEntry:
        if getattr(_getting, "active", False):
            return super()._do_get()
        _getting.active = True
        try:
            record = super()._do_get()
        finally:
            _getting.active = False
        DB_POOL_IN_USE.inc()
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        DB_POOL_IN_USE.dec()
        super()._do_return_conn(record)
