"""After the sale: waiting until the workers have drained, then the checks (money and seat invariants,
every seat booked once, no 5xx, no transport error, the pre-queue, browsing latency flat, the metrics
against the database and the fans: `bench.flash_sale.metrics`)."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import psycopg
import requests

from bench.flash_sale.fans import Simulation
from bench.flash_sale.faults import degraded_only
from bench.flash_sale.metrics import cross_check
from bench.flash_sale.params import DB, PG
from bench.flash_sale.processes import Ports
from bench.flash_sale.report import browse_flatness, browse_windows, ms, pct
from bench.flash_sale.sale import Sale
from devstack.stack import Stack


def drain(ports: Ports, stack: Stack, timeout: float = 180.0) -> tuple[bool, dict[str, int]]:
    """Waits until nothing is left to do: webhooks delivered and processed, refunds and emails done,
    no payment in flight."""
    deadline = time.monotonic() + timeout
    left: dict[str, int] = {}
    with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
        while time.monotonic() < deadline:
            stack.check_alive()
            row = c.execute(
                """
                SELECT (SELECT count(*) FROM webhook_events WHERE processed_at IS NULL),
                       (SELECT count(*) FROM refunds WHERE status = 'PENDING'),
                       (SELECT count(*) FROM notifications WHERE status = 'PENDING'),
                       (SELECT count(*) FROM holds WHERE status = 'ACTIVE' AND payment_started_at IS NOT NULL)
                """
            ).fetchone()
            events = requests.get(f"{ports.gateway_url}/_sim/events", timeout=30).json()["data"]
            undelivered = sum(1 for e in events if e["status"] in ("pending", "held"))
            left = {
                "webhook events unprocessed": row[0],
                "refunds pending": row[1],
                "notifications pending": row[2],
                "holds with a payment in flight": row[3],
                "webhooks not yet delivered": undelivered,
            }
            if not any(left.values()):
                return True, left
            time.sleep(1.0)
    return False, left


def sale_fans(sim: Simulation) -> int:
    return sim.p.fans


def gateway_intents(ports: Ports) -> list[dict[str, Any]]:
    data = requests.get(f"{ports.gateway_url}/_sim/payment_intents", timeout=60).json()["data"]
    return [{**i, "refund_count": len(i.get("refunds") or [])} for i in data]


def check(
    app, ports: Ports, sale: Sale, sim: Simulation, drained: bool, left: dict[str, int], cluster: bool = False
) -> tuple[list, dict]:
    """The run's checks and facts. ``cluster``: the run killed processes mid-sale (--cluster), so a 503
    DEGRADED is an allowed answer, and the metrics, which the killed processes took with them, are
    reported but not checked."""
    from app.booking.invariants import money_invariant_violations
    from app.unit_of_work import unit_of_work

    intents = gateway_intents(ports)
    with app.app_context():
        with unit_of_work() as uow:
            violations = money_invariant_violations(uow, intents)
            uow.rollback()
        with unit_of_work() as uow:
            seats = uow.execute(
                "SELECT count(*) FILTER (WHERE status = 'BOOKED') AS booked, count(*) AS total, "
                "count(*) FILTER (WHERE status = 'HELD') AS held FROM show_seats WHERE show_id = :s",
                {"s": sale.show_id},
            ).one()
            booked_by = uow.execute(
                "SELECT s.seat_id, count(*) AS n FROM bookings b CROSS JOIN LATERAL unnest(b.seat_ids) AS s(seat_id) "
                "WHERE b.show_id = :s AND b.status = 'CONFIRMED' GROUP BY s.seat_id",
                {"s": sale.show_id},
            ).all()
            facts = (
                uow.execute(
                    """
                SELECT (SELECT count(*) FROM bookings WHERE show_id = :s AND status = 'CONFIRMED') AS bookings,
                       (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM bookings
                          WHERE show_id = :s AND status = 'CONFIRMED') AS booked_seats,
                       (SELECT count(*) FROM holds WHERE show_id = :s) AS holds,
                       (SELECT count(*) FROM holds WHERE show_id = :s AND status = 'EXPIRED') AS expired,
                       (SELECT count(*) FROM holds WHERE show_id = :s AND status = 'RELEASED') AS released,
                       (SELECT count(*) FROM refunds) AS refunds,
                       (SELECT count(*) FROM notifications WHERE status = 'SENT' AND channel = 'email') AS emails,
                       (SELECT extract(epoch FROM max(b.created_at - s.sale_opens_at)) FROM bookings b
                          JOIN shows s ON s.id = b.show_id WHERE b.show_id = :s AND b.status = 'CONFIRMED') AS last_booking,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e) AS tickets,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e AND NOT prequeue) AS joined_late,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e AND admitted_at IS NOT NULL) AS admitted,
                       (SELECT count(*) FROM gate_tickets WHERE event_id = :e AND admitted_at <=
                          (SELECT max(created_at) FROM bookings WHERE show_id = :s AND status = 'CONFIRMED'))
                          AS admitted_before_sellout,
                       (SELECT extract(epoch FROM max(admitted_at) - min(admitted_at)) FROM gate_tickets
                          WHERE event_id = :e) AS admitting_span,
                       (SELECT count(*) FROM holds h WHERE h.show_id = :s AND NOT EXISTS (
                          SELECT 1 FROM gate_tickets g WHERE g.event_id = :e AND g.user_id = h.user_id
                            AND g.admitted_at <= h.created_at)) AS held_unadmitted
                """,
                    {"s": sale.show_id, "e": sale.event_id},
                )
                .one()
                ._asdict()
            )
            stuck_seats = uow.execute(
                """
                SELECT ss.seat_id, ss.status, ss.hold_expires_at, h.status AS hold_status, h.payment_intent_id,
                       p.status AS payment_status
                FROM show_seats ss LEFT JOIN holds h ON h.id = ss.hold_id
                LEFT JOIN payments p ON p.payment_intent_id = h.payment_intent_id
                WHERE ss.show_id = :s AND ss.status <> 'BOOKED' ORDER BY ss.seat_id LIMIT 10
                """,
                {"s": sale.show_id},
            ).all()
    facts = {k: float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v for k, v in facts.items()}
    once = {r.seat_id for r in booked_by if r.n == 1}
    twice = [r.seat_id for r in booked_by if r.n > 1]
    missing = sorted(set(sale.seat_ids) - {r.seat_id for r in booked_by})
    server_errors = sum(n for (ep, st), n in sim.rec.statuses.items() if st >= 500)
    degraded, other_5xx = degraded_only(sim.rec.server_errors)
    transport = sum(sim.rec.transport_errors.values())
    intent_states = Counter(i["status"] for i in intents)
    facts.update(
        intents=len(intents),
        intent_states=dict(intent_states),
        refunded=sum(1 for i in intents if i.get("amount_refunded")),
        stuck_seats=[tuple(r) for r in stuck_seats],
    )
    checks = [
        (
            "every fan joined before the opening (the lottery's pre-queue)",
            facts["tickets"] == sale_fans(sim) and facts["joined_late"] == 0,
            f"{facts['tickets']} tickets, {facts['joined_late']} joined after the opening",
        ),
        (
            "the sale sold out",
            sim.stuck is None and seats.booked == seats.total,
            sim.stuck or f"{seats.booked} of {seats.total} seats booked",
        ),
        ("workers drained", drained, ", ".join(f"{k} {v}" for k, v in left.items() if v) or "nothing left"),
        ("money and seat invariants", not violations, json.dumps(violations, default=str)[:2000] or "{}"),
        (
            f"every seat BOOKED ({sale and len(sale.seat_ids)})",
            seats.booked == len(sale.seat_ids),
            f"{seats.booked} BOOKED, {seats.held} HELD",
        ),
        (
            "every seat in exactly one confirmed booking",
            len(once) == len(sale.seat_ids) and not twice and not missing,
            f"{len(once)} once, {len(twice)} more than once {twice[:5]}, {len(missing)} in none {missing[:5]}",
        ),
        (
            (
                "no 5xx but 503 DEGRADED seen by any client",
                other_5xx == 0,
                f"{other_5xx} other 5xx, {degraded} DEGRADED",
            )
            if cluster
            else ("no 5xx seen by any client", server_errors == 0, f"{server_errors} responses")
        ),
        (
            "no fan held a seat without being admitted by the waiting room first",
            facts["held_unadmitted"] == 0,
            f"{facts['held_unadmitted']} holds by fans not admitted before them",
        ),
        ("no transport error or timeout", transport == 0, f"{transport} errors"),
        flatness_check(sim),
        fans_not_kept_waiting(sim),
        (
            "no fan hit an unexpected answer",
            not sim.fan_errors,
            "; ".join(repr(e)[:200] for e in sim.fan_errors[:3]) or "none",
        ),
    ]
    running = [name for name in ports.metrics if sim.stack is None or name in sim.stack.procs]
    facts["metrics"], metric_checks = cross_check(ports, running, sim.rec.statuses)
    if not cluster:
        checks.extend(metric_checks)
    return checks, facts


# Browsing is "flat" when no 10-s window of the sale has a p95 above this many times the quiet
# baseline's p95, or the baseline plus this many seconds, whichever is more.
FLAT_FACTOR, FLAT_SLACK = 4.0, 0.100


def flatness_check(sim: Simulation) -> tuple[str, bool, str]:
    flat = browse_flatness(sim)
    limit = max(flat["baseline"] * FLAT_FACTOR, flat["baseline"] + FLAT_SLACK)
    over = [r for r in browse_windows(sim) if r["phase"] == "sale" and r["p95"] > limit]
    return (
        "browsing latency flat during the sale",
        not over and flat["worst"] == flat["worst"],
        f"baseline p95 {ms(flat['baseline'])} ms, limit {ms(limit)} ms; worst sale window {ms(flat['worst'])} ms; "
        f"{len(over)} of {sum(1 for r in browse_windows(sim) if r['phase'] == 'sale')} sale windows over the limit",
    )


# The fans' own targets for the sale: a hold, a payment intent and a confirm answered within a second
# and the waiting room's status within half a second, at the 95th percentile of every request.
FAN_P95_TARGETS = {"hold": 1.0, "payment-intent": 1.0, "confirm": 1.0, "status": 0.5}


def fans_not_kept_waiting(sim: Simulation) -> tuple[str, bool, str]:
    found = {}
    for ep, limit in FAN_P95_TARGETS.items():
        series = sim.rec.samples.get(ep)
        found[ep] = (pct(sorted(series.latency), 0.95) if series else float("nan"), limit)
    over = [ep for ep, (p95, limit) in found.items() if not p95 <= limit]
    return (
        "fans not kept waiting (p95: hold, payment intent, confirm < 1 s; waiting-room status < 500 ms)",
        not over,
        ", ".join(f"{ep} {ms(p95)} ms" + (" (over)" if ep in over else "") for ep, (p95, _) in found.items()),
    )
