"""A Redis Cluster on loopback: six ``redis-server --cluster-enabled yes`` nodes on free ports in a
directory of their own, three masters and a replica each (``redis-cli --cluster create``), for the
tests that run the waiting room, the rate limits, the seat hints and the response cache on a cluster
(ARCHITECTURE.md "Redis by role"). Nothing is persisted: a node that is stopped comes back empty.

A node that is lost is noticed after ``node_timeout_ms`` and its replica takes its slots over; a
failover takes about twice that."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from devstack import commands
from devstack.processes import free_port, listening, stop_process_groups, tail

NODES = 6
DEFAULT_NODE_TIMEOUT_MS = 1000


class RedisCluster:
    def __init__(
        self, workdir: Path, node_timeout_ms: int = DEFAULT_NODE_TIMEOUT_MS, ports: list[int] | None = None
    ) -> None:
        """``ports``: the six nodes' ports (each also uses its port + 10000); free ones if not given."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.node_timeout_ms = node_timeout_ms
        self.ports: list[int] = list(ports or [])
        self.procs: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        """The cluster's URL as the settings take it (README "Configuration"): every node a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self, timeout: float = 60) -> None:
        while len(self.ports) < NODES:
            port = free_port()
            # A node also listens on its port + 10000 (the cluster bus), so the port stays below 55536.
            if port <= 55535 and port not in self.ports and not listening(port + 10000):
                self.ports.append(port)
        for port in self.ports:
            self._start_node(port)
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while not listening(port):
                if self.procs[port].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on {port} did not start:\n{tail(self._log(port))}")
                time.sleep(0.05)
        created = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}")
        self.wait_ok(timeout=max(1.0, deadline - time.monotonic()))

    def _log(self, port: int) -> Path:
        return self.dir / f"node-{port}.log"

    def _start_node(self, port: int) -> None:
        node_dir = self.dir / str(port)
        node_dir.mkdir(exist_ok=True)
        with open(self._log(port), "ab") as log:  # the child keeps its own copy
            self.procs[port] = subprocess.Popen(
                commands.redis_server(
                    port,
                    node_dir,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(node_dir / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(self.node_timeout_ms),
                    # A replica copies its master at once (not after the default 5 s), so the cluster can
                    # fail over as soon as it is up: a replica that never synced cannot take over.
                    "--repl-diskless-sync-delay",
                    "0",
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def cli(self, port: int, *args: str) -> str:
        """``redis-cli -p port args...``'s output ('' if the node does not answer)."""
        try:
            done = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=5)
        except subprocess.TimeoutExpired:
            return ""
        return done.stdout if done.returncode == 0 else ""

    def live_ports(self) -> list[int]:
        return [port for port in self.ports if self.procs[port].poll() is None]

    def state_ok(self) -> bool:
        """Whether every live node says ``cluster_state:ok`` and sees every slot served, and every live
        replica has synced with its master (only such a replica can take over from it)."""
        for port in self.live_ports():
            info = self.cli(port, "cluster", "info")
            if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                return False
            replication = self.cli(port, "info", "replication")
            if "role:slave" in replication and "master_link_status:up" not in replication:
                return False
        return True

    def wait_ok(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.state_ok():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not reach cluster_state:ok within {timeout:.0f} s")
            time.sleep(0.1)

    def masters(self) -> list[tuple[int, str]]:
        """``(port, node id)`` of the masters that serve slots now, as a live node sees them."""
        for port in self.live_ports():
            found = []
            for line in self.cli(port, "cluster", "nodes").splitlines():
                fields = line.split()
                if len(fields) > 8 and "master" in fields[2] and "fail" not in fields[2]:
                    found.append((int(fields[1].split(":")[1].split("@")[0]), fields[0]))
            if found:
                return found
        return []

    def master_of(self, key_slot: int) -> int:
        """The port of the master serving ``key_slot`` now."""
        for port in self.live_ports():
            for line in self.cli(port, "cluster", "nodes").splitlines():
                fields = line.split()
                if len(fields) < 9 or "master" not in fields[2] or "fail" in fields[2]:
                    continue
                for served in fields[8:]:
                    low, _, high = served.partition("-")
                    if low.isdigit() and int(low) <= key_slot <= int(high or low):
                        return int(fields[1].split(":")[1].split("@")[0])
        raise RuntimeError(f"no live master serves slot {key_slot}")

    def slot_of(self, key: str) -> int:
        return int(self.cli(self.live_ports()[0], "cluster", "keyslot", key).strip())

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port``: gone without a word, as a crashed machine would be."""
        proc = self.procs[port]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)

    def stop(self) -> None:
        stop_process_groups(list(self.procs.values()), grace=5)
