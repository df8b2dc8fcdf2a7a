"""The booking saga through real processes: gunicorn web, the gateway simulator, `flask worker`
(killed mid-job and restarted), and an SMTP server."""

from __future__ import annotations

import pytest
import requests

from app.booking.invariants import money_invariant_violations
from app.extensions import redis_roles
from app.unit_of_work import unit_of_work
from tests.support.db import fetch
from tests.support.polling import wait_for
from tests.support.races import run_together

pytestmark = pytest.mark.slow


def until(predicate, timeout=20.0):
    return wait_for(predicate, timeout=timeout, interval=0.1)


def sweep_until(app, predicate, timeout=30.0):
    """Runs the periodic sweeper, as rq-scheduler would, until ``predicate`` holds."""
    from app.background import queues

    def swept():
        if predicate():
            return True
        queues.enqueue(redis_roles(app).queues, queues.HOLDS, "workers.jobs.sweep")
        return False

    return wait_for(swept, timeout=timeout, interval=1.0)


def pay_at_gateway(gateway, intent_id: str, card: str = "pm_card_visa") -> requests.Response:
    """What Stripe Elements does in the fan's browser: confirm the intent with a card."""
    return requests.post(
        f"{gateway.base}/v1/payment_intents/{intent_id}/confirm",
        data={"payment_method": card},
        auth=("sk_test_browser", ""),
        timeout=5,
    )


def assert_invariants(app, gateway):
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}


def test_paying_at_the_gateway_books_by_webhook_alone_then_cancel_refunds(
    app, live_server, live_gateway, worker, make, smtp_sink
):
    live_gateway.reset()
    sink, _ = smtp_sink
    sink.clear()
    show, fan = make.show(), make.fan()
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    http = requests.Session()
    http.headers.update(fan.headers)
    held = http.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A3", "A4"]}).json()
    intent = http.post(f"{live_server}/api/v1/holds/{held['holdId']}/payment-intents").json()
    assert pay_at_gateway(live_gateway, intent["paymentIntentId"], "pm_card_chargeDeclined").status_code == 402
    assert pay_at_gateway(live_gateway, intent["paymentIntentId"]).status_code == 200
    # The fan closes the tab: no confirm call. The webhook and the worker must finish the job.
    bookings = until(lambda: http.get(f"{live_server}/api/v1/bookings").json()["bookings"])
    assert bookings[0]["seatIds"] == ["A3", "A4"] and bookings[0]["status"] == "CONFIRMED"
    assert until(lambda: sink.to(email))[0]["Subject"].startswith("Your tickets")
    confirm = http.post(
        f"{live_server}/api/v1/holds/{held['holdId']}/confirm", json={"paymentIntentId": intent["paymentIntentId"]}
    )
    assert confirm.status_code == 200 and confirm.json()["bookingId"] == bookings[0]["bookingId"]

    cancelled = http.post(f"{live_server}/api/v1/bookings/{bookings[0]['bookingId']}/cancel")
    assert cancelled.json()["refundAmount"] == intent["amount"]
    until(lambda: live_gateway.intent(intent["paymentIntentId"])["amount_refunded"] == intent["amount"])
    until(lambda: len(sink.to(email)) == 2)
    until(
        lambda: (
            http.get(f"{live_server}/api/v1/bookings/{bookings[0]['bookingId']}").json()["refund"]["status"]
            == "SUCCEEDED"
        )
    )
    assert_invariants(app, live_gateway)


def test_confirm_and_webhook_racing_over_http(app, live_server, live_gateway, worker, make):
    live_gateway.reset()
    for _ in range(3):
        show, fan = make.show(), make.fan()
        http = requests.Session()
        http.headers.update(fan.headers)
        held = http.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["B1"]}).json()
        intent = http.post(f"{live_server}/api/v1/holds/{held['holdId']}/payment-intents").json()["paymentIntentId"]
        pay_at_gateway(live_gateway, intent)  # the webhook is racing the confirms below

        def attempt(i, start_line):
            from tests.support.races import Attempt

            start_line.wait()
            r = requests.post(
                f"{live_server}/api/v1/holds/{held['holdId']}/confirm",
                json={"paymentIntentId": intent},
                headers=fan.headers,
                timeout=30,
            )
            return Attempt(fan.user_id, ["B1"], r.status_code, r.json())

        attempts = run_together(20, attempt)
        assert {a.status for a in attempts} <= {200, 201}
        assert len({a.body["bookingId"] for a in attempts}) == 1
        assert sum(a.status == 201 for a in attempts) <= 1
    until(lambda: not fetch(app, "SELECT 1 FROM webhook_events WHERE processed_at IS NULL"))
    assert len(fetch(app, "SELECT id FROM bookings")) == 3
    assert_invariants(app, live_gateway)


def test_worker_killed_in_the_middle_of_a_refund_and_restarted(app, live_server, live_gateway, worker, make, stack_env):
    live_gateway.reset()
    show, fan = make.show(), make.fan()
    http = requests.Session()
    http.headers.update(fan.headers)
    held = http.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["C1"]}).json()
    intent = http.post(f"{live_server}/api/v1/holds/{held['holdId']}/payment-intents").json()
    pay_at_gateway(live_gateway, intent["paymentIntentId"])
    booking_id = until(lambda: http.get(f"{live_server}/api/v1/bookings").json()["bookings"])[0]["bookingId"]

    # The gateway takes 3 s over the refund (and does it); the worker dies while waiting.
    live_gateway.fault(kind="api_delay", path="/v1/refunds", seconds=3, count=1)
    http.post(f"{live_server}/api/v1/bookings/{booking_id}/cancel")
    until(lambda: fetch(app, "SELECT attempts FROM refunds")[0].attempts >= 1)
    worker.kill()
    assert fetch(app, "SELECT status FROM refunds")[0].status == "PENDING"

    worker.start()
    # The periodic sweeper re-queues the refund the dead worker left pending.
    sweep_until(app, lambda: fetch(app, "SELECT status FROM refunds")[0].status == "SUCCEEDED")
    assert live_gateway.intent(intent["paymentIntentId"])["refund_count"] == 1
    assert_invariants(app, live_gateway)


def test_worker_killed_while_webhooks_wait_then_dropped_webhook_reconciled(
    app, live_server, live_gateway, worker, make
):
    live_gateway.reset()
    worker.kill()  # nobody processes webhooks for a while
    show, fan = make.show(), make.fan()
    http = requests.Session()
    http.headers.update(fan.headers)
    intents = []
    for seat in ("D1", "D2", "D3"):
        held = http.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seat]}).json()
        intents.append(
            http.post(f"{live_server}/api/v1/holds/{held['holdId']}/payment-intents").json()["paymentIntentId"]
        )
    live_gateway.fault(kind="webhook_drop", count=1)
    for intent in intents:
        pay_at_gateway(live_gateway, intent)
    until(lambda: len(fetch(app, "SELECT 1 FROM webhook_events")) == 2)
    worker.start()
    sweep_until(app, lambda: len(fetch(app, "SELECT id FROM bookings")) == 3)
    assert_invariants(app, live_gateway)
