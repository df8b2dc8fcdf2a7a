"""The machinery the chaos scenarios share: a private PostgreSQL cluster and a private Redis that a
test may kill, restart or flush, the Seatline processes (gunicorn web, `flask worker`, `flask
scheduler`, the gateway simulator) in process groups of their own, and an SMTP sink that can be told
to be slow."""
from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg
import redis
from aiosmtpd.controller import Controller

from tests.support.processes import (
    free_port,  # noqa: F401  (also for the scenarios)
    stop_process_groups,
)
from tests.support.services import MailSink

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not met within {timeout:.0f} s")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------------------- Redis


class PrivateRedis:
    """redis-server on a free port, without persistence: a restart comes back empty, as a lost
    cache server would."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        with open(self.dir / "redis.log", "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{tail(self.dir / 'redis.log')}")
            try:
                return bool(self.client().ping())
            except redis.RedisError:
                return False

        wait_for(up, 15, 0.05, "redis-server starting")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save, connections cut."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def flushall(self) -> None:
        self.client().flushall()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# -------------------------------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql (make services installs them)")
    return versions[-1].parent


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: initdb into a temporary directory, a free port, its unix
    socket in that directory, fsync off. initdb and pg_ctl refuse to run as root, so as root they run
    as the `postgres` user, in a directory that user owns."""

    DATABASE = "seatline_chaos"

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="seatline-chaos-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        if self.as_root:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            os.chmod(self.dir, 0o755)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://seatline:seatline@127.0.0.1:{self.port}/{self.DATABASE}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # Output to a file, not a pipe: a postmaster started by pg_ctl would hold a pipe open for good.
        with tempfile.TemporaryFile() as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=self.dir)
            out.seek(0)
            output = out.read().decode(errors="replace")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}\n{tail(self.log)}")
        return done

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync", timeout=120)
        self.start()
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE ROLE seatline LOGIN PASSWORD 'seatline'")
            conn.execute(f"CREATE DATABASE {self.DATABASE} OWNER seatline")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every session is terminated, then the server comes back; returns
        how long it took."""
        started = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart")
        return time.monotonic() - started

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="seatline", password="seatline",
                               dbname=self.DATABASE, autocommit=True)


# ------------------------------------------------------------------------------------------ SMTP


class SlowMailSink(MailSink):
    """The tests' mail sink; told to, it stalls in DATA for one recipient (a slow mail server),
    and says when such a stall has begun."""

    def __init__(self) -> None:
        super().__init__()
        self._slow: dict[str, float] = {}
        self.stalled: set[str] = set()

    def slow_down(self, address: str, seconds: float) -> None:
        with self._lock:
            self._slow[address] = seconds

    def speed_up(self) -> None:
        with self._lock:
            self._slow.clear()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        delay = max((self._slow.get(rcpt, 0.0) for rcpt in envelope.rcpt_tos), default=0.0)
        if delay:
            with self._lock:
                self.stalled.update(envelope.rcpt_tos)
            await asyncio.sleep(delay)
        return await super().handle_DATA(server, session, envelope)


class SmtpServer:
    def __init__(self) -> None:
        self.sink = SlowMailSink()
        self.port = free_port()
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


# ------------------------------------------------------------------------------------- processes


def children_of(pid: int) -> set[int]:
    """The pids whose parent is ``pid`` (gunicorn's workers, given its master)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
            found.add(int(entry))
    return found


class Stack:
    """Seatline's processes for one scenario, each in its own process group (a kill takes the whole
    process, its children included), logging to files in ``logdir``; stopped in reverse order."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.retired: list[tuple[str, subprocess.Popen]] = []  # killed or stopped on purpose
        self._serial = 0

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.logdir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen(args, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    # -- the processes

    def start_gateway(self, port: int, webhook_url: str) -> subprocess.Popen:
        return self.start("gateway", [str(BIN / "gunicorn"), "-w", "1", "--threads", "16", "-b", f"127.0.0.1:{port}",
                                      "--log-level", "warning", "--no-control-socket", "gateway_simulator.wsgi:app"],
                          {"ENV": "test", "SIM_WEBHOOK_URL": webhook_url, "SIM_WEBHOOK_SECRET": self.env["WEBHOOK_SECRET"],
                           "SIM_RETRY_BASE_SECONDS": "0.3", "SIM_RETRY_MAX_SECONDS": "2", "SIM_MAX_ATTEMPTS": "30",
                           "SIM_WEBHOOK_TIMEOUT_SECONDS": "5", "SIM_LOG_LEVEL": "WARNING"})

    def start_web(self, port: int) -> subprocess.Popen:
        return self.start("web", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                                  "wsgi:app"])

    def start_worker(self) -> str:
        self._serial += 1
        name = f"worker-{self._serial}"
        self.start(name, [str(BIN / "flask"), "worker"])
        return name

    def start_scheduler(self) -> None:
        self.start("scheduler", [str(BIN / "flask"), "scheduler"])

    # -- faults

    def kill(self, name: str) -> None:
        """SIGKILL to the whole process group, like a crash or the OOM killer."""
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        self.retired.append((name, proc))

    def pause(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGCONT)

    # -- watching

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def workers(self) -> list[str]:
        return sorted(n for n in self.procs if n.startswith("worker-"))

    def dead(self) -> dict[str, int]:
        """Processes that exited though nobody stopped them."""
        return {name: proc.returncode for name, proc in self.procs.items() if proc.poll() is not None}

    def logs(self, names: Iterable[str] | None = None, lines: int = 30) -> str:
        out = []
        for path in sorted(self.logdir.glob("*.log")):
            if names is None or path.stem in names:
                out.append(f"--- {path.name} (last {lines} lines)\n{tail(path, lines)}")
        return "\n".join(out)

    def stop(self) -> None:
        stop_process_groups(list(self.procs.values()), grace=15)
