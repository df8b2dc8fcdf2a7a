"""Ending the app's pooled connections at the server, as a restart or an idle timeout would."""

from __future__ import annotations

import select

import psycopg
from flask import Flask

from app.extensions import db
from app.unit_of_work import execute_alone


def dsn(app: Flask) -> str:
    return app.extensions["seatline.settings"].database_url.replace("postgresql+psycopg://", "postgresql://")


def terminate(app: Flask, pids: set[int]) -> None:
    """The server ends these backends, as a restart or an idle timeout would (from a connection of its own)."""
    with psycopg.connect(dsn(app), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def wait_readable(conn: psycopg.Connection) -> None:
    """Until the server's goodbye has reached the client (it is sent as the backend ends)."""
    readable, _, _ = select.select([conn.fileno()], [], [], 30)
    assert readable, "the terminated backend's socket never became readable"


def kill_pooled_connections(app: Flask) -> set[int]:
    """Ends, at the server, every connection the app's pool holds now, then puts them back in the
    pool as they are. Returns their backends' pids."""
    with app.app_context():
        execute_alone("SELECT 1", {})  # at least one connection in the pool
        engine = db.engine
        held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
        try:
            pids = {fairy.driver_connection.info.backend_pid for fairy in held}  # type: ignore[union-attr]
            terminate(app, pids)
            for fairy in held:
                wait_readable(fairy.driver_connection)  # type: ignore[arg-type]
        finally:
            for fairy in held:
                fairy.close()
        return pids
