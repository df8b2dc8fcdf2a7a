"""A small sale driven by fans in threads, the way browsers do it, and what is checked once the
dust settles.

Each fan loads the seat map, holds 1-3 free seats and then, by its plan, pays (create the intent,
confirm the card at the gateway simulator, call confirm), is declined first and then pays, pays and
closes the tab (only the webhook or reconciliation can finish), abandons the hold, abandons it in the
middle of paying, releases it, or (where a scenario says so) books and then cancels for a refund. Like a browser, every call is tried again after a transport error
or a 503/429 (after its Retry-After); every answer is counted per endpoint.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

PLANS: tuple[tuple[str, int], ...] = (
    ("pay", 50),
    ("declined-then-pay", 10),
    ("pay-close-tab", 10),
    ("abandon", 10),
    ("abandon-paying", 8),
    ("release", 12),
)
GATEWAY_AUTH = ("sk_test_chaos_browser", "")
# What a fan's browser does while the service is degraded: wait as told, but not forever.
MAX_RETRY_WAIT = 1.5


class Tally:
    """Every answer the fans got, by endpoint; and any that broke the contract."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.calls: list[tuple[float, float, str, str]] = []  # (started, ended, endpoint, status), time.time()
        self.broken: list[str] = []  # 5xx other than 503 DEGRADED with Retry-After, from Seatline
        self.surprises: list[str] = []  # answers a fan has no business getting

    def record(self, endpoint: str, status: str, started: float) -> None:
        with self._lock:
            self.counts[(endpoint, status)] += 1
            self.calls.append((started, time.time(), endpoint, status))

    def outcome(self, what: str) -> None:
        with self._lock:
            self.outcomes[what] += 1

    def breach(self, text: str) -> None:
        with self._lock:
            self.broken.append(text)

    def surprise(self, text: str) -> None:
        with self._lock:
            self.surprises.append(text)

    def table(self) -> str:
        endpoints = sorted({e for e, _ in self.counts}, key=_endpoint_order)
        statuses = sorted({s for _, s in self.counts}, key=lambda s: (not s.isdigit(), s))
        width = max([len(e) for e in endpoints] + [8])
        lines = ["  " + "endpoint".ljust(width) + "".join(s.rjust(10) for s in statuses)]
        for e in endpoints:
            lines.append("  " + e.ljust(width) + "".join(str(self.counts.get((e, s), "")).rjust(10) for s in statuses))
        return "\n".join(lines)


ORDER = (
    "seatmap",
    "hold",
    "release",
    "payment-intent",
    "gateway-confirm",
    "confirm",
    "cancel",
    "probe",
    "webhook (gateway→web)",
    "webhook (forged)",
)


def _endpoint_order(name: str) -> tuple[int, str]:
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: Any

    @property
    def code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("code") if isinstance(error, dict) else None


@dataclass
class Sale:
    """``fans`` (tests.support.db.Fan) shop for ``show`` for ``seconds``; then they finish what they
    started (payments under way) but hold nothing new."""

    web: str
    gateway: str
    show: Any
    fans: list[Any]
    seconds: float
    plans: tuple[tuple[str, int], ...] = PLANS
    seed: int = 7
    tally: Tally = field(default_factory=Tally)
    finish_within: float = 60.0

    def __post_init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.started_at = 0.0
        self.intents: list[str] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ running

    def start(self) -> Sale:
        self.started_at = time.time()
        for i, fan in enumerate(self.fans):
            t = threading.Thread(target=self._fan_guarded, args=(i, fan), name=f"fan-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def elapsed(self) -> float:
        return time.time() - self.started_at

    def close(self) -> None:
        """Ends the sale now (fans finish what they started), however long it was meant to last."""
        self.seconds = min(self.seconds, self.elapsed())

    def wait_until(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds - self.elapsed()))

    def join(self) -> None:
        for t in self._threads:
            t.join(self.seconds + self.finish_within + 30)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"fans still busy long after the sale: {alive}"

    @property
    def closing(self) -> bool:
        return self.elapsed() >= self.seconds

    @property
    def given_up(self) -> bool:
        return self.elapsed() >= self.seconds + self.finish_within

    # ------------------------------------------------------------------ one fan

    def _fan_guarded(self, i: int, fan: Any) -> None:
        try:
            self._fan(i, fan)
        except Exception as exc:  # a fan's own bug must fail the test, not vanish in a thread
            self.tally.surprise(f"fan {i} crashed: {type(exc).__name__}: {exc}")

    def _fan(self, i: int, fan: Any) -> None:
        rng = random.Random(self.seed * 100003 + i)
        http = requests.Session()
        http.headers.update(fan.headers)
        time.sleep(rng.uniform(0, 1.0))  # arrivals spread over the first second
        room, refused = 3, 0  # seats the per-fan limit still allows, as the last refusal said
        while not self.closing:
            seats = self._seatmap(http)
            if seats is None:
                continue
            free = [s for s, c in seats.items() if c == "A"]
            if not free:
                if "H" not in seats.values():
                    self.tally.outcome("found the show sold out")
                    return
                time.sleep(0.5)  # only held seats left: some may come back
                continue
            wanted = rng.sample(free, min(len(free), room, rng.choice((1, 1, 2, 2, 3))))
            r = self.call(
                http, "hold", "POST", f"{self.web}/api/v1/shows/{self.show.show_id}/holds", json={"seatIds": wanted}
            )
            if r is None:
                return
            if r.status == 201:
                room, refused = 3, 0
                self._after_hold(http, r.body, rng)
            elif r.status == 409 and r.code == "SEATS_UNAVAILABLE":
                pass
            elif r.status == 422 and r.code == "SEAT_LIMIT_EXCEEDED":
                error = r.body["error"]
                room, refused = max(1, error["limit"] - error["held"]), refused + 1
                if refused >= 3:
                    self.tally.outcome("reached the per-fan seat limit")
                    return
                time.sleep(1.0)  # held seats that lapse stop counting
            else:
                self.tally.surprise(f"hold answered {r.status} {r.body}")
                time.sleep(0.5)
            time.sleep(rng.uniform(0.1, 0.4))

    def _seatmap(self, http: requests.Session) -> dict[str, str] | None:
        r = self.call(
            http, "seatmap", "GET", f"{self.web}/api/v1/shows/{self.show.show_id}/seatmap", params={"format": "compact"}
        )
        if r is None or r.status != 200:
            if r is not None:
                self.tally.surprise(f"seat map answered {r.status}")
            return None
        return dict(zip(r.body["seatIds"], r.body["status"]))

    def _after_hold(self, http: requests.Session, hold: dict[str, Any], rng: random.Random) -> None:
        hold_id = hold["holdId"]
        plan = weighted(rng, self.plans)
        if plan == "abandon":
            self.tally.outcome("abandoned the hold")
            return
        if plan == "release":
            time.sleep(rng.uniform(0.2, 1.0))
            r = self.call(http, "release", "DELETE", f"{self.web}/api/v1/holds/{hold_id}")
            if r is not None and r.status == 200:
                self.tally.outcome("released the hold")
            elif r is not None:
                self.tally.surprise(f"release answered {r.status} {r.body}")
            return
        time.sleep(rng.uniform(0.2, 1.0))  # typing the card details
        r = self.call(http, "payment-intent", "POST", f"{self.web}/api/v1/holds/{hold_id}/payment-intents")
        if r is None:
            return
        if r.status == 409 and r.code == "HOLD_EXPIRED":
            self.tally.outcome("hold lapsed before paying")
            return
        if r.status != 201:
            self.tally.surprise(f"payment-intents answered {r.status} {r.body}")
            return
        intent = r.body["paymentIntentId"]
        with self._lock:
            self.intents.append(intent)
        if plan == "abandon-paying":
            self.tally.outcome("abandoned while paying")
            return
        if plan == "declined-then-pay":
            paid = self.pay_at_gateway(intent, "pm_card_chargeDeclined")
            if paid is not None and paid.status == 402:
                self.tally.outcome("declined once")
            time.sleep(rng.uniform(0.2, 0.6))
        paid = self.pay_at_gateway(intent, "pm_card_visa")
        if paid is None:
            return
        if paid.status == 400 and (paid.body["error"].get("payment_intent") or {}).get("status") == "canceled":
            # The hold lapsed first and Seatline had the intent cancelled: the card is refused.
            self.tally.outcome("hold lapsed while paying (intent cancelled)")
            return
        if paid.status not in (200, 400):
            self.tally.surprise(f"the gateway answered {paid.status} {paid.body}")
            return
        if plan == "pay-close-tab":
            self.tally.outcome("paid and closed the tab")
            return
        for _ in range(60):
            r = self.call(
                http, "confirm", "POST", f"{self.web}/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}
            )
            if r is None:
                return
            if r.status in (200, 201):
                self.tally.outcome("booked")
                if plan == "pay-then-cancel":
                    time.sleep(rng.uniform(0.2, 1.0))
                    booking = r.body["bookingId"]
                    r = self.call(http, "cancel", "POST", f"{self.web}/api/v1/bookings/{booking}/cancel")
                    if r is not None and r.status == 200 and r.body.get("refundAmount"):
                        self.tally.outcome("cancelled the booking (refunded)")
                    elif r is not None:
                        self.tally.surprise(f"cancel answered {r.status} {r.body}")
                return
            if r.status == 402:
                time.sleep(0.3)
                continue
            if r.status == 409 and r.code == "HOLD_EXPIRED":
                self.tally.outcome("paid too late: refunded")
                return
            self.tally.surprise(f"confirm answered {r.status} {r.body}")
            return
        self.tally.outcome("confirm never completed")

    def pay_at_gateway(self, intent: str, card: str) -> Answer | None:
        """What Stripe.js does in the browser; a 500 or a dropped connection is tried again. A 400 means
        the intent has already succeeded (an answer lost on the way) or was cancelled (the hold lapsed)."""
        return self.call(
            None,
            "gateway-confirm",
            "POST",
            f"{self.gateway}/v1/payment_intents/{intent}/confirm",
            data={"payment_method": card},
            auth=GATEWAY_AUTH,
            seatline=False,
        )

    # ------------------------------------------------------------------ HTTP like a browser

    def call(
        self, http: requests.Session | None, endpoint: str, method: str, url: str, seatline: bool = True, **kw: Any
    ) -> Answer | None:
        """One call, tried again after a transport error, a 429 or a 503 (and, at the gateway, any 5xx)
        until it gets an answer; None once the fans have given up (for seat maps and holds, once the
        sale is closing: nobody starts shopping then)."""
        shopping = endpoint in ("seatmap", "hold")
        while not (self.given_up or (shopping and self.closing)):
            started = time.time()
            try:
                r = (http or requests).request(method, url, timeout=15, **kw)
            except requests.RequestException:
                self.tally.record(endpoint, "transport", started)
                time.sleep(0.5)
                continue
            self.tally.record(endpoint, str(r.status_code), started)
            try:
                body = r.json()
            except ValueError:
                body = {"raw": r.text[:200]}
            answer = Answer(r.status_code, body, r.headers)
            if r.status_code >= 500 and seatline:
                degraded = r.status_code == 503 and answer.code == "DEGRADED" and r.headers.get("Retry-After")
                if not degraded:
                    self.tally.breach(f"{method} {url} answered {r.status_code} {r.text[:300]}")
            if r.status_code in (429, 503) or (r.status_code >= 500 and not seatline):
                time.sleep(min(MAX_RETRY_WAIT, float(r.headers.get("Retry-After") or 1)))
                continue
            if r.status_code >= 500:
                time.sleep(0.5)
                continue
            return answer
        return None


def weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]
