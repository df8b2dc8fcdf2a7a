"""What every benchmark needs: its own database, the real processes, and load generators that are
not the bottleneck (wrk with Lua scripts for HTTP, pgbench for SQL), each reporting its own CPU use."""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from devstack import commands, serve
from devstack.pgbouncer import PgBouncer
from devstack.processes import ROOT, free_port

# Overridable so that two people can benchmark side by side on one server (figures then share the cores).
DB = os.environ.get("BENCH_DB", "seatline_bench")
# A private PostgreSQL (e.g. one started with pg_stat_statements for an analysis) can be named by its port.
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
DB_URL = f"postgresql+psycopg://seatline:seatline@127.0.0.1:{PG_PORT}/{DB}"
PG = f"host=127.0.0.1 port={PG_PORT} user=seatline password=seatline dbname={DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
SECRET = "bench-secret-key-0123456789-0123456789-0123"


def use(db: str, redis_url: str) -> None:
    """Points every helper here at another database and Redis database, for a benchmark of its own
    that must not drop or flush what `make bench` (or someone else's run) is using."""
    global DB, DB_URL, PG, REDIS_URL
    DB, REDIS_URL = db, redis_url
    DB_URL = f"postgresql+psycopg://seatline:seatline@127.0.0.1:{PG_PORT}/{DB}"
    PG = f"host=127.0.0.1 port={PG_PORT} user=seatline password=seatline dbname={DB}"


# The load generators run on this machine: every request comes from 127.0.0.1, so the per-IP rate
# limits (meant for a crowd behind one address at most) are raised far above any run's rate. The
# per-fan limits stay as deployed: the runs spread their requests over 20,000 fans.
PER_IP_RATE_LIMITS = {
    f"RATE_LIMIT_{what}_PER_IP": "10000000/minute"
    for what in ("HOLDS", "PAYMENT_INTENTS", "JOINS", "LOGINS", "SIGNUPS", "GATEWAY_CALLS")
}


def base_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ENV": "development",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "FLASK_APP": "wsgi",
        "SECRET_KEY": SECRET,
        "WEB_ACCESS_LOG": "",
        "PASSWORD_TIME_COST": "1",
        "PASSWORD_MEMORY_COST_KIB": "1024",
        **PER_IP_RATE_LIMITS,
        **extra,
    }


def fresh_database(env: dict[str, str], demo: bool = True) -> None:
    """The bench database made again, migrated, with the demo data (``flask seed-demo``) if ``demo``."""
    with psycopg.connect(
        f"host=127.0.0.1 port={PG_PORT} user=seatline password=seatline dbname=postgres", autocommit=True
    ) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DB}")
    subprocess.run(commands.flask("db", "upgrade"), cwd=ROOT, env=env, check=True, capture_output=True)
    if demo:
        subprocess.run(commands.flask("seed-demo"), cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(["redis-cli", "-n", REDIS_URL.rsplit("/", 1)[1], "flushdb"], check=True, capture_output=True)


def sql(statement: str, params: tuple | dict | None = None) -> list[tuple]:
    with psycopg.connect(PG, autocommit=True) as c:
        cur = c.execute(statement, params)
        return cur.fetchall() if cur.description else []


@contextmanager
def gunicorn(
    module: str, env: dict[str, str], health: str = "/healthz", tree: Path | None = None, **settings: str | None
) -> Iterator[str]:
    """Serves ``module`` with the project's gunicorn settings (overridable; a setting of None is left
    out of the environment) on a free port, once every worker has finished booting (nothing is
    measured before). As the Procfile runs it: its metrics in a multiprocess directory of its own,
    served on an internal address. ``tree``: serve the app from that checkout instead (a "before" run,
    :func:`checkout_of`)."""
    metrics = Path(tempfile.mkdtemp(prefix="seatline-bench-metrics-"))
    merged: dict[str, str | None] = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "METRICS_BIND": f"127.0.0.1:{free_port()}",
        **env,
        **settings,
    }
    options = ("--chdir", str(tree)) if tree is not None else ()
    try:
        with serve.gunicorn(
            module,
            free_port(),
            {k: v for k, v in merged.items() if v is not None},
            health=health,
            output=subprocess.DEVNULL,
            settle=1.5,
            options=options,
        ) as base:
            yield base
    finally:
        shutil.rmtree(metrics, ignore_errors=True)


@contextmanager
def through_pgbouncer(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A private PgBouncer in transaction mode in front of ``env``'s database (devstack/pgbouncer.py):
    the settings that send the app through it (README "PgBouncer")."""
    bouncer = PgBouncer(env["DATABASE_URL"])
    try:
        yield {"DATABASE_URL": bouncer.url, "DB_BEHIND_PGBOUNCER": "true"}
    finally:
        bouncer.stop()


@contextmanager
def checkout_of(ref: str) -> Iterator[Path]:
    """A throwaway checkout of ``ref`` (a commit of this repository), for a scenario measured on the
    code before a change in the same run as after it. Same database schema expected."""
    work = Path(tempfile.mkdtemp(prefix="seatline-bench-before-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(work), ref], cwd=ROOT, check=True, capture_output=True)
    try:
        yield work
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=ROOT, check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def edge(web: str, gate: str, static_root: Path) -> Iterator[str]:
    """The repo's nginx edge (scripts/edge.sh) in front of ``web`` and ``gate``, serving ``static_root``."""
    port = free_port()
    work = Path(tempfile.mkdtemp())
    env = {
        **os.environ,
        **commands.edge_env(
            f"127.0.0.1:{port}", web.split("//")[1], gate.split("//")[1], work, static_root=static_root
        ),
    }
    try:
        with serve.edge(port, env, health="/api/v1/cities", output=subprocess.DEVNULL) as base:
            yield base
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    generator_cpu: float = 0.0  # share of one core the load generator used
    extra: dict[str, object] = field(default_factory=dict)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


WRK_STATUS = """
local threads = {}
local scenario_setup = setup  -- a scenario's own setup (e.g. splitting a list between threads) still runs
function setup(thread)
  table.insert(threads, thread)
  if scenario_setup then scenario_setup(thread) end
end
local scenario_init = init  -- and its own init (e.g. seeding each thread's random numbers differently)
function init(args)
  ok, created, conflict, client_error, server_error = 0, 0, 0, 0, 0
  if scenario_init then scenario_init(args) end
end
function response(status, headers, body)
  if status == 201 then created = created + 1 end
  if status < 300 then ok = ok + 1 elseif status == 409 then conflict = conflict + 1
  elseif status < 500 then client_error = client_error + 1 else server_error = server_error + 1 end
end
function done(summary, latency, requests)
  local t = {ok = 0, created = 0, conflict = 0, client_error = 0, server_error = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format("STATUS ok=%d created=%d conflict=%d client_error=%d server_error=%d\\n",
                         t.ok, t.created, t.conflict, t.client_error, t.server_error))
end
"""


def wrk(
    name: str, url: str, seconds: int = 10, connections: int = 32, threads: int = 2, script: str | None = None
) -> Result:
    """Drives ``url`` with wrk for ``seconds``; ``script`` is Lua defining ``request`` (status counting is added)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write((script or "") + WRK_STATUS)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url]
    before = os.times()
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    after = os.times()
    os.unlink(lua.name)
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    pct = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    status = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", out.split("STATUS", 1)[1]))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Result(
        name=name,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(pct["50"]),
        p99_ms=_ms(pct["99"]),
        errors=status["server_error"] + (sum(int(x) for x in socket_errors.groups()) if socket_errors else 0),
        generator_cpu=cpu / seconds,
        extra=status,
    )


def pgbench(
    name: str,
    script: str,
    seconds: int = 10,
    clients: int = 16,
    protocol: str = "simple",
    pg_options: str = "",
    **variables: object,
) -> Result:
    """Runs ``script`` (pgbench's language) against the bench database with the query ``protocol``
    (simple, extended or prepared: `pgbench -M`); latency percentiles from its log. ``pg_options``:
    settings for its sessions (PGOPTIONS, e.g. ``-c search_path=...``)."""
    work = Path(tempfile.mkdtemp())
    (work / "script.sql").write_text(script)
    args = [
        "pgbench",
        "-n",
        "-h",
        "127.0.0.1",
        "-p",
        PG_PORT,
        "-U",
        "seatline",
        f"-c{clients}",
        "-j2",
        f"-T{seconds}",
        f"-M{protocol}",
        "-f",
        str(work / "script.sql"),
        "-l",
        "--log-prefix",
        str(work / "log"),
    ]
    for key, value in variables.items():
        args += ["-D", f"{key}={value}"]
    before = os.times()
    env = {**os.environ, "PGPASSWORD": "seatline", **({"PGOPTIONS": pg_options} if pg_options else {})}
    out = subprocess.run([*args, DB], capture_output=True, text=True, env=env)
    after = os.times()
    if out.returncode != 0 and "tps" not in out.stdout:
        raise RuntimeError(f"pgbench failed: {out.stderr[-2000:]}")
    latencies = []
    for log in work.glob("log*"):
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000)  # microseconds
    shutil.rmtree(work)
    latencies.sort()
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return Result(
        name,
        tps,
        percentile(latencies, 50),
        percentile(latencies, 99),
        errors=int(failed.group(1)) if failed else 0,
        generator_cpu=cpu / seconds,
    )


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    pg = sql("SHOW server_version")[0][0]
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg}"
    )
