"""`make run-cluster`'s script from an empty database: the PostgreSQL replica, PgBouncer, the Redis
Cluster, RQ's Redis and two of each process come up; a fan books and queues through the edge; one
web and one gate are killed and nothing a fan does fails; Ctrl-C stops all of it."""

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
from redis.cluster import ClusterNode, RedisCluster
from sqlalchemy.engine import make_url

from devstack.processes import ROOT, listening, start_script
from tests.e2e.test_make_run import _tour_date, pay_for

pytestmark = pytest.mark.slow
MAILBOX = ROOT / ".run" / "mailbox" / "new"


@pytest.fixture
def empty_database(app):  # noqa: F811  (the app fixture proves Postgres is up)
    database = f"{make_url(app.extensions['seatline.settings'].database_url).database}_cluster"
    admin = "host=127.0.0.1 user=seatline password=seatline dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    yield database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def wait_for(lines: list[str], text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("".join(lines)[-6000:])
        time.sleep(0.5)


def line(lines: list[str], label: str) -> str:
    return next(entry for entry in lines if entry.strip().startswith(label))


def ports_in(text: str) -> list[int]:
    return [int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", text)]


def test_the_cluster_serves_the_demo_survives_a_lost_web_and_gate_and_stops_on_ctrl_c(empty_database, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "ENV"},
        "DATABASE_URL": f"postgresql+psycopg://seatline:seatline@127.0.0.1:5432/{empty_database}",
        "CLUSTER_PORTS": "free",
        "CLUSTER_DIR": str(tmp_path / "cluster"),
        "WEB_ACCESS_LOG": "",
    }
    proc, output = start_script(["bash", "scripts/run_cluster.sh"], env)
    listened: list[int] = []
    try:
        wait_for(output, "Ctrl-C stops every process", proc, timeout=240)
        base = re.search(r"running at (http://127\.0\.0\.1:\d+)/", "".join(output)).group(1)  # type: ignore[union-attr]
        edge = line(output, "Edge:")
        webs, browses, gates = (
            ports_in(re.search(rf"{kind} (\S+)", edge).group(1))  # type: ignore[union-attr]
            for kind in ("web", "browse", "gate")
        )
        assert len(webs) == len(browses) == len(gates) == 2
        gateway = f"http://127.0.0.1:{ports_in(line(output, 'Payments:'))[0]}"
        nodes = line(output, "Redis Cluster:")
        assert nodes.count("(master)") == 3 and nodes.count("(replica)") == 3, nodes
        cluster_ports = ports_in(nodes)
        primary_line, replica_line = line(output, "PostgreSQL primary:"), line(output, "PostgreSQL replica:")
        assert "5432" in primary_line and "PgBouncer" in primary_line
        replica_port, replica_bouncer = ports_in(replica_line)
        queue_port, queue_replica = ports_in(line(output, "Redis for RQ:"))
        metrics = ports_in(line(output, "Metrics:"))
        assert len(metrics) == 9  # 2 web, 2 browse, 2 gate, 2 workers, the scheduler
        listened = [int(base.rsplit(":", 1)[1]), *webs, *browses, *gates, *cluster_ports, replica_port, queue_port]
        pids = dict(entry.split() for entry in (tmp_path / "cluster" / "pids").read_text().splitlines())

        # A fan books through the edge: browsing (the browse copies, reading the replica), a hold, a
        # payment at the simulator, the webhook through the edge, the worker's confirmation email.
        token = requests.post(
            f"{base}/api/v1/auth/token", json={"email": "fan@example.com", "password": "seatline-demo"}
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cities = {c["name"]: c for c in requests.get(f"{base}/api/v1/cities").json()["cities"]}
        tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date().isoformat()
        shows = requests.get(
            f"{base}/api/v1/cities/{cities['Bengaluru']['cityId']}/shows", params={"date": tomorrow}
        ).json()["shows"]
        on_sale = next(s for s in shows if s["saleStatus"] == "ON_SALE" and not s["queueRequired"])
        seats = [
            s["seatId"]
            for s in requests.get(f"{base}/api/v1/shows/{on_sale['showId']}/seatmap").json()["seats"]
            if s["status"] == "AVAILABLE"
        ][:2]
        held = requests.post(f"{base}/api/v1/shows/{on_sale['showId']}/holds", json={"seatIds": seats}, headers=auth)
        assert held.status_code == 201, held.text
        mails_before = len(list(MAILBOX.glob("*")))
        pay_for(base, gateway, held.json()["holdId"], auth)
        deadline = time.monotonic() + 30
        while not any(
            b["seatIds"] == seats for b in requests.get(f"{base}/api/v1/bookings", headers=auth).json()["bookings"]
        ):
            assert time.monotonic() < deadline, "the booking was not confirmed"
            time.sleep(0.3)
        while len(list(MAILBOX.glob("*"))) == mails_before:
            assert time.monotonic() < deadline, "no confirmation email reached the mailbox"
            time.sleep(0.2)

        # The replica streams from the primary: the booking is there too, read on the replica itself.
        with psycopg.connect(host="127.0.0.1", port=replica_port, user="seatline", dbname=empty_database) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            deadline = time.monotonic() + 10
            while not conn.execute("SELECT count(*) FROM bookings").fetchone()[0]:
                assert time.monotonic() < deadline, "the booking never reached the replica"
                time.sleep(0.2)
                conn.rollback()
        assert listening(replica_bouncer)

        # The waiting room lives on the Redis Cluster; RQ on its own Redis, with two workers.
        tour = next(
            s
            for s in requests.get(
                f"{base}/api/v1/cities/{cities['New York']['cityId']}/shows", params={"date": _tour_date()}
            ).json()["shows"]
            if s["queueRequired"]
        )
        place = requests.post(f"{base}/gate/v1/queues/{tour['eventId']}/join", headers=auth)
        assert place.status_code in (200, 201), place.text
        room = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in cluster_ports])
        prefix = f"gate:{{{tour['eventId']}}}:".encode()  # one hash tag per event: one node holds them all
        assert any(key.startswith(prefix) for key in room.keys(target_nodes=RedisCluster.PRIMARIES))
        queues = redis.Redis(port=queue_port)
        assert queues.scard("rq:workers") == 2
        assert not any(key.startswith(b"gate") for key in queues.scan_iter())
        assert redis.Redis(port=queue_replica).info("replication")["role"] == "slave"

        # One web and one gate go down without a word. The edge leaves them out: a request that finds one
        # gone before it was sent goes to the other copy, a POST included. A POST that had already been
        # written to a connection of the dead one (nginx keeps connections open to each copy) is never
        # sent twice: it is answered 503 DEGRADED with a Retry-After, and the client tries again.
        for name in ("web-1", "gate-1"):
            os.killpg(int(pids[name]), signal.SIGKILL)
        degraded = 0
        status = None
        for n in range(12):
            assert requests.get(f"{base}/api/v1/bookings", headers=auth).status_code == 200
            fan = {"email": f"cluster-{n}@example.com", "password": "a long enough password", "name": "Fan"}
            answer = requests.post(f"{base}/api/v1/auth/register", json=fan)
            if answer.status_code == 503:
                assert answer.json()["error"]["code"] == "DEGRADED", answer.text
                degraded += 1
                time.sleep(int(answer.headers["Retry-After"]))
                answer = requests.post(f"{base}/api/v1/auth/register", json=fan)
            assert answer.status_code == 201, answer.text
            status = requests.get(
                f"{base}/gate/v1/queues/{tour['eventId']}/status", params={"ticket": place.json()["ticket"]}
            )
            assert status.status_code == 200, status.text
        assert status is not None and status.json()["state"] in ("WAITING", "ADMITTED")
        assert degraded <= 2  # a request in flight on a connection to web-1 when it died, per nginx worker
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(90)
    # Everything it started has stopped: the edge, the servers, the Redis nodes, the replica. A process
    # that has exited can leave its listening socket for a moment on a loaded machine: wait for that.
    deadline = time.monotonic() + 15
    while any(listening(port) for port in listened) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [port for port in listened if listening(port)] == []
    assert not list(Path("/tmp").glob("seatline-replica-*")) or all(
        str(replica_port) not in (p / "postgresql.conf").read_text(errors="replace")
        for p in Path("/tmp").glob("seatline-replica-*")
        if (p / "postgresql.conf").exists()
    )
