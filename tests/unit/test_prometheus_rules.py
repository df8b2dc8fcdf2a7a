"""Prometheus' side of monitoring (README "Watching a sale"): the alert and recording rules pass
``promtool check rules``, their unit tests (deploy/prometheus/alerts_test.yml) pass ``promtool test
rules``, the scrape config scripts/monitor.sh renders passes ``promtool check config``, and every
metric, recorded series and route that the rules, the Grafana dashboard and the README's queries
read is one Seatline has.
``make test`` installs promtool (Debian's ``prometheus`` package, ``scripts/services.sh --prometheus``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

from app import create_app
from app.ops.metrics import registry
from app.ops.state import STATE_METRICS  # figures about state, read at scrape time: names as exposed
from queue_gate import create_gate_app
from tests.conftest import settings_for_tests

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
RULE_FILES = (RULES / "recording.yml", RULES / "alerts.yml")
DASHBOARD = ROOT / "deploy" / "grafana" / "seatline-sale.json"

SEATLINE_NAME = re.compile(r"(?<![\w:])seatline_\w+(?![\w:])")
RECORDED_NAME = re.compile(r"(?<![\w:])[a-z_]+:[a-z0-9_]+:[a-z0-9_]+(?![\w:])")
ROUTE_MATCHER = re.compile(r'route\s*=~?\s*"([^"]*)"')
LABEL_VALUES = re.compile(r"^label_values\((\w+), (\w+)\)$")


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: `make prometheus` (scripts/services.sh --prometheus) installs it")
    return found


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def assert_succeeds(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{' '.join(map(str, done.args))} failed:\n{done.stdout}\n{done.stderr}"


def rules() -> Iterator[dict]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


def alerts() -> list[dict]:
    return [rule for rule in rules() if "alert" in rule]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def readme_queries() -> list[str]:
    """The queries README "Watching a sale" suggests, one a line, without their comments."""
    section = (ROOT / "README.md").read_text().split("## Watching a sale", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```promql\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def dashboard_queries() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    return exprs


def as_promql(grafana_expr: str) -> str:
    """A dashboard query with Grafana's variables filled in as Grafana would."""
    return grafana_expr.replace("$__rate_interval", "1m").replace("$event", ".*")


# ------------------------------------------------------------------------------------ promtool


def test_rules_pass_promtool_check(promtool):
    assert_succeeds(run([promtool, "check", "rules", *map(str, RULE_FILES)]))


def test_alerts_pass_their_unit_tests(promtool):
    assert_succeeds(run([promtool, "test", "rules", str(RULES / "alerts_test.yml")]))


def test_rendered_scrape_config_passes_promtool_and_scrapes_every_process_kind(promtool, tmp_path):
    binds = {
        "WEB_METRICS_BIND": "127.0.0.1:19200",
        "BROWSE_METRICS_BIND": "127.0.0.1:19202",
        "GATE_METRICS_BIND": "127.0.0.1:19201",
        "WORKER_METRICS_BIND": "127.0.0.1:19203",
        "SCHEDULER_METRICS_BIND": "127.0.0.1:19204",
    }
    env = {**os.environ, **binds, "PROMETHEUS_DIR": str(tmp_path), "PROMETHEUS_BIND": "127.0.0.1:19090"}
    rendered = run(["scripts/monitor.sh", "--render"], env)
    assert_succeeds(rendered)
    config_path = Path(rendered.stdout.strip())
    assert config_path == tmp_path / "prometheus.yml"
    # check config also loads and checks every rule file the config names.
    assert_succeeds(run([promtool, "check", "config", str(config_path)]))

    config = yaml.safe_load(config_path.read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {
        "seatline-web": ["127.0.0.1:19200"],
        "seatline-browse": ["127.0.0.1:19202"],
        "seatline-gate": ["127.0.0.1:19201"],
        "seatline-worker": ["127.0.0.1:19203"],
        "seatline-scheduler": ["127.0.0.1:19204"],
        "prometheus": ["127.0.0.1:19090"],
    }
    assert sorted(config["rule_files"]) == sorted(str(p) for p in RULE_FILES)


# ------------------------------------------------------------------------------ what the rules say


def test_every_alert_waits_has_a_severity_and_says_what_to_look_at():
    assert alerts()
    for alert in alerts():
        name = alert["alert"]
        assert alert.get("for"), f"{name} has no for:"
        assert alert["labels"]["severity"] in ("critical", "warning"), name
        assert alert["annotations"]["summary"].strip(), name
        assert (
            SEATLINE_NAME.search(alert["annotations"]["description"]) or "`" in alert["annotations"]["description"]
        ), f"{name}'s description names nothing to look at"


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load((RULES / "alerts_test.yml").read_text())
    assert sorted(tests["rule_files"]) == sorted(p.name for p in RULE_FILES)
    firing, quiet = set(), set()
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert sorted(names - firing) == [], "alerts never shown firing"
    assert sorted(names - quiet) == [], "alerts never shown quiet"
    assert sorted((firing | quiet) - names) == [], "tests of alerts that do not exist"


def test_the_issue_s_alerts_are_all_there():
    # Each watches one of: a scrape target, payments settling, refunds, breakers, jobs, queues,
    # hold latency, server errors.
    watched = " ".join(alert["expr"] for alert in alerts())
    for needle in (
        'up{job=~"seatline-.*"}',
        "seatline_payments_unsettled_oldest_age_seconds",
        "seatline_refunds_failed",
        "seatline_breaker_state",
        "seatline_job_failures_total",
        "seatline_rq_queue_depth",
        "/api/v1/shows/<show_id>/holds",
        'status=~"5.."',
    ):
        assert needle in watched


# ----------------------------------------------------------------- names the rules and dashboard read


def exposed_names(registries: list[CollectorRegistry]) -> tuple[set[str], set[str]]:
    """The sample names Seatline's registries expose, and their families' names (a histogram's
    base name, a counter's without ``_total``), which the annotations may mention too."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    samples: set[str] = set(STATE_METRICS)
    families: set[str] = set(STATE_METRICS)
    for reg in registries:
        for family in reg.collect():
            families.add(family.name)
            samples.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return samples, families


@pytest.fixture(scope="module")
def apps():
    return create_app(settings_for_tests()), create_gate_app(settings_for_tests())


@pytest.fixture(scope="module")
def seatline_metrics(apps) -> tuple[set[str], set[str]]:
    web, gate = apps
    samples, families = exposed_names([REGISTRY, registry(web), registry(gate)])
    return {n for n in samples if n.startswith("seatline_")}, {n for n in families if n.startswith("seatline_")}


def test_every_metric_the_rules_and_dashboard_read_is_one_seatline_exposes(seatline_metrics):
    samples, families = seatline_metrics
    read = {n for r in rules() for n in SEATLINE_NAME.findall(r["expr"])}
    read |= {n for q in dashboard_queries() + readme_queries() for n in SEATLINE_NAME.findall(q)}
    assert len(read) > 20
    assert sorted(read - samples) == []
    mentioned = {n for a in alerts() for text in a["annotations"].values() for n in SEATLINE_NAME.findall(text)}
    assert sorted(mentioned - samples - families) == []


def test_every_recorded_series_the_alerts_read_is_recorded():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    read = {n for a in alerts() for n in RECORDED_NAME.findall(a["expr"])}
    assert read, "the alerts read no recorded series"
    assert sorted(read - recorded) == []


def test_every_route_the_rules_dashboard_and_tests_name_is_a_flask_rule(apps):
    web, gate = apps
    known = {rule.rule for app in (web, gate) for rule in app.url_map.iter_rules()}
    texts = [r["expr"] for r in rules()] + dashboard_queries() + readme_queries()
    texts.append((RULES / "alerts_test.yml").read_text())
    named = {route for text in texts for matcher in ROUTE_MATCHER.findall(text) for route in matcher.split("|")}
    assert "/api/v1/shows/<show_id>/holds" in named
    assert sorted(named - known) == []


# ------------------------------------------------------------------------- dashboard and README


def test_dashboard_and_readme_queries_are_promql(promtool, tmp_path):
    # promtool parses every query of the dashboard and of the README as a recording rule's expression.
    # label_values(metric, label), for a variable's choices, is Grafana's: the same as a count by label.
    queries = [LABEL_VALUES.sub(r"count by (\2) (\1)", as_promql(q)) for q in dashboard_queries()]
    assert len(readme_queries()) > 10
    queries += readme_queries()
    rules_file = tmp_path / "dashboard.yml"
    rules_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard",
                        "rules": [{"record": f"dashboard:q{i}", "expr": q} for i, q in enumerate(queries)],
                    }
                ]
            }
        )
    )
    assert_succeeds(run([promtool, "check", "rules", str(rules_file)]))


def test_dashboard_reads_prometheus_through_its_datasource_variable():
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    titles = " ".join(p["title"].lower() for p in panels)
    for subject in ("hold", "booking", "waiting", "queue", "job", "error", "breaker", "pool"):
        assert subject in titles
