"""The run's arguments (`--fans`, `--seats`, …) and the fixed settings every part of it shares: its own
database and Redis database, the city's time zone, the database pool of each server process."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

import bench.flash_sale
from devstack.processes import ROOT

DB = "seatline_flash"
PG = "host=127.0.0.1 port=5432 user=seatline password=seatline"
DB_URL = f"postgresql+psycopg://seatline:seatline@127.0.0.1:5432/{DB}"
REDIS_DB = int(os.environ.get("FLASH_SALE_REDIS_DB", "11"))  # another db when something else uses 11
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
CITY_TZ = "Europe/London"

# Per gunicorn worker: one connection per thread, plus a little room. Web and gate run the project's
# gunicorn settings (2 x cores workers, 4 threads), so the run holds at most about 60 connections of
# the server's 100 however hard it is pushed, and other work on the machine keeps its share.
DB_POOL_SIZE, DB_MAX_OVERFLOW = 4, 2
LOADGEN_NICE = 5  # the simulated fans' process priority (os.nice); see main()

# The first of the metrics listeners' ports (README "Watching a sale"): fixed, beside `make run`'s
# 9200-9204, so that the README can name them and a Prometheus keeps the same targets from one sale
# to the next (its data outlives a run); `--metrics-port` moves the whole block.
METRICS_PORT = 9210
# `--monitor` (`make flash-sale MONITOR=1`): Prometheus' config and data, apart from `make run`'s.
PROMETHEUS_DIR = ROOT / ".run" / "prometheus-flash"


def redis_client(url: str) -> redis.Redis | RedisCluster:
    """A client for one of the run's Redis URLs: a plain one, or a Redis Cluster's
    (``redis+cluster://host:port,host:port``, as the app's settings take it)."""
    if not url.startswith("redis+cluster://"):
        return redis.Redis.from_url(url)
    seeds = [seed.rpartition(":") for seed in url.removeprefix("redis+cluster://").split(",")]
    return RedisCluster(startup_nodes=[ClusterNode(host, int(port)) for host, _, port in seeds])


@dataclass
class Params:
    fans: int = 20000
    seats: int = 2000
    batch: int = 0  # 0: derived from seats
    interval: float = 2.0
    cap: int = 0  # 0: derived from seats
    session: int = 60
    hold_ttl: int = 25
    join_window: float = 60.0
    opens_after: float = 15.0
    browsers: int = 8
    min_poll: float = 0.0
    web_workers: int = 0  # 0: gunicorn.conf.py's default, 2 x cores
    web_threads: int = 4
    edge: bool = True
    workers: int = 2
    max_sale_seconds: float = 600.0
    seed: int | None = None
    out_dir: Path = ROOT / "bench"
    write: bool = True
    metrics_port: int = METRICS_PORT
    monitor: bool = False
    prometheus_bind: str = "127.0.0.1:9090"
    # `--cluster` (`make flash-sale CLUSTER=1`): the sale against the stack of `make run-cluster`, with
    # faults mid-sale (bench/flash_sale/faults.py).
    cluster: bool = False
    # Where the run's RQ queues and waiting rooms live: the run's Redis database, or, with --cluster,
    # the cluster's RQ Redis and Redis Cluster (set once they are up).
    queue_url: str = REDIS_URL
    room_url: str = REDIS_URL

    def derive(self) -> None:
        self.batch = self.batch or max(10, self.seats // 20)
        self.cap = self.cap or max(50, self.seats // 2)


def parse_args(argv: list[str] | None = None) -> Params:
    p = argparse.ArgumentParser(
        prog="python -m bench.flash_sale",
        description=bench.flash_sale.__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--fans", type=int, default=20000, help="fans who join the waiting room (default 20000)")
    p.add_argument("--seats", type=int, default=2000, help="seats of the show, at most 2000 (default 2000)")
    p.add_argument("--batch", type=int, default=0, help="waiting room batch size (default seats/20)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between batches (default 2)")
    p.add_argument("--cap", type=int, default=0, help="most admitted fans at once (default half the seats)")
    p.add_argument("--session", type=int, default=60, help="admission session seconds (default 60)")
    p.add_argument("--hold-ttl", type=int, default=25, help="HOLD_TTL_SECONDS for the run (default 25)")
    p.add_argument("--join-window", type=float, default=60.0, help="fans arrive over this many seconds (default 60)")
    p.add_argument("--opens-after", type=float, default=15.0, help="the sale opens this long after the last join (15)")
    p.add_argument("--browsers", type=int, default=8, help="browsing clients, one visit a second each (default 8)")
    p.add_argument(
        "--min-poll",
        type=float,
        default=0.0,
        help="for experiments: never poll the waiting room more often than this many seconds (default 0: "
        "exactly the waiting-room page's policy)",
    )
    p.add_argument(
        "--web-workers",
        type=int,
        default=0,
        help="gunicorn workers of the web process (default: gunicorn.conf.py's, 2 x cores)",
    )
    p.add_argument("--web-threads", type=int, default=4, help="threads per web worker (default 4, as gunicorn.conf.py)")
    p.add_argument(
        "--no-edge",
        action="store_true",
        help="for comparison: clients talk to gunicorn directly instead of through the nginx edge",
    )
    p.add_argument("--workers", type=int, default=2, help="`flask worker` processes (default 2)")
    p.add_argument("--max-sale-seconds", type=float, default=600.0, help="give up on selling out after this long")
    p.add_argument("--seed", type=int, default=None, help="random seed for the fans' choices")
    p.add_argument("--out-dir", type=Path, default=ROOT / "bench", help="where FLASH_SALE.md and flash_sale.png go")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file and chart alone")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=METRICS_PORT,
        help=f"the processes' metrics listeners take this port and the next ones (default {METRICS_PORT}: web, "
        "gate, browse, scheduler, then each worker)",
    )
    p.add_argument(
        "--monitor",
        action="store_true",
        default=os.environ.get("MONITOR") == "1",
        help="also run Prometheus on the listeners, on PROMETHEUS_BIND (default 127.0.0.1:9090); "
        "`make flash-sale MONITOR=1` sets it",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        default=os.environ.get("CLUSTER") == "1",
        help="run the sale against the cluster of `make run-cluster` (a PostgreSQL replica, PgBouncer, a Redis "
        "Cluster, two of each server and worker) and kill one web, gate and worker, a Redis Cluster master "
        "and the PostgreSQL replica mid-sale; `make flash-sale CLUSTER=1` sets it",
    )
    a = p.parse_args(argv)
    if not 1 <= a.seats <= 2000:
        p.error("--seats must be between 1 and 2000 (the concert hall)")
    if a.fans < 1:
        p.error("--fans must be positive")
    params = Params(
        a.fans,
        a.seats,
        a.batch,
        a.interval,
        a.cap,
        a.session,
        a.hold_ttl,
        a.join_window,
        a.opens_after,
        a.browsers,
        a.min_poll,
        a.web_workers,
        a.web_threads,
        not a.no_edge,
        a.workers,
        a.max_sale_seconds,
        a.seed,
        a.out_dir,
        not a.no_write,
        a.metrics_port,
        a.monitor,
        os.environ.get("PROMETHEUS_BIND") or "127.0.0.1:9090",
        a.cluster,
    )
    if params.cluster and not params.edge:
        p.error("--cluster needs the edge, which balances between the copies: leave out --no-edge")
    params.derive()
    web = (params.web_workers or 2 * (os.cpu_count() or 1)) * (params.web_threads + DB_MAX_OVERFLOW)
    gate = 2 * (os.cpu_count() or 1) * (DB_POOL_SIZE + DB_MAX_OVERFLOW) + 2 * (
        DB_POOL_SIZE + DB_MAX_OVERFLOW
    )  # + browse
    if web + gate + params.workers * (DB_POOL_SIZE + DB_MAX_OVERFLOW) > 80:
        p.error(f"that many web threads could open {web} database connections; PostgreSQL allows 100 for everyone")
    return params
