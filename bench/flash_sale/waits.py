"""Where the fans' requests wait: sampled five times a second during the sale, and read back from the
web process's access log afterwards.

- the machine's run queue (`procs_running` in /proc/stat: threads on a CPU or ready to run; more
  than the cores means work waits for a CPU);
- PostgreSQL's backends for the sale's database by what they are doing (`pg_stat_activity`): on a
  CPU, waiting for a row or advisory lock, for the WAL or other I/O, or idle inside a transaction
  (the app holding a transaction open while Python runs);
- each server's accept queue (`ss`: connections the kernel accepted that gunicorn has not taken yet);
- per web endpoint, the time a request spent inside gunicorn's worker (its access log's `%(L)s`)
  beside what the fan measured: the difference is the edge, the connection and gunicorn's queues.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.flash_sale.params import DB, PG

SAMPLE_EVERY = 0.2  # seconds

# What a backend of the sale's database is doing, from pg_stat_activity's state and wait event.
ACTIVITY_SQL = """
SELECT CASE
         WHEN state = 'active' AND wait_event_type IS NULL THEN 'cpu'
         WHEN state = 'active' AND wait_event_type = 'Lock' THEN 'lock'
         WHEN state = 'active' AND (wait_event_type = 'IO' OR wait_event LIKE 'WAL%%') THEN 'wal/io'
         WHEN state = 'active' THEN 'other wait'
         WHEN state LIKE 'idle in transaction%%' THEN 'idle in tx'
       END AS what, count(*)
FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
GROUP BY 1
"""
PG_STATES = ("cpu", "lock", "wal/io", "other wait", "idle in tx")


@dataclass
class WaitSample:
    t: float
    runnable: int
    pg: dict[str, int]
    accept_queue: dict[str, int]


@dataclass
class WaitSampler:
    """Samples in a thread of its own; `ports` maps a server's name to its listening port."""

    now: object  # the recorder's clock: () -> seconds since the run started
    ports: dict[str, int]
    samples: list[WaitSample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="wait-sampler")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
            while not self._stop.is_set():
                started = time.monotonic()
                t = self.now()  # type: ignore[operator]
                pg = {what: n for what, n in c.execute(ACTIVITY_SQL, (DB,)).fetchall() if what}
                self.samples.append(WaitSample(t, runnable(), pg, accept_queues(self.ports)))
                self._stop.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - started)))


def runnable() -> int:
    """Threads running or ready to run now, less this sampler's own."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("procs_running"):
            return max(0, int(line.split()[1]) - 1)
    return 0


def accept_queues(ports: dict[str, int]) -> dict[str, int]:
    """Connections waiting in each listening socket's accept queue (Recv-Q of `ss -ltn`)."""
    by_port = {port: name for name, port in ports.items()}
    out = dict.fromkeys(ports, 0)
    try:
        text = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, timeout=2).stdout
    except (OSError, subprocess.TimeoutExpired):
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        port = int(parts[3].rsplit(":", 1)[-1]) if parts[3].rsplit(":", 1)[-1].isdigit() else -1
        if port in by_port:
            out[by_port[port]] += int(parts[1])
    return out


# The web endpoints the fans time, by the request line gunicorn logs.
WEB_ENDPOINTS = (
    ("hold", re.compile(r"^POST /api/v1/shows/[^/ ]+/holds ")),
    ("release", re.compile(r"^DELETE /api/v1/holds/[^/ ]+ ")),
    ("payment-intent", re.compile(r"^POST /api/v1/holds/[^/ ]+/payment-intents ")),
    ("confirm", re.compile(r"^POST /api/v1/holds/[^/ ]+/confirm ")),
)
LOG_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<seconds>[0-9.]+)\s*$')


def in_app_seconds(access_log: Path) -> dict[str, list[float]]:
    """Per web endpoint, the seconds each request spent inside a gunicorn worker (`%(L)s`)."""
    out: dict[str, list[float]] = defaultdict(list)
    if not access_log.exists():
        return out
    with access_log.open() as f:
        for line in f:
            m = LOG_LINE.search(line)
            if not m:
                continue
            for name, pattern in WEB_ENDPOINTS:
                if pattern.match(m["request"]):
                    out[name].append(float(m["seconds"]))
                    break
    return out
