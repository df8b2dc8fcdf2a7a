"""The processes of one run, started with `devstack` (as the Procfile runs them): their ports, their
environment, starting them and waiting until they are ready, Prometheus watching them (``--monitor``),
and the CPU each one uses."""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.flash_sale.params import DB_MAX_OVERFLOW, DB_POOL_SIZE, DB_URL, METRICS_PORT, REDIS_URL, Params
from devstack import commands
from devstack.cluster import Cluster, Layout
from devstack.processes import BIN, ROOT, free_port, process_stats, wait_port, wait_until_up
from devstack.stack import Stack


def metrics_ports(workers: int, base: int = METRICS_PORT) -> dict[str, int]:
    """Each process's metrics listener port, by the process's name in the run: web, gate, browse and
    the scheduler from ``base`` on, then worker-1, worker-2, …. Every `flask worker` process has a
    listener of its own (and a multiprocess directory of its own: a listener adds up every file in
    its directory, so two workers sharing one would each report both's figures)."""
    names = ["web", "gate", "browse", "scheduler", *(f"worker-{n}" for n in range(1, workers + 1))]
    return {name: base + offset for offset, name in enumerate(names)}


def kind(name: str) -> str:
    """The process kind (SERVICE_NAME, the Prometheus job's suffix) of a process of the run: worker-2
    is a worker."""
    return name.split("-", 1)[0]


@dataclass
class Ports:
    web: int = field(default_factory=free_port)
    browse: int = field(default_factory=free_port)  # catalog and seat maps, behind the edge
    gate: int = field(default_factory=free_port)
    gateway: int = field(default_factory=free_port)
    smtp: int = field(default_factory=free_port)
    edge: int | None = field(default_factory=free_port)  # None: clients go straight to gunicorn
    metrics: dict[str, int] = field(default_factory=dict)  # each process's listener, by name: metrics_ports()

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

    def metrics_bind(self, name: str) -> str:
        return f"127.0.0.1:{self.metrics[name]}"

    def metrics_targets(self) -> dict[str, list[str]]:
        """Each process kind's listener addresses (the workers', one per process)."""
        targets: dict[str, list[str]] = defaultdict(list)
        for name in self.metrics:
            targets[kind(name)].append(self.metrics_bind(name))
        return dict(targets)


def metrics_dir(stack: Stack) -> Path:
    """Where the run's processes write their figures: a directory per process under it."""
    return stack.logdir / "metrics"


def with_metrics(env: dict[str, str], ports: Ports, name: str, stack: Stack) -> dict[str, str]:
    """``env`` for the run's process ``name``, with its metrics as the Procfile has them: its kind, its
    listener's address, its own multiprocess directory."""
    return {**env, **commands.metrics_env(kind(name), ports.metrics_bind(name), metrics_dir(stack) / name)}


def stack_env(params: Params, ports: Ports, secret: str, jwks: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "GATE_", "SIM_", "WEB_"))
        # Each process gets its own (with_metrics); none leaks from a `make run` shell, nor reaches the
        # gateway simulator, which reads gunicorn.conf.py too.
        and k not in ("METRICS_BIND", "PROMETHEUS_MULTIPROC_DIR", "SERVICE_NAME")
    }
    env.update(
        {
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
            **{
                f"RATE_LIMIT_{what}_PER_IP": "10000000/minute"
                for what in ("HOLDS", "PAYMENT_INTENTS", "JOINS", "LOGINS", "SIGNUPS", "GATEWAY_CALLS")
            },
        }
    )
    return env


def start_stack(stack: Stack, params: Params, ports: Ports, env: dict[str, str], signing_keys: str) -> None:
    for log in ("web-access.log", "browse-access.log"):  # gunicorn appends; each run reads its own
        (stack.logdir / log).unlink(missing_ok=True)
    # An earlier run's figures go: a listener only clears the files of pids no longer running, and a
    # pid of that run may be some other process's by now.
    shutil.rmtree(metrics_dir(stack), ignore_errors=True)
    smtp = stack.start_smtp(ports.smtp, env)
    sim_env = {
        **env,
        "SIM_WEBHOOK_URL": f"{ports.web_url}/api/v1/payments/webhook",
        "SIM_WEBHOOK_SECRET": env["WEBHOOK_SECRET"],
        "SIM_LOG_LEVEL": "WARNING",
    }
    gateway = stack.start_gateway(ports.gateway, 8, sim_env)
    web_env = {
        **with_metrics(env, ports, "web", stack),
        "WEB_THREADS": str(params.web_threads),
        "DB_POOL_SIZE": str(max(DB_POOL_SIZE, params.web_threads)),
    }
    if params.web_workers:
        web_env["WEB_WORKERS"] = str(params.web_workers)
    # The web's access log keeps each request's time inside a worker (seconds, last field): set against
    # what the fans measured it tells where a hold, a payment intent or a confirm waited (waits.py).
    web = stack.start_gunicorn(
        "web",
        "wsgi:app",
        ports.web,
        "--access-logfile",
        str(stack.logdir / "web-access.log"),
        "--access-logformat",
        '%(t)s "%(r)s" %(s)s %(L)s',
        env=web_env,
    )
    browse = None
    if ports.edge:  # as the Procfile's `browse`: the edge sends catalog and seat-map requests there
        # Its access log keeps each request's time inside the app (seconds, last field): set against
        # what the browsing clients measured, it tells time in the app from time on the way to it.
        browse = stack.start_gunicorn(
            "browse",
            "wsgi:app",
            ports.browse,
            "--workers",
            "2",
            "--access-logfile",
            str(stack.logdir / "browse-access.log"),
            "--access-logformat",
            '%(t)s "%(r)s" %(s)s %(L)s',
            env=with_metrics(env, ports, "browse", stack),
        )
    gate = stack.start_gunicorn(
        "gate",
        "queue_gate.wsgi:app",
        ports.gate,
        env={**with_metrics(env, ports, "gate", stack), "GATE_SIGNING_KEYS": signing_keys},
    )
    edge = None
    if ports.edge:
        edge_dir = stack.logdir / "nginx"
        shutil.rmtree(edge_dir, ignore_errors=True)
        edge = stack.start_edge(
            {
                **env,
                **commands.edge_env(
                    f"127.0.0.1:{ports.edge}",
                    f"127.0.0.1:{ports.web}",
                    f"127.0.0.1:{ports.gate}",
                    edge_dir,
                    browse=f"127.0.0.1:{ports.browse}",
                    static_root=ROOT / "app" / "static",
                ),
            }
        )
    for n in range(1, params.workers + 1):
        name = f"worker-{n}"
        stack.start(name, commands.flask("worker"), with_metrics(env, ports, name, stack))
    scheduler = stack.start_scheduler(with_metrics(env, ports, "scheduler", stack))
    wait_port(ports.smtp, smtp, "smtp sink")
    wait_until_up(f"{ports.gateway_url}/_sim/health", gateway, name="gateway simulator")
    wait_until_up(f"{ports.web_url}/readyz", web, name="web")
    if browse:
        wait_until_up(f"http://127.0.0.1:{ports.browse}/readyz", browse, name="browse")
    wait_until_up(f"{ports.gate_url}/readyz", gate, name="gate")
    if edge:
        wait_until_up(f"{ports.front_web}/api/v1/cities", edge, name="edge (nginx)")
    for name in ports.metrics:
        if name in stack.procs:  # no browse without the edge
            wait_until_up(
                f"http://{ports.metrics_bind(name)}/metrics", stack.procs[name], name=f"{name}'s metrics listener"
            )
    r = redis.Redis.from_url(env["REDIS_URL"])
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


def cluster_ports(params: Params) -> tuple[Layout, Ports]:
    """``--cluster``: the cluster's addresses (free ports; the metrics listeners from --metrics-port on),
    and the same as `Ports` for the clients, which reach everything through the edge. Where the run
    names one server of a kind (web, gate, browse: the connection sampler), it is the first copy."""
    layout = Layout.free(copies=2, workers=params.workers, metrics_base=params.metrics_port)
    ports = Ports(
        web=layout.servers["web"][0],
        browse=layout.servers["browse"][0],
        gate=layout.servers["gate"][0],
        gateway=layout.gateway,
        smtp=layout.smtp,
        edge=layout.edge,
        metrics=dict(layout.metrics),
    )
    return layout, ports


def start_cluster_stack(cluster: Cluster, params: Params, ports: Ports, env: dict[str, str], signing_keys: str) -> None:
    """As `start_stack`, on the cluster: the same number of gunicorn workers in all as the single
    stack, split between the copies (web and gate 2 x cores / 2 each, browse 1 each), so that the two
    runs share the machine's cores alike."""
    stack = cluster.stack
    for log in ("web-access.log", "browse-access.log"):
        (stack.logdir / log).unlink(missing_ok=True)
    per_copy = str(max(1, params.web_workers or 2 * (os.cpu_count() or 1)) // 2 or 1)
    access = ("--access-logformat", '%(t)s "%(r)s" %(s)s %(L)s')
    cluster.start_processes(
        env,
        stack.logdir / "nginx",
        {
            # Through the edge: either web copy takes the gateway's webhooks.
            "SIM_WEBHOOK_URL": f"{ports.front_web}/api/v1/payments/webhook",
            "SIM_WEBHOOK_SECRET": env["WEBHOOK_SECRET"],
            "SIM_LOG_LEVEL": "WARNING",
        },
        smtp=commands.smtp_sink(f"127.0.0.1:{ports.smtp}"),
        server_options={
            # Both copies append to one log (lines are written whole): waits.py reads it as one.
            "web": ("--access-logfile", str(stack.logdir / "web-access.log"), *access),
            "browse": ("--workers", "1", "--access-logfile", str(stack.logdir / "browse-access.log"), *access),
        },
        server_env={
            "web": {
                "WEB_WORKERS": per_copy,
                "WEB_THREADS": str(params.web_threads),
                "DB_POOL_SIZE": str(max(DB_POOL_SIZE, params.web_threads)),
            },
            "gate": {"WEB_WORKERS": per_copy, "GATE_SIGNING_KEYS": signing_keys},
        },
    )
    r = redis.Redis.from_url(env["REDIS_QUEUE_URL"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stack.check_alive()
        if len(r.smembers("rq:workers")) >= params.workers and r.exists("rq:job:seatline-gate-tick"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"workers or the scheduler did not come up (see {stack.logdir})")


# What `--monitor` prints at the start, to paste into Prometheus' Graph page: queries of README
# "Watching a sale", which has the others.
WATCH = (
    ("holds per second", "sum by (kind) (rate(seatline_holds_created_total[1m]))"),
    ("bookings so far", "sum(seatline_bookings_confirmed_total)"),
    ("waiting room", "seatline_waiting_room_waiting"),
    ("queue depth", "seatline_rq_queue_depth"),
    (
        "hold p99",
        "histogram_quantile(0.99, sum by (le) (rate(seatline_http_request_duration_seconds_bucket"
        '{method="POST", route="/api/v1/shows/<show_id>/holds"}[1m])))',
    ),
)


def start_monitor(stack: Stack, ports: Ports, env: dict[str, str], bind: str, directory: Path) -> None:
    """Prometheus (`scripts/monitor.sh`, as `make run MONITOR=1`) scraping every listener of the run,
    on ``bind``, keeping its config and data in ``directory``; stopped with the others."""
    proc = stack.start_monitor({**env, **commands.monitor_env(ports.metrics_targets(), bind, directory)})
    wait_until_up(f"http://{bind}/-/ready", proc, name="prometheus")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot(stack: Stack, extra: dict[str, int]) -> dict[str, float]:
    """Cumulative CPU seconds now: each of our process groups, the named load-generator pids, PostgreSQL
    and Redis (every database: other work on the machine counts too), and the whole machine."""
    groups = {proc.pid: name for name, proc in stack.procs.items()}
    pids = {pid: name for name, pid in extra.items()}
    out: dict[str, float] = defaultdict(float)
    for pid, name, fields in process_stats():
        seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
        pgrp = int(fields[2])
        if pid in pids:
            out[pids[pid]] += seconds
        elif pgrp in groups:
            out[groups[pgrp]] += seconds
        elif name.startswith("postgres"):
            # A backend's CPU moves to the postmaster's reaped-children time when it exits (fields 13 and
            # 14), so the sum never drops when connections close.
            out["postgres"] += seconds + (int(fields[13]) + int(fields[14])) / CLK_TCK
        elif name.startswith("redis-server"):
            out["redis"] += seconds
    out["machine"] = machine_busy()[0]
    return dict(out)


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts[:8]) - idle) / CLK_TCK, sum(parts[:8]) / CLK_TCK
