"""The flash sale's metrics (README "Watching a sale"), without starting it: each of its processes gets
a listener address and a multiprocess directory of its own (each `flask worker` too), Prometheus is
given every one of them, the queries it prints are the README's, and the report's cross-check
(bench/flash_sale/metrics.py) passes on figures that agree and fails on each kind of disagreement.
The figures are real prometheus_client expositions; tests/e2e/test_flash_sale_processes.py starts
the processes themselves."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, Counter as PromCounter, Histogram, generate_latest

from bench.flash_sale.metrics import COUNTERS, Samples, parse, tally
from bench.flash_sale.processes import WATCH, Ports, kind, metrics_ports, with_metrics
from devstack import commands
from devstack.stack import Stack
from tests.unit.test_prometheus_rules import readme_queries

ROOT = Path(__file__).resolve().parents[2]
MAKE_RUN_PORTS = range(9200, 9205)  # scripts/run.sh's *_METRICS_BIND


def test_every_process_has_a_listener_and_a_directory_of_its_own(tmp_path):
    ports = Ports(metrics=metrics_ports(workers=2))
    assert list(ports.metrics) == ["web", "gate", "browse", "scheduler", "worker-1", "worker-2"]
    assert sorted(ports.metrics.values()) == list(range(9210, 9216)), "the README's addresses"
    assert not set(ports.metrics.values()) & set(MAKE_RUN_PORTS)

    stack = Stack(tmp_path)
    envs = {name: with_metrics({"PATH": "/usr/bin"}, ports, name, stack) for name in ports.metrics}
    assert {name: env["SERVICE_NAME"] for name, env in envs.items()} == {
        "web": "web",
        "gate": "gate",
        "browse": "browse",
        "scheduler": "scheduler",
        "worker-1": "worker",
        "worker-2": "worker",
    }
    binds = [env["METRICS_BIND"] for env in envs.values()]
    directories = [env["PROMETHEUS_MULTIPROC_DIR"] for env in envs.values()]
    assert len(set(binds)) == len(binds) == 6
    assert len(set(directories)) == len(directories) == 6
    assert envs["worker-1"]["METRICS_BIND"] == "127.0.0.1:9214"
    assert envs["worker-2"]["METRICS_BIND"] == "127.0.0.1:9215"
    assert all(Path(d).is_relative_to(tmp_path) for d in directories), "under the run's own directory"
    assert all(env["PATH"] == "/usr/bin" for env in envs.values())


def test_the_block_of_listeners_moves_and_grows_with_the_workers():
    ports = metrics_ports(workers=3, base=9300)
    assert ports["web"] == 9300
    assert [ports[f"worker-{n}"] for n in (1, 2, 3)] == [9304, 9305, 9306]
    assert kind("worker-3") == "worker" and kind("browse") == "browse"


def test_prometheus_is_given_each_kind_with_every_worker_as_a_target(tmp_path):
    ports = Ports(metrics=metrics_ports(workers=2))
    env = {
        **os.environ,
        **commands.monitor_env(ports.metrics_targets(), "127.0.0.1:19090", tmp_path / "prometheus"),
    }
    rendered = subprocess.run(
        ["scripts/monitor.sh", "--render"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    config = yaml.safe_load(Path(rendered.stdout.strip()).read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {
        "seatline-web": ["127.0.0.1:9210"],
        "seatline-gate": ["127.0.0.1:9211"],
        "seatline-browse": ["127.0.0.1:9212"],
        "seatline-scheduler": ["127.0.0.1:9213"],
        "seatline-worker": ["127.0.0.1:9214", "127.0.0.1:9215"],
        "prometheus": ["127.0.0.1:19090"],
    }


def test_the_queries_printed_at_the_start_are_the_readme_s():
    assert len(WATCH) >= 4
    assert sorted({query for _, query in WATCH} - set(readme_queries())) == []


# ------------------------------------------------------------------------- the report's cross-check

ROUTES = {
    "hold": ("POST", "/api/v1/shows/<show_id>/holds"),
    "confirm": ("POST", "/api/v1/holds/<hold_id>/confirm"),
}


def exposition(
    service: str, counted: dict[str, float] | None = None, requests: dict[tuple[str, int], int] | None = None
) -> Samples:
    """What one process's listener answers: its counters (metric name -> value) and its requests
    ((endpoint, status) -> how many), through prometheus_client's own exposition and parser."""
    registry = CollectorRegistry()
    for name, value in (counted or {}).items():
        PromCounter(name.removesuffix("_total"), name, registry=registry).inc(value)
    timed = Histogram(
        "seatline_http_request_duration_seconds", "", ["service", "method", "route", "status"], registry=registry
    )
    for (endpoint, status), n in (requests or {}).items():
        method, route = ROUTES[endpoint]
        for _ in range(n):
            timed.labels(service, method, route, str(status)).observe(0.01)
    return parse(generate_latest(registry).decode())


ROWS = {
    "holds created": 7,
    "holds expired": 2,
    "holds released": 1,
    "bookings confirmed": 4,
    "waiting-room places taken": 30,
    "fans admitted": 12,
}
BINDS = {"web": "127.0.0.1:9210", "gate": "127.0.0.1:9211", "worker-1": "127.0.0.1:9214", "worker-2": "127.0.0.1:9215"}


def agreeing_scrapes() -> dict[str, Samples]:
    return {
        "web": exposition(
            "web",
            {
                "seatline_holds_created_total": 7,
                "seatline_holds_released_total": 1,
                "seatline_bookings_confirmed_total": 3,
            },
            {("hold", 201): 7, ("hold", 409): 5, ("confirm", 201): 3, ("confirm", 402): 1},
        ),
        "gate": exposition("gate", {"seatline_waiting_room_joins_total": 30}),
        "worker-1": exposition(
            "worker",
            {
                "seatline_holds_expired_total": 2,
                "seatline_bookings_confirmed_total": 1,
                "seatline_waiting_room_admitted_total": 12,
            },
        ),
        "worker-2": exposition("worker"),
    }


FANS = Counter({("hold", 201): 7, ("hold", 409): 5, ("confirm", 201): 3, ("confirm", 402): 1, ("join", 429): 4})


def outcome(checks: list) -> dict[str, bool]:
    return {name.split(" (")[0]: passed for name, passed, _ in checks}


def test_figures_that_agree_pass_and_each_process_s_share_is_shown():
    rows, checks = tally(agreeing_scrapes(), {}, ROWS, FANS, BINDS)
    assert all(passed for _, passed, _ in checks), checks
    assert len(checks) == 3
    shown = dict(rows)
    assert shown["bookings confirmed"] == "4 counted (web 3, worker-1 1); 4 in the database"
    assert shown["hold answers"] == "servers 201:7 409:5; fans 201:7 409:5"
    assert shown["confirm answers"] == "servers 201:3 402:1; fans 201:3 402:1"
    assert shown["release answers"] == "servers none; fans none"
    assert shown["5xx answers"].startswith("0 counted by the servers; 0 seen by the clients")
    assert shown["listeners"] == ", ".join(f"{name} {bind}" for name, bind in BINDS.items())
    assert {what for what, _, _ in COUNTERS} <= set(shown)


def test_a_counter_that_misses_rows_fails_naming_it():
    scrapes = agreeing_scrapes()
    scrapes["worker-1"] = exposition(
        "worker", {"seatline_holds_expired_total": 2, "seatline_waiting_room_admitted_total": 12}
    )  # a booking confirmed by a worker went uncounted
    _, checks = tally(scrapes, {}, ROWS, FANS, BINDS)
    assert outcome(checks) == {
        "every metrics listener answered": True,
        "the metrics count what the database holds": False,
        "the servers counted the answers the fans got": True,
    }
    detail = next(d for name, ok, d in checks if not ok)
    assert detail == "bookings confirmed 3 counted, 4 in the database"


def test_two_workers_reporting_each_other_s_figures_are_caught():
    # As two workers sharing one multiprocess directory would: each listener adds up both's files.
    scrapes = agreeing_scrapes()
    scrapes["worker-2"] = scrapes["worker-1"]
    _, checks = tally(scrapes, {}, ROWS, FANS, BINDS)
    assert outcome(checks)["the metrics count what the database holds"] is False


def test_answers_the_servers_did_not_count_fail():
    fans = FANS + Counter({("hold", 409): 1})
    rows, checks = tally(agreeing_scrapes(), {}, ROWS, fans, BINDS)
    assert outcome(checks)["the servers counted the answers the fans got"] is False
    assert dict(rows)["hold answers"] == "servers 201:7 409:5; fans 201:7 409:6"


def test_a_listener_that_does_not_answer_fails_every_comparison():
    scrapes = agreeing_scrapes()
    del scrapes["worker-2"]
    rows, checks = tally(scrapes, {"worker-2": "ConnectionError: refused"}, ROWS, FANS, BINDS)
    assert not any(passed for _, passed, _ in checks)
    assert "worker-2 127.0.0.1:9215 (did not answer)" in dict(rows)["listeners"]


def test_5xx_are_set_beside_the_clients_leaving_out_the_gateway_simulator():
    scrapes = agreeing_scrapes()
    scrapes["web"] = exposition(
        "web",
        {"seatline_holds_created_total": 7, "seatline_holds_released_total": 1, "seatline_bookings_confirmed_total": 3},
        {("hold", 201): 7, ("hold", 409): 5, ("hold", 500): 2, ("confirm", 201): 3, ("confirm", 402): 1},
    )
    fans = FANS + Counter({("hold", 500): 2, ("gateway-confirm", 500): 1})
    rows, checks = tally(scrapes, {}, ROWS, fans, BINDS)
    assert dict(rows)["5xx answers"] == (
        "2 counted by the servers, web 2; 2 seen by the clients (the gateway simulator's left out)"
    )
    assert outcome(checks)["the servers counted the answers the fans got"] is True
