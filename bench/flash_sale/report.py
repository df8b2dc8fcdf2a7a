"""The run in figures: percentiles, browsing latency and CPU per 10-s window, the text report, and
FLASH_SALE.md with the date and the machine."""

from __future__ import annotations

import math
import os
import platform
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import redis

from bench.flash_sale.params import LOADGEN_NICE, PG, Params
from bench.flash_sale.recording import BROWSE, ENDPOINTS
from bench.flash_sale.sale import Sale
from bench.flash_sale.waits import PG_STATES, WEB_ENDPOINTS, in_app_seconds

if TYPE_CHECKING:
    from bench.flash_sale.fans import Simulation

WINDOW = 10.0  # seconds per browsing-latency window


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def ms(x: float) -> str:
    return "-" if x != x else f"{x * 1000:.0f}" if x >= 0.0995 else f"{x * 1000:.1f}"


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    with psycopg.connect(f"{PG} dbname=postgres") as c:
        pg = c.execute("SHOW server_version").fetchone()[0]
    mem = (
        next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        / 1024
        / 1024
    )
    return {
        "uname": " ".join(platform.uname()),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem:.1f} GiB",
        "python": platform.python_version(),
        "postgres": pg,
        "redis": redis.Redis().info("server")["redis_version"],
    }


def report(
    params: Params, sim: Simulation, checks: list, facts: dict, cpu: dict[str, float], wall: float, sale: Sale
) -> str:
    rec, opens = sim.rec, sim.opens_mono
    out: list[str] = []
    w = out.append
    sold = facts["last_booking"] if sim.stuck is None else None
    holds_ok, attempts = rec.counts["holds"], rec.counts["hold attempts"]
    cores = os.cpu_count() or 1
    admitted_ts = [(x["t"], x["admitted"]) for x in sim.timeline]
    peak, j = 0, 0
    for _i, (t1, b) in enumerate(admitted_ts):  # the most admitted within any 60 s
        while admitted_ts[j][0] < t1 - 60:
            j += 1
        peak = max(peak, b - admitted_ts[j][1])

    def row(name: str, value: str) -> None:
        w(f"  {name:<42}{value}")

    w(f"Sale: {len(sale.seat_ids)} seats, {params.fans} fans")
    row(
        "set-up",
        f"web {params.web_workers or 2 * cores} gunicorn workers x {params.web_threads} threads, gate "
        f"{2 * cores} x 4; waiting room batch {params.batch} every {params.interval:g} s, cap {params.cap}, "
        f"session {params.session} s; holds last {params.hold_ttl} s",
    )
    row(
        "clients reach web and gate",
        "through the nginx edge (scripts/edge.sh, as `make run`)"
        if params.edge
        else "directly, without the edge (a comparison)",
    )
    row(
        "load generators",
        f"fans at nice {LOADGEN_NICE} (they yield to the servers), browsing clients at normal priority",
    )
    row(
        "metrics",
        'each process\'s listener (README "Watching a sale"); '
        + (
            f"Prometheus on http://{params.prometheus_bind}/ scraping them (--monitor)"
            if params.monitor
            else "no Prometheus (--monitor starts one)"
        ),
    )
    row(
        "fans poll the waiting room",
        f"no more often than every {params.min_poll:g} s (an experiment)"
        if params.min_poll
        else "as its own page does (queue_gate.pages.poll_delay)",
    )
    row(
        "joins",
        f"{params.fans} in {sim.last_join_at - sim.joins_start:.1f} s; the sale opened "
        f"{opens - sim.last_join_at:.1f} s after the last"
        + (f" (opening moved back {sim.retimed}x: joins ran late)" if sim.retimed else "")
        + (" BUT the old opening passed before the manager's call got through" if sim.late_retime else ""),
    )
    row(
        "time from opening to sold out",
        f"{sold:.1f} s (the last booking)" if sold is not None else f"NOT SOLD OUT: {sim.stuck}",
    )
    if sold:
        row(
            "admission rate",
            f"{facts['admitted_before_sellout'] / (sold / 60):.0f} fans/min "
            f"({facts['admitted_before_sellout']} admitted before the sell-out; best minute {peak})",
        )
    row("admitted / collected their token", f"{facts['admitted']} / {rec.counts['admitted']}")
    row(
        "hold attempts / successes / success rate",
        f"{attempts} / {holds_ok} / "
        f"{(holds_ok / attempts * 100) if attempts else 0:.1f} %  ({rec.counts['seats held']} seats held)",
    )
    row("bookings (seats)", f"{facts['bookings']} ({facts['booked_seats']})")
    row("declined, then paid", str(rec.counts["declined"]))
    row(
        "holds abandoned / released",
        f"{rec.counts['abandoned']} / {rec.counts['released']} (server: "
        f"{facts['expired']} expired, {facts['released']} released)",
    )
    row(
        "hold lapsed before the card was paid",
        f"{rec.counts['hold lapsed before the card was confirmed (intent cancelled)']} (the intent was cancelled at "
        f"the gateway; {rec.counts['hold expired before payment (refunded)']} confirmed too late and were refunded)",
    )
    row(
        "shoppers who got no seat",
        f"{rec.counts['session ended without a hold']} ran out of session time, "
        f"{rec.counts['saw it sold out']} were shopping at the sell-out",
    )
    row("fans still queueing at the sell-out", str(params.fans - facts["admitted"]))
    row(
        "gateway",
        f"{facts['intents']} intents {facts['intent_states']}, {facts['refunded']} refunded; "
        f"{facts['emails']} confirmation emails sent",
    )
    w("  every fan outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(rec.counts.items())))
    w("")
    w("Latency per endpoint (ms, measured by the clients)")
    w(f"  {'endpoint':<17}{'requests':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'queued p95':>11}  answers")
    for ep in ENDPOINTS:
        series = rec.samples.get(ep)
        if not series:
            continue
        lat = sorted(series.latency)
        answers = " ".join(f"{st}:{n}" for (e, st), n in sorted(rec.statuses.items()) if e == ep)
        w(
            f"  {ep:<17}{len(lat):>9}{ms(pct(lat, 0.5)):>8}{ms(pct(lat, 0.95)):>8}{ms(pct(lat, 0.99)):>8}"
            f"{ms(lat[-1]):>8}{ms(pct(sorted(series.queued), 0.95)):>11}  {answers}"
        )
    w("  (queued: the part of the latency spent waiting for a connection inside the load generator's pool)")
    errors = ", ".join(f"{ep} {kind} x{n}" for (ep, kind), n in rec.transport_errors.items())
    w(f"  transport errors: {errors or 'none'}")
    w("")
    w(
        "Browsing latency per 10-s window (ms; t = seconds from the opening; every browse request: listing, show, seat map,"
        " home page, show page)"
    )
    w(
        f"  {'window':<14}{'phase':<10}{'req':>6}{'p50':>8}{'p95':>8}{'max':>8}   listing p95  show p95  seatmap p95"
        f"  home p95  page p95   gate req/s"
    )
    for row in browse_windows(sim):
        w(
            f"  {row['label']:<14}{row['phase']:<10}{row['n']:>6}{ms(row['p50']):>8}{ms(row['p95']):>8}{ms(row['max']):>8}"
            f"   {ms(row['eps']['browse-listing']):>11}{ms(row['eps']['browse-show']):>10}{ms(row['eps']['browse-seatmap']):>13}"
            f"{ms(row['eps']['browse-home']):>10}{ms(row['eps']['browse-show-page']):>10}"
            f"   {row['gate_rps']:>10.0f}"
        )
    w("  (gate req/s: the fans' join and status requests started in that window)")
    flat = browse_flatness(sim)
    w(
        f"  baseline p95 {ms(flat['baseline'])} ms; worst window during the sale p95 {ms(flat['worst'])} ms "
        f"({flat['ratio']:.1f}x)"
    )
    w("")
    lag = sorted(sim.loop_lag)
    w(f"CPU during the run ({wall:.0f} s of wall time, {os.cpu_count()} cores)")
    for name, seconds in cpu.items():
        w(f"  {name:<28}{seconds:>8.1f} s  {seconds / wall * 100:>5.0f} % of one core")
    w("")
    w("CPU per 10-s window (% of one core; 200 % is the whole machine) next to browsing p95")
    cols = [
        "loadgen fans",
        "edge",
        "gate",
        "web",
        "browse",
        "worker-1",
        "worker-2",
        "gateway",
        "postgres",
        "redis",
        "machine",
    ]
    w(f"  {'window':<14}" + "".join(f"{c.replace('loadgen ', 'lg-'):>10}" for c in cols) + f"{'browse p95':>12}")
    p95 = {r["k"]: r["p95"] for r in browse_windows(sim)}
    for k, row in cpu_windows(sim, cols):
        w(
            f"  {f'{k * WINDOW:+.0f}..{(k + 1) * WINDOW:+.0f}':<14}"
            + "".join(f"{row[c]:>10.0f}" for c in cols)
            + f"{ms(p95.get(k, float('nan'))):>12}"
        )
    blag = sorted(getattr(sim, "browse_lag", []) or [0.0])
    w(f"  browsers' event-loop lag: p50 {ms(pct(blag, 0.5))} ms, p99 {ms(pct(blag, 0.99))} ms, max {ms(blag[-1])} ms")
    w(
        f"  fans' event-loop lag: p50 {ms(pct(lag, 0.5))} ms, p99 {ms(pct(lag, 0.99))} ms, max {ms(max(lag) if lag else 0)} ms"
        + (
            f"; stalls over 200 ms: {len(sim.stalls)} ("
            + ", ".join(
                f"t={t - opens:+.0f} s {x * 1000:.0f} ms" for t, x in sorted(sim.stalls, key=lambda s: -s[1])[:5]
            )
            + ")"
            if sim.stalls
            else ""
        )
    )
    w("")
    out.extend(waits_section(sim))
    w("")
    w("Metrics: one scrape of each process's listener after the drain, against the database and the clients")
    for name, value in facts["metrics"]:
        w(f"  {name:<42}{value}")
    w("")
    w("Checks")
    for name, ok, detail in checks:
        w(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    if facts["stuck_seats"] and any(not ok for _, ok, _ in checks):
        w(f"  seats not booked (first 10): {facts['stuck_seats']}")
    if rec.server_errors:
        w(
            "  first 5xx answers: "
            + "; ".join(f"t={t - opens:.1f} {ep} {st} {body[:120]}" for t, ep, st, body in rec.server_errors[:5])
        )
    return "\n".join(out)


def waits_section(sim: Simulation) -> list[str]:
    """Where the fans' requests waited: inside the web app or on the way to it, and per 10-s window
    the run queue, PostgreSQL's backends by what they did, and the servers' accept queues."""
    out: list[str] = []
    w = out.append
    in_app = in_app_seconds(sim.stack.logdir / "web-access.log") if sim.stack else {}
    w("Where the fans' requests waited")
    w(
        f"  {'endpoint':<17}{'fans p50':>9}{'fans p95':>9}{'in app p50':>11}{'in app p95':>11}"
        f"{'outside app':>12}  (ms; outside app: share of the fans' total time not spent inside a web worker)"
    )
    for name, _ in WEB_ENDPOINTS:
        series = sim.rec.samples.get(name)
        inside = sorted(in_app.get(name, []))
        if not series or not inside:
            continue
        lat = sorted(series.latency)
        outside = 1 - min(1.0, sum(inside) / max(sum(lat), 1e-9))
        w(
            f"  {name:<17}{ms(pct(lat, 0.5)):>9}{ms(pct(lat, 0.95)):>9}{ms(pct(inside, 0.5)):>11}"
            f"{ms(pct(inside, 0.95)):>11}{outside * 100:>11.0f}%"
        )
    rows = wait_windows(sim)
    if not rows:
        return out
    servers = sorted({name for _, row in rows for name in row["accept"]})
    w(
        "  per 10-s window: runnable threads (mean / max; more than the cores means work waits for a CPU), "
        "PostgreSQL backends by state (mean), accept queues (max)"
    )
    w(
        f"  {'window':<14}{'runnable':>10}"
        + "".join(f"{'pg ' + st:>15}" for st in PG_STATES)
        + "".join(f"{'accept ' + s:>14}" for s in servers)
    )
    for k, row in rows:
        w(
            f"  {f'{k * WINDOW:+.0f}..{(k + 1) * WINDOW:+.0f}':<14}"
            f"{row['runnable']:>6.1f} /{row['runnable max']:>2}"
            + "".join(f"{row['pg'][st]:>15.1f}" for st in PG_STATES)
            + "".join(f"{row['accept'][s]:>14}" for s in servers)
        )
    return out


def wait_windows(sim: Simulation) -> list[tuple[int, dict[str, Any]]]:
    by_window: dict[int, list] = defaultdict(list)
    for sample in sim.waits.samples:
        by_window[_window(sim, sample.t)].append(sample)
    rows = []
    for k in sorted(by_window):
        samples = by_window[k]
        n = len(samples)
        rows.append(
            (
                k,
                {
                    "runnable": sum(x.runnable for x in samples) / n,
                    "runnable max": max(x.runnable for x in samples),
                    "pg": {st: sum(x.pg.get(st, 0) for x in samples) / n for st in PG_STATES},
                    "accept": {
                        name: max(x.accept_queue.get(name, 0) for x in samples) for name in samples[0].accept_queue
                    },
                },
            )
        )
    return rows


def _phase(sim: Simulation, t: float) -> str:
    if t < sim.joins_start:
        return "baseline"
    if t < sim.last_join_at:
        return "joining"
    if t < sim.opens_mono:
        return "waiting"
    end = sim.sold_out_at if sim.sold_out_at is not None else float("inf")
    return "sale" if t < end else "after"


def _window(sim: Simulation, start: float) -> int:
    return math.floor((start - sim.opens_mono) / WINDOW)


def browse_windows(sim: Simulation) -> list[dict[str, Any]]:
    by_window: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for ep in BROWSE:
        series = sim.rec.samples.get(ep)
        for start, lat in zip(series.start, series.latency) if series else ():
            by_window[_window(sim, start)][ep].append(lat)
    gate: Counter[int] = Counter()
    for ep in ("join", "status"):
        series = sim.rec.samples.get(ep)
        for start in series.start if series else ():
            gate[_window(sim, start)] += 1
    rows = []
    for k in sorted(by_window):
        eps = by_window[k]
        every = sorted(x for ep in BROWSE for x in eps[ep])
        mid = sim.opens_mono + (k + 0.5) * WINDOW
        rows.append(
            {
                "k": k,
                "t": (k + 0.5) * WINDOW,
                "label": f"{k * WINDOW:+.0f}..{(k + 1) * WINDOW:+.0f}",
                "phase": _phase(sim, mid),
                "n": len(every),
                "p50": pct(every, 0.5),
                "p95": pct(every, 0.95),
                "max": every[-1],
                "eps": {ep: pct(sorted(eps[ep]), 0.95) for ep in BROWSE},
                "gate_rps": gate[k] / WINDOW,
            }
        )
    return rows


def cpu_windows(sim: Simulation, cols: list[str]) -> list[tuple[int, dict[str, float]]]:
    """Per 10-s window, each process's CPU as % of one core, from the per-second snapshots."""
    firsts: dict[int, tuple[float, dict[str, float]]] = {}
    for t, snap in sim.cpu_timeline:
        firsts.setdefault(_window(sim, t), (t, snap))
    keys = sorted(firsts)
    rows = []
    for a, b in zip(keys, keys[1:]):
        (t0, s0), (t1, s1) = firsts[a], firsts[b]
        rows.append((a, {c: (s1.get(c, 0.0) - s0.get(c, 0.0)) / max(t1 - t0, 1e-9) * 100 for c in cols}))
    return rows


def browse_flatness(sim: Simulation) -> dict[str, float]:
    rows = browse_windows(sim)
    base = [r["p95"] for r in rows if r["phase"] == "baseline"]
    sale = [r["p95"] for r in rows if r["phase"] == "sale"]
    baseline = min(base) if base else float("nan")
    worst = max(sale) if sale else float("nan")
    return {"baseline": baseline, "worst": worst, "ratio": worst / baseline if base and sale else float("nan")}


# --cluster: what differs from the single stack (devstack/cluster.py, README "Running as a cluster").
CLUSTER_SETUP = """- **on the cluster** (`--cluster`, as `make run-cluster` runs it): the same number of gunicorn workers
  in all, split between two copies each of web, gate and browse behind the edge; PostgreSQL reached
  through PgBouncer (transaction mode), browsing reads from a streaming replica behind its own
  PgBouncer; the waiting room, rate limits and response cache on a six-node Redis Cluster (three
  masters, a replica each); RQ on a Redis of its own with a replica. Mid-sale one web, one gate and
  one worker, the Redis Cluster master holding the event's waiting room and the PostgreSQL replica
  are SIGKILLed, one after another ("Faults" below): a 503 DEGRADED is then an allowed answer, any
  other 5xx is not, and the killed processes' metrics go with them, so the metrics are reported but
  not set against the database
"""


def write_results(
    params: Params, text: str, info: dict[str, str], started: datetime, ok: bool, chart_name: str, command: str
) -> Path:
    path = params.out_dir / ("FLASH_SALE_CLUSTER.md" if params.cluster else "FLASH_SALE.md")
    setup = CLUSTER_SETUP if params.cluster else ""
    body = f"""# Flash-sale simulation{" on the cluster" if params.cluster else ""}: latest run

`{command}` ({"every check passed" if ok else "SOME CHECKS FAILED"})

- date: {started.strftime("%Y-%m-%d %H:%M:%S %Z")}
- machine: `{info["uname"]}`
- CPU: {info["cpu"]}, {info["cores"]} cores, {info["memory"]} memory
- Python {info["python"]}, PostgreSQL {info["postgres"]}, Redis {info["redis"]}
- parameters: {params.fans} fans arriving over {params.join_window:g} s, {params.seats} seats (concert hall),
  sale opening {params.opens_after:g} s after the last join; waiting room batch {params.batch} every
  {params.interval:g} s, at most {params.cap} admitted at once, admission session {params.session} s;
  HOLD_TTL_SECONDS={params.hold_ttl}; fans want 1-4 adjacent seats (15/45/15/25 %); with a hold 70 % pay,
  10 % abandon, 10 % release, 10 % are declined once and then pay; fans poll the waiting room
  {f"no more often than every {params.min_poll:g} s (an experiment)" if params.min_poll else "as its page does"};
  {params.browsers} browsing clients (home page, listing, show, seat map, show page once a second each, in their own process)
- processes, all on this one machine with the load generator: web ({params.web_workers or 2 * os.cpu_count()}
  gunicorn workers x {params.web_threads} threads), {"browse (2 x 4, catalog, seat maps and their pages, as the Procfile), " if params.edge else ""}gate ({2 * os.cpu_count()} x 4, gunicorn.conf.py),
  {"the nginx edge in front of them (scripts/edge.sh)" if params.edge else "no edge (clients go straight to gunicorn)"},
  {params.workers} `flask worker`, `flask scheduler`, the gateway simulator, an SMTP sink; each of Seatline's
  processes with its metrics listener (README "Watching a sale"){", Prometheus scraping them" if params.monitor else ""}
{setup}
![the sale over time]({chart_name})

```text
{text}
```

How to read it: latencies are measured by the simulated clients, from sending a request to having
the whole answer, so they include any queueing in front of the servers; "queued" is the part spent
waiting for one of the load generator's own connections (2,000 to the gate, 1,000 to the web), which
only happens when that many requests are already in flight. The fans' event-loop lag says how much
the load generator itself delayed what it measured. `status` answers come from
the waiting room's own polling policy (`queue_gate.pages.poll_delay`). A 409 on `hold` is a seat taken
by someone else (the fan picks others); a 402 on `confirm` means the gateway's answer had not been
settled yet and is retried; a 402 on `gateway-confirm` is the declined card. "Metrics" is what
the processes' own listeners counted, read once after the drain, beside the rows the sale wrote and
the answers the fans got: each event is counted once its transaction commits, so they are equal.
"""
    path.write_text(body)
    return path
