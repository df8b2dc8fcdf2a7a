"""The app through a private PgBouncer in transaction mode (devstack/pgbouncer.py), in front of the
test database: the same fixtures as the integration tier, with ``app`` connecting through it
(DB_BEHIND_PGBOUNCER) and migrated straight at the database (DATABASE_DIRECT_URL)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from devstack.pgbouncer import PgBouncer
from tests.conftest import settings_for_tests
from tests.support.db import (  # noqa: F401  (fixtures)
    Builder,
    _jobs_use_the_test_app,
    clean_state,
    client,
    gateway,
    mail,
    make,
    migrated_app,
    rds,
    simulator_process,
    smtp_sink,
    web_server,
)


def pgbouncer_installed() -> bool:
    return shutil.which("pgbouncer") is not None or Path("/usr/sbin/pgbouncer").exists()


def direct_database_url() -> str:
    return settings_for_tests().database_url


def start_pgbouncer(**options) -> PgBouncer:
    if not pgbouncer_installed():
        pytest.fail("pgbouncer is missing: `make pgbouncer` (scripts/services.sh --pgbouncer) installs it")
    return PgBouncer(direct_database_url(), **options)


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    bouncer = start_pgbouncer()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def app(smtp_sink, pgbouncer) -> Iterator[Flask]:  # noqa: F811  (smtp_sink, imported above)
    assert os.environ.get("DATABASE_URL", "") != pgbouncer.url
    yield from migrated_app(
        smtp_sink, database_url=pgbouncer.url, db_behind_pgbouncer=True, database_direct_url=direct_database_url()
    )


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield
