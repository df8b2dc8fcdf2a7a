"""The flash sale's metrics (README "Watching a sale"), without starting it: each of its processes gets
a listener address and a multiprocess directory of its own (each `flask worker` too), Prometheus is
given every one of them, and the queries it prints are the README's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

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
