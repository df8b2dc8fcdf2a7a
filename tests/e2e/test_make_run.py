"""`make run`'s script from an empty database, twice: migrate, seed, serve through the edge, stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from devstack.processes import ROOT, free_port, start_script, wait_until_up

pytestmark = pytest.mark.slow
MAILBOX = ROOT / ".run" / "mailbox" / "new"


@pytest.fixture
def empty_database(app):  # noqa: F811  (the app fixture proves Postgres is up)
    # Named after this run's test database, so test runs side by side never share it.
    database = f"{make_url(app.extensions['seatline.settings'].database_url).database}_run"
    with psycopg.connect("host=127.0.0.1 user=seatline password=seatline dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    yield f"postgresql+psycopg://seatline:seatline@127.0.0.1:5432/{database}"
    with psycopg.connect("host=127.0.0.1 user=seatline password=seatline dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def redis_db(rds) -> int:  # noqa: F811
    """The test run's own Redis database (flushed before each test) holds the script's Redis state."""
    return rds.connection_pool.connection_kwargs["db"]


KINDS = ("web", "browse", "gate", "worker", "scheduler")


def start_run_script(
    database_url: str,
    port: int,
    edge_port: int,
    edge_dir: Path,
    redis_port: int,
    redis_db: int,
    browse_port: int,
    metrics: dict[str, str],
) -> tuple[subprocess.Popen, list[str], str, str]:
    gateway = f"127.0.0.1:{free_port()}"
    gate = f"127.0.0.1:{free_port()}"
    env = {
        **{f"{kind.upper()}_METRICS_BIND": bind for kind, bind in metrics.items()},
        # No ENV of the caller's: scripts/run.sh says development itself (without it, production's rules).
        **{k: v for k, v in os.environ.items() if k != "ENV"},
        "DATABASE_URL": database_url,
        "REDIS_PORT": str(redis_port),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/{redis_db}",
        "WEB_BIND": f"127.0.0.1:{port}",
        "BROWSE_BIND": f"127.0.0.1:{browse_port}",
        "EDGE_BIND": f"127.0.0.1:{edge_port}",
        "EDGE_DIR": str(edge_dir),
        "WEB_WORKERS": "2",
        "WEB_ACCESS_LOG": "",
        "GATEWAY_BIND": gateway,
        "GATE_BIND": gate,
        "SMTP_PORT": str(free_port()),
    }
    proc, lines = start_script(["bash", "scripts/run.sh"], env)
    return proc, lines, f"http://{gateway}", f"http://{gate}"


def stop_with_ctrl_c(proc: subprocess.Popen, *ports: int) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(30)
    for port in ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def scrape(bind: str) -> dict[tuple[str, frozenset], float]:
    answer = requests.get(f"http://{bind}/metrics", timeout=5)
    assert answer.status_code == 200, bind
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def redis_answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.5, retry=None).ping()
    except redis.RedisError:
        return False


def test_run_script_serves_the_demo_and_stops_cleanly_twice(empty_database, redis_db, tmp_path):
    # The second run finds no Redis on its port: it must start one, and stop it again on Ctrl-C.
    for run, redis_port in enumerate((6379, free_port())):
        port, edge_port, browse_port = free_port(), free_port(), free_port()
        started_redis = not redis_answers(redis_port)
        metrics = {kind: f"127.0.0.1:{free_port()}" for kind in KINDS}
        proc, output, gateway, gate = start_run_script(
            empty_database, port, edge_port, tmp_path / f"nginx-{edge_port}", redis_port, redis_db, browse_port, metrics
        )
        # Everything below goes through the edge, the URL the script says to open.
        base = f"http://127.0.0.1:{edge_port}"
        try:
            # Readiness is asked of the process itself: the edge does not route /readyz.
            try:
                wait_until_up(f"http://127.0.0.1:{port}/readyz", proc, timeout=120)
            except RuntimeError as exc:
                raise AssertionError("".join(output)[-4000:]) from exc
            wait_until_up(f"{base}/healthz", proc, timeout=30)
            # Browsing has its own processes (the Procfile's `browse`), which the edge sends it to.
            wait_until_up(f"http://127.0.0.1:{browse_port}/readyz", proc)
            assert any(f"Seatline is starting at {base}/" in line for line in output), output
            assert any("fan@example.com" in line for line in output)
            token = requests.post(
                f"{base}/api/v1/auth/token", json={"email": "fan@example.com", "password": "seatline-demo"}
            ).json()["token"]
            cities = {c["name"]: c for c in requests.get(f"{base}/api/v1/cities").json()["cities"]}
            assert {"Bengaluru", "London", "New York"} <= set(cities)
            assert cities["Bengaluru"]["timezone"] == "Asia/Kolkata"
            tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date().isoformat()
            shows = requests.get(
                f"{base}/api/v1/cities/{cities['Bengaluru']['cityId']}/shows", params={"date": tomorrow}
            ).json()["shows"]
            on_sale = next(s for s in shows if s["saleStatus"] == "ON_SALE")
            seats = [
                s["seatId"]
                for s in requests.get(f"{base}/api/v1/shows/{on_sale['showId']}/seatmap").json()["seats"]
                if s["status"] == "AVAILABLE"
            ][:2]
            held = requests.post(
                f"{base}/api/v1/shows/{on_sale['showId']}/holds",
                json={"seatIds": seats},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert held.status_code == 201, held.text
            # Pay at the simulator; the webhook, the worker and the SMTP sink do the rest.
            auth = {"Authorization": f"Bearer {token}"}
            mails_before = len(list(MAILBOX.glob("*")))
            pay_for(base, gateway, held.json()["holdId"], auth)
            deadline = time.monotonic() + 30
            while len(list(MAILBOX.glob("*"))) == mails_before:
                assert time.monotonic() < deadline, "no confirmation email reached the mailbox"
                time.sleep(0.2)
            bookings = requests.get(f"{base}/api/v1/bookings", headers=auth).json()["bookings"]
            assert any(b["seatIds"] == seats for b in bookings)

            # The high-demand tour date is behind the waiting room: join, get admitted, hold.
            tour = next(
                s
                for s in requests.get(
                    f"{base}/api/v1/cities/{cities['New York']['cityId']}/shows", params={"date": _tour_date()}
                ).json()["shows"]
                if s["queueRequired"]
            )
            refused = requests.post(
                f"{base}/api/v1/shows/{tour['showId']}/holds", json={"seatIds": ["101-1-1"]}, headers=auth
            )
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "ADMISSION_REQUIRED"
            wait_until_up(f"{gate}/readyz", proc)
            place = requests.post(f"{base}/gate/v1/queues/{tour['eventId']}/join", headers=auth).json()
            deadline = time.monotonic() + 30
            while (
                status := requests.get(
                    f"{base}/gate/v1/queues/{tour['eventId']}/status", params={"ticket": place["ticket"]}
                ).json()
            )["state"] != "ADMITTED":
                assert time.monotonic() < deadline, status
                time.sleep(0.5)
            admitted = requests.post(
                f"{base}/api/v1/shows/{tour['showId']}/holds",
                json={"seatIds": ["101-1-1"]},
                headers={**auth, "X-Admission-Token": status["admissionToken"]},
            )
            assert admitted.status_code == 201, admitted.text
            requests.delete(f"{base}/api/v1/holds/{admitted.json()['holdId']}", headers=auth)
            assert redis_answers(redis_port)

            # What the operator sees: the addresses the script printed, each kind's figures there.
            assert any(
                line.strip().startswith("Metrics:")
                and all(f"http://{bind}/metrics" in line for bind in metrics.values())
                for line in output
            ), output
            web = scrape(metrics["web"])
            hold_route = {"service": "web", "method": "POST", "route": "/api/v1/shows/<show_id>/holds"}
            assert (
                web.get(
                    ("seatline_http_request_duration_seconds_count", frozenset({**hold_route, "status": "201"}.items()))
                )
                == 2
            )
            assert (
                web.get(
                    ("seatline_http_request_duration_seconds_count", frozenset({**hold_route, "status": "403"}.items()))
                )
                == 1
            )
            assert any(
                name == "seatline_http_request_duration_seconds_count" and ("service", "browse") in labels
                for name, labels in scrape(metrics["browse"])
            )
            assert any(
                name == "seatline_http_request_duration_seconds_count"
                and ("route", "/gate/v1/queues/<event_id>/join") in labels
                for name, labels in scrape(metrics["gate"])
            )

            # What happened, counted where it happened: two holds of picked seats, one refused for want of
            # admission, one booking (by the confirm's webhook or the saga), one place taken and admitted.
            def total(samples: dict, name: str, **labels: str) -> float:
                return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)

            assert total(web, "seatline_holds_created_total", kind="seats") == 2
            assert total(web, "seatline_holds_rejected_total", reason="ADMISSION_REQUIRED") == 1
            assert total(web, "seatline_holds_released_total") == 1
            everywhere = [web, scrape(metrics["worker"])]
            assert sum(total(s, "seatline_bookings_confirmed_total") for s in everywhere) == 1
            gate_figures = scrape(metrics["gate"])
            # The second run finds the fan's place of the first (kept in Postgres): no new place, no new admission.
            new_places = 1 if run == 0 else 0
            assert total(gate_figures, "seatline_waiting_room_joins_total", event=str(tour["eventId"])) == new_places
            # Admitted by the gate itself when there was room at once, or by the admission tick (a job).
            admitted_here = [gate_figures, everywhere[1]]
            assert (
                sum(total(s, "seatline_waiting_room_admitted_total", event=str(tour["eventId"])) for s in admitted_here)
                == new_places
            )
            # The webhook and the confirmation email were jobs.
            jobs = {
                dict(labels).get("task")
                for name, labels in scrape(metrics["worker"])
                if name == "seatline_job_duration_seconds_count"
            }
            assert len(jobs - {None}) >= 2, jobs
            state = scrape(metrics["scheduler"])
            assert {dict(labels)["queue"] for name, labels in state if name == "seatline_rq_queue_depth"} == {
                "webhooks",
                "payments",
                "holds",
                "notifications",
            }
            # The edge logged the request ids the app answered with.
            access_log = tmp_path / f"nginx-{edge_port}" / "access.log"
            deadline = time.monotonic() + 10  # nginx writes its buffer out within a second
            while f"id={held.headers['X-Request-Id']}" not in access_log.read_text():
                assert time.monotonic() < deadline, (
                    sorted(p.name for p in access_log.parent.iterdir()),
                    access_log.read_text()[-2000:],
                )
                time.sleep(0.5)

            # The club night (README "Try it"): before its public sale, only the presale code holds
            # places of its standing floor, and the door account lands on its scanner's list.
            dock = next(
                s
                for s in requests.get(
                    f"{base}/api/v1/cities/{cities['Bengaluru']['cityId']}/shows", params={"date": _dock_date()}
                ).json()["shows"]
                if s["title"] == "Dockside Sessions"
            )
            standing = {"gaSection": "Floor", "quantity": 2}
            early = requests.post(f"{base}/api/v1/shows/{dock['showId']}/holds", json=standing, headers=auth)
            assert early.status_code == 422 and early.json()["error"]["code"] == "SALE_CLOSED", early.text
            presale = requests.post(
                f"{base}/api/v1/shows/{dock['showId']}/holds",
                json={**standing, "accessCode": "DOCKFIRST"},
                headers=auth,
            )
            assert presale.status_code == 201, presale.text
            assert [p.startswith("FLOOR-") for p in presale.json()["seatIds"]] == [True, True]
            requests.delete(f"{base}/api/v1/holds/{presale.json()['holdId']}", headers=auth)
            door = requests.Session()
            form = door.get(f"{base}/login").text
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
            assert csrf, form
            signed_in = door.post(
                f"{base}/login",
                data={"email": "door@example.com", "password": "seatline-demo", "csrf_token": csrf.group(1)},
            )
            assert signed_in.url == f"{base}/door", signed_in.url
            assert f"/door/shows/{dock['showId']}" in door.get(f"{base}/door").text
        finally:
            stop_with_ctrl_c(proc, port, edge_port, browse_port)
        assert redis_answers(redis_port) != started_redis, "Ctrl-C must stop the Redis this run started, and only it"
    assert redis_answers(6379)


def pay_for(base: str, gateway: str, hold_id: str, auth: dict[str, str]) -> None:
    """The fan's payment intent for the hold, paid with the simulator's good test card."""
    intent = requests.post(f"{base}/api/v1/holds/{hold_id}/payment-intents", headers=auth).json()
    paid = requests.post(
        f"{gateway}/v1/payment_intents/{intent['paymentIntentId']}/confirm",
        data={"payment_method": "pm_card_visa"},
        auth=("sk_test_demo", ""),
    )
    assert paid.json()["status"] == "succeeded"


def _dock_date() -> str:
    """The demo's club night: nine days after the seeding's UTC date, at 22:00 in Bengaluru."""
    return (datetime.now(ZoneInfo("UTC")).date() + timedelta(days=9)).isoformat()


def _tour_date() -> str:
    """The demo's high-demand tour date: six days after the seeding's UTC date, at 20:00 in New York
    (app/demo/seed.py), so that is its local date too. Not found by show id: the ids follow how many
    shows the demo schedules before it."""
    return (datetime.now(ZoneInfo("UTC")).date() + timedelta(days=6)).isoformat()
