"""A PostgreSQL streaming replica of the primary on 127.0.0.1:5432, for as long as a ``with`` block
lasts: copied and started by ``scripts/pg_replica.sh`` on a free port, stopped and removed at the
end (README, "Read replicas")."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from devstack.processes import ROOT, free_port

SCRIPT = ROOT / "scripts" / "pg_replica.sh"


@dataclass
class Replica:
    port: int
    directory: Path

    def url_for(self, primary_url: str) -> str:
        """``primary_url`` (user, database, driver) pointed at this replica instead."""
        parts = urlsplit(primary_url)
        credentials = parts.netloc.rpartition("@")[0]
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{credentials}@{host}" if credentials else host))

    def sql(self, statement: str) -> list[tuple]:
        """One statement as the superuser on the replica (``pg_wal_replay_pause()``, ...)."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def log_statements(self) -> None:
        """From now on the server logs every statement, with its database (``statements_since``)."""
        self.sql("ALTER SYSTEM SET log_statement = 'all'")
        self.sql("ALTER SYSTEM SET log_line_prefix = '%m [%p] db=%d '")
        self.sql("SELECT pg_reload_conf()")

    def log_size(self) -> int:
        return (self.directory / "server.log").stat().st_size

    def statements_since(self, offset: int, database: str) -> list[str]:
        """The statements run on ``database`` that the log recorded after ``offset`` (``log_size``)."""
        with open(self.directory / "server.log", "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        # One entry per line that starts with a timestamp; a statement's own lines follow its first.
        entries = re.split(r"(?m)^(?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} )", text)
        marker = f" db={database} LOG:  "
        return [entry.split(marker, 1)[1] for entry in entries if marker in entry]

    def pause_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def kill(self) -> None:
        """SIGKILL to the server's postmaster, as a crashed machine would go; its backends notice and
        exit. ``stop()`` still removes the copy."""
        try:
            pid = int((self.directory / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass  # gone already

    def stop(self) -> None:
        """Stops the server and removes its copy (again: nothing left to do)."""
        subprocess.run([str(SCRIPT), "stop", str(self.directory)], check=True, capture_output=True)


def start_replica(port: int, parent: str = "/tmp") -> Replica:
    """A replica copied and started now on ``port``, its copy in a new directory under ``parent``
    (which the postgres OS user, which the server runs as, must reach); ``stop()`` ends it."""
    directory = Path(tempfile.mkdtemp(prefix="seatline-replica-", dir=parent))
    directory.rmdir()  # the script makes it, owned by postgres
    node = Replica(port, directory)
    started = subprocess.run(
        [str(SCRIPT), "start", str(directory), str(port)], capture_output=True, text=True, timeout=300
    )
    if started.returncode != 0:
        node.stop()
        raise RuntimeError(f"the replica did not start:\n{started.stderr}")
    return node


@contextmanager
def replica() -> Iterator[Replica]:
    node = start_replica(free_port())
    try:
        yield node
    finally:
        node.stop()
