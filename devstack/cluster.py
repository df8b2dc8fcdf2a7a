"""Seatline as a cluster on this machine's loopback (`make run-cluster`, `make flash-sale CLUSTER=1`;
README "Running as a cluster"): the same processes as `make run`, several of each, on the engines a
deployment across machines would use.

- PostgreSQL: the primary (the machine's server, DATABASE_URL's) and one streaming replica copied
  from it with ``pg_basebackup`` (`scripts/pg_replica.sh`), each behind its own PgBouncer in
  transaction mode (`scripts/pgbouncer.sh`). The app reaches the primary through its PgBouncer
  (DB_BEHIND_PGBOUNCER), migrations reach it directly (DATABASE_DIRECT_URL), browsing reads go to the
  replica's PgBouncer while the replica keeps up (DATABASE_REPLICA_URL, app/replica.py).
- Redis: a six-node Redis Cluster (three masters, a replica each) for the waiting room, the rate
  limits and hints, and the response cache; a plain Redis with a replica for RQ's queues.
- The processes: several web, browse and gate servers and workers, one scheduler (its periodic jobs
  run under a lock, so more would be safe too), behind the nginx edge, which balances between the
  copies of each and leaves out one that fails; the gateway simulator and an SMTP server.

Nothing here is specific to one machine but the addresses: each part is a process with its own
port, as it would be a host of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devstack import commands
from devstack.pg_replica import Replica, start_replica
from devstack.pgbouncer import PgBouncer
from devstack.processes import ROOT, free_port, listening, stop_process_groups, wait_port, wait_until_up
from devstack.redis_cluster import RedisCluster
from devstack.stack import Stack

KINDS = ("web", "browse", "gate")


@dataclass
class Layout:
    """Every address of the cluster, and how many of each process."""

    edge: int
    servers: dict[str, list[int]]  # web, browse, gate: one port per copy
    workers: int
    gateway: int
    smtp: int
    pg_replica: int
    pgbouncer: int
    pgbouncer_replica: int
    redis_queue: int
    redis_queue_replica: int
    redis_cluster: list[int]
    metrics: dict[str, int] = field(default_factory=dict)  # each process's listener, by name

    @classmethod
    def fixed(cls, copies: int = 2, workers: int = 2) -> Layout:
        """`make run-cluster`'s addresses, printed by it and named in the README; beside `make run`'s,
        so both can run at once."""
        layout = cls(
            edge=8090,
            servers={
                "web": [8010 + n for n in range(copies)],
                "browse": [8020 + n for n in range(copies)],
                "gate": [8030 + n for n in range(copies)],
            },
            workers=workers,
            gateway=12112,
            smtp=1026,
            pg_replica=5433,
            pgbouncer=6432,
            pgbouncer_replica=6433,
            redis_queue=6390,
            redis_queue_replica=6391,
            redis_cluster=[7001 + n for n in range(6)],
        )
        layout.metrics = dict(zip(layout.names(), range(9220, 9220 + len(layout.names())), strict=True))
        return layout

    @classmethod
    def free(cls, copies: int = 2, workers: int = 2, metrics_base: int | None = None) -> Layout:
        """Free ports throughout, no two alike (tests, the flash sale); the metrics listeners from
        ``metrics_base`` on if given."""
        handed: set[int] = set()

        def port() -> int:
            # free_port() may hand out a port again once it has been released: never twice here.
            while (found := free_port()) in handed:
                pass
            handed.add(found)
            return found

        def node_port() -> int:
            # A Redis Cluster node also listens on its port + 10000 (the cluster bus).
            while (found := port()) > 55535 or listening(found + 10000) or found + 10000 in handed:
                pass
            handed.add(found + 10000)
            return found

        layout = cls(
            edge=port(),
            servers={kind: [port() for _ in range(copies)] for kind in KINDS},
            workers=workers,
            gateway=port(),
            smtp=port(),
            pg_replica=port(),
            pgbouncer=port(),
            pgbouncer_replica=port(),
            redis_queue=port(),
            redis_queue_replica=port(),
            redis_cluster=[node_port() for _ in range(6)],
        )
        names = layout.names()
        if metrics_base is None:
            layout.metrics = {name: port() for name in names}
        else:
            layout.metrics = dict(zip(names, range(metrics_base, metrics_base + len(names)), strict=True))
        return layout

    def names(self) -> list[str]:
        """Every app process by name: web-1, web-2, browse-1, …, gate-1, …, worker-1, …, scheduler."""
        names = [f"{kind}-{n}" for kind in KINDS for n in range(1, len(self.servers[kind]) + 1)]
        return [*names, *(f"worker-{n}" for n in range(1, self.workers + 1)), "scheduler"]

    def binds(self, kind: str) -> str:
        """The copies of ``kind`` as the edge takes them: host:port,host:port."""
        return ",".join(f"127.0.0.1:{port}" for port in self.servers[kind])

    def metrics_bind(self, name: str) -> str:
        return f"127.0.0.1:{self.metrics[name]}"

    def metrics_targets(self) -> dict[str, list[str]]:
        targets: dict[str, list[str]] = {}
        for name in self.metrics:
            targets.setdefault(kind_of(name), []).append(self.metrics_bind(name))
        return targets

    def ports(self) -> list[tuple[str, int]]:
        """Every fixed port this layout listens on, by what listens there (the cluster's own bus ports,
        each node's port + 10000, included)."""
        found = [("edge", self.edge), ("gateway simulator", self.gateway), ("SMTP", self.smtp)]
        found += [(f"{kind}-{n}", port) for kind in KINDS for n, port in enumerate(self.servers[kind], 1)]
        found += [
            ("PostgreSQL replica", self.pg_replica),
            ("PgBouncer (primary)", self.pgbouncer),
            ("PgBouncer (replica)", self.pgbouncer_replica),
            ("Redis for RQ", self.redis_queue),
            ("its replica", self.redis_queue_replica),
        ]
        found += [("Redis Cluster node", port) for port in self.redis_cluster]
        found += [("Redis Cluster bus", port + 10000) for port in self.redis_cluster]
        found += [(f"{name}'s metrics", port) for name, port in self.metrics.items()]
        return found


def kind_of(name: str) -> str:
    """web-2 is a web, worker-1 a worker, the scheduler a scheduler."""
    return name.split("-", 1)[0]


class Cluster:
    """The data tier (``start_data``) and the processes (``start_processes``) of one cluster; ``stop()``
    ends all of it, whatever had started. The processes run in ``stack``, as `make run`'s or a flash
    sale's; ``database_url`` is the primary's database, reached directly."""

    def __init__(self, layout: Layout, stack: Stack, database_url: str, workdir: Path) -> None:
        self.layout = layout
        self.stack = stack
        self.database_url = database_url
        self.workdir = workdir
        self.replica: Replica | None = None
        self.bouncers: list[PgBouncer] = []
        self.redis_cluster: RedisCluster | None = None
        self.redis_procs: list[subprocess.Popen] = []

    # -- the data tier

    def start_data(self, pool_size: int = 40) -> dict[str, str]:
        """PostgreSQL's replica and the two PgBouncers, the Redis Cluster, the queues' Redis and its
        replica; returns what the app reads to use them. ``pool_size``: server connections per
        PgBouncer (per database and user)."""
        layout = self.layout
        self.replica = start_replica(layout.pg_replica)
        primary = PgBouncer(self.database_url, pool_size=pool_size, port=layout.pgbouncer)
        self.bouncers.append(primary)
        replica = PgBouncer(self.replica.url_for(self.database_url), pool_size=pool_size, port=layout.pgbouncer_replica)
        self.bouncers.append(replica)
        shutil.rmtree(self.workdir / "redis-cluster", ignore_errors=True)
        self.redis_cluster = RedisCluster(self.workdir / "redis-cluster", ports=layout.redis_cluster or None)
        self.redis_cluster.start()
        layout.redis_cluster = list(self.redis_cluster.ports)
        self._start_redis("redis-queue", layout.redis_queue)
        self._start_redis(
            "redis-queue-replica", layout.redis_queue_replica, "--replicaof", "127.0.0.1", str(layout.redis_queue)
        )
        queue_url = f"redis://127.0.0.1:{layout.redis_queue}/0"
        return {
            "DATABASE_URL": primary.url,
            "DB_BEHIND_PGBOUNCER": "1",
            "DATABASE_DIRECT_URL": self.database_url,
            "DATABASE_REPLICA_URL": replica.url,
            "REDIS_URL": queue_url,
            "REDIS_QUEUE_URL": queue_url,
            "REDIS_ROOM_URL": self.redis_cluster.url,
            "REDIS_LIMITS_URL": self.redis_cluster.url,
            "REDIS_CACHE_URL": self.redis_cluster.url,
            "RATE_LIMIT_STORAGE_URL": self.redis_cluster.url,
        }

    def _start_redis(self, name: str, port: int, *options: str) -> None:
        directory = self.workdir / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        with open(directory / "redis.log", "ab") as log:
            proc = subprocess.Popen(
                commands.redis_server(port, directory, *options),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.redis_procs.append(proc)
        wait_port(port, proc, name)

    # -- the processes

    def process_env(self, env: dict[str, str], name: str) -> dict[str, str]:
        """``env`` for the process ``name``, with its metrics as the Procfile has them (its kind, its
        listener, a multiprocess directory of its own)."""
        directory = self.workdir / "metrics" / name
        return {**env, **commands.metrics_env(kind_of(name), self.layout.metrics_bind(name), directory)}

    def start_processes(
        self,
        env: dict[str, str],
        edge_dir: Path,
        gateway_env: dict[str, str],
        smtp: list[str] | None = None,
        server_options: dict[str, Iterable[str]] | None = None,
        server_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Every process of the cluster in ``self.stack``, each with ``env``, and waits until each
        answers. ``gateway_env``: the simulator's SIM_* settings; ``smtp``: the SMTP server's command
        (default: a sink that keeps nothing); ``server_options`` and ``server_env``: gunicorn options
        and settings by kind (web, browse, gate)."""
        layout, stack = self.layout, self.stack
        shutil.rmtree(self.workdir / "metrics", ignore_errors=True)
        options = server_options or {}
        extra = server_env or {}
        smtp_proc = stack.start("smtp", smtp or commands.smtp_sink(f"127.0.0.1:{layout.smtp}"), env)
        gateway = stack.start_gateway(layout.gateway, 8, {**env, **gateway_env})
        modules = {"web": "wsgi:app", "browse": "wsgi:app", "gate": "queue_gate.wsgi:app"}
        servers = []
        for kind in KINDS:
            for n, port in enumerate(layout.servers[kind], 1):
                name = f"{kind}-{n}"
                proc = stack.start_gunicorn(
                    name,
                    modules[kind],
                    port,
                    *options.get(kind, ()),
                    env={**self.process_env(env, name), **extra.get(kind, {})},
                )
                servers.append((name, port, proc))
        for n in range(1, layout.workers + 1):
            name = f"worker-{n}"
            stack.start(name, commands.flask("worker"), self.process_env(env, name))
        stack.start_scheduler(self.process_env(env, "scheduler"))
        shutil.rmtree(edge_dir, ignore_errors=True)
        edge = stack.start_edge(
            {
                **env,
                **commands.edge_env(
                    f"127.0.0.1:{layout.edge}",
                    layout.binds("web"),
                    layout.binds("gate"),
                    edge_dir,
                    browse=layout.binds("browse"),
                    static_root=ROOT / "app" / "static",
                ),
            }
        )
        wait_port(layout.smtp, smtp_proc, "SMTP server")
        wait_until_up(f"http://127.0.0.1:{layout.gateway}/_sim/health", gateway, name="gateway simulator")
        for name, port, proc in servers:
            wait_until_up(f"http://127.0.0.1:{port}/readyz", proc, name=name)
        wait_until_up(f"http://127.0.0.1:{layout.edge}/healthz", edge, name="edge (nginx)")
        for name in layout.names():
            wait_until_up(f"http://{layout.metrics_bind(name)}/metrics", stack.procs[name], name=f"{name}'s metrics")

    # -- faults

    def kill_redis_master(self) -> int:
        """SIGKILL one master of the Redis Cluster (its replica takes its slots over); returns its port."""
        assert self.redis_cluster is not None
        port = self.redis_cluster.masters()[0][0]
        self.redis_cluster.kill(port)
        return port

    # -- the end

    def stop(self) -> None:
        """Stops everything that was started, the processes first (again: nothing left to do)."""
        self.stack.stop()
        procs, self.redis_procs = self.redis_procs, []
        stop_process_groups(procs, grace=5)
        if self.redis_cluster is not None:
            self.redis_cluster.stop()
            self.redis_cluster = None
        bouncers, self.bouncers = self.bouncers, []
        for bouncer in bouncers:
            bouncer.stop()
        if self.replica is not None:
            self.replica.stop()
            self.replica = None


def taken(layout: Layout) -> list[str]:
    """What already listens where the layout's processes would."""
    return [f"{what} 127.0.0.1:{port}" for what, port in layout.ports() if listening(port)]


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without the settings a `make run` shell could
    leak into the cluster's processes: each process gets its own."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if k not in ("METRICS_BIND", "PROMETHEUS_MULTIPROC_DIR", "SERVICE_NAME")}
