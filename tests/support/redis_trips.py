"""Counting what a request asks Redis and PostgreSQL, in the order it asks: each Redis round trip
(one ``send_packed_command``: a command, or a whole pipeline) with the commands it carried, and each
SQL statement psycopg sends (through the Session or straight, as a hold's do: app/unit_of_work.py). Every Redis client of the process is counted (the app's, the rate limits'), on the
calling thread only, so the test client's request is what is seen."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
from redis import connection as redis_connection

_local = threading.local()


@dataclass
class Trace:
    """What one stretch of a request did: ``("redis", [commands])`` and ``("sql", statement)`` steps."""

    steps: list[tuple[str, object]] = field(default_factory=list)
    _pending: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return sum(1 for kind, _ in self.steps if kind == "redis")

    @property
    def commands(self) -> list[str]:
        return [c for kind, cmds in self.steps if kind == "redis" for c in cmds]  # type: ignore[union-attr]

    def round_trips_before_sql(self) -> int:
        count = 0
        for kind, _ in self.steps:
            if kind == "sql":
                break
            count += 1
        return count

    def summary(self) -> str:
        before = self.round_trips_before_sql()
        return (
            f"{self.round_trips} round trips ({len(self.commands)} commands), {before} before the first SQL; "
            + " | ".join(" ".join(cmds) if kind == "redis" else "SQL" for kind, cmds in self.steps)  # type: ignore[arg-type]
        )


def _active() -> Trace | None:
    return getattr(_local, "trace", None)


_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    send = redis_connection.Connection.send_packed_command

    def counted_send(self, command, check_health=True):  # type: ignore[no-untyped-def]
        trace = _active()
        if trace is not None:
            trace.steps.append(("redis", trace._pending[:] or ["?"]))
            trace._pending.clear()
        return send(self, command, check_health)

    redis_connection.Connection.send_packed_command = counted_send  # type: ignore[method-assign]
    for serializer in (redis_connection.PythonRespSerializer, redis_connection.HiredisRespSerializer):
        pack = serializer.pack

        def counted_pack(self, *args, _pack=pack):  # type: ignore[no-untyped-def]
            trace = _active()
            if trace is not None and args:
                name = args[0]
                trace._pending.append(name.decode() if isinstance(name, bytes) else str(name))
            return _pack(self, *args)

        serializer.pack = counted_pack  # type: ignore[method-assign]

    execute = psycopg.Cursor.execute

    def counted_execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        trace = _active()
        if trace is not None:
            trace.steps.append(("sql", query))
        return execute(self, query, params, **kwargs)

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]


@contextlib.contextmanager
def traced() -> Iterator[Trace]:
    """Records what this thread asks Redis and PostgreSQL while the block runs."""
    _install()
    trace = Trace()
    _local.trace = trace
    try:
        yield trace
    finally:
        _local.trace = None
