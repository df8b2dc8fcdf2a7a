"""Metrics as an operator scrapes them: each process kind's listener on its internal address, adding
up the figures of every process of the kind (app/ops/listener.py, README "Watching a sale"). Real
gunicorn with several workers, a real `flask worker`; the numbers come from real requests and jobs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.background import queues
from app.ops import observe
from devstack.processes import free_port, wait_until_up
from devstack.stack import Stack
from tests.e2e.conftest import gunicorn
from tests.support.db import redis_client

pytestmark = pytest.mark.slow


def scrape(bind: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape: (name, labels) -> value."""
    answer = requests.get(f"http://{bind}/metrics", timeout=5)
    assert answer.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@contextmanager
def served(
    module: str, stack_env: dict[str, str], directory: Path, workers: int, **env: str
) -> Iterator[tuple[str, str]]:
    """``module`` under gunicorn with ``workers`` workers and its metrics listener; (base URL, bind)."""
    bind = f"127.0.0.1:{free_port()}"
    settings = {
        **stack_env,
        "WEB_WORKERS": str(workers),
        "WEB_THREADS": "4",
        "METRICS_BIND": bind,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        **env,
    }
    with gunicorn(module, free_port(), settings) as base:
        yield base, bind


def test_one_scrape_adds_up_every_worker_of_the_web(stack_env, tmp_path):
    directory = tmp_path / "web"
    (directory).mkdir()
    (directory / "counter_999999999.db").write_bytes(b"left by an earlier run")  # cleared when the kind starts
    with served("wsgi:app", stack_env, directory, workers=3, SERVICE_NAME="web") as (base, bind):
        assert not (directory / "counter_999999999.db").exists()
        route = dict(service="web", method="GET", route="/api/v1/cities", status="200")
        asked = 0
        # Until at least two workers have answered (each writes its own file), then a few more.
        with ThreadPoolExecutor(8) as pool:
            while len(list(directory.glob("histogram_*.db"))) < 2 and asked < 2000:
                assert all(
                    code == 200
                    for code in pool.map(lambda _: requests.get(f"{base}/api/v1/cities").status_code, range(40))
                )
                asked += 40
        assert len(list(directory.glob("histogram_*.db"))) >= 2, "the requests were spread over the workers"
        missing = requests.get(f"{base}/api/v1/shows/999999999")
        assert missing.status_code == 404

        samples = scrape(bind)
        count = value(samples, "seatline_http_request_duration_seconds_count", **route)
        assert count == asked, "every worker's requests, added up"
        assert value(samples, "seatline_http_request_duration_seconds_bucket", **route, le="+Inf") == asked
        assert value(samples, "seatline_http_request_duration_seconds_sum", **route) > 0
        fastest = value(samples, "seatline_http_request_duration_seconds_bucket", **route, le="10.0")
        assert fastest == asked, "the histogram's buckets are filled and cumulative"
        assert (
            value(
                samples,
                "seatline_http_request_duration_seconds_count",
                service="web",
                method="GET",
                route="/api/v1/shows/<show_id>",
                status="404",
            )
            == 1
        ), "labelled by the route's template, not the raw path"
        # The app's own /metrics on the same process kind answers the same figures.
        own = requests.get(f"{base}/metrics").text
        assert f'route="/api/v1/cities",service="web",status="200"}} {float(asked)}' in own
        # The listener is the kind's, not a worker's: the figures stay when a worker goes.
        pids = {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("histogram_*.db")}
        os.kill(pids.pop(), 15)
        assert value(scrape(bind), "seatline_http_request_duration_seconds_count", **route) == asked


def test_the_gate_counts_its_requests_under_its_own_name(stack_env, tmp_path):
    with served("queue_gate.wsgi:app", stack_env, tmp_path, workers=2, PUBLIC_URL="http://127.0.0.1:1") as (base, bind):
        for _ in range(5):
            assert requests.get(f"{base}/gate/v1/jwks.json").status_code == 200
        samples = scrape(bind)
        assert (
            value(
                samples,
                "seatline_http_request_duration_seconds_count",
                service="gate",
                method="GET",
                route="/gate/v1/jwks.json",
                status="200",
            )
            == 5
        )


def test_jobs_carry_the_request_id_and_are_timed_by_outcome(app, stack_env, tmp_path):
    bind = f"127.0.0.1:{free_port()}"
    logs = tmp_path / "logs"
    logs.mkdir()
    stack = Stack(
        logs,
        {
            **os.environ,
            **stack_env,
            "FLASK_APP": "wsgi",
            "METRICS_BIND": bind,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker"),
            "SERVICE_NAME": "worker",
        },
    )
    name = stack.start_worker()
    try:
        wait_until_up(f"http://{bind}/metrics", stack.procs[name], name="worker's metrics listener")
        connection = redis_client(app)
        token = observe.bind("req-jobs-0001")
        try:
            queues.enqueue(connection, queues.HOLDS, "workers.jobs.sweep")  # finds nothing to do
            queues.enqueue(connection, queues.HOLDS, "workers.jobs.no_such_job")  # fails
        finally:
            observe.unbind(token)
        deadline = 200
        samples = scrape(bind)
        while deadline and not (
            value(samples, "seatline_job_duration_seconds_count", task="sweep", outcome="succeeded")
            and value(samples, "seatline_job_failures_total", task="no_such_job")
        ):
            deadline -= 1
            time.sleep(0.1)
            samples = scrape(bind)
        assert value(samples, "seatline_job_duration_seconds_count", task="sweep", outcome="succeeded") == 1
        assert value(samples, "seatline_job_duration_seconds_count", task="no_such_job", outcome="failed") == 1
        assert value(samples, "seatline_job_failures_total", task="no_such_job") == 1
        log = (logs / f"{name}.log").read_text()
        failure = [line for line in log.splitlines() if "no_such_job" in line and "[req-jobs-0001]" in line]
        assert failure, log[-3000:]
    finally:
        stack.stop()
