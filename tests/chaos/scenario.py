"""One chaos scenario: Seatline's processes on the private PostgreSQL and Redis, a sale, and the
checks that must hold once the fault is over and the work has drained."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from app.booking.invariants import money_invariant_violations
from app.unit_of_work import unit_of_work
from devstack.gateway import Simulator
from devstack.mail import MailServer
from devstack.processes import free_port, wait_until_up
from devstack.stack import Stack
from tests.chaos.infra import PrivatePostgres, PrivateRedis, SlowMailSink, wait_for
from tests.chaos.sale import Sale, Tally
from tests.support.db import Builder
from workers.cli import SWEEP_JOB_ID

# A lapsed hold is released within the sweeper's interval plus this (a job waits its turn in the queue).
STUCK_GRACE_SECONDS = 4.0
# Answers of 503 DEGRADED are allowed while a fault is on, and this long around it.
DEGRADED_SLACK_SECONDS = 3.0
REPORTS: list[str] = []


class Scenario:
    def __init__(self, name: str, pg: PrivatePostgres, rds: PrivateRedis, app: Any, logdir: Path) -> None:
        self.name = name
        self.pg = pg
        self.redis = rds
        self.app = app
        self.logdir = logdir
        self.make = Builder(app)
        self.smtp: MailServer | None = None
        self.stack: Stack | None = None
        self.sim: Simulator | None = None
        self.web = ""
        self.hold_ttl = 0
        self.sweeper_interval = 0
        self.faults: list[str] = []
        self.windows: list[tuple[float, float]] = []
        self.started_in = 0.0
        self.extra_tallies: list[Tally] = []

    # ------------------------------------------------------------------ processes

    def start(
        self,
        *,
        hold_ttl: int = 8,
        sweeper_interval: int = 2,
        workers: int = 2,
        web_workers: int = 2,
        web_threads: int = 8,
        env: dict[str, str] | None = None,
    ) -> None:
        settings = self.app.extensions["seatline.settings"]
        begun = time.monotonic()
        self.hold_ttl, self.sweeper_interval = hold_ttl, sweeper_interval
        self.smtp = MailServer(SlowMailSink())
        web_port, gateway_port = free_port(), free_port()
        self.web = f"http://127.0.0.1:{web_port}"
        gateway = f"http://127.0.0.1:{gateway_port}"
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                (
                    "FLASK_",
                    "GATE_",
                    "SIM_",
                    "WEB_",
                    "GATEWAY_",
                    "SMTP_",
                    "HOLD_",
                    "SWEEPER_",
                    "RECONCILE_",
                    "OUTBOX_",
                    "DB_",
                    "DATABASE_",
                    "REDIS_",
                    "RATE_LIMIT",
                    "MAX_",
                )
            )
        }
        base_env = {
            **keep,
            "ENV": "test",
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url(0),
            "SECRET_KEY": settings.secret_key,
            "PASSWORD_TIME_COST": "1",
            "PASSWORD_MEMORY_COST_KIB": "1024",
            "DB_POOL_SIZE": "4",
            "DB_MAX_OVERFLOW": "8",
            "GATEWAY_API_BASE": gateway,
            "GATEWAY_API_KEY": "sk_test_chaos_server",
            "WEBHOOK_SECRET": "whsec_chaos_secret",
            "GATEWAY_TIMEOUT_SECONDS": "2",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "SMTP_TIMEOUT_SECONDS": "10",
            "HOLD_TTL_SECONDS": str(hold_ttl),
            "SWEEPER_INTERVAL_SECONDS": str(sweeper_interval),
            "RECONCILE_AFTER_SECONDS": "2",
            "OUTBOX_RETRY_AFTER_SECONDS": "2",
            "GATE_JWKS": settings.gate_jwks,
            "PUBLIC_URL": self.web,
            "FLASK_APP": "wsgi",
            "WEB_ACCESS_LOG": "",
            "WEB_WORKERS": str(web_workers),
            "WEB_THREADS": str(web_threads),
            # Every fan here comes from 127.0.0.1: the per-IP limits would count them all as one client.
            "RATE_LIMIT_HOLDS_PER_IP": "100000/minute",
            "RATE_LIMIT_PAYMENT_INTENTS_PER_IP": "100000/minute",
            "RATE_LIMIT_GATEWAY_CALLS_PER_IP": "100000/minute",
            **(env or {}),
        }
        self.stack = Stack(self.logdir, base_env)
        gw = self.stack.start_gateway(
            gateway_port,
            threads=16,
            env={
                "ENV": "test",
                "SIM_WEBHOOK_URL": f"{self.web}/api/v1/payments/webhook",
                "SIM_WEBHOOK_SECRET": base_env["WEBHOOK_SECRET"],
                "SIM_RETRY_BASE_SECONDS": "0.3",
                "SIM_RETRY_MAX_SECONDS": "2",
                "SIM_MAX_ATTEMPTS": "30",
                "SIM_WEBHOOK_TIMEOUT_SECONDS": "5",
                "SIM_LOG_LEVEL": "WARNING",
            },
        )
        web = self.stack.start_web(web_port)
        for _ in range(workers):
            self.stack.start_worker()
        self.stack.start_scheduler()
        self.sim = Simulator(gateway)
        wait_until_up(f"{gateway}/_sim/health", gw, name="gateway simulator")
        wait_until_up(f"{self.web}/readyz", web, name="web")
        self.wait_for_background(workers)
        self.started_in = time.monotonic() - begun

    def wait_for_background(self, workers: int) -> None:
        """Until ``workers`` workers are registered and the scheduler has put the sweeper on its schedule."""
        client = self.redis.client()

        def ready() -> bool:
            dead = self.stack.dead()
            if dead:
                raise RuntimeError(f"processes exited while starting: {dead}\n{self.stack.logs(dead)}")
            try:
                return (
                    len(client.smembers("rq:workers")) >= workers
                    and client.zscore("rq:scheduler:scheduled_jobs", SWEEP_JOB_ID) is not None
                )
            except redis.RedisError:
                return False

        wait_for(ready, 60, 0.2, "workers and scheduler starting")

    def stop(self) -> None:
        if self.stack:
            self.stack.stop()
        if self.smtp:
            self.smtp.stop()

    # ------------------------------------------------------------------ workers

    def worker_jobs(self) -> dict[str, str | None]:
        """Each running `flask worker` of the stack (by name) and the job it is executing."""
        client = self.redis.client()
        by_pid = {self.stack.pid(name): name for name in self.stack.workers()}
        jobs: dict[str, str | None] = {}
        for key in client.smembers("rq:workers"):
            info = client.hgetall(key)
            pid = int(info.get(b"pid", 0) or 0)
            if pid in by_pid:
                job = info.get(b"current_job")
                jobs[by_pid[pid]] = job.decode() if job else None
        return jobs

    def worker_running(self, job_id: str) -> str | None:
        for name, job in self.worker_jobs().items():
            if job == job_id:
                return name
        return None

    # ------------------------------------------------------------------ the sale

    def sale(self, show: Any, fans: list[Any], seconds: float, **kw: Any) -> Sale:
        return Sale(self.web, self.sim.base, show, fans, seconds, **kw).start()

    def log_lines(self, prefix: str, text: str) -> int:
        """How many lines of the logs of the processes named ``prefix...`` contain ``text``."""
        return sum(
            line.count(text)
            for path in self.logdir.glob(f"{prefix}*.log")
            for line in path.read_text(errors="replace").splitlines()
        )

    def fault(self, text: str, start: float | None = None, end: float | None = None) -> None:
        """Notes a fault for the report; ``start``-``end`` is when it was on, the only time (give or take
        DEGRADED_SLACK_SECONDS) Seatline may answer 503 DEGRADED."""
        self.faults.append(text)
        if start is not None:
            self.windows.append((start, end if end is not None else start))

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with self.pg.connect() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    # ------------------------------------------------------------------ after the fault

    def stuck_holds(self, since: float) -> list[tuple]:
        """Holds still ACTIVE longer than the sweeper's interval (plus a little) past their expiry, or
        past ``since`` (when the fault ended) if they expired during it."""
        slack = self.sweeper_interval + STUCK_GRACE_SECONDS
        return self.query(
            """
            SELECT id::text, expires_at, payment_started_at IS NOT NULL FROM holds
            WHERE status = 'ACTIVE' AND GREATEST(expires_at, to_timestamp(%s)) + make_interval(secs => %s) < now()
            """,
            since,
            slack,
        )

    def left_to_do(self) -> dict[str, int]:
        row = self.query(
            """
            SELECT (SELECT count(*) FROM webhook_events WHERE processed_at IS NULL),
                   (SELECT count(*) FROM refunds WHERE status = 'PENDING'),
                   (SELECT count(*) FROM notifications WHERE status = 'PENDING'),
                   (SELECT count(*) FROM holds WHERE status = 'ACTIVE' AND expires_at <= now())
            """
        )[0]
        events = self.sim.events()
        return {
            "webhook events unprocessed": row[0],
            "refunds pending": row[1],
            "notifications pending": row[2],
            "lapsed holds still ACTIVE": row[3],
            "webhooks not yet delivered": sum(1 for e in events if e["status"] in ("pending", "held")),
        }

    def violations(self) -> dict[str, list]:
        with self.app.app_context(), unit_of_work() as uow:
            return money_invariant_violations(uow, self.sim.intents())

    def settle(self, since: float, timeout: float | None = None) -> float:
        """Waits until the work has drained and the invariants hold; meanwhile no hold may stay ACTIVE
        past its expiry (or ``since``) plus the sweeper's interval. Returns how long it took."""
        started = time.monotonic()
        deadline = started + (timeout or self.hold_ttl + self.sweeper_interval + STUCK_GRACE_SECONDS + 40)
        stuck: dict[str, tuple] = {}
        while True:
            dead = self.stack.dead()
            assert not dead, f"processes died: {dead}\n{self.stack.logs(dead, lines=15)}"
            for row in self.stuck_holds(since):
                stuck.setdefault(row[0], row)
            left = self.left_to_do()
            broken = self.violations()
            if not any(left.values()) and not broken:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not settled after {time.monotonic() - started:.0f} s: left {left}, invariants broken: {broken}"
                )
            time.sleep(0.5)
        assert not stuck, (
            f"holds stuck past expiry + sweeper interval ({self.sweeper_interval} s) + "
            f"{STUCK_GRACE_SECONDS} s: {list(stuck.values())[:10]}"
        )
        return time.monotonic() - started

    def webhook_tally(self) -> Tally:
        """What the web process answered the gateway's webhook deliveries, from the simulator's log."""
        tally = Tally()
        for event in self.sim.events():
            for delivery in event.get("deliveries") or []:
                for attempt in delivery.get("attempts") or []:
                    status = str(attempt["status_code"]) if attempt.get("status_code") else "transport"
                    tally.record("webhook (gateway→web)", status, 0.0)
                    code = attempt.get("status_code") or 0
                    if code >= 500 and code != 503:
                        tally.breach(f"webhook {event['id']} answered {code}")
        return tally

    def finish(
        self, sale: Sale, since: float, title: str, notes: list[Any] | None = None, timeout: float | None = None
    ) -> None:
        """Settles, checks everything the scenario must end with, and files its report (``notes``: lines,
        or functions that give a line once the work has settled)."""
        joining = time.monotonic()
        sale.join()
        joined = time.monotonic() - joining
        settled = self.settle(since, timeout)
        webhooks = self.webhook_tally()
        tallies = [sale.tally, webhooks, *self.extra_tallies]
        counts: Counter = Counter()
        for t in tallies:
            counts.update(t.counts)
        seats = dict(
            self.query("SELECT status, count(*) FROM show_seats WHERE show_id = %s GROUP BY status", sale.show.show_id)
        )
        bookings = self.query(
            "SELECT count(*), coalesce(sum(cardinality(seat_ids)), 0) FROM bookings "
            "WHERE status = 'CONFIRMED' AND show_id = %s",
            sale.show.show_id,
        )[0]
        refunds = self.query("SELECT reason, count(*) FROM refunds GROUP BY reason ORDER BY reason")
        intents = Counter(i["status"] for i in self.sim.intents())
        merged = Tally()
        merged.counts = counts
        lines = [
            f"=== {title}",
            f"  {len(sale.fans)} fans, {len(sale.show.seat_ids)} seats, sale {sale.seconds:.0f} s; "
            f"hold TTL {self.hold_ttl} s, sweeper every {self.sweeper_interval} s",
            f"  faults injected ({len(self.faults)}): " + "; ".join(self.faults),
            *[f"  {n() if callable(n) else n}" for n in notes or []],
            "  what the fans saw, by endpoint (and the web process's answers to the gateway's webhooks):",
            merged.table(),
            "  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(sale.tally.outcomes.items())),
            f"  seats: {seats}; confirmed bookings {bookings[0]} ({bookings[1]} seats); "
            f"refunds {dict(refunds) or 'none'}; intents at the gateway {dict(intents)}",
            f"  settled {settled:.1f} s after the last fan finished; invariants hold, no hold stuck past expiry + "
            f"sweeper interval, no 5xx but 503 DEGRADED during the fault (processes up in {self.started_in:.1f} s; fans done "
            f"{joined:.1f} s after this check began)",
        ]
        REPORTS.append("\n".join(lines))
        print("\n".join(lines))
        breaches = [b for t in tallies for b in t.broken]
        breaches += [
            f"{endpoint} answered 503 {started - sale.started_at:.1f} s into the sale, outside the fault"
            for t in (sale.tally, *self.extra_tallies)
            for started, _, endpoint, status in t.calls
            if status == "503"
            and endpoint != "gateway-confirm"
            and not any(a - DEGRADED_SLACK_SECONDS <= started <= b + DEGRADED_SLACK_SECONDS for a, b in self.windows)
        ]
        assert not breaches, f"answers that broke the contract: {breaches[:10]}"
        surprises = [s for t in tallies for s in t.surprises]
        assert not surprises, f"answers no fan should get: {surprises[:10]}"
        assert sale.tally.outcomes["booked"] > 0, "nobody managed to book: the sale never really ran"
        assert bookings[1] == seats.get("BOOKED", 0), "booked seats and confirmed bookings disagree"


def now() -> float:
    return time.time()
