"""One server for the length of a ``with`` block: started on the given port, waited for until it
answers, stopped (SIGTERM, then a wait) when the block ends. For a whole set of processes that a
test kills or pauses, see `devstack.stack`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

from devstack import commands
from devstack.processes import ROOT, terminate, wait_until_up

Output = int | IO | None  # where a process's stdout and stderr go: None inherits ours, subprocess.DEVNULL drops them


def start_gunicorn(
    module: str, port: int, env: Mapping[str, str], *options: str, output: Output = None
) -> subprocess.Popen:
    """``module`` under the project's gunicorn settings on 127.0.0.1:``port``, with exactly ``env``."""
    return subprocess.Popen(
        commands.gunicorn(module, f"127.0.0.1:{port}", *options), cwd=ROOT, env=dict(env), stdout=output, stderr=output
    )


@contextmanager
def gunicorn(
    module: str,
    port: int,
    env: Mapping[str, str],
    health: str = "/readyz",
    output: Output = None,
    settle: float = 0.0,
    options: tuple[str, ...] = (),
) -> Iterator[str]:
    """Serves ``module`` with the project's gunicorn settings (and ``options``) on ``port`` until the
    block ends; yields its URL once ``health`` answers 200 (and ``settle`` seconds more, for every
    worker to finish booting)."""
    proc = start_gunicorn(module, port, env, *options, output=output)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + health, proc)
        if settle:
            time.sleep(settle)
        yield base
    finally:
        terminate(proc, 20)


def start_edge(env: Mapping[str, str], output: Output = None) -> subprocess.Popen:
    """The nginx edge with exactly ``env`` (see `commands.edge_env`)."""
    return subprocess.Popen(commands.edge(), cwd=ROOT, env=dict(env), stdout=output, stderr=output)


@contextmanager
def edge(
    port: int,
    env: Mapping[str, str],
    health: str = "/healthz",
    timeout: float = 60,
    output: Output = None,
    stop_timeout: float = 20,
) -> Iterator[str]:
    """The nginx edge on ``port`` until the block ends; yields its URL once ``health`` answers 200."""
    proc = start_edge(env, output)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + health, proc, timeout=timeout)
        yield base
    finally:
        terminate(proc, stop_timeout)
