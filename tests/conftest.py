"""Shared fixtures. Tests that touch storage use the real PostgreSQL and Redis that
`make test` prepares (a separate database and Redis database)."""
from __future__ import annotations

import json
import os

from app.config import Settings
from queue_gate.keys import jwks, load_keys, new_key_entry

# One signing key set per test session; the web app gets only its public half.
GATE_KEYS = json.dumps([new_key_entry()])
GATE_JWKS = json.dumps(jwks(load_keys(GATE_KEYS)))


def settings_for_tests(**overrides) -> Settings:
    base = dict(
        env="test",
        database_url=os.environ.get(
            "DATABASE_URL", "postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline_test"
        ),
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        password_time_cost=1,
        password_memory_cost_kib=1024,
        # Room for the concurrency suites' many threads, without keeping them all open afterwards:
        # every app in a test run shares one PostgreSQL with max_connections = 100.
        db_pool_size=4,
        db_max_overflow=56,
        db_pool_timeout_seconds=10.0,
        gate_signing_keys=GATE_KEYS,
        gate_jwks=GATE_JWKS,
    )
    base.update(overrides)
    return Settings(**base)
