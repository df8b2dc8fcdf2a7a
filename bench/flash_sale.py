"""Flash-sale simulation: 20,000 fans, a waiting room and a 2,000-seat show, end to end.

Needs `make run`'s set-up (PostgreSQL, Redis, the dev venv); `make flash-sale` runs it:
    .venv/bin/python -m bench.flash_sale [--fans 20000] [--seats 2000] [--out-dir bench]
    .venv/bin/python -m bench.flash_sale --fans 2000 --seats 200 --out-dir /tmp/flash   # a quick one

Everything it uses is its own: the database seatline_flash (dropped, re-created and migrated
each run), Redis database 11 (flushed), free ports, and these processes, started here and
stopped at the end (also on Ctrl-C or a failure): gunicorn `wsgi:app` (web, and again as
browse: the catalog and seat maps, as the Procfile) and `queue_gate.wsgi:app` (gate) with the
project's gunicorn settings, the nginx edge in front of them (`scripts/edge.sh`, as `make run`:
every client request goes through it), two `flask
worker`s, `flask scheduler` (the sweeper, and the waiting room's admission tick every second),
the gateway simulator sending its webhooks straight to the web process, and an SMTP sink.

The sale: a venue of --seats seats (the demo's 2,000-seat concert hall), one queue-protected
show whose sale opens --opens-after seconds after the last fan has joined, and --fans fan
accounts made with one INSERT, each with a bearer token from `issue_token`. In one asyncio
process every fan joins the waiting room before the opening (arrivals spread over
--join-window seconds), polls its status at the interval the gate's own waiting-room page
uses (`queue_gate.pages.poll_delay`), and once admitted loads the full seat map (what the
OpenAPI document advises for a hall of this size), picks 1-4 adjacent available seats and
holds them with its admission token; on 409 it picks other seats (refreshing the map in
the compact format), and while seats are only held by others it keeps refreshing until its
admission session ends or the show is sold out. With a hold, 10 % abandon it (it lapses
after HOLD_TTL_SECONDS), 10 % release it, 10 % are declined at the gateway first and then
pay, and the rest pay: create the intent, confirm it at the gateway simulator, then call
confirm until 201/200. Meanwhile --browsers clients fetch the city's listing, a show's
detail and its seat map once a second each, from before the first join to after the end, in a
process of their own (so that the fans' busy event loop cannot inflate what they measure).

At the end (sold out, or --max-sale-seconds) it lets the workers drain and checks: the money
and seat invariants (`app.booking.invariants.money_invariant_violations` against the
simulator's intents), every seat BOOKED once by exactly one confirmed booking, no 5xx and no
transport error seen by any client, every fan in the pre-queue before the opening, and browsing
latency flat (no 10-s window of the sale with a p95 above 4x the quiet baseline's, or the
baseline + 100 ms). It prints time to sell out, admission rate, hold
success rate, outcomes, latency percentiles per endpoint, browsing latency per 10-s window
and CPU use per process (the load generator's own included), writes them to
<out-dir>/FLASH_SALE.md with the date and machine, and draws <out-dir>/flash_sale.png.
Exit status 1 when a check fails.
"""
from __future__ import annotations

import argparse
import array
import asyncio
import base64
import atexit
import gc
import json
import math
import multiprocessing
import operator
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import redis
import requests

from devstack.processes import free_port, stop_process_groups, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DB = "seatline_flash"
PG = "host=127.0.0.1 port=5432 user=seatline password=seatline"
DB_URL = f"postgresql+psycopg://seatline:seatline@127.0.0.1:5432/{DB}"
REDIS_DB = 11
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
BIN = ROOT / ".venv" / "bin"
CITY_TZ = "Europe/London"
# What a fan's browser (Stripe Elements) authenticates with at the gateway: basic auth, the key as user.
GATEWAY_AUTH = {"Authorization": "Basic " + base64.b64encode(b"sk_test_flash_fan:").decode()}
ENDPOINTS = ("manager-queue", "join", "status", "seatmap", "seatmap-refresh", "hold", "release", "payment-intent", "gateway-confirm",
             "confirm", "browse-listing", "browse-show", "browse-seatmap")
BROWSE = ("browse-listing", "browse-show", "browse-seatmap")
WINDOW = 10.0  # seconds per browsing-latency window


# ---------------------------------------------------------------------------------------------- parameters


@dataclass
class Params:
    fans: int = 20000
    seats: int = 2000
    batch: int = 0  # 0: derived from seats
    interval: float = 2.0
    cap: int = 0  # 0: derived from seats
    session: int = 60
    hold_ttl: int = 25
    join_window: float = 60.0
    opens_after: float = 15.0
    browsers: int = 8
    min_poll: float = 0.0
    web_workers: int = 0  # 0: gunicorn.conf.py's default, 2 x cores
    web_threads: int = 4
    edge: bool = True
    workers: int = 2
    max_sale_seconds: float = 600.0
    seed: int | None = None
    out_dir: Path = ROOT / "bench"
    write: bool = True

    def derive(self) -> None:
        self.batch = self.batch or max(10, self.seats // 20)
        self.cap = self.cap or max(50, self.seats // 2)


def parse_args(argv: list[str] | None = None) -> Params:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fans", type=int, default=20000, help="fans who join the waiting room (default 20000)")
    p.add_argument("--seats", type=int, default=2000, help="seats of the show, at most 2000 (default 2000)")
    p.add_argument("--batch", type=int, default=0, help="waiting room batch size (default seats/20)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between batches (default 2)")
    p.add_argument("--cap", type=int, default=0, help="most admitted fans at once (default half the seats)")
    p.add_argument("--session", type=int, default=60, help="admission session seconds (default 60)")
    p.add_argument("--hold-ttl", type=int, default=25, help="HOLD_TTL_SECONDS for the run (default 25)")
    p.add_argument("--join-window", type=float, default=60.0, help="fans arrive over this many seconds (default 60)")
    p.add_argument("--opens-after", type=float, default=15.0, help="the sale opens this long after the last join (15)")
    p.add_argument("--browsers", type=int, default=8, help="browsing clients, one visit a second each (default 8)")
    p.add_argument("--min-poll", type=float, default=0.0,
                   help="for experiments: never poll the waiting room more often than this many seconds (default 0: "
                        "exactly the waiting-room page's policy)")
    p.add_argument("--web-workers", type=int, default=0,
                   help="gunicorn workers of the web process (default: gunicorn.conf.py's, 2 x cores)")
    p.add_argument("--web-threads", type=int, default=4, help="threads per web worker (default 4, as gunicorn.conf.py)")
    p.add_argument("--no-edge", action="store_true",
                   help="for comparison: clients talk to gunicorn directly instead of through the nginx edge")
    p.add_argument("--workers", type=int, default=2, help="`flask worker` processes (default 2)")
    p.add_argument("--max-sale-seconds", type=float, default=600.0, help="give up on selling out after this long")
    p.add_argument("--seed", type=int, default=None, help="random seed for the fans' choices")
    p.add_argument("--out-dir", type=Path, default=ROOT / "bench", help="where FLASH_SALE.md and flash_sale.png go")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file and chart alone")
    a = p.parse_args(argv)
    if not 1 <= a.seats <= 2000:
        p.error("--seats must be between 1 and 2000 (the concert hall)")
    if a.fans < 1:
        p.error("--fans must be positive")
    params = Params(a.fans, a.seats, a.batch, a.interval, a.cap, a.session, a.hold_ttl, a.join_window, a.opens_after,
                    a.browsers, a.min_poll, a.web_workers, a.web_threads, not a.no_edge, a.workers, a.max_sale_seconds, a.seed,
                    a.out_dir, not a.no_write)
    params.derive()
    web = (params.web_workers or 2 * (os.cpu_count() or 1)) * (params.web_threads + DB_MAX_OVERFLOW)
    gate = 2 * (os.cpu_count() or 1) * (DB_POOL_SIZE + DB_MAX_OVERFLOW) + 2 * (DB_POOL_SIZE + DB_MAX_OVERFLOW)  # + browse
    if web + gate + params.workers * (DB_POOL_SIZE + DB_MAX_OVERFLOW) > 80:
        p.error(f"that many web threads could open {web} database connections; PostgreSQL allows 100 for everyone")
    return params


# ---------------------------------------------------------------------------------------------- processes


class Stack:
    """The processes of one run, each in its own process group, stopped in reverse order."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}
        self._stopped = False

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.logdir / (name + '.log')}")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_process_groups(list(self.procs.values()), grace=20)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot(stack: Stack, extra: dict[str, int]) -> dict[str, float]:
    """Cumulative CPU seconds now: each of our process groups, the named load-generator pids, PostgreSQL
    and Redis (every database: other work on the machine counts too), and the whole machine."""
    groups = {proc.pid: name for name, proc in stack.procs.items()}
    pids = {pid: name for name, pid in extra.items()}
    out: dict[str, float] = defaultdict(float)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
        pid, pgrp = int(entry), int(fields[2])
        if pid in pids:
            out[pids[pid]] += seconds
        elif pgrp in groups:
            out[groups[pgrp]] += seconds
        elif name.startswith("postgres"):
            out["postgres"] += seconds
        elif name.startswith("redis-server"):
            out["redis"] += seconds
    out["machine"] = _machine_busy()[0]
    return dict(out)


def _machine_busy() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts[:8]) - idle) / CLK_TCK, sum(parts[:8]) / CLK_TCK


def wait_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} while starting")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f} s")


@dataclass
class Ports:
    web: int = field(default_factory=free_port)
    browse: int = field(default_factory=free_port)  # catalog and seat maps, behind the edge
    gate: int = field(default_factory=free_port)
    gateway: int = field(default_factory=free_port)
    smtp: int = field(default_factory=free_port)
    edge: int | None = field(default_factory=free_port)  # None: clients go straight to gunicorn

    @property
    def front_web(self) -> str:
        """Where clients send their web requests: the edge, as with `make run`."""
        return f"http://127.0.0.1:{self.edge}" if self.edge else self.web_url

    @property
    def front_gate(self) -> str:
        return f"http://127.0.0.1:{self.edge}" if self.edge else self.gate_url

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web}"

    @property
    def gate_url(self) -> str:
        return f"http://127.0.0.1:{self.gate}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway}"


# Per gunicorn worker: one connection per thread, plus a little room. Web and gate run the project's
# gunicorn settings (2 x cores workers, 4 threads), so the run holds at most about 60 connections of
# the server's 100 however hard it is pushed, and other work on the machine keeps its share.
DB_POOL_SIZE, DB_MAX_OVERFLOW = 4, 2
LOADGEN_NICE = 5  # the simulated fans' process priority (os.nice); see main()


def stack_env(params: Params, ports: Ports, secret: str, jwks: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GATE_", "SIM_", "WEB_"))}
    env.update({
        "ENV": "test",  # like the e2e stack: the same code paths, WARNING-level logs
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secret,
        "PASSWORD_TIME_COST": "1",
        "PASSWORD_MEMORY_COST_KIB": "1024",
        "HOLD_TTL_SECONDS": str(params.hold_ttl),
        "DB_POOL_SIZE": str(DB_POOL_SIZE),
        "DB_MAX_OVERFLOW": str(DB_MAX_OVERFLOW),
        "GATEWAY_API_BASE": ports.gateway_url,
        "GATEWAY_API_KEY": "sk_test_flash_server",
        "WEBHOOK_SECRET": "whsec_flash_sale",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(ports.smtp),
        "PUBLIC_URL": ports.front_web,
        "GATE_PUBLIC_URL": ports.front_gate,
        "GATE_JWKS": jwks,
        "GATE_JWKS_URL": f"{ports.gate_url}/gate/v1/jwks.json",
        "FLASK_APP": "wsgi",
        "WEB_ACCESS_LOG": "",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        # Behind the edge the servers take the client's address from the X-Forwarded-For entry nginx
        # adds, as with `make run`; without it they see the TCP peer.
        "TRUSTED_PROXY_HOPS": "1" if ports.edge else "0",
        # All 20,000 simulated fans (and the browsing clients) come from this one machine, 127.0.0.1:
        # the per-IP rate limits, meant for a crowd behind one address at most, are raised far above
        # the run's rates. The per-fan limits stay as deployed (a fan that keeps being refused sleeps
        # for the Retry-After it is given, like a browser).
        **{f"RATE_LIMIT_{what}_PER_IP": "10000000/minute"
           for what in ("HOLDS", "PAYMENT_INTENTS", "JOINS", "LOGINS", "SIGNUPS", "GATEWAY_CALLS")},
    })
    return env


def start_stack(stack: Stack, params: Params, ports: Ports, env: dict[str, str], signing_keys: str) -> None:
    smtp = stack.start("smtp", [str(BIN / "python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{ports.smtp}",
                                "-c", "aiosmtpd.handlers.Sink"], env)
    sim_env = {**env, "SIM_WEBHOOK_URL": f"{ports.web_url}/api/v1/payments/webhook",
               "SIM_WEBHOOK_SECRET": env["WEBHOOK_SECRET"], "SIM_LOG_LEVEL": "WARNING"}
    gateway = stack.start("gateway", [str(BIN / "gunicorn"), "-w", "1", "--threads", "8", "-b", f"127.0.0.1:{ports.gateway}",
                                      "--log-level", "warning", "--no-control-socket", "gateway_simulator.wsgi:app"], sim_env)
    web_env = {**env, "WEB_THREADS": str(params.web_threads), "DB_POOL_SIZE": str(max(DB_POOL_SIZE, params.web_threads))}
    if params.web_workers:
        web_env["WEB_WORKERS"] = str(params.web_workers)
    web = stack.start("web", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{ports.web}", "wsgi:app"],
                      web_env)
    browse = None
    if ports.edge:  # as the Procfile's `browse`: the edge sends catalog and seat-map requests there
        # Its access log keeps each request's time inside the app (seconds, last field): set against
        # what the browsing clients measured, it tells time in the app from time on the way to it.
        browse = stack.start("browse", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{ports.browse}",
                                        "--workers", "2", "--access-logfile", str(stack.logdir / "browse-access.log"),
                                        "--access-logformat", '%(t)s "%(r)s" %(s)s %(L)s', "wsgi:app"], env)
    gate = stack.start("gate", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{ports.gate}",
                                "queue_gate.wsgi:app"], {**env, "GATE_SIGNING_KEYS": signing_keys})
    edge = None
    if ports.edge:
        edge_dir = stack.logdir / "nginx"
        shutil.rmtree(edge_dir, ignore_errors=True)
        edge = stack.start("edge", [str(ROOT / "scripts" / "edge.sh")], {
            **env, "EDGE_BIND": f"127.0.0.1:{ports.edge}", "WEB_BIND": f"127.0.0.1:{ports.web}",
            "BROWSE_BIND": f"127.0.0.1:{ports.browse}", "GATE_BIND": f"127.0.0.1:{ports.gate}", "STATIC_ROOT": str(ROOT / "app" / "static"),
            "EDGE_DIR": str(edge_dir)})
    for i in range(params.workers):
        stack.start(f"worker-{i + 1}", [str(BIN / "flask"), "worker"], env)
    scheduler = stack.start("scheduler", [str(BIN / "flask"), "scheduler"], env)
    wait_port(ports.smtp, smtp, "smtp sink")
    wait_until_up(f"{ports.gateway_url}/_sim/health", gateway, name="gateway simulator")
    wait_until_up(f"{ports.web_url}/readyz", web, name="web")
    if browse:
        wait_until_up(f"http://127.0.0.1:{ports.browse}/readyz", browse, name="browse")
    wait_until_up(f"{ports.gate_url}/readyz", gate, name="gate")
    if edge:
        wait_until_up(f"{ports.front_web}/api/v1/cities", edge, name="edge (nginx)")
    r = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stack.check_alive()
        workers = len(r.smembers("rq:workers"))
        if workers >= params.workers and r.exists("rq:job:seatline-gate-tick"):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"workers or the scheduler did not come up (see {stack.logdir})")
    del scheduler


# ---------------------------------------------------------------------------------------------- set-up


@dataclass
class Sale:
    show_id: int
    other_show_id: int
    event_id: int
    city_id: int
    date: str
    seat_ids: list[str]
    fan_tokens: list[str]
    manager_token: str
    opens_at: datetime | None = None


def create_database(env: dict[str, str]) -> None:
    with psycopg.connect(f"{PG} dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DB}")
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    redis.Redis.from_url(REDIS_URL).flushdb()


def make_app(env: dict[str, str]):
    """The app in this process, for set-up and the invariant check (never serves a request)."""
    import logging

    from app import create_app
    from app.config import Settings

    # Configured first, the app's INFO logging (meant for its servers) stays out of this report.
    logging.basicConfig(level=logging.WARNING)
    return create_app(Settings.from_env(env))


def build_sale(app, params: Params) -> Sale:
    from app.accounts.tokens import issue_token
    from app.catalog import scheduling
    from app.demo.layouts import concert_hall
    from app.unit_of_work import unit_of_work

    secret = app.extensions["seatline.settings"].secret_key
    seats = concert_hall()[: params.seats]
    zone = ZoneInfo(CITY_TZ)
    day = (datetime.now(zone) + timedelta(days=3)).date()
    starts = datetime(day.year, day.month, day.day, 19, 30, tzinfo=zone)
    matinee = datetime(day.year, day.month, day.day, 14, 0, tzinfo=zone)
    placeholder_opening = datetime.now(timezone.utc) + timedelta(hours=1)  # re-timed once the fans are in
    with app.app_context(), unit_of_work() as uow:
        org = scheduling.ensure_organisation(uow, "Flash Sale Promotions")
        city = scheduling.ensure_city(uow, "Flashford", "GB", CITY_TZ)
        venue = scheduling.ensure_venue(uow, city, "Flashford Concert Hall", "concert_hall", "1 Sale Street", seats,
                                        organisation_id=org)
        event = scheduling.ensure_event(uow, "The Reunion Tour", "concert", "One night only.", 150, organisation_id=org)
        recital = scheduling.ensure_event(uow, "Sunday Recital", "concert", "Chamber music.", 90, organisation_id=org)
        prices = {"premium": 9500, "standard": 6500, "value": 3500}
        show = scheduling.schedule_show(
            uow, event_id=event, venue_id=venue, starts_at=starts, sale_opens_at=placeholder_opening,
            sale_closes_at=starts, currency="GBP", prices=prices, queue_required=True,
        )
        other = scheduling.schedule_show(
            uow, event_id=recital, venue_id=venue, starts_at=matinee,
            sale_opens_at=datetime.now(timezone.utc) - timedelta(days=1), sale_closes_at=matinee, currency="GBP",
            prices=prices,
        )
        manager = uow.execute(
            "INSERT INTO users (email, name, password_hash, role, organisation_id) "
            "VALUES ('manager@flash.example', 'Flash Manager', 'x', 'manager', :org) RETURNING id", {"org": org},
        ).scalar_one()
        # Every fan in one statement.
        fan_ids = uow.execute(
            "INSERT INTO users (email, name, password_hash, role) "
            "SELECT 'fan' || g || '@flash.example', 'Fan ' || g, 'x', 'fan' FROM generate_series(1, :n) g "
            "RETURNING id", {"n": params.fans},
        ).scalars().all()
        uow.execute("ANALYZE users, venue_seats, show_seats, shows, show_prices")
        uow.commit()
    ttl = 6 * 3600
    return Sale(
        show_id=show, other_show_id=other, event_id=event, city_id=city, date=day.isoformat(),
        seat_ids=[s.seat_id for s in seats], fan_tokens=[issue_token(secret, i, "fan", ttl) for i in sorted(fan_ids)],
        manager_token=issue_token(secret, manager, "manager", ttl),
    )


def open_waiting_room(ports: Ports, sale: Sale, params: Params, opens_at: datetime,
                      rec: Recorder | None = None) -> dict[str, Any]:
    """What the manager does: the sale's opening on the show, and the waiting room for the event
    (through the edge, like the dashboard; timed as ``manager-queue``)."""
    with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
        c.execute("UPDATE shows SET sale_opens_at = %s WHERE id = %s", (opens_at, sale.show_id))
    for attempt in range(5):
        start, t = (rec.now() if rec else 0.0), time.perf_counter()
        try:
            r = requests.put(
                f"{ports.front_gate}/gate/v1/queues/{sale.event_id}",
                headers={"Authorization": f"Bearer {sale.manager_token}"},
                json={"batchSize": params.batch, "admissionIntervalSeconds": params.interval, "maxActive": params.cap,
                      "sessionSeconds": params.session, "saleOpensAt": opens_at.isoformat()},
                timeout=60,
            )
        except requests.RequestException as exc:
            if rec:
                rec.transport_errors[("manager-queue", type(exc).__name__)] += 1
            continue
        if rec:
            rec.add("manager-queue", start, time.perf_counter() - t, 0.0, r.status_code, r.content)
        if r.status_code < 500:
            break
    r.raise_for_status()
    sale.opens_at = opens_at
    return r.json()


# ---------------------------------------------------------------------------------------------- recording


class Series:
    """One endpoint's requests: when each started, how long it took, and how much of that it waited
    for a connection inside this load generator (three flat arrays: no object per request)."""

    def __init__(self) -> None:
        self.start, self.latency, self.queued = array.array("d"), array.array("d"), array.array("d")

    def __len__(self) -> int:
        return len(self.start)


class Recorder:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.samples: dict[str, Series] = defaultdict(Series)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.transport_errors: Counter[tuple[str, str]] = Counter()
        self.server_errors: list[tuple[float, str, int, str]] = []
        self.counts: Counter[str] = Counter()
        self.events: dict[str, list[float]] = defaultdict(list)  # outcome -> times

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, endpoint: str, start: float, latency: float, queued: float, status: int, body: bytes) -> None:
        series = self.samples[endpoint]
        series.start.append(start)
        series.latency.append(latency)
        series.queued.append(queued)
        self.statuses[(endpoint, status)] += 1
        if status >= 500:
            self.server_errors.append((start, endpoint, status, body[:300].decode(errors="replace")))

    def mark(self, what: str) -> None:
        self.counts[what] += 1
        self.events[what].append(self.now())


class Transport(Exception):
    pass


class Client:
    """HTTP for the simulation, each call timed and counted under an endpoint name."""

    def __init__(self, rec: Recorder, ports: Ports) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        self.rec = rec
        self.ports = ports
        timeout = aiohttp.ClientTimeout(total=30)
        trace = aiohttp.TraceConfig()

        async def queued_start(session, ctx, params):
            ctx.trace_request_ctx["q"] = time.perf_counter()

        async def queued_end(session, ctx, params):
            ctx.trace_request_ctx["waited"] += time.perf_counter() - ctx.trace_request_ctx["q"]

        trace.on_connection_queued_start.append(queued_start)
        trace.on_connection_queued_end.append(queued_end)

        def session(limit: int, keepalive: float):
            # Idle connections are dropped before the server's keep-alive closes them under us
            # (gunicorn.conf.py: 5 s; the simulator runs gunicorn's default, 2 s).
            return aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=keepalive, ttl_dns_cache=None),
                timeout=timeout, json_serialize=lambda o: orjson.dumps(o).decode(), trace_configs=[trace],
            )

        self.gate = session(2000, 3.0)
        self.web = session(1000, 3.0)
        self.gateway = session(200, 1.0)
        self.browse = session(64, 3.0)  # browsing clients never queue behind the fans' connections

    async def close(self) -> None:
        for s in (self.gate, self.web, self.gateway, self.browse):
            await s.close()

    async def call(self, session, method: str, url: str, endpoint: str, **kw) -> tuple[int, bytes, Any]:
        start = self.rec.now()
        ctx = {"waited": 0.0}
        t = time.perf_counter()
        try:
            async with session.request(method, url, trace_request_ctx=ctx, **kw) as r:
                body = await r.read()
                status, headers = r.status, r.headers
        except (self.aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.rec.transport_errors[(endpoint, type(exc).__name__)] += 1
            raise Transport(f"{endpoint}: {type(exc).__name__}: {exc}") from exc
        self.rec.add(endpoint, start, time.perf_counter() - t, ctx["waited"], status, body)
        return status, body, headers


def retry_after(headers: Any, default: float = 2.0) -> float:
    try:
        return max(0.2, float(headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default


# ---------------------------------------------------------------------------------------------- the fans


class SeatIndex:
    """The show's layout as every fan's client draws it (the same for everyone, so built once): seat ids
    in layout order, and the runs of adjacent seats (same row, consecutive x: an aisle ends a run)."""

    def __init__(self, seats: list[dict[str, Any]]) -> None:
        self.seat_ids = [s["seatId"] for s in seats]
        self.positions = {sid: i for i, sid in enumerate(self.seat_ids)}
        self.size = len(seats)
        rows: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for i, s in enumerate(seats):
            rows[(s["section"], s["row"])].append((s["x"], i))
        order: list[int] = []  # layout positions run after run, ``size`` (a separator) between runs
        for row in rows.values():
            row.sort()
            for k, (x, i) in enumerate(row):
                if k and x != row[k - 1][0] + 1:
                    order.append(self.size)
                order.append(i)
            order.append(self.size)
        self.order = order
        self._gather = operator.itemgetter(*order)
        self._patterns = {n: re.compile(b"(?=A{%d})" % n) for n in range(1, 9)}

    def blocks(self, codes: bytearray, n: int) -> list[int]:
        """Where blocks of ``n`` adjacent available seats start, as indexes into ``order``."""
        in_runs = bytes(self._gather(codes))
        return [m.start() for m in self._patterns[n].finditer(in_runs)]


class Layout:
    """A fan's view of the seat map: one status letter per seat (A, H, B) in layout order, and a
    separator at the end that the run order points at between runs."""

    def __init__(self, index: SeatIndex, letters: bytes) -> None:
        self.index = index
        self.codes = bytearray(letters) + b"|"

    def refresh(self, letters: str) -> None:
        if len(letters) == self.index.size:
            self.codes[: self.index.size] = letters.encode()

    def mark(self, seat_ids: list[str]) -> None:
        positions = self.index.positions
        for sid in seat_ids:
            if sid in positions:
                self.codes[positions[sid]] = ord("H")

    def pick(self, n: int, rng: random.Random) -> list[str] | None:
        """A random block of ``n`` adjacent available seats, or None."""
        starts = self.index.blocks(self.codes, n)
        if not starts:
            return None
        j = rng.choice(starts)
        return [self.index.seat_ids[i] for i in self.index.order[j:j + n]]

    def available(self) -> int:
        return self.codes.count(b"A")

    def sold_out(self) -> bool:
        return self.codes.count(b"B") == self.index.size


PERSONAS = (("pay", 70), ("abandon", 10), ("release", 10), ("declined-then-pay", 10))
SEAT_COUNTS = ((1, 15), (2, 45), (3, 15), (4, 25))


def weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


class Simulation:
    def __init__(self, params: Params, ports: Ports, sale: Sale, rec: Recorder) -> None:
        self.p = params
        self.ports = ports
        self.sale = sale
        self.rec = rec
        self.rng = random.Random(params.seed)
        self.sold_out = asyncio.Event()
        self.joined = 0
        self.last_join_at = 0.0
        self.all_joined = asyncio.Event()
        self.phase: Counter[str] = Counter()  # fans per phase right now
        self.fan_tasks: list[asyncio.Task] = []
        self.seat_index: SeatIndex | None = None
        self.cpu_timeline: list[tuple[float, dict[str, float]]] = []
        self.stack: Stack | None = None
        self.loadgen_pids: dict[str, int] = {}
        self.loop_lag: list[float] = []
        self.stalls: list[tuple[float, float]] = []  # (when, how long) the event loop did not run
        self.timeline: list[dict[str, Any]] = []
        self.opens_mono: float | None = None  # recorder time of the opening
        self.sold_out_at: float | None = None
        self.retimed = 0
        self.late_retime = False
        self.stuck: str | None = None
        self.fan_errors: list[BaseException] = []
        self.joins_start = 0.0

    # ------------------------------------------------------------ fans

    def _set_phase(self, old: str | None, new: str | None) -> None:
        if old:
            self.phase[old] -= 1
        if new:
            self.phase[new] += 1

    async def fan(self, index: int, token: str, arrive_at: float) -> None:
        rng = random.Random(self.rng.random())
        auth = {"Authorization": f"Bearer {token}"}
        await asyncio.sleep(max(0.0, arrive_at - self.rec.now()))
        phase = "joining"
        self._set_phase(None, phase)
        try:
            ticket = await self._join(auth)
            self.joined += 1
            self.last_join_at = self.rec.now()
            if self.joined == self.p.fans:
                self.all_joined.set()
            self._set_phase(phase, phase := "waiting")
            admitted = await self._wait_turn(ticket, rng)
            if admitted is None:
                return
            self._set_phase(phase, phase := "shopping")
            await self._shop(auth, admitted, rng)
        finally:
            self._set_phase(phase, None)

    async def _join(self, auth: dict[str, str]) -> str:
        from_gate = self.ports.front_gate
        while True:
            try:
                status, body, headers = await self.client.call(
                    self.client.gate, "POST", f"{from_gate}/gate/v1/queues/{self.sale.event_id}/join", "join", headers=auth)
            except Transport:
                await asyncio.sleep(1.0)
                continue
            if status in (200, 201):
                return orjson.loads(body)["ticket"]
            if status in (429, 503):
                await asyncio.sleep(retry_after(headers))
                continue
            raise RuntimeError(f"join answered {status}: {body[:200]!r}")

    async def _wait_turn(self, ticket: str, rng: random.Random) -> tuple[str, float] | None:
        from queue_gate.pages import poll_delay

        url = f"{self.ports.front_gate}/gate/v1/queues/{self.sale.event_id}/status?ticket={ticket}"
        while not self.sold_out.is_set():
            degraded = False
            try:
                status, body, headers = await self.client.call(self.client.gate, "GET", url, "status")
            except Transport:
                status, body, headers = 0, b"", {}
            if status == 200:
                info = orjson.loads(body)
                if info["state"] == "ADMITTED":
                    self.rec.mark("admitted")
                    return info["admissionToken"], float(info["admissionExpiresAt"])
                if info["state"] == "EXPIRED":
                    self.rec.mark("admission expired before use")
                    return None
                delay = poll_delay("WAITING", info.get("estimatedWaitSeconds"), False, drawn=info.get("position") is not None)
            else:
                degraded = True
                delay = poll_delay("WAITING", None, degraded)
            if self.p.min_poll:
                delay = max(delay, self.p.min_poll * rng.uniform(0.8, 1.3))
            await asyncio.sleep(delay)
        self.rec.mark("left the queue: sold out")
        return None

    async def _seatmap(self, rng: random.Random) -> Layout | None:
        url = f"{self.ports.front_web}/api/v1/shows/{self.sale.show_id}/seatmap"
        for _ in range(10):
            try:
                status, body, headers = await self.client.call(self.client.web, "GET", url, "seatmap")
            except Transport:
                await asyncio.sleep(1.0)
                continue
            if status == 200:
                seats = orjson.loads(body)["seats"]
                if self.seat_index is None or self.seat_index.size != len(seats):
                    self.seat_index = SeatIndex(seats)
                return Layout(self.seat_index, bytes(ord(s["status"][0]) for s in seats))
            await asyncio.sleep(retry_after(headers))
        return None

    async def _refresh(self, layout: Layout) -> None:
        url = f"{self.ports.front_web}/api/v1/shows/{self.sale.show_id}/seatmap?format=compact"
        try:
            status, body, _ = await self.client.call(self.client.web, "GET", url, "seatmap-refresh")
        except Transport:
            return
        if status == 200:
            layout.refresh(orjson.loads(body)["status"])  # seatIds come in the layout order the index has

    async def _shop(self, auth: dict[str, str], admitted: tuple[str, float], rng: random.Random) -> None:
        token, session_ends = admitted
        layout = await self._seatmap(rng)
        if layout is None:
            self.rec.mark("gave up: no seat map")
            return
        want = weighted(rng, SEAT_COUNTS)
        persona = weighted(rng, PERSONAS)
        hold = None
        failures = 0
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # looking at the map
        hold_url = f"{self.ports.front_web}/api/v1/shows/{self.sale.show_id}/holds"
        headers = {**auth, "X-Admission-Token": token}
        while hold is None:
            if self.sold_out.is_set() or layout.sold_out():
                self.rec.mark("saw it sold out")
                return
            if time.time() >= session_ends - 1:
                self.rec.mark("session ended without a hold")
                return
            seats = layout.pick(want, rng)
            if seats is None and want > 1 and layout.available() > 0:
                want = min(want - 1, max(1, layout.available()))
                continue
            if seats is None:
                # Everything left is held by someone else; held seats come back when holds end.
                await asyncio.sleep(rng.uniform(1.5, 3.0))
                await self._refresh(layout)
                continue
            try:
                status, body, h = await self.client.call(self.client.web, "POST", hold_url, "hold",
                                                         headers=headers, json={"seatIds": seats})
            except Transport:
                await asyncio.sleep(1.0)
                continue
            self.rec.counts["hold attempts"] += 1
            if status == 201:
                hold = orjson.loads(body)
                self.rec.mark("holds")
                self.rec.counts["seats held"] += len(seats)
                break
            if status == 409:
                failures += 1
                layout.mark(orjson.loads(body)["error"].get("seatIds") or seats)
                if failures % 2 == 0:
                    await self._refresh(layout)
                if failures >= 3 and want > 1:
                    want -= 1  # settles for fewer seats together
                await asyncio.sleep(rng.uniform(0.2, 0.8))
                continue
            if status == 403:
                self.rec.mark("admission refused at hold")
                return
            if status in (429, 503) or (status == 422 and orjson.loads(body)["error"]["code"] == "SALE_CLOSED"):
                await asyncio.sleep(retry_after(h, 1.0))  # 422 only on the opening's edge
                continue
            raise RuntimeError(f"hold answered {status}: {body[:300]!r}")
        await self._after_hold(auth, hold, persona, rng)

    async def _after_hold(self, auth: dict[str, str], hold: dict[str, Any], persona: str, rng: random.Random) -> None:
        hold_id = hold["holdId"]
        web = self.ports.front_web
        if persona == "abandon":
            self.rec.mark("abandoned")  # closes the tab; the hold lapses
            return
        if persona == "release":
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            status, body, _ = await self._retrying("DELETE", f"{web}/api/v1/holds/{hold_id}", "release", auth)
            if status != 200:
                raise RuntimeError(f"release answered {status}: {body[:300]!r}")
            self.rec.mark("released")
            return
        await asyncio.sleep(rng.uniform(2.0, 5.0))  # card details
        status, body, _ = await self._retrying("POST", f"{web}/api/v1/holds/{hold_id}/payment-intents", "payment-intent",
                                               auth)
        if status != 201:
            self.rec.mark(f"payment-intent {status}")
            return
        intent = orjson.loads(body)["paymentIntentId"]
        if persona == "declined-then-pay":
            status = await self._pay_at_gateway(intent, "pm_card_chargeDeclined")
            if status == 400:
                return
            if status != 402:
                raise RuntimeError(f"a declined card answered {status} at the gateway")
            self.rec.mark("declined")
            await asyncio.sleep(rng.uniform(1.0, 3.0))  # another card
        status = await self._pay_at_gateway(intent, "pm_card_visa")
        if status == 400:
            return
        if status != 200:
            raise RuntimeError(f"paying at the gateway answered {status}")
        for attempt in range(60):
            status, body, h = await self._retrying("POST", f"{web}/api/v1/holds/{hold_id}/confirm", "confirm", auth,
                                                   json={"paymentIntentId": intent})
            if status in (200, 201):
                self.rec.mark("booked")
                self.rec.counts["seats booked (fans)"] += len(hold["seatIds"])
                return
            if status == 402:
                await asyncio.sleep(0.5)
                continue
            if status == 409:
                self.rec.mark("hold expired before payment (refunded)")
                return
            raise RuntimeError(f"confirm answered {status}: {body[:300]!r}")
        self.rec.mark("confirm never completed")

    async def _pay_at_gateway(self, intent: str, card: str) -> int:
        url = f"{self.ports.gateway_url}/v1/payment_intents/{intent}/confirm"
        status, body, _ = await self._retrying("POST", url, "gateway-confirm", GATEWAY_AUTH, session=self.client.gateway,
                                               data={"payment_method": card})
        if status == 400:
            # The hold's time ran out before the fan paid: Seatline cancelled the intent at the gateway
            # (a lapsed hold's payment is settled there first), so the card is refused. Anything else is a bug.
            if orjson.loads(body)["error"].get("code") != "payment_intent_unexpected_state":
                raise RuntimeError(f"paying at the gateway answered 400: {body[:300]!r}")
            self.rec.mark("hold lapsed before the card was confirmed (intent cancelled)")
        return status

    async def _retrying(self, method: str, url: str, endpoint: str, headers: dict[str, str] | None, session=None,
                        **kw) -> tuple[int, bytes, Any]:
        """Like a browser: a transport error or a 503 with Retry-After is tried again (every one is counted)."""
        session = session or self.client.web
        sent = headers
        for attempt in range(10):
            try:
                status, body, headers = await self.client.call(session, method, url, endpoint, headers=sent, **kw)
            except Transport:
                await asyncio.sleep(1.0)
                continue
            if status in (429, 503):
                await asyncio.sleep(retry_after(headers))
                continue
            return status, body, headers
        raise RuntimeError(f"{endpoint}: no answer after 10 tries")

    # ------------------------------------------------------------ browsing

    # ------------------------------------------------------------ watching

    async def lag_monitor(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.1)
            lag = time.perf_counter() - t - 0.1
            self.loop_lag.append(lag)
            if lag > 0.2:
                self.stalls.append((self.rec.now() - lag, lag))

    def sampler(self, stop: threading.Event) -> None:
        """Once a second: the show's seats from Postgres, the waiting room from Redis, CPU from /proc."""
        r = redis.Redis.from_url(REDIS_URL)
        meta = f"gate:{self.sale.event_id}:"
        with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
            while not stop.is_set():
                t = self.rec.now()
                self.cpu_timeline.append((t, cpu_snapshot(self.stack, self.loadgen_pids)))
                booked, held, paying, total = c.execute(
                    """
                    SELECT count(*) FILTER (WHERE status = 'BOOKED'),
                           count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > now()),
                           count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at = 'infinity'),
                           count(*)
                    FROM show_seats WHERE show_id = %s
                    """, (self.sale.show_id,)).fetchone()
                admitted, serving = r.hmget(meta + "meta", "admitted_total", "serving")
                active = r.zcount(meta + "active", time.time(), "+inf")
                self.timeline.append({
                    "t": t, "booked": booked, "held": held, "paying": paying, "total": total,
                    "admitted": int(admitted or 0), "serving": int(serving or 0), "active": active,
                    "joined": self.joined, "holds": self.rec.counts["holds"], "waiting": self.phase["waiting"],
                    "shopping": self.phase["shopping"],
                })
                if booked == total and total and self.sold_out_at is None:
                    self.sold_out_at = t
                    self._loop.call_soon_threadsafe(self.sold_out.set)
                stop.wait(max(0.0, 1.0 - (self.rec.now() - t)))

    # ------------------------------------------------------------ the run

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client = Client(self.rec, self.ports)
        stop_sampler = threading.Event()
        sampler = threading.Thread(target=self.sampler, args=(stop_sampler,), daemon=True)
        lag = asyncio.create_task(self.lag_monitor())
        try:
            sampler.start()
            print(f"    browsing baseline for 10 s ({self.p.browsers} clients, one visit a second each)")
            await asyncio.sleep(10.0)
            self.joins_start = self.rec.now()
            arrivals = sorted(self.rng.uniform(0, self.p.join_window) for _ in range(self.p.fans))
            tokens = list(self.sale.fan_tokens)
            self.rng.shuffle(tokens)
            opens_at = datetime.now(timezone.utc) + timedelta(seconds=self.p.join_window + self.p.opens_after)
            open_waiting_room(self.ports, self.sale, self.p, opens_at, self.rec)
            self._note_opening(opens_at)
            print(f"    {self.p.fans} fans arriving over {self.p.join_window:.0f} s; sale opens at "
                  f"{opens_at.astimezone(ZoneInfo(CITY_TZ)).strftime('%H:%M:%S')} {CITY_TZ}")
            self.fan_tasks = [asyncio.create_task(self.fan(i, tok, self.joins_start + at))
                              for i, (tok, at) in enumerate(zip(tokens, arrivals))]
            for task in self.fan_tasks:
                task.add_done_callback(self._fan_done)
            await self._make_sure_everyone_joins_first()
            print(f"    all {self.joined} fans joined {self.last_join_at - self.joins_start:.1f} s after the first; "
                  f"sale opens {self.opens_mono - self.last_join_at:.1f} s after the last")
            await self._until_sold_out()
            # Fans in the middle of buying finish; those still in the queue then leave.
            await self._finish_fans()
            await asyncio.sleep(10.0)  # browsing goes on a little after the sale
        finally:
            for t in self.fan_tasks:
                t.cancel()
            await asyncio.gather(*self.fan_tasks, return_exceptions=True)
            lag.cancel()
            stop_sampler.set()
            sampler.join(5)
            await self.client.close()


    def _fan_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.fan_errors.append(task.exception())

    def _note_opening(self, opens_at: datetime) -> None:
        self.opens_mono = self.rec.now() + (opens_at - datetime.now(timezone.utc)).total_seconds()

    async def _make_sure_everyone_joins_first(self) -> None:
        """Every fan joins before the opening: while joins are still coming in 15 s before it, the manager
        moves the opening back, to --opens-after seconds after the joins will have ended at their pace."""
        while True:
            deadline = self.opens_mono - 15.0
            while not self.all_joined.is_set() and self.rec.now() < deadline:
                if self.fan_errors:
                    raise RuntimeError(f"a fan failed while joining: {self.fan_errors[0]!r}")
                try:
                    await asyncio.wait_for(self.all_joined.wait(), timeout=min(1.0, max(0.05, deadline - self.rec.now())))
                except asyncio.TimeoutError:
                    pass
            if self.all_joined.is_set():
                break
            elapsed = self.rec.now() - self.joins_start
            rest = (self.p.fans - self.joined) / max(self.joined / max(elapsed, 1e-3), 1.0)
            later = datetime.now(timezone.utc) + timedelta(seconds=min(rest, 120.0) + self.p.opens_after + 5.0)
            old = self.opens_mono
            await asyncio.to_thread(open_waiting_room, self.ports, self.sale, self.p, later, self.rec)
            if self.rec.now() > old:
                self.late_retime = True  # the old opening passed while the manager's call was on its way
            self._note_opening(later)
            self.retimed += 1
            print(f"    {self.joined} of {self.p.fans} joined 15 s before the opening: opening moved back to "
                  f"{later.astimezone(ZoneInfo(CITY_TZ)).strftime('%H:%M:%S')}")
        await asyncio.sleep(max(0.0, self.opens_mono - self.rec.now()))

    async def _until_sold_out(self) -> None:
        print("    sale open")
        deadline = self.opens_mono + self.p.max_sale_seconds
        last_report = self.rec.now()
        while not self.sold_out.is_set():
            if self.fan_errors:
                raise RuntimeError(f"a fan failed: {self.fan_errors[0]!r}")
            if self.rec.now() > deadline:
                self.stuck = f"not sold out {self.p.max_sale_seconds:.0f} s after the opening"
                return
            if all(t.done() for t in self.fan_tasks):
                self.stuck = "every fan has finished and the show is not sold out"
                return
            if self.rec.now() - last_report >= 15 and self.timeline:
                s = self.timeline[-1]
                print(f"    t={s['t'] - self.opens_mono:5.0f} s  booked {s['booked']:5d}  held {s['held']:4d} "
                      f"(paying {s['paying']:3d})  admitted {s['admitted']:5d}  waiting {s['waiting']:5d}  "
                      f"shopping {s['shopping']:4d}")
                last_report = self.rec.now()
            try:
                await asyncio.wait_for(self.sold_out.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
        self.stuck = None
        print(f"    sold out {self.sold_out_at - self.opens_mono:.1f} s after the opening")

    async def _finish_fans(self) -> None:
        """Fans who are mid-purchase get up to 60 s to finish; fans still in the queue just leave."""
        deadline = self.rec.now() + 60
        while self.rec.now() < deadline:
            if not any(not t.done() for t in self.fan_tasks) or self.phase["shopping"] <= 0:
                break
            await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------------------------- browsing


class Browsing:
    """The browsing clients, in a process of their own: the fans' event loop gets busy (and on two
    cores shared with every server, starved), and that must not show up as browsing latency."""

    def __init__(self, params: Params, ports: Ports, sale: Sale, t0: float) -> None:
        ctx = multiprocessing.get_context("fork")  # forked before any thread or event loop exists here
        self._stop = ctx.Event()
        self._results, sender = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_browse_process, daemon=True, args=(
            params.browsers, ports, sale.city_id, sale.date, sale.show_id, t0, params.seed, self._stop, sender))

    def start(self) -> None:
        self.proc.start()

    def finish(self, rec: Recorder) -> dict[str, Any]:
        """Stops the clients and merges what they measured into ``rec``."""
        self._stop.set()
        if not self._results.poll(60):
            self.proc.kill()
            raise RuntimeError("the browsing process did not report")
        data = self._results.recv()
        self.proc.join(10)
        rec.samples.update(data["samples"])
        rec.statuses.update(data["statuses"])
        rec.transport_errors.update(data["transport_errors"])
        rec.server_errors.extend(data["server_errors"])
        return data

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def _browse_process(n: int, ports: Ports, city_id: int, date: str, show_id: int, t0: float, seed: int | None,
                    stop, sender) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops this process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rec = Recorder()
    rec.t0 = t0
    lags: list[float] = []

    async def browser(client: Client, rng: random.Random) -> None:
        web = ports.front_web
        await asyncio.sleep(rng.uniform(0, 1.0))
        next_at = rec.now()
        while True:
            try:
                status, body, _ = await client.call(
                    client.browse, "GET", f"{web}/api/v1/cities/{city_id}/shows?date={date}", "browse-listing")
                shows = orjson.loads(body)["shows"] if status == 200 else []
                show = rng.choice(shows)["showId"] if shows else str(show_id)
                await client.call(client.browse, "GET", f"{web}/api/v1/shows/{show}", "browse-show")
                await client.call(client.browse, "GET", f"{web}/api/v1/shows/{show}/seatmap", "browse-seatmap")
            except Transport:
                pass
            next_at += 1.0  # one visit a second, whatever the last one cost
            await asyncio.sleep(max(0.0, next_at - rec.now()))

    async def main() -> None:
        client = Client(rec, ports)
        rng = random.Random(seed)
        tasks = [asyncio.create_task(browser(client, random.Random(rng.random()))) for _ in range(n)]
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.1)
            lags.append(time.perf_counter() - t - 0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()

    asyncio.run(main())
    sender.send({"samples": dict(rec.samples), "statuses": rec.statuses, "transport_errors": rec.transport_errors,
                 "server_errors": rec.server_errors, "lag": lags})


# ---------------------------------------------------------------------------------------------- checking


def drain(ports: Ports, stack: Stack, timeout: float = 180.0) -> tuple[bool, dict[str, int]]:
    """Waits until nothing is left to do: webhooks delivered and processed, refunds and emails done,
    no payment in flight."""
    deadline = time.monotonic() + timeout
    left: dict[str, int] = {}
    with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
        while time.monotonic() < deadline:
            stack.check_alive()
            row = c.execute(
                """
                SELECT (SELECT count(*) FROM webhook_events WHERE processed_at IS NULL),
                       (SELECT count(*) FROM refunds WHERE status = 'PENDING'),
                       (SELECT count(*) FROM notifications WHERE status = 'PENDING'),
                       (SELECT count(*) FROM holds WHERE status = 'ACTIVE' AND payment_started_at IS NOT NULL)
                """).fetchone()
            events = requests.get(f"{ports.gateway_url}/_sim/events", timeout=30).json()["data"]
            undelivered = sum(1 for e in events if e["status"] in ("pending", "held"))
            left = {"webhook events unprocessed": row[0], "refunds pending": row[1], "notifications pending": row[2],
                    "holds with a payment in flight": row[3], "webhooks not yet delivered": undelivered}
            if not any(left.values()):
                return True, left
            time.sleep(1.0)
    return False, left


def sale_fans(sim: Simulation) -> int:
    return sim.p.fans


def gateway_intents(ports: Ports) -> list[dict[str, Any]]:
    data = requests.get(f"{ports.gateway_url}/_sim/payment_intents", timeout=60).json()["data"]
    return [{**i, "refund_count": len(i.get("refunds") or [])} for i in data]


def check(app, ports: Ports, sale: Sale, sim: Simulation, drained: bool, left: dict[str, int]) -> tuple[list, dict]:
    from app.booking.invariants import money_invariant_violations
    from app.unit_of_work import unit_of_work

    intents = gateway_intents(ports)
    with app.app_context():
        with unit_of_work() as uow:
            violations = money_invariant_violations(uow, intents)
            uow.rollback()
        with unit_of_work() as uow:
            seats = uow.execute(
                "SELECT count(*) FILTER (WHERE status = 'BOOKED') AS booked, count(*) AS total, "
                "count(*) FILTER (WHERE status = 'HELD') AS held FROM show_seats WHERE show_id = :s",
                {"s": sale.show_id}).one()
            booked_by = uow.execute(
                "SELECT s.seat_id, count(*) AS n FROM bookings b CROSS JOIN LATERAL unnest(b.seat_ids) AS s(seat_id) "
                "WHERE b.show_id = :s AND b.status = 'CONFIRMED' GROUP BY s.seat_id", {"s": sale.show_id}).all()
            facts = uow.execute(
                """
                SELECT (SELECT count(*) FROM bookings WHERE show_id = :s AND status = 'CONFIRMED') AS bookings,
                       (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM bookings
                          WHERE show_id = :s AND status = 'CONFIRMED') AS booked_seats,
                       (SELECT count(*) FROM holds WHERE show_id = :s) AS holds,
                       (SELECT count(*) FROM holds WHERE show_id = :s AND status = 'EXPIRED') AS expired,
                       (SELECT count(*) FROM holds WHERE show_id = :s AND status = 'RELEASED') AS released,
                       (SELECT count(*) FROM refunds) AS refunds,
                       (SELECT count(*) FROM notifications WHERE status = 'SENT' AND channel = 'email') AS emails,
                       (SELECT extract(epoch FROM max(b.created_at - s.sale_opens_at)) FROM bookings b
                          JOIN shows s ON s.id = b.show_id WHERE b.show_id = :s AND b.status = 'CONFIRMED') AS last_booking,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e) AS tickets,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e AND NOT prequeue) AS joined_late,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e AND admitted_at IS NOT NULL) AS admitted,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e AND admitted_at <=
                          (SELECT max(created_at) FROM bookings WHERE show_id = :s AND status = 'CONFIRMED'))
                          AS admitted_before_sellout,
                       (SELECT extract(epoch FROM max(admitted_at) - min(admitted_at)) FROM gate_tickets
                          WHERE event_id = :e) AS admitting_span
                """, {"s": sale.show_id, "e": sale.event_id}).one()._asdict()
            stuck_seats = uow.execute(
                """
                SELECT ss.seat_id, ss.status, ss.hold_expires_at, h.status AS hold_status, h.payment_intent_id,
                       p.status AS payment_status
                FROM show_seats ss LEFT JOIN holds h ON h.id = ss.hold_id
                LEFT JOIN payments p ON p.payment_intent_id = h.payment_intent_id
                WHERE ss.show_id = :s AND ss.status <> 'BOOKED' ORDER BY ss.seat_id LIMIT 10
                """, {"s": sale.show_id}).all()
    facts = {k: float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v for k, v in facts.items()}
    once = {r.seat_id for r in booked_by if r.n == 1}
    twice = [r.seat_id for r in booked_by if r.n > 1]
    missing = sorted(set(sale.seat_ids) - {r.seat_id for r in booked_by})
    server_errors = sum(n for (ep, st), n in sim.rec.statuses.items() if st >= 500)
    transport = sum(sim.rec.transport_errors.values())
    intent_states = Counter(i["status"] for i in intents)
    facts.update(intents=len(intents), intent_states=dict(intent_states),
                 refunded=sum(1 for i in intents if i.get("amount_refunded")), stuck_seats=[tuple(r) for r in stuck_seats])
    checks = [
        ("every fan joined before the opening (the lottery's pre-queue)",
         facts["tickets"] == sale_fans(sim) and facts["joined_late"] == 0,
         f"{facts['tickets']} tickets, {facts['joined_late']} joined after the opening"),
        ("the sale sold out", sim.stuck is None and seats.booked == seats.total,
         sim.stuck or f"{seats.booked} of {seats.total} seats booked"),
        ("workers drained", drained, ", ".join(f"{k} {v}" for k, v in left.items() if v) or "nothing left"),
        ("money and seat invariants", not violations, json.dumps(violations, default=str)[:2000] or "{}"),
        (f"every seat BOOKED ({sale and len(sale.seat_ids)})", seats.booked == len(sale.seat_ids),
         f"{seats.booked} BOOKED, {seats.held} HELD"),
        ("every seat in exactly one confirmed booking", len(once) == len(sale.seat_ids) and not twice and not missing,
         f"{len(once)} once, {len(twice)} more than once {twice[:5]}, {len(missing)} in none {missing[:5]}"),
        ("no 5xx seen by any client", server_errors == 0, f"{server_errors} responses"),
        ("no transport error or timeout", transport == 0, f"{transport} errors"),
        flatness_check(sim),
        ("no fan hit an unexpected answer", not sim.fan_errors,
         "; ".join(repr(e)[:200] for e in sim.fan_errors[:3]) or "none"),
    ]
    return checks, facts


# ---------------------------------------------------------------------------------------------- reporting


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def ms(x: float) -> str:
    return "-" if x != x else f"{x * 1000:.0f}" if x >= 0.0995 else f"{x * 1000:.1f}"


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    with psycopg.connect(f"{PG} dbname=postgres") as c:
        pg = c.execute("SHOW server_version").fetchone()[0]
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal")) / 1024 / 1024
    return {"uname": " ".join(platform.uname()), "cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{mem:.1f} GiB",
            "python": platform.python_version(), "postgres": pg, "redis": redis.Redis().info("server")["redis_version"]}


def report(params: Params, sim: Simulation, checks: list, facts: dict, cpu: dict[str, float], wall: float,
           sale: Sale) -> str:
    rec, opens = sim.rec, sim.opens_mono
    out: list[str] = []
    w = out.append
    sold = facts["last_booking"] if sim.stuck is None else None
    holds_ok, attempts = rec.counts["holds"], rec.counts["hold attempts"]
    cores = os.cpu_count() or 1
    admitted_ts = [(x["t"], x["admitted"]) for x in sim.timeline]
    peak, j = 0, 0
    for i, (t1, b) in enumerate(admitted_ts):  # the most admitted within any 60 s
        while admitted_ts[j][0] < t1 - 60:
            j += 1
        peak = max(peak, b - admitted_ts[j][1])

    def row(name: str, value: str) -> None:
        w(f"  {name:<42}{value}")

    w(f"Sale: {len(sale.seat_ids)} seats, {params.fans} fans")
    row("set-up", f"web {params.web_workers or 2 * cores} gunicorn workers x {params.web_threads} threads, gate "
        f"{2 * cores} x 4; waiting room batch {params.batch} every {params.interval:g} s, cap {params.cap}, "
        f"session {params.session} s; holds last {params.hold_ttl} s")
    row("clients reach web and gate", "through the nginx edge (scripts/edge.sh, as `make run`)" if params.edge
        else "directly, without the edge (a comparison)")
    row("load generators", f"fans at nice {LOADGEN_NICE} (they yield to the servers), browsing clients at normal priority")
    row("fans poll the waiting room", f"no more often than every {params.min_poll:g} s (an experiment)"
        if params.min_poll else "as its own page does (queue_gate.pages.poll_delay)")
    row("joins", f"{params.fans} in {sim.last_join_at - sim.joins_start:.1f} s; the sale opened "
        f"{opens - sim.last_join_at:.1f} s after the last"
        + (f" (opening moved back {sim.retimed}x: joins ran late)" if sim.retimed else "")
        + (" BUT the old opening passed before the manager's call got through" if sim.late_retime else ""))
    row("time from opening to sold out", f"{sold:.1f} s (the last booking)" if sold is not None
        else f"NOT SOLD OUT: {sim.stuck}")
    if sold:
        row("admission rate", f"{facts['admitted_before_sellout'] / (sold / 60):.0f} fans/min "
            f"({facts['admitted_before_sellout']} admitted before the sell-out; best minute {peak})")
    row("admitted / collected their token", f"{facts['admitted']} / {rec.counts['admitted']}")
    row("hold attempts / successes / success rate", f"{attempts} / {holds_ok} / "
        f"{(holds_ok / attempts * 100) if attempts else 0:.1f} %  ({rec.counts['seats held']} seats held)")
    row("bookings (seats)", f"{facts['bookings']} ({facts['booked_seats']})")
    row("declined, then paid", str(rec.counts["declined"]))
    row("holds abandoned / released", f"{rec.counts['abandoned']} / {rec.counts['released']} (server: "
        f"{facts['expired']} expired, {facts['released']} released)")
    row("hold lapsed before the card was paid",
        f"{rec.counts['hold lapsed before the card was confirmed (intent cancelled)']} (the intent was cancelled at "
        f"the gateway; {rec.counts['hold expired before payment (refunded)']} confirmed too late and were refunded)")
    row("shoppers who got no seat", f"{rec.counts['session ended without a hold']} ran out of session time, "
        f"{rec.counts['saw it sold out']} were shopping at the sell-out")
    row("fans still queueing at the sell-out", str(params.fans - facts["admitted"]))
    row("gateway", f"{facts['intents']} intents {facts['intent_states']}, {facts['refunded']} refunded; "
        f"{facts['emails']} confirmation emails sent")
    w("  every fan outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(rec.counts.items())))
    w("")
    w("Latency per endpoint (ms, measured by the clients)")
    w(f"  {'endpoint':<17}{'requests':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'queued p95':>11}  answers")
    for ep in ENDPOINTS:
        series = rec.samples.get(ep)
        if not series:
            continue
        lat = sorted(series.latency)
        answers = " ".join(f"{st}:{n}" for (e, st), n in sorted(rec.statuses.items()) if e == ep)
        w(f"  {ep:<17}{len(lat):>9}{ms(pct(lat, .5)):>8}{ms(pct(lat, .95)):>8}{ms(pct(lat, .99)):>8}"
          f"{ms(lat[-1]):>8}{ms(pct(sorted(series.queued), .95)):>11}  {answers}")
    w("  (queued: the part of the latency spent waiting for a connection inside the load generator's pool)")
    errors = ", ".join(f"{ep} {kind} x{n}" for (ep, kind), n in rec.transport_errors.items())
    w(f"  transport errors: {errors or 'none'}")
    w("")
    w("Browsing latency per 10-s window (ms; t = seconds from the opening; every browse request: listing, show, seat map)")
    w(f"  {'window':<14}{'phase':<10}{'req':>6}{'p50':>8}{'p95':>8}{'max':>8}   listing p95  show p95  seatmap p95"
      f"   gate req/s")
    for row in browse_windows(sim):
        w(f"  {row['label']:<14}{row['phase']:<10}{row['n']:>6}{ms(row['p50']):>8}{ms(row['p95']):>8}{ms(row['max']):>8}"
          f"   {ms(row['eps']['browse-listing']):>11}{ms(row['eps']['browse-show']):>10}{ms(row['eps']['browse-seatmap']):>13}"
          f"   {row['gate_rps']:>10.0f}")
    w("  (gate req/s: the fans' join and status requests started in that window)")
    flat = browse_flatness(sim)
    w(f"  baseline p95 {ms(flat['baseline'])} ms; worst window during the sale p95 {ms(flat['worst'])} ms "
      f"({flat['ratio']:.1f}x)")
    w("")
    lag = sorted(sim.loop_lag)
    w(f"CPU during the run ({wall:.0f} s of wall time, {os.cpu_count()} cores)")
    for name, seconds in cpu.items():
        w(f"  {name:<28}{seconds:>8.1f} s  {seconds / wall * 100:>5.0f} % of one core")
    w("")
    w("CPU per 10-s window (% of one core; 200 % is the whole machine) next to browsing p95")
    cols = ["loadgen fans", "edge", "gate", "web", "browse", "worker-1", "worker-2", "gateway", "postgres", "redis", "machine"]
    w(f"  {'window':<14}" + "".join(f"{c.replace('loadgen ', 'lg-'):>10}" for c in cols) + f"{'browse p95':>12}")
    p95 = {r["k"]: r["p95"] for r in browse_windows(sim)}
    for k, row in cpu_windows(sim, cols):
        w(f"  {f'{k * WINDOW:+.0f}..{(k + 1) * WINDOW:+.0f}':<14}" + "".join(f"{row[c]:>10.0f}" for c in cols)
          + f"{ms(p95.get(k, float('nan'))):>12}")
    blag = sorted(getattr(sim, "browse_lag", []) or [0.0])
    w(f"  browsers' event-loop lag: p50 {ms(pct(blag, .5))} ms, p99 {ms(pct(blag, .99))} ms, max {ms(blag[-1])} ms")
    w(f"  fans' event-loop lag: p50 {ms(pct(lag, .5))} ms, p99 {ms(pct(lag, .99))} ms, max {ms(max(lag) if lag else 0)} ms"
      + (f"; stalls over 200 ms: {len(sim.stalls)} (" + ", ".join(f"t={t - opens:+.0f} s {x * 1000:.0f} ms"
                                                              for t, x in sorted(sim.stalls, key=lambda s: -s[1])[:5]) + ")"
         if sim.stalls else ""))
    w("")
    w("Checks")
    for name, ok, detail in checks:
        w(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    if facts["stuck_seats"] and any(not ok for _, ok, _ in checks):
        w(f"  seats not booked (first 10): {facts['stuck_seats']}")
    if rec.server_errors:
        w("  first 5xx answers: " + "; ".join(f"t={t - opens:.1f} {ep} {st} {body[:120]}"
                                             for t, ep, st, body in rec.server_errors[:5]))
    return "\n".join(out)


def _phase(sim: Simulation, t: float) -> str:
    if t < sim.joins_start:
        return "baseline"
    if t < sim.last_join_at:
        return "joining"
    if t < sim.opens_mono:
        return "waiting"
    end = sim.sold_out_at if sim.sold_out_at is not None else float("inf")
    return "sale" if t < end else "after"


def _window(sim: Simulation, start: float) -> int:
    return math.floor((start - sim.opens_mono) / WINDOW)


def browse_windows(sim: Simulation) -> list[dict[str, Any]]:
    by_window: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for ep in BROWSE:
        series = sim.rec.samples.get(ep)
        for start, lat in zip(series.start, series.latency) if series else ():
            by_window[_window(sim, start)][ep].append(lat)
    gate: Counter[int] = Counter()
    for ep in ("join", "status"):
        series = sim.rec.samples.get(ep)
        for start in series.start if series else ():
            gate[_window(sim, start)] += 1
    rows = []
    for k in sorted(by_window):
        eps = by_window[k]
        every = sorted(x for ep in BROWSE for x in eps[ep])
        mid = sim.opens_mono + (k + 0.5) * WINDOW
        rows.append({"k": k, "t": (k + 0.5) * WINDOW, "label": f"{k * WINDOW:+.0f}..{(k + 1) * WINDOW:+.0f}",
                     "phase": _phase(sim, mid), "n": len(every), "p50": pct(every, .5), "p95": pct(every, .95),
                     "max": every[-1], "eps": {ep: pct(sorted(eps[ep]), .95) for ep in BROWSE},
                     "gate_rps": gate[k] / WINDOW})
    return rows


# Browsing is "flat" when no 10-s window of the sale has a p95 above this many times the quiet
# baseline's p95, or the baseline plus this many seconds, whichever is more.
FLAT_FACTOR, FLAT_SLACK = 4.0, 0.100


def flatness_check(sim: Simulation) -> tuple[str, bool, str]:
    flat = browse_flatness(sim)
    limit = max(flat["baseline"] * FLAT_FACTOR, flat["baseline"] + FLAT_SLACK)
    over = [r for r in browse_windows(sim) if r["phase"] == "sale" and r["p95"] > limit]
    return ("browsing latency flat during the sale", not over and flat["worst"] == flat["worst"],
            f"baseline p95 {ms(flat['baseline'])} ms, limit {ms(limit)} ms; worst sale window {ms(flat['worst'])} ms; "
            f"{len(over)} of {sum(1 for r in browse_windows(sim) if r['phase'] == 'sale')} sale windows over the limit")


def cpu_windows(sim: Simulation, cols: list[str]) -> list[tuple[int, dict[str, float]]]:
    """Per 10-s window, each process's CPU as % of one core, from the per-second snapshots."""
    firsts: dict[int, tuple[float, dict[str, float]]] = {}
    for t, snap in sim.cpu_timeline:
        firsts.setdefault(_window(sim, t), (t, snap))
    keys = sorted(firsts)
    rows = []
    for a, b in zip(keys, keys[1:]):
        (t0, s0), (t1, s1) = firsts[a], firsts[b]
        rows.append((a, {c: (s1.get(c, 0.0) - s0.get(c, 0.0)) / max(t1 - t0, 1e-9) * 100 for c in cols}))
    return rows


def browse_flatness(sim: Simulation) -> dict[str, float]:
    rows = browse_windows(sim)
    base = [r["p95"] for r in rows if r["phase"] == "baseline"]
    sale = [r["p95"] for r in rows if r["phase"] == "sale"]
    baseline = min(base) if base else float("nan")
    worst = max(sale) if sale else float("nan")
    return {"baseline": baseline, "worst": worst, "ratio": worst / baseline if base and sale else float("nan")}


def chart(sim: Simulation, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    opens = sim.opens_mono
    tl = sim.timeline
    t = [s["t"] - opens for s in tl]
    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    a1.plot(t, [s["booked"] for s in tl], label="booked", color="tab:green", lw=2)
    a1.plot(t, [s["held"] for s in tl], label="held (in a live hold)", color="tab:orange")
    a1.plot(t, [s["paying"] for s in tl], label="held, payment under way", color="tab:red", lw=1, ls="--")
    a1.plot(t, [s["total"] - s["booked"] - s["held"] for s in tl], label="available", color="tab:blue", lw=1)
    a1.set_ylabel("seats")
    a1.legend(loc="center right")
    a1.set_title(title)
    a2.plot(t, [s["admitted"] for s in tl], label="admitted (cumulative)", color="tab:purple", lw=2)
    a2.plot(t, [s["active"] for s in tl], label="counting against the cap", color="tab:gray")
    a2.plot(t, [s["shopping"] for s in tl], label="admitted fans shopping now", color="tab:brown")
    a2.set_ylabel("fans")
    a2.legend(loc="upper left")
    a2b = a2.twinx()
    a2b.plot(t, [s["waiting"] for s in tl], color="tab:cyan", lw=1, ls=":", label="in the waiting room")
    a2b.set_ylabel("in the waiting room", color="tab:cyan")
    rows = browse_windows(sim)
    a3.step([r["t"] for r in rows], [r["p95"] * 1000 for r in rows], where="mid", label="browse p95 (all)", color="tab:red")
    a3.step([r["t"] for r in rows], [r["p50"] * 1000 for r in rows], where="mid", label="browse p50 (all)", color="tab:blue")
    a3.step([r["t"] for r in rows], [r["eps"]["browse-listing"] * 1000 for r in rows], where="mid",
            label="listing p95", color="tab:olive", lw=1)
    a3.set_ylabel("browse latency, ms per 10-s window")
    a3b = a3.twinx()
    a3b.step([r["t"] for r in rows], [r["gate_rps"] for r in rows], where="mid", color="tab:gray", lw=1, ls=":",
             label="fans' gate requests/s")
    a3b.set_ylabel("gate requests/s (join + status)", color="tab:gray")
    a3b.set_ylim(bottom=0)
    a3.set_xlabel("seconds from the sale's opening")
    a3.set_ylim(bottom=0)
    a3.legend(loc="upper left")
    for ax in (a1, a2, a3):
        ax.axvline(0, color="black", lw=0.8)
        if sim.sold_out_at is not None:
            ax.axvline(sim.sold_out_at - opens, color="tab:green", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(params: Params, text: str, info: dict[str, str], started: datetime, ok: bool, chart_name: str,
                  command: str) -> Path:
    path = params.out_dir / "FLASH_SALE.md"
    body = f"""# Flash-sale simulation: latest run

`{command}` ({'every check passed' if ok else 'SOME CHECKS FAILED'})

- date: {started.strftime('%Y-%m-%d %H:%M:%S %Z')}
- machine: `{info['uname']}`
- CPU: {info['cpu']}, {info['cores']} cores, {info['memory']} memory
- Python {info['python']}, PostgreSQL {info['postgres']}, Redis {info['redis']}
- parameters: {params.fans} fans arriving over {params.join_window:g} s, {params.seats} seats (concert hall),
  sale opening {params.opens_after:g} s after the last join; waiting room batch {params.batch} every
  {params.interval:g} s, at most {params.cap} admitted at once, admission session {params.session} s;
  HOLD_TTL_SECONDS={params.hold_ttl}; fans want 1-4 adjacent seats (15/45/15/25 %); with a hold 70 % pay,
  10 % abandon, 10 % release, 10 % are declined once and then pay; fans poll the waiting room
  {f"no more often than every {params.min_poll:g} s (an experiment)" if params.min_poll else "as its page does"};
  {params.browsers} browsing clients (listing, show, seat map once a second each, in their own process)
- processes, all on this one machine with the load generator: web ({params.web_workers or 2 * os.cpu_count()}
  gunicorn workers x {params.web_threads} threads), {"browse (2 x 4, catalog and seat maps, as the Procfile), " if params.edge else ""}gate ({2 * os.cpu_count()} x 4, gunicorn.conf.py),
  {"the nginx edge in front of them (scripts/edge.sh)" if params.edge else "no edge (clients go straight to gunicorn)"},
  {params.workers} `flask worker`, `flask scheduler`, the gateway simulator, an SMTP sink

![the sale over time]({chart_name})

```text
{text}
```

How to read it: latencies are measured by the simulated clients, from sending a request to having
the whole answer, so they include any queueing in front of the servers; "queued" is the part spent
waiting for one of the load generator's own connections (2,000 to the gate, 1,000 to the web), which
only happens when that many requests are already in flight. The fans' event-loop lag says how much
the load generator itself delayed what it measured. `status` answers come from
the waiting room's own polling policy (`queue_gate.pages.poll_delay`). A 409 on `hold` is a seat taken
by someone else (the fan picks others); a 402 on `confirm` means the gateway's answer had not been
settled yet and is retried; a 402 on `gateway-confirm` is the declined card.
"""
    path.write_text(body)
    return path


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    params = parse_args(argv)
    started = datetime.now().astimezone()
    command = "make flash-sale" if argv is None and not sys.argv[1:] else "python -m bench.flash_sale " + " ".join(
        argv if argv is not None else sys.argv[1:])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    logdir = ROOT / ".run" / "flash-sale"
    logdir.mkdir(parents=True, exist_ok=True)
    for old in logdir.glob("*.log"):
        old.unlink()
    stack = Stack(logdir)
    atexit.register(stack.stop)

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    from queue_gate.keys import jwks, load_keys, new_key_entry

    signing_keys = json.dumps([new_key_entry()])
    ports = Ports() if params.edge else Ports(edge=None)
    env = stack_env(params, ports, secrets.token_urlsafe(48), json.dumps(jwks(load_keys(signing_keys))))
    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "REDIS_URL")})
    try:
        busy0, t0 = _machine_busy()[0], time.monotonic()
        time.sleep(3.0)
        idle_check = (_machine_busy()[0] - busy0) / (time.monotonic() - t0) * 100
        if idle_check > 25:
            print(f"==> WARNING: before anything started, the machine was already {idle_check:.0f} % busy (of "
                  f"{(os.cpu_count() or 1) * 100} %): other work shares the cores and these figures will show it")
        print(f"==> database {DB}, Redis db {REDIS_DB}; logs in {logdir}")
        create_database(env)
        app = make_app(env)
        t = time.monotonic()
        sale = build_sale(app, params)
        print(f"==> {len(sale.seat_ids)} seats, {params.fans} fans with tokens ({time.monotonic() - t:.1f} s); "
              f"waiting room: batch {params.batch} every {params.interval:g} s, cap {params.cap}, "
              f"session {params.session} s, HOLD_TTL_SECONDS={params.hold_ttl}")
        print(f"==> starting web :{ports.web}, gate :{ports.gate}, gateway :{ports.gateway}, smtp :{ports.smtp}, "
              f"{params.workers} workers, scheduler")
        start_stack(stack, params, ports, env, signing_keys)
        rec = Recorder()
        sim = Simulation(params, ports, sale, rec)
        browsing = Browsing(params, ports, sale, rec.t0)
        sim.stack = stack
        print("==> the sale")
        # The cyclic collector walking millions of live objects stalled the event loop for seconds at a
        # time: everything made so far is frozen out of its reach, and it waits until the sale is over.
        gc.collect()
        gc.freeze()
        gc.disable()
        browsing.start()
        # The simulated fans are not part of the system under test but share its two cores: they run
        # at a lower priority (the browsing clients, started just before, keep the normal one), so
        # that what they take from the servers is what is left over, as on a separate machine.
        # Their own event-loop lag (in the report) shows what that costs them.
        os.nice(LOADGEN_NICE)
        sim.loadgen_pids = {"loadgen fans": os.getpid(), "loadgen browsers": browsing.proc.pid}
        cpu0, wall0 = cpu_snapshot(stack, sim.loadgen_pids), time.monotonic()
        try:
            asyncio.run(sim.run())
            cpu1, wall = cpu_snapshot(stack, sim.loadgen_pids), time.monotonic() - wall0
            sim.browse_lag = browsing.finish(rec)["lag"]
        finally:
            browsing.kill()
            gc.enable()
        labels = {"loadgen fans": "load generator: fans", "loadgen browsers": "load generator: browsers",
                  **{name: name for name in stack.procs}, "postgres": "postgres (every database)",
                  "redis": "redis-server (every db)"}
        cpu = {label: cpu1.get(key, 0.0) - cpu0.get(key, 0.0) for key, label in labels.items()}
        machine_cpu = cpu1["machine"] - cpu0["machine"]
        cpu["everything else (kernel, other work)"] = machine_cpu - sum(cpu.values())
        cpu["whole machine"] = machine_cpu
        print("==> letting the workers drain")
        drained, left = drain(ports, stack)
        checks, facts = check(app, ports, sale, sim, drained, left)
        text = report(params, sim, checks, facts, cpu, wall, sale)
        text = f"Machine busy before the run: {idle_check:.0f} % of one core (other work)\n\n" + text
        ok = all(passed for _, passed, _ in checks)
        print()
        print(text)
        if params.write:
            params.out_dir.mkdir(parents=True, exist_ok=True)
            png = params.out_dir / "flash_sale.png"
            chart(sim, png, f"Flash sale: {params.fans} fans, {len(sale.seat_ids)} seats "
                            f"({started.strftime('%Y-%m-%d %H:%M')})")
            md = write_results(params, text, machine(), started, ok, png.name, command)
            print(f"\n==> wrote {md.relative_to(ROOT) if md.is_relative_to(ROOT) else md} and {png.name}")
        print("==> " + ("every check passed" if ok else "SOME CHECKS FAILED") + f" (process logs: {logdir})")
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\n==> interrupted; stopping every process", file=sys.stderr)
        return 130
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
