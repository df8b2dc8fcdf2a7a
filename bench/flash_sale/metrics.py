"""The run's metrics read as an operator reads them (README "Watching a sale"): one scrape of each
process's listener after the drain, set against the database and against what the clients saw.

Exact by construction, so checks:
- each event counter against the rows its event wrote: app/ops/metrics.py counts an event once the
  transaction that makes it true has committed, and the run's database holds only this sale;
- the servers' request histogram against the fans' answers, for the requests only the fans send
  (hold, release, payment intent, confirm) and that the edge passes on without answering any itself.

Not exact, so a line only: 5xx answers (the edge answers 503 DEGRADED itself for a request no server
answered, which none counted)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping

import psycopg
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.flash_sale.params import DB, PG
from bench.flash_sale.processes import Ports, kind

# One scrape: (sample name, labels) -> value.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
Check = tuple[str, bool, str]

# Each event counter, and the rows of the run's database its events wrote.
COUNTERS = (
    ("holds created", "seatline_holds_created_total", "SELECT count(*) FROM holds"),
    ("holds expired", "seatline_holds_expired_total", "SELECT count(*) FROM holds WHERE status = 'EXPIRED'"),
    ("holds released", "seatline_holds_released_total", "SELECT count(*) FROM holds WHERE status = 'RELEASED'"),
    ("bookings confirmed", "seatline_bookings_confirmed_total", "SELECT count(*) FROM bookings"),
    ("waiting-room places taken", "seatline_waiting_room_joins_total", "SELECT count(*) FROM gate_tickets"),
    (
        "fans admitted",
        "seatline_waiting_room_admitted_total",
        "SELECT count(*) FROM gate_tickets WHERE admitted_at IS NOT NULL",
    ),
)

# The fans' requests that reach the web servers, and only theirs: endpoint -> (method, route template).
FAN_ROUTES = {
    "hold": ("POST", "/api/v1/shows/<show_id>/holds"),
    "release": ("DELETE", "/api/v1/holds/<hold_id>"),
    "payment-intent": ("POST", "/api/v1/holds/<hold_id>/payment-intents"),
    "confirm": ("POST", "/api/v1/holds/<hold_id>/confirm"),
}
REQUESTS = "seatline_http_request_duration_seconds_count"
# The clients' one endpoint that is not Seatline's: confirming a card at the gateway simulator.
NOT_SEATLINE = {"gateway-confirm"}

# Admissions and expiries go on after the sale (the gate's tick, the sweeper): the database and the
# scrape are read again until nothing changed between the database's reads before and after the scrape.
SETTLE_ATTEMPTS, SETTLE_PAUSE = 5, 1.0


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(bind: str) -> Samples:
    answer = requests.get(f"http://{bind}/metrics", timeout=10)
    answer.raise_for_status()
    return parse(answer.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def scrape_all(ports: Ports, names: list[str]) -> tuple[dict[str, Samples], dict[str, str]]:
    """Each named process's listener once: what each answered, and why the others did not."""
    scrapes, failed = {}, {}
    for name in names:
        try:
            scrapes[name] = scrape(ports.metrics_bind(name))
        except requests.RequestException as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    return scrapes, failed


def database_counts() -> dict[str, int]:
    with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
        return {what: c.execute(sql).fetchone()[0] for what, _, sql in COUNTERS}


def cross_check(ports: Ports, names: list[str], statuses: Mapping[tuple[str, int], int]) -> tuple[list, list]:
    """Scrapes the listeners of the processes ``names`` and sets them against the database and the
    clients' answers (``statuses``: (endpoint, status) -> answers); (report rows, checks)."""
    for _ in range(SETTLE_ATTEMPTS):
        before = database_counts()
        scrapes, failed = scrape_all(ports, names)
        rows = database_counts()
        if rows == before and not failed and counters_agree(scrapes, rows):
            break
        time.sleep(SETTLE_PAUSE)
    return tally(scrapes, failed, rows, statuses, {name: ports.metrics_bind(name) for name in names})


def counters_agree(scrapes: Mapping[str, Samples], rows: Mapping[str, int]) -> bool:
    return all(sum(total(s, metric) for s in scrapes.values()) == rows[what] for what, metric, _ in COUNTERS)


def answers(counts: Mapping[int, float]) -> str:
    return " ".join(f"{status}:{n:.0f}" for status, n in sorted(counts.items()) if n) or "none"


def tally(
    scrapes: Mapping[str, Samples],
    failed: Mapping[str, str],
    rows: Mapping[str, int],
    statuses: Mapping[tuple[str, int], int],
    binds: Mapping[str, str],
) -> tuple[list[tuple[str, str]], list[Check]]:
    """The report's rows (name, value) and the checks, from one scrape per process (``scrapes``; the
    listeners that did not answer in ``failed``), the database's ``rows`` per counter (COUNTERS) and
    the clients' answers."""
    out: list[tuple[str, str]] = [
        (
            "listeners",
            ", ".join(
                f"{name} {bind}" + (" (did not answer)" if name in failed else "") for name, bind in binds.items()
            ),
        )
    ]
    wrong: list[str] = []
    for what, metric, _ in COUNTERS:
        by_process = {name: total(samples, metric) for name, samples in scrapes.items()}
        counted = sum(by_process.values())
        where = ", ".join(f"{name} {n:.0f}" for name, n in by_process.items() if n) or "no process counted any"
        out.append((what, f"{counted:.0f} counted ({where}); {rows[what]} in the database"))
        if counted != rows[what]:
            wrong.append(f"{what} {counted:.0f} counted, {rows[what]} in the database")

    mismatched: list[str] = []
    for endpoint, (method, route) in FAN_ROUTES.items():
        served: Counter[int] = Counter()
        for samples in scrapes.values():
            for (sample, labels), value in samples.items():
                found = dict(labels)
                if sample == REQUESTS and found.get("method") == method and found.get("route") == route:
                    served[int(found["status"])] += int(value)
        seen = {status: n for (ep, status), n in statuses.items() if ep == endpoint and n}
        out.append((f"{endpoint} answers", f"servers {answers(served)}; fans {answers(seen)}"))
        if {status: n for status, n in served.items() if n} != seen:
            mismatched.append(f"{endpoint}: servers {answers(served)}, fans {answers(seen)}")

    server_5xx: Counter[str] = Counter()
    for name, samples in scrapes.items():
        for (sample, labels), value in samples.items():
            if sample == REQUESTS and dict(labels).get("status", "").startswith("5"):
                server_5xx[kind(name)] += int(value)
    client_5xx = sum(n for (ep, status), n in statuses.items() if status >= 500 and ep not in NOT_SEATLINE)
    out.append(
        (
            "5xx answers",
            f"{sum(server_5xx.values())} counted by the servers"
            + "".join(f", {service} {n}" for service, n in sorted(server_5xx.items()) if n)
            + f"; {client_5xx} seen by the clients (the gateway simulator's left out)",
        )
    )

    unanswered = [f"{name} ({why})" for name, why in failed.items()]
    checks: list[Check] = [
        (
            "every metrics listener answered",
            not failed,
            "; ".join(unanswered) or f"{len(scrapes)} listeners",
        ),
        (
            "the metrics count what the database holds (holds created, expired, released; bookings; "
            "waiting-room places, admissions)",
            not wrong and not failed,
            "; ".join(wrong) or ("every count equal" if not failed else "not every listener answered"),
        ),
        (
            "the servers counted the answers the fans got (hold, release, payment intent, confirm)",
            not mismatched and not failed,
            "; ".join(mismatched) or ("every answer counted" if not failed else "not every listener answered"),
        ),
    ]
    return out, checks
