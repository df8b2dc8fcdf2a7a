"""Each process kind's metrics listener: one HTTP server on an internal address (``METRICS_BIND``)
whose every scrape adds up the figures of all the kind's processes (README "Watching a sale").

It runs in the process that outlives the others of its kind: gunicorn's master for web, browse and
the gate (``gunicorn.conf.py``: it never handles a request, so a scrape never waits behind fans), and
the main process of ``flask worker`` and ``flask scheduler``. The processes write their figures to
files in the kind's ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode); the
directory is emptied when the kind starts, and a gunicorn worker's gauges go with it when it exits.
The edge routes nothing to these addresses.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from app.ops.metrics import multiprocess_dir

log = logging.getLogger(__name__)


def prepare_directory() -> None:
    """Removes the files of processes that no longer run from this kind's multiprocess directory (an
    earlier run's figures would be added to this one's); those of live processes stay, so a second
    copy of a kind sharing the directory (two workers) does not wipe the first's. Called as the
    kind's first process starts (gunicorn's master, before it forks its workers)."""
    path = multiprocess_dir()
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        pid = os.path.basename(name).rsplit("_", 1)[-1].removesuffix(".db")
        if not pid.isdigit() or not _running(int(pid)):
            os.remove(name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def process_gone(pid: int) -> None:
    """A process of this kind exited: its live gauges (pool connections in use, breaker states) no
    longer count."""
    if multiprocess_dir():
        mark_process_dead(pid)


class _ThisProcess(Collector):
    """This process's own figures, for a kind that runs as one process without a multiprocess dir."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def parse_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"METRICS_BIND must be host:port, not {bind!r}")
    return host.strip("[]"), int(port)


def serve(bind: str | None, collectors: Iterable[Collector] = ()) -> CollectorRegistry | None:
    """Starts the listener on ``bind`` (``host:port``) in a daemon thread, with ``collectors`` (figures
    read at scrape time) beside the processes' own. Nothing without a bind."""
    if not bind:
        return None
    registry = CollectorRegistry(auto_describe=True)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path)
    else:
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    host, port = parse_bind(bind)
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics at http://%s/metrics", bind)
    return registry
