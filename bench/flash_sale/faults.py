"""`--cluster`'s faults: mid-sale, one after another, one web, one gate and one worker are SIGKILLed,
the Redis Cluster master that holds the event's waiting room is SIGKILLed (its replica takes over),
and the PostgreSQL replica's postmaster is SIGKILLed; then what each did to the fans, from what the
clients saw in the seconds after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.flash_sale.fans import Simulation
from devstack.cluster import Cluster

# Seconds after the opening (the 20,000-fan sale sells out in 1.5-3 minutes on this machine), 12 s
# apart; how long after each fault its effects are counted.
PLAN = (
    (15.0, "web-1 SIGKILLed"),
    (27.0, "gate-1 SIGKILLed"),
    (39.0, "worker-1 SIGKILLed"),
    (51.0, "the Redis Cluster master of the event's waiting room SIGKILLed"),
    (63.0, "the PostgreSQL replica SIGKILLed"),
)
WINDOW = 12.0


@dataclass
class Fault:
    offset: float
    what: str
    at: float | None = None  # recorder time it happened
    detail: str = ""


@dataclass
class Faults:
    """Runs the plan in a thread of its own once the sale has an opening time."""

    sim: Simulation
    cluster: Cluster
    event_id: int
    done: list[Fault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self._run, args=(stop,), name="faults", daemon=True)
        thread.start()
        return thread

    def _actions(self) -> list[Callable[[], str]]:
        stack, cluster = self.cluster.stack, self.cluster

        def kill(name: str) -> Callable[[], str]:
            def act() -> str:
                pid = stack.pid(name)
                stack.kill(name)
                return f"pid {pid}"

            return act

        def redis_master() -> str:
            assert cluster.redis_cluster is not None
            nodes = cluster.redis_cluster
            slot = nodes.slot_of(f"gate:{{{self.event_id}}}:meta")
            port = nodes.master_of(slot)
            started = time.monotonic()
            nodes.kill(port)
            # Until a replica has taken the slot over, its keys answer errors.
            while True:
                try:
                    new = nodes.master_of(slot)
                    if new != port:
                        return f"127.0.0.1:{port} (slot {slot}); 127.0.0.1:{new} took over after {time.monotonic() - started:.1f} s"
                except RuntimeError:
                    pass
                if time.monotonic() - started > 30:
                    return f"127.0.0.1:{port} (slot {slot}); no replica took over within 30 s"
                time.sleep(0.1)

        def pg_replica() -> str:
            assert cluster.replica is not None
            cluster.replica.kill()
            return f"127.0.0.1:{cluster.replica.port}; browsing reads the primary from then on"

        return [kill("web-1"), kill("gate-1"), kill("worker-1"), redis_master, pg_replica]

    def _run(self, stop: threading.Event) -> None:
        while self.sim.opens_mono is None:
            if stop.wait(0.2):
                return
        for (offset, what), act in zip(PLAN, self._actions(), strict=True):
            while self.sim.rec.now() < self.sim.opens_mono + offset:
                if stop.wait(0.1):
                    return
            fault = Fault(offset, what, self.sim.rec.now())
            try:
                fault.detail = act()
            except Exception as exc:  # the report says so; the run goes on
                fault.detail = f"failed: {exc!r}"
                self.errors.append(f"{what}: {exc!r}")
            self.done.append(fault)

    def section(self) -> list[str]:
        """The report's lines: each fault, and what the clients saw in the WINDOW seconds after it."""
        rec = self.sim.rec
        opens = self.sim.opens_mono or 0.0
        lines = [f"Faults (--cluster): what the clients saw in the {WINDOW:.0f} s after each"]
        for fault in self.done:
            assert fault.at is not None
            start, end = fault.at, fault.at + WINDOW
            degraded, other = degraded_only([e for e in rec.server_errors if start <= e[0] < end])
            holds = [
                latency
                for begun, latency in zip(rec.samples["hold"].start, rec.samples["hold"].latency, strict=True)
                if start <= begun < end
            ]
            before = [
                latency
                for begun, latency in zip(rec.samples["hold"].start, rec.samples["hold"].latency, strict=True)
                if start - WINDOW <= begun < start
            ]
            lines.append(f"  t={fault.at - opens:+.1f} s  {fault.what}: {fault.detail}")
            lines.append(
                f"      503 DEGRADED {degraded}, other 5xx {other}; holds answered {len(holds)} "
                f"(p95 {p95_ms(holds)} ms; the {WINDOW:.0f} s before: {len(before)}, p95 {p95_ms(before)} ms)"
            )
        if len(self.done) < len(PLAN):
            lines.append(f"  only {len(self.done)} of {len(PLAN)} faults happened: the sale ended first")
        return lines


def p95_ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000:.0f}"


def degraded_only(server_errors: list[tuple[float, str, int, str]]) -> tuple[int, int]:
    """(503 DEGRADED answers, every other 5xx) among what the clients saw."""
    degraded = sum(1 for _, _, status, body in server_errors if status == 503 and '"DEGRADED"' in body)
    return degraded, len(server_errors) - degraded
