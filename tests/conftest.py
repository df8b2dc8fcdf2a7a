"""Shared fixtures. Tests that touch storage use the real PostgreSQL and Redis that
`make test` prepares (a separate database and Redis database)."""

from __future__ import annotations

import json
import os
import tempfile

from app.config import Settings
from queue_gate.keys import jwks, load_keys, new_key_entry

# One signing key set per test session; the web app gets only its public half.
GATE_KEYS = json.dumps([new_key_entry()])
GATE_JWKS = json.dumps(jwks(load_keys(GATE_KEYS)))


# Posters uploaded by a test run are kept in a directory of its own, not the repository's .run/media.
MEDIA_DIR = tempfile.mkdtemp(prefix="seatline-media-")


# Every client of a test run is 127.0.0.1, so the per-IP rate limits (meant for many fans behind
# one address at most) would trip the suites that race fifty clients or queue hundreds of fans.
# The per-fan and per-email limits keep their defaults; tests/integration/test_rate_limits.py
# sets small limits of its own.
PER_IP_LIMITS = {
    name: "100000/minute"
    for name in (
        "rate_limit_holds_per_ip",
        "rate_limit_payment_intents_per_ip",
        "rate_limit_joins_per_ip",
        "rate_limit_logins_per_ip",
        "rate_limit_signups_per_ip",
        "rate_limit_password_resets_per_ip",
        "rate_limit_gateway_calls_per_ip",
        "rate_limit_transfers_per_ip",
    )
}


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
        media_dir=MEDIA_DIR,
        **PER_IP_LIMITS,
    )
    base.update(overrides)
    return Settings(**base)
