"""A set of Seatline's processes run together (a chaos scenario, the flash sale): each started by
name in a process group of its own (a kill takes the whole process, its children included), logging
to ``<logdir>/<name>.log``, and stopped together in the reverse of the order they started in."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from devstack import commands
from devstack.processes import ROOT, stop_process_groups, tail


class Stack:
    """``env`` is every process's environment; each start may add to it. ``grace`` is how long
    ``stop()`` waits after SIGTERM before it kills what is left."""

    def __init__(self, logdir: Path, env: dict[str, str] | None = None, grace: float = 15) -> None:
        self.logdir = logdir
        self.env = env or {}
        self.grace = grace
        self.procs: dict[str, subprocess.Popen] = {}
        self.retired: list[tuple[str, subprocess.Popen]] = []  # killed or stopped on purpose
        self._serial = 0

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.logdir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    # -- the processes

    def start_gunicorn(
        self, name: str, module: str, port: int, *options: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """web and browse (``wsgi:app``) or the gate (``queue_gate.wsgi:app``)."""
        return self.start(name, commands.gunicorn(module, f"127.0.0.1:{port}", *options), env)

    def start_web(self, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
        return self.start_gunicorn("web", "wsgi:app", port, env=env)

    def start_gateway(self, port: int, threads: int, env: dict[str, str]) -> subprocess.Popen:
        """The gateway simulator; ``env`` holds its SIM_* settings."""
        return self.start(
            "gateway", commands.gateway_simulator(f"127.0.0.1:{port}", threads, "--log-level", "warning"), env
        )

    def start_worker(self, env: dict[str, str] | None = None) -> str:
        """One more `flask worker`, named worker-1, worker-2, …; returns its name."""
        self._serial += 1
        name = f"worker-{self._serial}"
        self.start(name, commands.flask("worker"), env)
        return name

    def start_scheduler(self, env: dict[str, str] | None = None, name: str = "scheduler") -> subprocess.Popen:
        return self.start(name, commands.flask("scheduler"), env)

    def start_smtp(self, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
        return self.start("smtp", commands.smtp_sink(f"127.0.0.1:{port}"), env)

    def start_edge(self, env: dict[str, str]) -> subprocess.Popen:
        """The nginx edge; ``env`` from `commands.edge_env`."""
        return self.start("edge", commands.edge(), env)

    def start_monitor(self, env: dict[str, str]) -> subprocess.Popen:
        """Prometheus, as `make run MONITOR=1`'s ``monitor``; ``env`` from `commands.monitor_env`."""
        return self.start("prometheus", commands.monitor(), env)

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

    def check_alive(self) -> None:
        """Raises if a process exited though nobody stopped it, naming its log."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.logdir / (name + '.log')}")

    def logs(self, names: Iterable[str] | None = None, lines: int = 30) -> str:
        out = []
        for path in sorted(self.logdir.glob("*.log")):
            if names is None or path.stem in names:
                out.append(f"--- {path.name} (last {lines} lines)\n{tail(path, lines)}")
        return "\n".join(out)

    def stop(self) -> None:
        """Stops every process still running (again: nothing left to do)."""
        procs, self.procs = list(self.procs.values()), {}
        stop_process_groups(procs, grace=self.grace)
