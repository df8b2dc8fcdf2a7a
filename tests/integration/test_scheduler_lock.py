"""The periodic jobs run as one copy however many `flask scheduler` processes run: one holds the
scheduler lock and enqueues them, the other stands by, and takes over once the holder is killed and
its lock lapses (workers/cli.py PeriodicScheduler, README, the scheduler process)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests

from devstack.processes import free_port
from devstack.stack import Stack
from tests.support.polling import wait_for
from workers.cli import ENQUEUED_BY, GATE_TICK_JOB_ID, SCHEDULER_LOCK_SECONDS, PeriodicScheduler

pytestmark = pytest.mark.slow  # two scheduler processes, and a lock that must lapse

LOCK = PeriodicScheduler.scheduler_lock_key
TICK = f"rq:job:{GATE_TICK_JOB_ID}"


def enqueued_by(rds, seconds: float) -> tuple[set[str], int]:
    """Who enqueued the gate's tick (enqueued every second) over ``seconds``, and how many times."""
    seen: set[str] = set()
    times: set[bytes] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        meta, at = rds.hmget(TICK, "meta", "enqueued_at")
        # Between a takeover's re-scheduling of the periodic jobs (which writes the job afresh) and the
        # job's next enqueue, it names nobody yet: only an enqueued job says who enqueued it.
        by = json.loads(meta).get(ENQUEUED_BY) if meta else None
        if by and at:
            seen.add(by)
            times.add(at)
        time.sleep(0.05)
    return seen, len(times)


def reports_state(bind: str) -> bool:
    """Whether the scheduler listening on ``bind`` reports the state figures (app/ops/state.py)."""
    return "\nseatline_rq_queue_depth{" in wait_for(lambda: _scrape(bind), timeout=30)


def _scrape(bind: str) -> str | None:
    try:
        return requests.get(f"http://{bind}/metrics", timeout=5).text
    except requests.ConnectionError:  # not listening yet
        return None


def holder_of(stack: Stack, key: str) -> str:
    logs = {name: (stack.logdir / f"{name}.log").read_text(errors="replace") for name in stack.procs}
    return next(name for name, text in logs.items() if f"{key} holds the scheduler lock" in text)


def test_two_schedulers_enqueue_the_periodic_jobs_as_one_and_the_other_takes_over(app, rds, tmp_path: Path):
    # ENV=development: its INFO lines (which scheduler holds the lock) are logged, a test run's are not.
    stack = Stack(tmp_path, {**os.environ, "FLASK_APP": "wsgi", "ENV": "development"}, grace=10)
    metrics = {name: f"127.0.0.1:{free_port()}" for name in ("scheduler-1", "scheduler-2")}
    try:
        for name in ("scheduler-1", "scheduler-2"):
            stack.start_scheduler(name=name, env={"METRICS_BIND": metrics[name]})
        first = wait_for(lambda: rds.get(LOCK), timeout=60).decode()
        wait_for(lambda: rds.hget(TICK, "meta"), timeout=30)
        seen, enqueues = enqueued_by(rds, 5)
        assert seen == {first} and enqueues >= 2, (seen, enqueues)  # one scheduler enqueues, again and again
        assert rds.get(LOCK).decode() == first  # kept from pass to pass, not taken in turns
        leader = holder_of(stack, first)
        (standby,) = set(stack.procs) - {leader}
        # The state figures come from the holder alone: of two schedulers, one copy.
        assert reports_state(metrics[leader]) and not reports_state(metrics[standby])

        stack.kill(leader)  # SIGKILL: its lock is never released, it lapses
        assert 0 < rds.ttl(LOCK) <= SCHEDULER_LOCK_SECONDS
        deadline = time.monotonic() + SCHEDULER_LOCK_SECONDS + 30  # fails the test rather than hang it
        while rds.get(LOCK) in (None, first.encode()):  # until the standby holds it, only the lost one may
            assert time.monotonic() < deadline, "the standby never took the lock over"
            meta = rds.hget(TICK, "meta")
            assert meta is None or json.loads(meta)[ENQUEUED_BY] == first
            time.sleep(0.05)
            stack.check_alive()
        second = rds.get(LOCK).decode()
        assert second != first and holder_of(stack, second) == standby
        seen, enqueues = enqueued_by(rds, 3)
        assert seen == {second} and enqueues >= 2, (seen, enqueues)
        assert reports_state(metrics[standby])  # the new holder reports them now
    finally:
        stack.stop()
