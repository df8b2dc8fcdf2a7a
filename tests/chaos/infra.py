"""The machinery the chaos scenarios share: a private PostgreSQL cluster and a private Redis that a
test may kill, restart or flush, and an SMTP sink that can be told to be slow. Seatline's own
processes are started by `devstack.stack` (in process groups of their own, so a test can kill one)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from devstack import commands
from devstack.mail import MailSink
from devstack.processes import free_port, tail


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not met within {timeout:.0f} s")
        time.sleep(interval)


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
                commands.redis_server(self.port, self.dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
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
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            timeout=120,
        )
        self.start()
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE ROLE seatline LOGIN PASSWORD 'seatline'")
            conn.execute(f"CREATE DATABASE {self.DATABASE} OWNER seatline")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
        )
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
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="seatline",
            password="seatline",
            dbname=self.DATABASE,
            autocommit=True,
        )


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
