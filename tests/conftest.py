"""Shared fixtures. Tests that touch storage use the real PostgreSQL and Redis that
`make test` prepares (a separate database and Redis database)."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from queue_gate.keys import jwks, load_keys, new_key_entry

DEFAULT_DATABASE_URL = "postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline_test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _worker_index() -> int:
    """0 in a serial run and in pytest-xdist's first process (gw0), N in its process gwN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def _worker_storage() -> None:
    """Gives each parallel test process its own database and Redis database (README "Tests"), in
    the environment, so that the processes the tests start get them too: the first process keeps
    DATABASE_URL and REDIS_URL as they are (seatline_test and 15 under `make test`); process gwN
    gets the database named <that one>_gwN and the Redis database N above (below, past 15) that one."""
    index = _worker_index()
    if index == 0:
        return
    url = make_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    os.environ["DATABASE_URL"] = url.set(database=f"{url.database}_gw{index}").render_as_string(hide_password=False)
    base, _, number = (os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL).rpartition("/")
    first = int(number or 0)
    os.environ["REDIS_URL"] = f"{base}/{first + index if first + index <= 15 else first - index}"


_worker_storage()


def ensure_database(database_url: str) -> None:
    """Creates ``database_url``'s database, owned by its user, if the server has none of that name
    (a parallel test process's own database is made on its first run)."""
    url = make_url(database_url)
    admin = psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone():
            return
        try:
            admin.execute(f'CREATE DATABASE "{url.database}"')
        except psycopg.errors.DuplicateDatabase:
            pass  # made meanwhile by another run


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
        database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
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


# Suites that share something outside their own database, Redis database and ports, and so must not
# run at the same time in two parallel test processes: `make run`'s and `make run-cluster`'s scripts
# both use the repository's .run/ (its mailbox, its gate keys), and the chaos suite stops and starts
# servers. Each such group runs in one process, one test after another.
SHARED_GROUPS = {
    "tests/e2e/test_make_run.py": "make-run",
    "tests/e2e/test_make_run_cluster.py": "make-run",
}


# Suites that must have the machine to themselves: nothing of the other parallel test processes may
# run meanwhile. The read replica copies the whole PostgreSQL server and must keep up with all of its
# writes, the other process's too, within the lag bound the tests check.
RUN_ALONE = {"tests/integration/test_read_replica.py"}


def _run_lock() -> Path | None:
    """The file the parallel processes of this run take turns on (None in a serial run)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run or int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1) < 2:
        return None
    return Path(tempfile.gettempdir()) / f"seatline-tests-{run}.lock"


@pytest.fixture(scope="module", autouse=True)
def _module_alone(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module of RUN_ALONE holds the run's lock exclusively from its first fixture to its last."""
    lock = _run_lock()
    if lock is None or request.path.relative_to(request.config.rootpath).as_posix() not in RUN_ALONE:
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _not_beside_one_alone(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every other test shares the lock for its own length: it waits while a RUN_ALONE module runs."""
    lock = _run_lock()
    if lock is None or request.path.relative_to(request.config.rootpath).as_posix() in RUN_ALONE:
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With parallel test processes (`scripts/test.sh`, pytest-xdist's ``--dist loadgroup``), a test
    module is the unit handed to a process, so that its module-scoped servers start once; the modules
    of a group in SHARED_GROUPS (and of tests/chaos) go to one process together."""
    if not config.pluginmanager.hasplugin("xdist") or config.getoption("dist", "no") != "loadgroup":
        return
    for item in items:
        if any(True for _ in item.iter_markers("xdist_group")):
            continue
        module = item.path.relative_to(config.rootpath).as_posix()
        group = "chaos" if module.startswith("tests/chaos/") else SHARED_GROUPS.get(module, module)
        item.add_marker(pytest.mark.xdist_group(group))
