"""The run from start to end: set-up, processes, the sale, the checks, the report; every process is
stopped at the end, also on Ctrl-C or a failure."""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import threading
import time
from datetime import datetime

from bench.flash_sale.browsing import Browsing
from bench.flash_sale.chart import chart
from bench.flash_sale.checks import check, drain
from bench.flash_sale.fans import Simulation
from bench.flash_sale.faults import PLAN, Faults
from bench.flash_sale.params import DB, LOADGEN_NICE, PROMETHEUS_DIR, REDIS_DB, parse_args
from bench.flash_sale.processes import (
    WATCH,
    Ports,
    cluster_ports,
    cpu_snapshot,
    machine_busy,
    metrics_ports,
    stack_env,
    start_cluster_stack,
    start_monitor,
    start_stack,
)
from bench.flash_sale.recording import Recorder
from bench.flash_sale.report import machine, report, write_results
from bench.flash_sale.sale import build_sale, create_database, make_app
from devstack.cluster import Cluster
from devstack.processes import ROOT, listening
from devstack.stack import Stack


def main(argv: list[str] | None = None) -> int:
    params = parse_args(argv)
    started = datetime.now().astimezone()
    command = (
        "make flash-sale" + (" MONITOR=1" if params.monitor else "") + (" CLUSTER=1" if params.cluster else "")
        if argv is None and not sys.argv[1:]
        else "python -m bench.flash_sale " + " ".join(argv if argv is not None else sys.argv[1:])
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    logdir = ROOT / ".run" / "flash-sale"
    logdir.mkdir(parents=True, exist_ok=True)
    for old in logdir.glob("*.log"):
        old.unlink()
    stack = Stack(logdir, grace=20)
    atexit.register(stack.stop)

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    from queue_gate.keys import jwks, load_keys, new_key_entry

    signing_keys = json.dumps([new_key_entry()])
    layout = None
    if params.cluster:
        layout, ports = cluster_ports(params)
    else:
        listeners = metrics_ports(params.workers, params.metrics_port)
        ports = Ports(metrics=listeners) if params.edge else Ports(edge=None, metrics=listeners)
    taken = [f"{name} {ports.metrics_bind(name)}" for name, port in ports.metrics.items() if listening(port)]
    prometheus_host, _, prometheus_port = params.prometheus_bind.rpartition(":")
    if params.monitor and listening(int(prometheus_port), prometheus_host):
        taken.append(f"Prometheus {params.prometheus_bind} (PROMETHEUS_BIND=127.0.0.1:9091 for another)")
    if params.monitor and not shutil.which("prometheus"):
        print("==> no prometheus: `scripts/services.sh --prometheus` installs it", file=sys.stderr)
        return 2
    if taken:
        print(
            "==> something already listens where this run's would: " + ", ".join(taken) + " (another flash sale? "
            "--metrics-port moves the metrics listeners)",
            file=sys.stderr,
        )
        return 2
    env = stack_env(params, ports, secrets.token_urlsafe(48), json.dumps(jwks(load_keys(signing_keys))))
    cluster = Cluster(layout, stack, env["DATABASE_URL"], logdir / "cluster") if layout else None
    if cluster:
        atexit.register(cluster.stop)
    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "REDIS_URL")})
    try:
        busy0, t0 = machine_busy()[0], time.monotonic()
        time.sleep(3.0)
        idle_check = (machine_busy()[0] - busy0) / (time.monotonic() - t0) * 100
        if idle_check > 25:
            print(
                f"==> WARNING: before anything started, the machine was already {idle_check:.0f} % busy (of "
                f"{(os.cpu_count() or 1) * 100} %): other work shares the cores and these figures will show it"
            )
        print(f"==> database {DB}, Redis db {REDIS_DB}; logs in {logdir}")
        create_database(env)
        if cluster:
            print("==> the cluster's data tier: a PostgreSQL replica, two PgBouncers, a Redis Cluster, RQ's Redis")
            env.update(cluster.start_data())
            # Any gate answers the keys: asked through the edge.
            env["GATE_JWKS_URL"] = f"{ports.front_gate}/gate/v1/jwks.json"
            params.queue_url, params.room_url = env["REDIS_QUEUE_URL"], env["REDIS_ROOM_URL"]
        app = make_app(env)
        t = time.monotonic()
        sale = build_sale(app, params)
        print(
            f"==> {len(sale.seat_ids)} seats, {params.fans} fans with tokens ({time.monotonic() - t:.1f} s); "
            f"waiting room: batch {params.batch} every {params.interval:g} s, cap {params.cap}, "
            f"session {params.session} s, HOLD_TTL_SECONDS={params.hold_ttl}"
        )
        print(
            f"==> starting web :{ports.web}, gate :{ports.gate}, gateway :{ports.gateway}, smtp :{ports.smtp}, "
            f"{params.workers} workers, scheduler"
        )
        if cluster:
            start_cluster_stack(cluster, params, ports, env, signing_keys)
        else:
            start_stack(stack, params, ports, env, signing_keys)
        print(
            "==> metrics: "
            + ", ".join(
                f"{name} http://{ports.metrics_bind(name)}/metrics" for name in ports.metrics if name in stack.procs
            )
        )
        if params.monitor:
            start_monitor(stack, ports, env, params.prometheus_bind, PROMETHEUS_DIR)
            print(
                f"==> Prometheus: http://{params.prometheus_bind}/ (Graph; Status > Targets), its data in "
                f"{PROMETHEUS_DIR.relative_to(ROOT)}; for instance"
            )
            for what, query in WATCH:
                print(f"      {what:<18}{query}")
            print('    (more in README "Watching a sale")')
        else:
            print('==> `make flash-sale MONITOR=1` also runs Prometheus on them (README "Watching a sale")')
        rec = Recorder()
        sim = Simulation(params, ports, sale, rec)
        browsing = Browsing(params, ports, sale, rec.t0)
        sim.stack = stack
        print("==> the sale")
        # The cyclic collector walking millions of live objects stalled the event loop for seconds at a
        # time: everything made so far is frozen out of its reach, and it waits until the sale is over.
        gc.collect()
        gc.freeze()
        gc.disable()
        browsing.start()
        # The simulated fans are not part of the system under test but share its two cores: they run
        # at a lower priority (the browsing clients, started just before, keep the normal one), so
        # that what they take from the servers is what is left over, as on a separate machine.
        # Their own event-loop lag (in the report) shows what that costs them.
        os.nice(LOADGEN_NICE)
        sim.loadgen_pids = {"loadgen fans": os.getpid(), "loadgen browsers": browsing.proc.pid}
        cpu0, wall0 = cpu_snapshot(stack, sim.loadgen_pids), time.monotonic()
        faults, stop_faults = (Faults(sim, cluster, sale.event_id) if cluster else None), threading.Event()
        if faults:
            faults.start(stop_faults)
        try:
            asyncio.run(sim.run())
            cpu1, wall = cpu_snapshot(stack, sim.loadgen_pids), time.monotonic() - wall0
            sim.browse_lag = browsing.finish(rec)["lag"]
        finally:
            stop_faults.set()
            browsing.kill()
            gc.enable()
        labels = {
            "loadgen fans": "load generator: fans",
            "loadgen browsers": "load generator: browsers",
            **{name: name for name in stack.procs},
            "postgres": "postgres (every database)",
            "redis": "redis-server (every db)",
        }
        cpu = {label: cpu1.get(key, 0.0) - cpu0.get(key, 0.0) for key, label in labels.items()}
        machine_cpu = cpu1["machine"] - cpu0["machine"]
        cpu["everything else (kernel, other work)"] = machine_cpu - sum(cpu.values())
        cpu["whole machine"] = machine_cpu
        print("==> letting the workers drain")
        drained, left = drain(ports, stack)
        checks, facts = check(app, ports, sale, sim, drained, left, cluster=params.cluster)
        if faults:
            checks.append(
                (
                    "every fault was made mid-sale",
                    len(faults.done) == len(PLAN) and not faults.errors,
                    "; ".join(faults.errors) or f"{len(faults.done)} of {len(PLAN)}",
                )
            )
        text = report(params, sim, checks, facts, cpu, wall, sale)
        if faults:
            text += "\n\n" + "\n".join(faults.section())
        text = f"Machine busy before the run: {idle_check:.0f} % of one core (other work)\n\n" + text
        ok = all(passed for _, passed, _ in checks)
        print()
        print(text)
        if params.write:
            params.out_dir.mkdir(parents=True, exist_ok=True)
            png = params.out_dir / ("flash_sale_cluster.png" if params.cluster else "flash_sale.png")
            chart(
                sim,
                png,
                f"Flash sale: {params.fans} fans, {len(sale.seat_ids)} seats ({started.strftime('%Y-%m-%d %H:%M')})",
            )
            md = write_results(params, text, machine(), started, ok, png.name, command)
            print(f"\n==> wrote {md.relative_to(ROOT) if md.is_relative_to(ROOT) else md} and {png.name}")
        print("==> " + ("every check passed" if ok else "SOME CHECKS FAILED") + f" (process logs: {logdir})")
        if params.monitor:
            print(
                f"==> Prometheus stops with the rest; `PROMETHEUS_DIR={PROMETHEUS_DIR.relative_to(ROOT)} "
                "scripts/monitor.sh` serves this sale's figures again"
            )
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\n==> interrupted; stopping every process", file=sys.stderr)
        return 130
    finally:
        if cluster:
            cluster.stop()
        stack.stop()
