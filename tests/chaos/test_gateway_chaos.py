"""One sale with the payment gateway misbehaving in every way at once. Each fault on its own is covered
elsewhere (tests/integration/test_gateway_failures.py, test_payments.py, tests/e2e/
test_payment_processes.py); here they come together, against real processes, with fans paying:

- API calls that time out (and still take effect), 500s before acting, 500s after acting (the answer
  lost), on creating, confirming, cancelling and reading intents and on refunds;
- webhooks duplicated, reordered (held back, then delivered newest first), delivered late (after the
  hold's expiry) and dropped;
- forged webhooks: bad signature, a real event replayed with an old timestamp, a tampered body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter

import pytest
import requests

from tests.chaos.sale import PLANS, Tally
from tests.chaos.scenario import now

pytestmark = pytest.mark.chaos


def signed(event: dict, secret: str, at: float) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    t = int(at)
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


def forger(sc, secret: str, tally: Tally, stop: threading.Event) -> None:
    """Sends webhooks no gateway sent: each must be refused with 400 and change nothing."""
    rng = random.Random(3)
    url = f"{sc.web}/api/v1/payments/webhook"
    while not stop.is_set():
        events = [e["event"] for e in sc.sim.events() if e.get("event")]
        if events:
            real = rng.choice(events)
            tampered = json.loads(json.dumps(real))
            tampered["data"]["object"]["status"] = "succeeded"
            tampered["data"]["object"]["amount_received"] = 1
            attempts = [
                signed({**real, "id": real["id"] + "_forged"}, "whsec_not_the_secret", time.time()),
                signed(real, secret, time.time() - 600),  # a replay, five minutes past the tolerance
            ]
            body, headers = signed(real, secret, time.time())
            attempts.append((json.dumps(tampered).encode(), headers))  # signed for another body
            for body, headers in attempts:
                started = time.time()
                try:
                    r = requests.post(url, data=body, headers=headers, timeout=10)
                except requests.RequestException:
                    tally.record("webhook (forged)", "transport", started)
                    continue
                tally.record("webhook (forged)", str(r.status_code), started)
                if r.status_code != 400 or r.json()["error"]["code"] != "INVALID_SIGNATURE":
                    tally.breach(f"a forged webhook answered {r.status_code} {r.text[:200]}")
        stop.wait(0.3)


def test_gateway_misbehaving_in_every_way_at_once(scenario):
    sc = scenario
    ttl = 6
    sc.start(hold_ttl=ttl, sweeper_interval=2)
    show = sc.make.show(rows=10, per_row=15)
    # Full refunds until an hour before the show (three days away): some fans cancel, so refunds meet the
    # gateway's faults too.
    sc.query(
        "UPDATE shows SET refund_policy = %s::jsonb WHERE id = %s",
        json.dumps({"rules": [{"hoursBefore": 1, "refundPercent": 100}], "feeMinor": 0}),
        show.show_id,
    )
    sale = sc.sale(show, [sc.make.fan() for _ in range(40)], seconds=16, plans=PLANS + (("pay-then-cancel", 10),))
    forged = Tally()
    sc.extra_tallies.append(forged)
    stop = threading.Event()
    forging = threading.Thread(target=forger, args=(sc, sc.stack.env["WEBHOOK_SECRET"], forged, stop), daemon=True)

    wave = [
        # Timeouts (the client gives up after 2 s; the gateway acts anyway).
        {"kind": "api_delay", "path": "/v1/payment_intents", "method": "POST", "seconds": 2.5, "count": 4},
        {"kind": "api_delay", "path": "/v1/payment_intents/", "method": "GET", "seconds": 2.5, "count": 3},
        # 500s before acting, and after acting (the answer lost).
        {"kind": "api_error", "path": "/v1/payment_intents", "method": "POST", "count": 5},
        {"kind": "api_error", "path": "/v1/payment_intents", "method": "POST", "count": 3, "after": True},
        {"kind": "api_error", "path": "/v1/payment_intents/", "method": "GET", "count": 5},
        {"kind": "api_error", "path": "/v1/refunds", "count": 2},
        {"kind": "api_error", "path": "/v1/refunds", "count": 1, "after": True},
        # Webhooks: duplicated, held back and delivered newest first, late, dropped.
        {"kind": "webhook_duplicate", "count": 6, "copies": 3},
        {"kind": "webhook_reorder", "count": 6},
        {"kind": "webhook_delay", "seconds": ttl + 5, "count": 5},
        {"kind": "webhook_drop", "count": 5},
    ]
    created: dict[str, dict] = {}

    def inject() -> None:
        r = requests.post(f"{sc.sim.base}/_sim/faults", json=wave, timeout=5)
        r.raise_for_status()
        created.update({f["id"]: f for f in r.json()["data"]})

    sale.wait_until(2)
    forging.start()
    injected = now()
    inject()
    sale.wait_until(8)
    released = sc.sim.release_held_webhooks()
    inject()
    sale.wait_until(14)
    remaining = {f["id"]: f for f in requests.get(f"{sc.sim.base}/_sim/faults", timeout=5).json()["data"]}
    sc.sim.clear_faults()
    released += sc.sim.release_held_webhooks()
    stop.set()
    forging.join(10)
    over = now()

    used: Counter[str] = Counter()
    for fault_id, fault in created.items():
        left = remaining.get(fault_id, {}).get("count") or 0
        label = fault["kind"] + (" (after acting)" if fault.get("after") else "")
        used[label] += fault["count"] - left
    for label, n in sorted(used.items()):
        sc.fault(f"{label} x{n}", injected, over)
    sc.fault(f"forged webhooks x{sum(forged.counts.values())}")
    assert used["webhook_drop"] and used["webhook_reorder"] and used["api_error"] and used["api_delay"], used

    late = [e for e in sc.sim.events() if "webhook_delay" in (e.get("faults") or [])]
    sc.finish(
        sale,
        since=over,
        title="the payment gateway misbehaving in every way at once",
        notes=[
            f"held-back webhooks released newest first: {len(released)}; delivered late ({ttl + 5} s, past the "
            f"{ttl} s hold): {len(late)}"
        ],
    )
