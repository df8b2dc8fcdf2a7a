"""Browsing reads from a PostgreSQL streaming replica while it is close enough behind the primary.

``browsing_read(work)`` runs ``work(uow)`` in a unit of work on the replica (``DATABASE_REPLICA_URL``)
when the replica is proven to hold everything the primary had committed at most
``REPLICA_MAX_LAG_SECONDS`` ago, and on the primary otherwise: no replica configured, the replica
behind, unreachable, promoted, or failing the read (then ``work`` runs again on the primary). A fan
never gets an error because of the replica. Only reads whose answer is shown, never acted upon,
go through it (ARCHITECTURE.md, "Read replicas": the call sites); everything that changes seats
or money, and every read made before a write, stays on the primary.

**How far behind.** Each process checks at most once per ``REPLICA_LAG_CHECK_SECONDS`` (one request
that finds the check due makes it; the others go on with the last answer): it reads the primary's
WAL position (``pg_current_wal_lsn()``) and keeps it with the moment it read it, then the
replica's replay position (``pg_last_wal_replay_lsn()``). A replica that has replayed up to a
position the primary had reached at moment t holds every transaction the primary had committed
by t: the replica is then fresh as of the latest such t among the positions kept. That is a
bound on what the replica misses, not an estimate, and it needs no clock but this process's own:

- an idle primary writes nothing, its position stays where the replica already is, and the
  replica counts as current (``now() - pg_last_xact_replay_timestamp()`` would grow without
  bound there, and compares two machines' clocks);
- a replica whose replay is paused or stuck stops passing newer positions, so its freshness
  ages, and past the bound browsing goes to the primary, also between two checks;
- ``pg_current_wal_lsn()`` (the primary's write position) is past every transaction committed
  with ``synchronous_commit`` on, whose commit record is flushed before the commit returns. The
  one transaction committed without it, the waiting room's record of a join
  (``app/waiting_room/room.py``), is never read through here.

A read is allowed while ``now - fresh_as_of <= REPLICA_MAX_LAG_SECONDS``. Between checks the
freshness only ages, so a replica that keeps up stays in use only if the check comes round more
often than the bound: REPLICA_LAG_CHECK_SECONDS must be below it (``app/config.py``).

**The 2 s end to end.** A shared copy (``app/response_cache.py``) counts its age from the moment
its data is as of, not from when it was built: a read from the replica dates the copy at the
replica's freshness, earlier than now by at most the bound. Redis keeps the copy until the end of
the second of that date, and the edge serves it at most one second more, so what a fan sees is
under 2 s old counted from the data, replica or not (README, "The edge and a CDN"). With a lag
bound above 1 s a copy would be expired as soon as built; at 1 s (the default) a lagging
replica costs copies a shorter life, never a staler answer. Freshness is proven as of the last
check, so even a replica that keeps up dates its copies up to REPLICA_LAG_CHECK_SECONDS early:
a copy whose date falls in the second before it was built is not shared in Redis (it is kept as
the last good copy) and the edge renews it at once, in the background. A seat map's ``asOf``
stays when it was rendered (the replica's ``now()``), as the contract says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db_pool import check_connections_on_checkout, keep_prepared_statements
from app.extensions import db
from app.unit_of_work import UnitOfWork, execute_alone_on, unit_of_work

log = logging.getLogger(__name__)

T = TypeVar("T")

_PRIMARY_POSITION = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS lsn"
_REPLICA_POSITION = (
    "SELECT pg_is_in_recovery() AS standby, pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS lsn"
)


class ReplicaRouter:
    """One process's view of one replica: its engine and how fresh it was last proven to be."""

    def __init__(self, engine: Engine, max_lag_seconds: float, check_seconds: float) -> None:
        self.engine = engine
        self.max_lag = max_lag_seconds
        self.check_seconds = check_seconds
        # (monotonic time, the primary's WAL position then), oldest first; only those that can
        # still prove a freshness within the bound are kept.
        self._positions: deque[tuple[float, int]] = deque()
        self._fresh_as_of: float | None = None  # monotonic: the replica holds all committed by then
        self._checked_at = float("-inf")
        self._checking = threading.Lock()

    def fresh_as_of(self, primary: Engine) -> float | None:
        """The monotonic moment up to which the replica is proven to hold every commit, if that is
        within the bound now (checking first if a check is due); None: read from the primary."""
        if time.monotonic() - self._checked_at >= self.check_seconds and self._checking.acquire(blocking=False):
            try:
                self._check(primary)
            finally:
                self._checking.release()
        fresh = self._fresh_as_of
        if fresh is not None and time.monotonic() - fresh <= self.max_lag:
            return fresh
        return None

    def failed(self, exc: BaseException) -> None:
        """A read on the replica failed: nothing more goes there until the next check proves it again."""
        self._fresh_as_of = None
        log.warning("read replica failed a read; browsing reads the primary until it is checked again: %s", exc)

    def _check(self, primary: Engine) -> None:
        self._checked_at = started = time.monotonic()
        try:
            position = execute_alone_on(primary, _PRIMARY_POSITION)[0].lsn
        except SQLAlchemyError:
            return  # the primary's trouble is answered elsewhere; the replica's freshness only ages
        self._positions.append((started, position))
        while self._positions and self._positions[0][0] < started - self.max_lag - self.check_seconds:
            self._positions.popleft()
        try:
            row = execute_alone_on(self.engine, _REPLICA_POSITION)[0]
        except SQLAlchemyError as exc:  # the driver's errors, and no connection free in time
            if self._fresh_as_of is not None:
                log.warning("read replica unreachable; browsing reads the primary: %s", exc)
            self._fresh_as_of = None
            return
        if not row.standby or row.lsn is None:
            # Promoted, or never a standby: no longer a copy of this primary.
            self._fresh_as_of = None
            return
        proven = [at for at, lsn in self._positions if lsn <= row.lsn]
        if proven:
            # Replay only moves forward: a freshness proven before stays proven.
            self._fresh_as_of = max(max(proven), self._fresh_as_of or float("-inf"))


def init_app(app: Flask, settings: Settings, engine_options: dict[str, Any]) -> None:
    """Sets up the replica's engine, pooled and checked like the primary's, if one is configured."""
    if not settings.database_replica_url:
        return
    connect_args = {**engine_options.get("connect_args", {}), "connect_timeout": 1}
    engine = create_engine(
        settings.database_replica_url, **{**engine_options, "connect_args": connect_args, "pool_pre_ping": False}
    )
    keep_prepared_statements(engine)
    if settings.db_pool_pre_ping:
        check_connections_on_checkout(engine, settings.db_pool_ping_idle_seconds)
    app.extensions["seatline.replica"] = ReplicaRouter(
        engine, settings.replica_max_lag_seconds, settings.replica_lag_check_seconds
    )


def router() -> ReplicaRouter | None:
    return current_app.extensions.get("seatline.replica")


# The oldest moment (seconds since the epoch) the data read by browsing_read is as of, while a
# shared copy is being built (``data_dated``): the copy's age counts from there.
_data_as_of: ContextVar[list[float] | None] = ContextVar("seatline_data_as_of", default=None)


@contextmanager
def data_dated() -> Iterator[list[float]]:
    """Collects, for the reads inside the block, the moments their data is as of (one per read
    from the replica; a read from the primary is as of now, no earlier than the block's start)."""
    dates: list[float] = []
    token = _data_as_of.set(dates)
    try:
        yield dates
    finally:
        _data_as_of.reset(token)


def browsing_read(work: Callable[[UnitOfWork], T]) -> T:
    """``work(uow)`` on the replica if it is fresh enough, else (or if the replica fails it) on the
    primary. ``work`` only reads, and may run twice."""
    replica = router()
    if replica is not None:
        fresh = replica.fresh_as_of(db.engine)
        if fresh is not None:
            as_of = time.time() - (time.monotonic() - fresh)
            session = Session(bind=replica.engine)
            try:
                result = work(UnitOfWork(session))
            except SQLAlchemyError as exc:  # the replica failed it (or had no connection free): the primary answers
                replica.failed(exc)
            else:
                dates = _data_as_of.get()
                if dates is not None:
                    dates.append(as_of)
                return result
            finally:
                session.close()  # its transaction rolled back, its connection back in the pool
    with unit_of_work() as uow:
        return work(uow)
