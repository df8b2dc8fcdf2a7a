"""The flash sale's processes started as bench/flash_sale/processes.py starts them, on the test
database, without the sale (README "Watching a sale"): each process's metrics listener answers on its
own address with its own kind's figures, the two `flask worker`s each report their own jobs only, the
report's cross-check reads them, and `--monitor`'s Prometheus scrapes every one of them. Real
gunicorn (web, browse, gate), nginx, workers, scheduler, gateway simulator and SMTP sink."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.background import queues
from bench.flash_sale.metrics import COUNTERS, REQUESTS, scrape_all, tally, total
from bench.flash_sale.params import Params
from bench.flash_sale.processes import Ports, kind, metrics_ports, stack_env, start_monitor, start_stack
from devstack.processes import free_port
from devstack.stack import Stack
from queue_gate.keys import jwks, load_keys, new_key_entry
from tests.support.db import redis_client
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

JOBS = 6  # hold expiries of holds that do not exist: they succeed, doing nothing, and only this test queues them
HOLDS = ("POST", "/api/v1/shows/<show_id>/holds")
EXPIRIES = "seatline_job_duration_seconds_count"


@pytest.fixture
def flash_stack(app, tmp_path) -> Iterator[tuple[Stack, Ports, dict[str, str]]]:
    settings = app.extensions["seatline.settings"]
    params = Params(web_workers=1, workers=2)
    # Free ports rather than the run's fixed block, which a flash sale on this machine may be using.
    ports = Ports(metrics={name: free_port() for name in metrics_ports(params.workers)})
    signing_keys = json.dumps([new_key_entry()])
    env = {
        **stack_env(params, ports, settings.secret_key, json.dumps(jwks(load_keys(signing_keys)))),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    stack = Stack(logs, grace=20)
    try:
        start_stack(stack, params, ports, env, signing_keys)
        yield stack, ports, env
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()


def environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().split("=", 1) for pair in pairs if b"=" in pair)


def test_every_process_of_the_sale_can_be_watched(app, flash_stack, tmp_path):
    stack, ports, env = flash_stack
    assert set(stack.procs) >= set(ports.metrics), "every process with a listener runs"

    # Each `flask worker` process got an address and a directory of its own.
    workers = {name: environ(stack.pid(name)) for name in ("worker-1", "worker-2")}
    assert workers["worker-1"]["METRICS_BIND"] != workers["worker-2"]["METRICS_BIND"]
    assert workers["worker-1"]["PROMETHEUS_MULTIPROC_DIR"] != workers["worker-2"]["PROMETHEUS_MULTIPROC_DIR"]
    assert {w["SERVICE_NAME"] for w in workers.values()} == {"worker"}
    for name, worker in workers.items():
        assert worker["METRICS_BIND"] == ports.metrics_bind(name)
        # Its figures' files are its own process's only.
        files = list(Path(worker["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))
        assert files and {f.stem.rsplit("_", 1)[1] for f in files} == {str(stack.pid(name))}, files

    # Requests through the edge, as the fans send them: holds to web (refused: no one signed in), the
    # waiting room's keys to the gate; the catalog went to browse while the stack started.
    for _ in range(3):
        assert requests.post(f"{ports.front_web}/api/v1/shows/1/holds", json={"seatIds": ["A-1"]}).status_code == 401
    for _ in range(2):
        assert requests.get(f"{ports.front_gate}/gate/v1/jwks.json").status_code == 200
    # JOBS jobs, whichever worker takes each.
    for _ in range(JOBS):
        queues.enqueue(redis_client(app), queues.HOLDS, "workers.jobs.expire_hold", str(uuid.uuid4()))

    def expiries_counted() -> float:
        scrapes, _ = scrape_all(ports, ["worker-1", "worker-2"])
        return sum(total(s, EXPIRIES, task="expire_hold", outcome="succeeded") for s in scrapes.values())

    wait_for(lambda: expiries_counted() >= JOBS, timeout=60, interval=0.5)  # the workers counted the jobs
    scrapes, failed = scrape_all(ports, list(ports.metrics))
    assert failed == {}
    # Each worker counts only the jobs it ran: added up, every job once (sharing a directory, each
    # listener would report both's, and the sum would be twice as many).
    assert expiries_counted() == JOBS

    # Each gunicorn kind's listener serves its own kind's requests.
    for name in ("web", "browse", "gate"):
        services = {dict(labels)["service"] for sample, labels in scrapes[name] if sample == REQUESTS}
        assert services == {name}, f"{name}'s listener serves {services}"
    assert total(scrapes["web"], REQUESTS, method=HOLDS[0], route=HOLDS[1], status="401") == 3
    assert total(scrapes["gate"], REQUESTS, method="GET", route="/gate/v1/jwks.json", status="200") == 2
    assert total(scrapes["browse"], REQUESTS, method="GET", route="/api/v1/cities") >= 1
    # The state of the whole system is the scheduler's alone.
    assert any(sample == "seatline_rq_queue_depth" for sample, _ in scrapes["scheduler"])
    assert not any(sample == "seatline_rq_queue_depth" for name in ("web", "worker-1") for sample, _ in scrapes[name])

    # The report's cross-check on these scrapes: the holds the "fans" were answered, counted by web.
    binds = {name: ports.metrics_bind(name) for name in ports.metrics}
    nothing = {what: 0 for what, _, _ in COUNTERS}  # the test database holds no sale
    rows, checks = tally(scrapes, failed, nothing, Counter({("hold", 401): 3}), binds)
    assert all(passed for _, passed, _ in checks), checks
    assert dict(rows)["hold answers"] == "servers 401:3; fans 401:3"
    _, checks = tally(scrapes, failed, nothing, Counter({("hold", 401): 2}), binds)
    assert not all(passed for _, passed, _ in checks)

    # `--monitor`: Prometheus scraping every listener, each worker a target of its own.
    bind = f"127.0.0.1:{free_port()}"
    start_monitor(stack, ports, {**env, "PROMETHEUS_SCRAPE_INTERVAL": "1s"}, bind, tmp_path / "prometheus-flash")

    def api(path: str, **params: str) -> Any:
        answer = requests.get(f"http://{bind}/api/v1/{path}", params=params, timeout=5)
        answer.raise_for_status()
        return answer.json()["data"]

    def targets() -> set[tuple[str, str, str]]:
        return {(t["labels"]["job"], t["labels"]["instance"], t["health"]) for t in api("targets")["activeTargets"]}

    expected = {(f"seatline-{kind(name)}", ports.metrics_bind(name), "up") for name in ports.metrics}
    expected.add(("prometheus", bind, "up"))
    wait_for(lambda: targets() == expected, timeout=60, interval=0.5)  # every listener up in Prometheus
    expiries = api("query", query=f'sum({EXPIRIES}{{task="expire_hold"}})')["result"]
    assert expiries[0]["value"][1] == str(JOBS)
    assert stack.procs["prometheus"].poll() is None
