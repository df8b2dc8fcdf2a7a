"""The baselines: a bare Flask endpoint, and a minimal Flask hold endpoint (the minimal hold
transaction through psycopg: no auth, no validation, no cap, no audit), both served with the same
gunicorn settings as Seatline."""

import os
import threading

import psycopg
from flask import Flask, request

app = Flask(__name__)

# The minimal hold transaction, one statement: insert a hold row and take the seats that are free
# (AVAILABLE, or HELD by a hold whose time ran out, so a hot show stays contended as Seatline's
# does); the caller commits when it got every seat and rolls back otherwise. pgbench runs the same
# text (bench/suite.py), with :show, :user, :seat_ids and :ttl as its variables.
MIN_HOLD_SQL = """
WITH h AS (
  INSERT INTO bench_min_holds (show_id, user_id, seat_ids, expires_at)
  VALUES (:show, :user, :seat_ids, now() + make_interval(secs => :ttl))
  RETURNING id, expires_at
), taken AS (
  UPDATE bench_min_seats SET status = 'HELD', hold_id = h.id, hold_expires_at = h.expires_at
  FROM h
  WHERE show_id = :show AND seat_id = ANY(:seat_ids)
    AND (status = 'AVAILABLE' OR hold_expires_at <= now())
  RETURNING seat_id
)
SELECT count(*) = cardinality(:seat_ids) AS complete FROM taken"""

# Its tables: no more than the statement needs.
MIN_SCHEMA = """
DROP TABLE IF EXISTS bench_min_seats, bench_min_holds;
CREATE TABLE bench_min_holds (
  id bigserial PRIMARY KEY, show_id bigint NOT NULL, user_id bigint NOT NULL, seat_ids text[] NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE bench_min_seats (
  show_id bigint NOT NULL, seat_id text NOT NULL, status text NOT NULL DEFAULT 'AVAILABLE',
  hold_id bigint, hold_expires_at timestamptz, PRIMARY KEY (show_id, seat_id)
);
"""

_STATEMENT = MIN_HOLD_SQL.replace(":show", "%(show)s").replace(":user", "%(user)s")
_STATEMENT = _STATEMENT.replace(":seat_ids", "CAST(%(seat_ids)s AS text[])").replace(":ttl", "%(ttl)s")
_TTL = int(os.environ.get("HOLD_TTL_SECONDS", "3"))
_local = threading.local()


def _connection() -> psycopg.Connection:
    """One connection per gunicorn thread, opened on its first request."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["BENCH_MIN_DSN"])
    return conn


@app.get("/hello")
def hello():
    return {"hello": "world"}


@app.post("/shows/<int:show>/holds")
def hold(show: int):
    seat_ids = request.get_json()["seatIds"]
    conn = _connection()
    complete = conn.execute(_STATEMENT, {"show": show, "user": 1, "seat_ids": seat_ids, "ttl": _TTL}).fetchone()[0]
    if complete:
        conn.commit()
        return {"seatIds": seat_ids}, 201
    conn.rollback()
    return {"error": {"code": "SEATS_UNAVAILABLE"}}, 409
