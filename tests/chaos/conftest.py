"""Fault injection against real processes (`make chaos`). Every test here is marked `chaos`.

These tests run only when asked for: with a marker expression that names `chaos` (`-m chaos`), or
with a path inside tests/chaos. Everything else (`make test`, `make test-fast`, `-m slow`, `-k ...`)
leaves them out, so the ordinary suite never starts their clusters. A `-m "not chaos"` in pytest.ini's
addopts would not do: a later `-m` (as `make test-fast` passes) replaces it.

They bring their own PostgreSQL cluster and Redis server (private, on free ports) so that they can
kill, restart and flush them without touching anything else on the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHAOS_DIR = Path(__file__).resolve().parent


def _asked_for(config: pytest.Config) -> bool:
    if "chaos" in (config.getoption("markexpr") or ""):
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == CHAOS_DIR or CHAOS_DIR in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chaos = [item for item in items if CHAOS_DIR in item.path.parents]
    for item in chaos:
        item.add_marker(pytest.mark.chaos)
    if chaos and not _asked_for(config):
        left_out = set(chaos)
        keep = [item for item in items if item not in left_out]
        config.hook.pytest_deselected(items=chaos)
        items[:] = keep


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    scenario = sys.modules.get("tests.chaos.scenario")  # imported only where tests/chaos was collected
    reports = scenario.REPORTS if scenario else []
    if reports:
        terminalreporter.section("chaos: what the fans saw")
        for report in reports:
            terminalreporter.write_line(report)
            terminalreporter.write_line("")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.chaos_failed = report.failed
    return report


@pytest.fixture(scope="session")
def chaos_dir(request) -> Iterator[Path]:
    """The processes' logs, one directory per scenario; kept when a test failed."""
    path = Path(tempfile.mkdtemp(prefix="seatline-chaos-"))
    yield path
    if request.session.testsfailed:
        print(f"\nchaos: the processes' logs are in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def private_redis(chaos_dir):
    from tests.chaos.infra import PrivateRedis

    server = PrivateRedis(chaos_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_pg(private_redis):
    from devstack import commands
    from devstack.processes import ROOT
    from tests.chaos.infra import PrivatePostgres

    cluster = PrivatePostgres()
    try:
        cluster.init()
        # The schema comes from the migrations, as `make run` makes it.
        env = {
            **os.environ,
            "ENV": "test",
            "DATABASE_URL": cluster.url,
            "REDIS_URL": private_redis.url(0),
            "FLASK_APP": "wsgi",
        }
        done = subprocess.run(
            commands.flask("db", "upgrade"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"flask db upgrade failed:\n{done.stdout}\n{done.stderr}"
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def seed_app(private_pg, private_redis):
    """The app in this process, on the private cluster: for the builders (fans, shows) and the
    invariant checkers."""
    from app import create_app
    from app.extensions import db
    from tests.conftest import settings_for_tests

    application = create_app(
        settings_for_tests(
            database_url=private_pg.url, redis_url=private_redis.url(0), db_pool_size=2, db_max_overflow=20
        )
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def scenario(request, private_pg, private_redis, seed_app, chaos_dir):
    from tests.chaos.scenario import Scenario

    # A clean slate: every table emptied, Redis running and empty.
    with private_pg.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    if private_redis.proc is None or private_redis.proc.poll() is not None:
        private_redis.start()
    private_redis.flushall()
    logdir = chaos_dir / request.node.name
    logdir.mkdir(parents=True, exist_ok=True)
    sc = Scenario(request.node.name, private_pg, private_redis, seed_app, logdir)
    try:
        yield sc
    finally:
        if getattr(request.node, "chaos_failed", False) and sc.stack is not None:
            print(f"\nlogs of the processes ({logdir}):\n{sc.stack.logs(lines=25)}")
        sc.stop()
