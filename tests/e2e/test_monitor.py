"""`make run MONITOR=1`'s Prometheus (scripts/monitor.sh) as a real process: it scrapes the metrics
addresses it is given under Seatline's job names, loads the alert rules, and its SeatlineTargetDown
rule picks out exactly the process kinds that do not answer. The one address that answers serves
app.ops.metrics' figures through prometheus_client's own HTTP server, as a process kind's metrics
listener does (README "Watching a sale")."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.processes import BIN, ROOT, free_port, terminate, wait_port, wait_until_up

pytestmark = pytest.mark.slow

DOWN = ("seatline-browse", "seatline-gate", "seatline-worker", "seatline-scheduler")

# A process exposing Seatline's metrics, with a background job's failure and three holds counted.
EXPOSITION = """
import signal, sys
from prometheus_client import start_http_server
from app.ops import metrics
metrics.JOB_FAILURES.labels(task="execute_refund").inc()
metrics.HOLDS_CREATED.labels(kind="seats").inc(3)
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
signal.pause()
"""


@pytest.fixture
def metrics_address() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([str(BIN / "python"), "-c", EXPOSITION, str(port)], cwd=ROOT)
    try:
        wait_port(port, proc, "metrics server")
        yield f"127.0.0.1:{port}"
    finally:
        terminate(proc, 10)


@pytest.fixture
def prometheus(metrics_address: str, tmp_path: Path) -> Iterator[str]:
    bind = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "WEB_METRICS_BIND": metrics_address,
        # Addresses nothing listens on: those process kinds are down.
        **{f"{job.removeprefix('seatline-').upper()}_METRICS_BIND": f"127.0.0.1:{free_port()}" for job in DOWN},
        "PROMETHEUS_BIND": bind,
        "PROMETHEUS_DIR": str(tmp_path / "prometheus"),
        "PROMETHEUS_SCRAPE_INTERVAL": "1s",
    }
    proc = subprocess.Popen([str(ROOT / "scripts" / "monitor.sh")], cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://{bind}/-/ready", proc, name="prometheus")
        yield f"http://{bind}"
    finally:
        terminate(proc, 20)


def eventually(read: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 60) -> Any:
    """Reads until ``done`` says so; fails naming ``what`` (and the last reading) if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what}; last seen: {value}"
        time.sleep(0.5)


def api(base: str, path: str, **params: str) -> Any:
    answer = requests.get(f"{base}/api/v1/{path}", params=params, timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]


def test_prometheus_scrapes_each_process_kind_and_alerts_on_those_down(prometheus, metrics_address):
    def health() -> dict[str, tuple[str, str]]:
        return {
            t["labels"]["job"]: (t["health"], t["labels"]["instance"])
            for t in api(prometheus, "targets")["activeTargets"]
        }

    seen = eventually(
        health, lambda h: len(h) == 6 and "unknown" not in {v[0] for v in h.values()}, "targets never all scraped"
    )
    assert seen["seatline-web"] == ("up", metrics_address)
    assert {job: state for job, (state, _) in seen.items() if job in DOWN} == dict.fromkeys(DOWN, "down")
    assert seen["prometheus"][0] == "up"

    # Which background job failed is the series' `task`; `job` stays the target's.
    failures = api(prometheus, "query", query="seatline_job_failures_total")["result"]
    assert [(r["metric"]["job"], r["metric"]["task"], r["value"][1]) for r in failures] == [
        ("seatline-web", "execute_refund", "1")
    ]
    holds = api(prometheus, "query", query='sum(seatline_holds_created_total{kind="seats"})')["result"]
    assert holds[0]["value"][1] == "3"

    groups = eventually(
        lambda: api(prometheus, "rules")["groups"],
        lambda gs: all(r["health"] == "ok" for g in gs for r in g["rules"]),
        "rules never all evaluated",
    )
    assert {g["name"] for g in groups} == {"seatline-recording", "seatline-alerts"}

    def targets_down_alerted() -> set[str]:
        return {
            a["labels"]["job"]
            for a in api(prometheus, "alerts")["alerts"]
            if a["labels"]["alertname"] == "SeatlineTargetDown"
        }

    eventually(targets_down_alerted, lambda jobs: jobs == set(DOWN), "SeatlineTargetDown never named the kinds down")
