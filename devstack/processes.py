"""Starting and stopping real processes on this machine: free ports, waiting until a server answers,
stopping process groups, finding a process's children, the end of a log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"

# Ports other work on this machine uses (make run, the benchmarks): never handed out even when free.
RESERVED_PORTS = {5432, 6379, 8000, 8001, 8002, 8080, 12111, 1025}


def _port_share() -> tuple[int, int]:
    """(this process's index, how many) when the test suite runs in parallel processes (pytest-xdist
    sets PYTEST_XDIST_WORKER=gwN and PYTEST_XDIST_WORKER_COUNT; the processes they start inherit
    them); (0, 1) otherwise."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 1:
        return int(worker[2:]) % int(count), int(count)
    return 0, 1


def free_port() -> int:
    """A port nothing listens on now. Parallel test processes each take only their own share of the
    ports (README "Tests"), so two of them never pick the same one between one's choosing it and its
    server's binding it. The share goes by ``port // 2``: Linux hands out odd ports alone to a bind
    to port 0."""
    index, count = _port_share()
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RESERVED_PORTS and (port // 2) % count == index:
            return port


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host``:``port`` now."""
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60, name: str = "server") -> None:
    """Waits until ``url`` answers 200; fails at once if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} while starting")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")


def wait_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 30) -> None:
    """Waits until something listens on ``port`` (a server that speaks no HTTP); fails at once if
    ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} while starting")
        if listening(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f} s")


def start_script(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    """A script as a terminal would run it (`make run`'s, `make run-cluster`'s): in a process group of
    its own, so that a SIGINT to the group is Ctrl-C; its output gathered line by line as it comes, in
    the list returned."""
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
    return proc, lines


def terminate(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then waits up to ``timeout`` seconds for the process to exit."""
    proc.terminate()
    proc.wait(timeout)


def stop_process_groups(procs: Sequence[subprocess.Popen], grace: float) -> None:
    """Stops processes started with ``start_new_session=True``, each with its whole group: SIGTERM in
    the reverse of ``procs``' order, then SIGKILL for any group still there after ``grace`` seconds."""
    for proc in reversed(procs):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this run started, and only it
            except ProcessLookupError:
                pass
            proc.wait(5)


def process_stats() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields of /proc/PID/stat after the name) of every process now running;
    field 1 is the parent's pid, 2 the process group, 11 and 12 the user and system CPU ticks."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        yield int(entry), stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :].split()


def children_of(pid: int) -> set[int]:
    """The pids whose parent is ``pid`` (gunicorn's workers, given its master)."""
    return {child for child, _name, fields in process_stats() if int(fields[1]) == pid}


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
