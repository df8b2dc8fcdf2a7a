"""Webhooks and a gateway that times out, fails, duplicates, reorders and drops."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import replace

import pytest

import workers.jobs
from app.payments.gateway import GatewayUnavailable
from tests.integration.test_payments import (
    assert_money_invariants,
    confirm,
    hold,
    start_payment,
)
from tests.support.db import fetch, run_jobs
from tests.support.polling import wait_for
from tests.support.services import WEBHOOK_SECRET

WEBHOOK = "/api/v1/payments/webhook"


def signed(payload: dict, secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    t = int(at if at is not None else time.time())
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


def event(event_id: str, intent_id: str = "pi_unknown", kind: str = "payment_intent.succeeded") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2026-10-28",
        "data": {"object": {"id": intent_id, "object": "payment_intent"}},
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=1,v1=deadbeef"},
    ],
)
def test_unsigned_or_badly_signed_webhooks_are_rejected(app, client, headers):
    body, _ = signed(event("evt_bad"))
    response = client.post(WEBHOOK, data=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_SIGNATURE"
    assert fetch(app, "SELECT event_id FROM webhook_events") == []


def test_wrong_secret_and_replayed_old_timestamps_are_rejected(app, client):
    body, headers = signed(event("evt_wrong"), secret="whsec_someone_else")
    assert client.post(WEBHOOK, data=body, headers=headers).status_code == 400
    body, headers = signed(event("evt_old"), at=time.time() - 3600)
    assert client.post(WEBHOOK, data=body, headers=headers).status_code == 400
    tampered_body, headers = signed(event("evt_tamper"))
    assert (
        client.post(WEBHOOK, data=tampered_body.replace(b"succeeded", b"canceled"), headers=headers).status_code == 400
    )
    assert fetch(app, "SELECT event_id FROM webhook_events") == []


def test_a_duplicate_event_is_stored_once_and_answered_200(app, client):
    body, headers = signed(event("evt_dup"))
    first = client.post(WEBHOOK, data=body, headers=headers)
    second = client.post(WEBHOOK, data=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == {"received": True, "duplicate": False}
    assert second.get_json() == {"received": True, "duplicate": True}
    assert len(fetch(app, "SELECT event_id FROM webhook_events")) == 1


def test_confirm_calls_and_webhooks_racing_make_exactly_one_booking(app, client, make, gateway):
    for _ in range(5):
        show, fan = make.show(), make.fan()
        held = hold(client, fan, show.show_id, ["A1", "A2"])
        intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
        gateway.succeed(intent)  # its webhook is on its way to the app's port meanwhile
        barrier = threading.Barrier(12)
        results = []

        def confirm_once():
            c = app.test_client()
            barrier.wait()
            r = confirm(c, fan, held["holdId"], intent)
            results.append((r.status_code, r.get_json()["bookingId"]))

        def settle_once():
            barrier.wait()
            results.append(("job", workers.jobs.settle_payment_intent(intent)))

        threads = [threading.Thread(target=confirm_once) for _ in range(8)]
        threads += [threading.Thread(target=settle_once) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        run_jobs(app)
        bookings = fetch(app, "SELECT id::text FROM bookings WHERE hold_id = :h", h=held["holdId"])
        assert len(bookings) == 1
        confirms = [r for r in results if r[0] != "job"]
        assert {b for _, b in confirms} == {bookings[0].id}
        assert sorted(s for s, _ in confirms).count(201) <= 1
        assert all(r[1] == "BOOKED" for r in results if r[0] == "job")
    assert_money_invariants(app, gateway)


def test_a_gateway_that_fails_twice_is_retried_with_the_same_idempotency_key(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["B1"])
    gateway.fault(kind="api_error", path="/v1/payment_intents", method="POST", count=2)
    response = start_payment(client, fan, held["holdId"])
    assert response.status_code == 201, response.get_json()
    assert len(gateway.intents()) == 1


def test_a_gateway_outage_keeps_the_hold_and_the_retry_gets_the_same_intent(app, client, make, gateway):
    show, fan, rival = make.show(), make.fan(), make.fan()
    held = hold(client, fan, show.show_id, ["B2"])
    gateway.fault(kind="api_error", path="/v1/payment_intents", count=10)
    down = start_payment(client, fan, held["holdId"])
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "DEGRADED" and down.headers["Retry-After"]
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"
    assert (
        client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["B2"]}, headers=rival.headers).status_code
        == 409
    )
    gateway.clear_faults()
    up = start_payment(client, fan, held["holdId"])
    assert up.status_code == 201
    assert len(gateway.intents()) == 1


def test_a_slow_gateway_that_acted_anyway_yields_one_intent(app, client, make, gateway):
    """The create call outlives the client's timeout but happens; retries with the same key find it."""
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["B3"])
    gateway.fault(kind="api_delay", path="/v1/payment_intents", method="POST", seconds=2.5, count=1)
    first = start_payment(client, fan, held["holdId"])
    if first.status_code == 503:
        time.sleep(1.0)
        first = start_payment(client, fan, held["holdId"])
    assert first.status_code == 201, first.get_json()
    assert len(gateway.intents()) == 1


def test_dropped_webhook_is_settled_by_reconciliation(app, client, make, gateway, monkeypatch):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["C1"])
    intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
    gateway.fault(kind="webhook_drop", count=1)
    gateway.succeed(intent)  # the fan never calls confirm and the webhook is lost
    time.sleep(0.5)
    assert fetch(app, "SELECT id FROM bookings") == []
    # Reconcile at once instead of after the usual minute of silence.
    settings = app.extensions["seatline.settings"]
    monkeypatch.setitem(app.extensions, "seatline.settings", replace(settings, reconcile_after_seconds=0))
    counts = workers.jobs.sweep()
    assert counts["settle_payment_intent"] == 1
    run_jobs(app)
    assert len(fetch(app, "SELECT id FROM bookings")) == 1
    assert_money_invariants(app, gateway)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "webhook_duplicate", "count": 1},
        {"kind": "webhook_delay", "seconds": 1},
        {"kind": "webhook_reorder"},
    ],
)
def test_webhook_faults_still_make_one_booking(app, client, make, gateway, fault):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["D1"])
    intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
    gateway.fault(**fault)
    gateway.fail(intent)
    gateway.succeed(intent)
    if fault["kind"] == "webhook_reorder":
        assert gateway.release_held_webhooks()  # succeeded first, then the older failure
    wait_for(lambda: len(fetch(app, "SELECT event_id FROM webhook_events")) >= 2, timeout=15)
    time.sleep(0.3)
    run_jobs(app)
    assert len(fetch(app, "SELECT id FROM bookings")) == 1
    assert fetch(app, "SELECT status FROM payments")[0].status == "SUCCEEDED"
    assert_money_invariants(app, gateway)


def test_refund_survives_gateway_errors_and_is_issued_once(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["E1"])
    intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
    gateway.succeed(intent)
    booking_id = confirm(client, fan, held["holdId"], intent).get_json()["bookingId"]
    gateway.fault(kind="api_error", path="/v1/refunds", count=6)  # more than the client's own retries
    client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    with pytest.raises(GatewayUnavailable):  # the job fails, so RQ retries it
        workers.jobs.execute_refund(fetch(app, "SELECT id::text FROM refunds")[0].id)
    assert fetch(app, "SELECT status FROM refunds")[0].status == "PENDING"
    gateway.fault(kind="api_error", path="/v1/refunds", count=1, after=True)  # done, answer lost
    with pytest.raises(GatewayUnavailable):  # the job fails, so RQ retries it
        workers.jobs.execute_refund(fetch(app, "SELECT id::text FROM refunds")[0].id)
    gateway.clear_faults()
    workers.jobs.execute_refund(fetch(app, "SELECT id::text FROM refunds")[0].id)
    workers.jobs.execute_refund(fetch(app, "SELECT id::text FROM refunds")[0].id)
    assert gateway.intent(intent)["refund_count"] == 1
    assert fetch(app, "SELECT status FROM refunds")[0].status == "SUCCEEDED"
    assert_money_invariants(app, gateway)
