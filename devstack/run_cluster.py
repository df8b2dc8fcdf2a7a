"""`make run-cluster` (scripts/run_cluster.sh): Seatline as a cluster on this machine's loopback, in
the foreground, with `make run`'s demo data and settings; Ctrl-C stops all of it (README "Running as a
cluster"). `devstack.cluster` says what runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack import commands
from devstack.cluster import Cluster, Layout, environment, taken
from devstack.processes import ROOT, wait_until_up
from devstack.stack import Stack

RUN = Path(os.environ.get("CLUSTER_DIR") or ROOT / ".run" / "cluster")


def settings(layout: Layout) -> dict[str, str]:
    """`make run`'s settings (scripts/run.sh), pointed at the cluster's edge."""
    edge = f"http://127.0.0.1:{layout.edge}"
    env = environment()
    env.update(
        ENV=env.get("ENV", "development"),
        FLASK_APP="wsgi",
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
        PUBLIC_URL=edge,
        GATE_PUBLIC_URL=edge,
        # Any gate answers the keys (they share GATE_SIGNING_KEYS_FILE): asked through the edge.
        GATE_JWKS_URL=f"{edge}/gate/v1/jwks.json",
        GATE_SIGNING_KEYS_FILE=env.get("GATE_SIGNING_KEYS_FILE", str(ROOT / ".run" / "gate-keys.json")),
        GATEWAY_API_BASE=f"http://127.0.0.1:{layout.gateway}",
        SMTP_PORT=str(layout.smtp),
        TRUSTED_PROXY_HOPS="1",
        EDGE_ACCESS_LOG=env.get("EDGE_ACCESS_LOG", "access.log seatline buffer=32k flush=1s"),
    )
    env.setdefault("DATABASE_URL", "postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline")
    env.setdefault("WEBHOOK_SECRET", "whsec_dev_secret")
    # Two gunicorn workers a copy: the cluster's copies share this machine's cores.
    env.setdefault("WEB_WORKERS", "2")
    return env


def banner(layout: Layout, cluster: Cluster, monitor: str | None) -> str:
    edge = f"http://127.0.0.1:{layout.edge}"
    assert cluster.redis_cluster is not None and cluster.replica is not None
    masters = {port for port, _ in cluster.redis_cluster.masters()}
    nodes = ", ".join(
        f"127.0.0.1:{port} ({'master' if port in masters else 'replica'})" for port in cluster.redis_cluster.ports
    )
    metrics = "; ".join(
        f"{kind} " + ", ".join(f"http://{bind}/metrics" for bind in binds)
        for kind, binds in layout.metrics_targets().items()
    )
    lines = [
        "",
        f"  Seatline (cluster) is running at {edge}/",
        f"  API:      {edge}/api/v1/openapi.json",
        f"  Gate:     {edge}/gate/v1/  (waiting room for the queue-protected tour date)",
        f"  Edge:     nginx at {edge}/ balancing web {layout.binds('web')}, browse {layout.binds('browse')}, "
        f"gate {layout.binds('gate')}",
        f"  Workers:  {layout.workers} RQ workers and the scheduler",
        "  Demo fan: fan@example.com / seatline-demo",
        f"  Manager:  manager@example.com / seatline-demo  (dashboard: {edge}/manage)",
        "  Admin:    admin@example.com / seatline-demo  (sees every organisation)",
        f"  Door:     door@example.com / seatline-demo  (scanner: {edge}/door; presale code DOCKFIRST for the club night)",
        f"  Payments: the gateway simulator at http://127.0.0.1:{layout.gateway}/ (test cards pm_card_visa, "
        "pm_card_chargeDeclined)",
        f"  PostgreSQL primary: {cluster.database_url.split('@')[-1]} (through PgBouncer 127.0.0.1:{layout.pgbouncer})",
        f"  PostgreSQL replica: 127.0.0.1:{layout.pg_replica}, streaming from the primary (through PgBouncer "
        f"127.0.0.1:{layout.pgbouncer_replica}; browsing reads it while it keeps up)",
        f"  Redis Cluster: {nodes}  (waiting room, rate limits and hints, response cache)",
        f"  Redis for RQ: 127.0.0.1:{layout.redis_queue}, its replica 127.0.0.1:{layout.redis_queue_replica}",
        f"  Metrics:  {metrics}",
    ]
    if monitor:
        lines.append(f"  Prometheus: http://{monitor}/  (its Alerts page, Status > Targets)")
    lines += [
        "  Email:    every message lands in .run/mailbox/new/ (one file per message)",
        f"  Logs:     {RUN / 'logs'}/ (one per process; their pids in {RUN / 'pids'})",
        "  Ctrl-C stops every process.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    layout = Layout.free() if os.environ.get("CLUSTER_PORTS") == "free" else Layout.fixed()
    busy = taken(layout)
    if busy:
        print("==> something already listens where the cluster would: " + ", ".join(busy), file=sys.stderr)
        return 2
    env = settings(layout)
    monitor = os.environ.get("PROMETHEUS_BIND", "127.0.0.1:9090") if os.environ.get("MONITOR") == "1" else None
    logs = RUN / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    stack = Stack(logs, env, grace=15)
    cluster = Cluster(layout, stack, env["DATABASE_URL"], RUN)

    def stop(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: started in the background by scripts/run_cluster.sh, this process inherits SIGINT
    # ignored (as every background job of a script does) and would never see Ctrl-C.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print("==> starting the PostgreSQL replica, PgBouncer, the Redis Cluster and RQ's Redis", flush=True)
        env.update(cluster.start_data())
        stack.env = env
        subprocess.run(commands.flask("db", "upgrade"), cwd=ROOT, env=env, check=True)
        subprocess.run(commands.flask("seed-demo"), cwd=ROOT, env=env, check=True)
        keys = Path(env["GATE_SIGNING_KEYS_FILE"])
        if not keys.exists():
            subprocess.run(commands.flask("gate-keys", str(keys)), cwd=ROOT, env=env, check=True)
        mailbox = ROOT / ".run" / "mailbox"
        for part in ("new", "cur", "tmp"):
            (mailbox / part).mkdir(parents=True, exist_ok=True)
        print("==> starting the processes", flush=True)
        cluster.start_processes(
            env,
            RUN / "nginx",
            {
                "SIM_WEBHOOK_URL": f"http://127.0.0.1:{layout.edge}/api/v1/payments/webhook",
                "SIM_WEBHOOK_SECRET": env["WEBHOOK_SECRET"],
            },
            smtp=[
                str(ROOT / ".venv" / "bin" / "python"),
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{layout.smtp}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(mailbox),
            ],
            server_options={"browse": ("--workers", env.get("BROWSE_WORKERS", "1"))},
        )
        if monitor:
            proc = stack.start_monitor(
                {**env, **commands.monitor_env(layout.metrics_targets(), monitor, RUN / "prometheus")}
            )
            wait_until_up(f"http://{monitor}/-/ready", proc, name="prometheus")
        # Each process's pid, which is also its process group's: `kill -9 -PID` takes one down whole.
        (RUN / "pids").write_text("".join(f"{name} {proc.pid}\n" for name, proc in stack.procs.items()))
        print(banner(layout, cluster, monitor), flush=True)
        reported: set[str] = set()
        while True:
            for name, code in stack.dead().items():
                if name not in reported:
                    reported.add(name)
                    print(f"==> {name} exited with {code}; see {logs / (name + '.log')}", flush=True)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\n==> stopping every process", flush=True)
        return 0
    except Exception as exc:
        print(f"==> the cluster did not start: {exc}", file=sys.stderr, flush=True)
        print(stack.logs(lines=15), file=sys.stderr)
        return 1
    finally:
        # Ctrl-C reaches this process and the script that runs it (which passes it on): the second
        # one must not cut the stopping short, nor may any other until everything has stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
