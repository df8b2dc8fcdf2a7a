"""The command line of each of Seatline's processes, as the Procfile runs them: every caller that
starts one starts it from here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from devstack.processes import BIN, ROOT


def gunicorn(module: str, bind: str, *options: str) -> list[str]:
    """``module`` (``wsgi:app`` for web and browse, ``queue_gate.wsgi:app`` for the gate) under the
    project's gunicorn settings (`gunicorn.conf.py`, which reads WEB_WORKERS, WEB_THREADS, WEB_ACCESS_LOG)."""
    return [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", bind, *options, module]


def gateway_simulator(bind: str, threads: int, *options: str) -> list[str]:
    """The gateway simulator: one gunicorn worker (its state lives in that process) with ``threads``
    threads; it is configured by SIM_* variables."""
    return [
        str(BIN / "gunicorn"),
        "-w",
        "1",
        "--threads",
        str(threads),
        "-b",
        bind,
        *options,
        "--no-control-socket",
        "gateway_simulator.wsgi:app",
    ]


def flask(*args: str) -> list[str]:
    """A command of the app's CLI: ``flask("worker")``, ``flask("scheduler")``, ``flask("db", "upgrade")``
    (with FLASK_APP=wsgi in the environment)."""
    return [str(BIN / "flask"), *args]


def smtp_sink(bind: str) -> list[str]:
    """An SMTP server that accepts every message and keeps none (aiosmtpd's Sink)."""
    return [str(BIN / "python"), "-m", "aiosmtpd", "-n", "-l", bind, "-c", "aiosmtpd.handlers.Sink"]


def redis_server(port: int, directory: Path, *options: str) -> list[str]:
    """A Redis server on 127.0.0.1:``port`` that keeps nothing on disk, its working files in
    ``directory`` (``options``: more settings, ``--replicaof host port``, ``--cluster-enabled yes``)."""
    return [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        *options,
    ]


def edge() -> list[str]:
    """The nginx edge (`scripts/edge.sh`), configured by :func:`edge_env`."""
    return [str(ROOT / "scripts" / "edge.sh")]


def edge_env(
    bind: str, web: str, gate: str, workdir: Path, browse: str | None = None, static_root: Path | None = None
) -> dict[str, str]:
    """What `scripts/edge.sh` reads: where it listens, the servers behind it (host:port each), and the
    directory for its rendered config and logs."""
    env = {"EDGE_BIND": bind, "WEB_BIND": web, "GATE_BIND": gate, "EDGE_DIR": str(workdir)}
    if browse is not None:
        env["BROWSE_BIND"] = browse
    if static_root is not None:
        env["STATIC_ROOT"] = str(static_root)
    return env


def metrics_env(kind: str, bind: str, directory: Path) -> dict[str, str]:
    """What a process reads to publish its metrics as the Procfile has it (README "Watching a sale"):
    its kind (web, browse, gate, worker, scheduler), the address of its listener, and the
    multiprocess directory its processes write their figures to (its own: a listener adds up every
    file there)."""
    return {"SERVICE_NAME": kind, "METRICS_BIND": bind, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


def monitor() -> list[str]:
    """Prometheus (`scripts/monitor.sh`), configured by :func:`monitor_env`."""
    return [str(ROOT / "scripts" / "monitor.sh")]


def monitor_env(targets: Mapping[str, Sequence[str]], bind: str, directory: Path) -> dict[str, str]:
    """What `scripts/monitor.sh` reads: the metrics addresses of each process kind (``{"web":
    ["127.0.0.1:9210"], "worker": [one per process], …}``), where Prometheus listens, and the
    directory for its rendered config and data."""
    env = {f"{kind.upper()}_METRICS_BIND": ",".join(binds) for kind, binds in targets.items()}
    env.update(PROMETHEUS_BIND=bind, PROMETHEUS_DIR=str(directory))
    return env
