"""The payment gateway simulator, driven through the official stripe client like the app
drives it, plus its control API and fault injection."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import threading
import time

import pytest
import requests
import stripe

from devstack import commands
from tests.gateway.conftest import MAX_ATTEMPTS, RETRY_BASE, ROOT, WEBHOOK_SECRET, Sim, free_port


def new_intent(client: stripe.StripeClient, amount: int = 1000, key: str | None = None, **params):
    options = {"idempotency_key": key} if key else {}
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "inr", "metadata": {"hold_id": "h1"}, **params}, options=options
    )


def paid_intent(client: stripe.StripeClient, amount: int = 1000):
    pi = new_intent(client, amount)
    return client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})


# ------------------------------------------------------------------ payment intents


def test_create_retrieve_confirm_success(client: stripe.StripeClient, sim: Sim) -> None:
    pi = new_intent(client, 1500, key="create-1")
    assert pi.id.startswith("pi_") and pi.object == "payment_intent"
    assert (pi.amount, pi.currency, pi.status) == (1500, "inr", "requires_payment_method")
    assert pi.client_secret.startswith(pi.id + "_secret_")
    assert pi.metadata.to_dict() == {"hold_id": "h1"}
    assert pi.livemode is False and isinstance(pi.created, int)
    assert pi.amount_received == 0 and pi.latest_charge is None and pi.last_payment_error is None

    got = client.v1.payment_intents.retrieve(pi.id)
    assert got.id == pi.id and got.status == "requires_payment_method"

    done = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert done.status == "succeeded"
    assert done.amount_received == 1500
    assert done.latest_charge.startswith("ch_")
    charge = client.v1.charges.retrieve(done.latest_charge)
    assert (charge.status, charge.amount_captured, charge.payment_intent) == ("succeeded", 1500, pi.id)
    expanded = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
    assert expanded.latest_charge.id == done.latest_charge


def test_create_and_confirm_in_one_call(client: stripe.StripeClient) -> None:
    pi = new_intent(client, payment_method="pm_card_visa", confirm=True)
    assert pi.status == "succeeded" and pi.amount_received == 1000


def test_decline_raises_card_error_and_allows_a_new_attempt(client: stripe.StripeClient, sim: Sim) -> None:
    pi = new_intent(client)
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_chargeDeclined"})
    err = exc.value
    assert err.http_status == 402 and err.code == "card_declined"
    assert err.error.decline_code == "generic_decline"
    assert err.error.payment_intent.id == pi.id

    got = client.v1.payment_intents.retrieve(pi.id)
    assert got.status == "requires_payment_method"
    assert got.last_payment_error.code == "card_declined"
    assert got.amount_received == 0

    ok = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded" and ok.last_payment_error is None


def test_confirm_rejected_once_final(client: stripe.StripeClient) -> None:
    done = paid_intent(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(done.id, params={"payment_method": "pm_card_visa"})
    assert exc.value.http_status == 400 and exc.value.code == "payment_intent_unexpected_state"

    gone = new_intent(client)
    client.v1.payment_intents.cancel(gone.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(gone.id, params={"payment_method": "pm_card_visa"})
    assert exc.value.code == "payment_intent_unexpected_state"


def test_cancel(client: stripe.StripeClient) -> None:
    pi = new_intent(client)
    out = client.v1.payment_intents.cancel(pi.id, params={"cancellation_reason": "abandoned"})
    assert out.status == "canceled" and out.cancellation_reason == "abandoned" and out.canceled_at
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(paid_intent(client).id)
    assert exc.value.code == "payment_intent_unexpected_state"


def test_bad_input_is_a_400_with_param_and_changes_nothing(client: stripe.StripeClient, sim: Sim) -> None:
    cases = [
        ({"amount": 0, "currency": "inr"}, "amount"),
        ({"amount": -5, "currency": "inr"}, "amount"),
        ({"amount": "ten", "currency": "inr"}, "amount"),
        ({"currency": "inr"}, "amount"),
        ({"amount": 100, "currency": "rupees"}, "currency"),
        ({"amount": 100}, "currency"),
        ({"amount": 100, "currency": "inr", "bogus": "x"}, "bogus"),
        ({"amount": 100, "currency": "inr", "payment_method": "pm_nope"}, "payment_method"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.payment_intents.create(params=params, options={"idempotency_key": "same-key"})
        assert exc.value.http_status == 400 and exc.value.param == param, params
    assert sim.intents() == []
    # validation failures are not stored under the key: fixing the params with it works
    assert new_intent(client, key="same-key").status == "requires_payment_method"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.retrieve("pi_missing")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"


def test_requires_action_then_settled_by_helpers(client: stripe.StripeClient, sim: Sim) -> None:
    pi = new_intent(client)
    out = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_authenticationRequired"})
    assert out.status == "requires_action"
    assert sim.post(f"/_sim/payment_intents/{pi.id}/processing")["status"] == "processing"
    assert sim.post(f"/_sim/payment_intents/{pi.id}/succeed")["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(pi.id).amount_received == 1000
    err = sim.post(f"/_sim/payment_intents/{pi.id}/fail", expect=400)
    assert err["error"]["code"] == "payment_intent_unexpected_state"

    other = new_intent(client)
    failed = sim.post(f"/_sim/payment_intents/{other.id}/fail", {"decline_code": "insufficient_funds"})
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["decline_code"] == "insufficient_funds"
    sim.wait_events(lambda evs: all(e["status"] == "delivered" for e in evs) and len(evs) == 2)
    assert [e["type"] for e in sim.events()] == ["payment_intent.succeeded", "payment_intent.payment_failed"]


# ------------------------------------------------------------------------- refunds


def test_refunds_partial_rest_and_limits(client: stripe.StripeClient, sim: Sim) -> None:
    pi = paid_intent(client, 1000)
    first = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 300, "reason": "requested_by_customer"})
    assert first.id.startswith("re_") and first.object == "refund"
    assert (first.status, first.amount, first.payment_intent, first.charge) == (
        "succeeded",
        300,
        pi.id,
        pi.latest_charge,
    )
    assert client.v1.refunds.retrieve(first.id).amount == 300

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 701})
    assert exc.value.code == "amount_too_large" and exc.value.param == "amount"

    rest = client.v1.refunds.create(params={"payment_intent": pi.id})  # defaults to the unrefunded rest
    assert rest.amount == 700
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 1000 and charge.refunded is True

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert exc.value.code == "charge_already_refunded"

    (view,) = sim.intents()
    assert view["amount_refunded"] == 1000 and len(view["refunds"]) == 2
    assert {r["id"] for r in sim.get("/_sim/refunds")["data"]} == {first.id, rest.id}
    listed = client.v1.refunds.list(params={"payment_intent": pi.id})
    assert {r.id for r in listed.data} == {first.id, rest.id}


def test_refund_of_unpaid_intent_rejected(client: stripe.StripeClient, sim: Sim) -> None:
    pi = new_intent(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert exc.value.http_status == 400 and exc.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": "pi_unknown"})
    assert exc.value.http_status == 404
    assert sim.get("/_sim/refunds")["data"] == []


# --------------------------------------------------------------------- idempotency


def test_idempotent_replay_and_conflicts(client: stripe.StripeClient, sim: Sim) -> None:
    first = new_intent(client, key="k1")
    again = new_intent(client, key="k1")
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(sim.intents()) == 1

    with pytest.raises(stripe.IdempotencyError) as exc:
        new_intent(client, 999, key="k1")
    assert exc.value.http_status == 400
    with pytest.raises(stripe.IdempotencyError):
        client.v1.refunds.create(params={"payment_intent": first.id}, options={"idempotency_key": "k1"})
    # keys are per API key, like Stripe's per-account scoping
    assert new_intent(sim.client(key="sk_test_other"), key="k1").id != first.id

    # a stored error replays too
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(
            first.id, params={"payment_method": "pm_card_chargeDeclined"}, options={"idempotency_key": "c1"}
        )
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(
            first.id, params={"payment_method": "pm_card_chargeDeclined"}, options={"idempotency_key": "c1"}
        )
    assert exc.value.headers["Idempotent-Replayed"] == "true"
    assert len([e for e in sim.events() if e["type"] == "payment_intent.payment_failed"]) == 1


def test_api_key_required(sim: Sim) -> None:
    r = requests.post(sim.base + "/v1/payment_intents", data={"amount": 100, "currency": "inr"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(stripe.AuthenticationError) as exc:
        new_intent(sim.client(key="sk_live_real"))
    assert exc.value.http_status == 401
    r = requests.get(sim.base + "/v1/payment_intents/pi_x", auth=("sk_test_basic", ""), timeout=5)
    assert r.status_code == 404  # basic auth is accepted, like Stripe
    assert sim.intents() == []


# ------------------------------------------------------------------------ webhooks


def test_webhooks_signed_like_stripe(client: stripe.StripeClient, sim: Sim) -> None:
    pi = paid_intent(client)
    sim.receiver.wait_for(1)
    (req,) = sim.receiver.all()
    header = req["headers"]["Stripe-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    assert req["headers"]["Content-Type"].startswith("application/json")
    event = stripe.Webhook.construct_event(req["body"].decode(), header, WEBHOOK_SECRET)
    assert event.id.startswith("evt_") and event.object == "event" and event.livemode is False
    assert event.type == "payment_intent.succeeded" and event.api_version
    assert event.data.object.id == pi.id and event.data.object.status == "succeeded"
    assert isinstance(event.created, int)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(req["body"].decode(), header, "whsec_wrong")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(req["body"].decode().replace("succeeded", "failed"), header, WEBHOOK_SECRET)
    assert client.v1.events.retrieve(event.id).type == "payment_intent.succeeded"


def test_every_event_type_is_sent(client: stripe.StripeClient, sim: Sim) -> None:
    paid = paid_intent(client)
    client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 100})
    declined = new_intent(client)
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(declined.id, params={"payment_method": "pm_card_chargeDeclined"})
    client.v1.payment_intents.cancel(declined.id)
    got = sim.receiver.wait_for(4)
    assert [e["type"] for e in got] == [
        "payment_intent.succeeded",
        "charge.refunded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    ]
    refunded = got[1]["data"]["object"]
    assert (
        refunded["object"] == "charge" and refunded["amount_refunded"] == 100 and refunded["payment_intent"] == paid.id
    )
    assert got[2]["data"]["object"]["last_payment_error"]["code"] == "card_declined"
    # The receiver has answered the last one, but the simulator may not have recorded it yet.
    events = sim.wait_events(lambda evs: all(e["status"] == "delivered" for e in evs))
    assert all(e["status"] == "delivered" and e["attempt_count"] == 1 for e in events)


def test_webhook_retried_until_acknowledged(client: stripe.StripeClient, sim: Sim) -> None:
    sim.receiver.respond_with(500, 500)
    paid_intent(client)
    sim.receiver.wait_for(1)
    reqs = sim.receiver.all()
    assert [r["status"] for r in reqs] == [500, 500, 200]
    assert len({json.loads(r["body"])["id"] for r in reqs}) == 1
    gaps = [b["at"] - a["at"] for a, b in zip(reqs, reqs[1:])]
    assert gaps[0] >= RETRY_BASE * 0.9 and gaps[1] >= 2 * RETRY_BASE * 0.9  # exponential back-off
    (ev,) = sim.wait_events(lambda evs: evs[0]["status"] == "delivered")
    assert ev["status"] == "delivered"
    assert [a["status_code"] for a in ev["deliveries"][0]["attempts"]] == [500, 500, 200]


def test_webhook_gives_up_after_max_attempts_and_survives_a_dead_endpoint(
    client: stripe.StripeClient, sim: Sim
) -> None:
    sim.receiver.respond_with(*[503] * MAX_ATTEMPTS)
    paid_intent(client)
    (ev,) = sim.wait_events(lambda evs: evs[0]["status"] == "failed", timeout=8)
    assert ev["status"] == "failed" and ev["attempt_count"] == MAX_ATTEMPTS

    sim.post("/_sim/config", {"webhook_url": "http://127.0.0.1:9/nothing-listens-here", "max_attempts": 2})
    other = paid_intent(client)
    (ev,) = sim.wait_events(lambda evs: evs[-1]["status"] == "failed", timeout=5)[1:]
    assert ev["object_id"] == other.id and ev["attempt_count"] == 2
    assert ev["deliveries"][0]["attempts"][0]["error"]


# ------------------------------------------------------------------- API faults


def test_api_error_fault_is_not_stored_under_the_key(client: stripe.StripeClient, sim: Sim) -> None:
    pi = paid_intent(client)
    (fault,) = sim.faults({"kind": "api_error", "path": "/v1/refunds", "count": 2})
    assert sim.get("/_sim/faults")["data"][0]["id"] == fault["id"]
    for _ in range(2):
        with pytest.raises(stripe.APIError) as exc:
            client.v1.refunds.create(params={"payment_intent": pi.id}, options={"idempotency_key": "r1"})
        assert exc.value.http_status == 500 and exc.value.json_body["error"]["type"] == "api_error"
    assert sim.get("/_sim/faults")["data"] == []  # expired after two uses
    refund = client.v1.refunds.create(params={"payment_intent": pi.id}, options={"idempotency_key": "r1"})
    assert refund.amount == 1000 and len(sim.get("/_sim/refunds")["data"]) == 1

    # the library's own retries (same key) ride over a transient 500
    other = paid_intent(client)
    sim.faults({"kind": "api_error", "path": "/v1/refunds", "count": 1})
    retrying = sim.client(retries=2)
    assert retrying.v1.refunds.create(params={"payment_intent": other.id}).amount == 1000
    assert len(sim.get("/_sim/refunds")["data"]) == 2


def test_api_error_after_effect_replays_the_real_answer(client: stripe.StripeClient, sim: Sim) -> None:
    sim.faults(
        {
            "kind": "api_error",
            "path": "/v1/payment_intents",
            "method": "POST",
            "count": 1,
            "after": True,
            "should_retry": False,
        }
    )
    with pytest.raises(stripe.APIError):
        sim.client(retries=2).v1.payment_intents.create(
            params={"amount": 100, "currency": "inr"}, options={"idempotency_key": "lost-response"}
        )
    (created,) = sim.intents()  # it happened although the caller saw a 500
    again = client.v1.payment_intents.create(
        params={"amount": 100, "currency": "inr"}, options={"idempotency_key": "lost-response"}
    )
    assert again.id == created["id"] and again.last_response.headers["Idempotent-Replayed"] == "true"


def test_api_delay_times_out_but_takes_effect(sim: Sim) -> None:
    sim.faults({"kind": "api_delay", "path": "/v1/payment_intents", "seconds": 1.2, "count": 1})
    impatient = sim.client(timeout=0.4)
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        new_intent(impatient, key="slow-1")
    assert time.monotonic() - started < 1.0
    assert sim.intents() == []  # still sleeping
    # while the first request holds the key, a retry with it is told so (409)
    with pytest.raises(stripe.APIError) as exc:
        new_intent(sim.client(), key="slow-1")
    assert exc.value.http_status == 409 and exc.value.json_body["error"]["code"] == "idempotency_key_in_use"
    deadline = time.monotonic() + 3
    while not sim.intents() and time.monotonic() < deadline:
        time.sleep(0.05)
    (created,) = sim.intents()
    time.sleep(0.1)
    replay = new_intent(sim.client(), key="slow-1")
    assert replay.id == created["id"] and replay.last_response.headers["Idempotent-Replayed"] == "true"


def test_api_delay_drop_never_takes_effect(sim: Sim) -> None:
    sim.faults({"kind": "api_delay", "path": "/v1/payment_intents", "seconds": 0.6, "count": 1, "drop": True})
    with pytest.raises(stripe.APIConnectionError):
        new_intent(sim.client(timeout=0.3), key="dropped-1")
    time.sleep(0.6)
    assert sim.intents() == []
    pi = new_intent(sim.client(), key="dropped-1")  # nothing stored: the retry runs for real
    assert [i["id"] for i in sim.intents()] == [pi.id]


def test_bad_faults_rejected_and_faults_cleared(sim: Sim) -> None:
    for bad in (
        {"kind": "nope"},
        {"kind": "api_delay"},
        {"kind": "api_error", "count": 0},
        {"kind": "webhook_drop", "path": "/v1/"},
        {"kind": "api_error", "colour": "red"},
    ):
        r = requests.post(sim.base + "/_sim/faults", json=[bad], timeout=5)
        assert r.status_code == 400, bad
    sim.faults({"kind": "api_error"}, {"kind": "webhook_drop"})
    assert len(sim.get("/_sim/faults")["data"]) == 2
    assert requests.delete(sim.base + "/_sim/faults", timeout=5).json()["cleared"] == 2
    assert sim.get("/_sim/faults")["data"] == []


# --------------------------------------------------------------- webhook faults


def test_webhook_delay(client: stripe.StripeClient, sim: Sim) -> None:
    sim.faults({"kind": "webhook_delay", "seconds": 0.8, "count": 1})
    started = time.monotonic()
    paid_intent(client)
    time.sleep(0.4)
    assert sim.receiver.all() == []
    sim.receiver.wait_for(1, timeout=3)
    (req,) = sim.receiver.all()
    assert req["at"] - started >= 0.75


def test_webhook_duplicate(client: stripe.StripeClient, sim: Sim) -> None:
    sim.faults({"kind": "webhook_duplicate", "count": 1})
    paid_intent(client)
    got = sim.receiver.wait_for(2)
    assert len(got) == 2 and got[0]["id"] == got[1]["id"]
    (ev,) = sim.wait_events(lambda evs: evs[0]["delivered_count"] == 2)
    assert ev["faults"] == ["webhook_duplicate"] and ev["status"] == "delivered"


def test_webhook_drop_only_the_next_matching_event(client: stripe.StripeClient, sim: Sim) -> None:
    sim.faults({"kind": "webhook_drop", "count": 1, "event_type": "payment_intent.canceled"})
    paid = paid_intent(client)
    client.v1.payment_intents.cancel(new_intent(client).id)
    client.v1.payment_intents.cancel(new_intent(client).id)
    got = sim.receiver.wait_for(2)
    time.sleep(0.2)
    assert [e["type"] for e in sim.receiver.acked()] == ["payment_intent.succeeded", "payment_intent.canceled"]
    assert got[0]["data"]["object"]["id"] == paid.id
    assert [e["status"] for e in sim.events()] == ["delivered", "dropped", "delivered"]


def test_webhook_reorder_until_release(client: stripe.StripeClient, sim: Sim) -> None:
    sim.faults({"kind": "webhook_reorder"})
    pi = paid_intent(client)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 100})
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 200})
    time.sleep(0.3)
    assert sim.receiver.all() == []
    assert [e["status"] for e in sim.events()] == ["held"] * 3
    ids = [e["id"] for e in sim.events()]
    released = sim.post("/_sim/webhooks/release")["released"]
    assert released == ids[::-1]
    got = sim.receiver.wait_for(3)
    assert [e["id"] for e in got] == ids[::-1]  # newest first
    assert [e["type"] for e in got] == ["charge.refunded", "charge.refunded", "payment_intent.succeeded"]
    assert [e["data"]["object"].get("amount_refunded") for e in got[:2]] == [300, 100]
    assert sim.get("/_sim/faults")["data"] == []  # released: reordering is over
    client.v1.payment_intents.cancel(new_intent(client).id)
    assert sim.receiver.wait_for(4)[-1]["type"] == "payment_intent.canceled"


# ------------------------------------------------------------------ control API


def test_reset_and_gateway_view(client: stripe.StripeClient, sim: Sim) -> None:
    paid = paid_intent(client)
    new_intent(client)
    assert sim.get("/_sim/health")["webhook_thread"] is True
    rows = {r["id"]: r for r in sim.intents()}
    assert rows[paid.id]["status"] == "succeeded" and rows[paid.id]["amount_refunded"] == 0
    assert [r["id"] for r in sim.get("/_sim/payment_intents", status="succeeded")["data"]] == [paid.id]
    assert sim.get(f"/_sim/payment_intents/{paid.id}")["charges"] == [paid.latest_charge]
    sim.receiver.wait_for(1)
    sim.post("/_sim/reset")
    assert sim.intents() == [] and sim.events() == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(paid.id)
    assert new_intent(client, key="k-after-reset").status == "requires_payment_method"


def test_concurrent_confirms_charge_once(sim: Sim) -> None:
    pi = new_intent(sim.client())
    outcomes: list[str] = []

    def confirm() -> None:
        try:
            sim.client().v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
            outcomes.append("ok")
        except stripe.InvalidRequestError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=confirm) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["payment_intent_unexpected_state"] * 5
    assert len(sim.get(f"/_sim/payment_intents/{pi.id}")["charges"]) == 1


def test_control_api_answers_only_loopback_clients_and_never_in_production(monkeypatch) -> None:
    # /_sim hands out the webhook secret and settles payments: nobody but this machine may ask.
    from gateway_simulator import create_app

    local = create_app({"webhook_secret": "whsec_secret_of_this_test"}).test_client()
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        answer = local.get("/_sim/config", environ_base={"REMOTE_ADDR": address})
        assert answer.status_code == 200 and answer.json["webhook_secret"] == "whsec_secret_of_this_test", address
    for address in ("192.0.2.2", "10.0.0.7", "fd00::2", "::ffff:192.0.2.2", ""):
        for method, path in (
            ("GET", "/_sim/config"),
            ("GET", "/_sim/events"),
            ("POST", "/_sim/reset"),
            ("POST", "/_sim/config"),
            ("GET", "/_sim/health"),
        ):
            answer = local.open(
                path, method=method, json={"webhook_secret": "whsec_stolen"}, environ_base={"REMOTE_ADDR": address}
            )
            assert answer.status_code == 404, (address, method, path)
            assert b"whsec_" not in answer.data
    assert (
        local.get("/_sim/config", environ_base={"REMOTE_ADDR": "127.0.0.1"}).json["webhook_secret"]
        == "whsec_secret_of_this_test"
    ), "a refused request changed nothing"

    monkeypatch.setenv("ENV", "production")
    production = create_app({"webhook_secret": "whsec_secret_of_this_test"}).test_client()
    answer = production.get("/_sim/config", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 404 and b"whsec_" not in answer.data
    # The Stripe API itself still answers (the control API is what production leaves out).
    assert (
        production.get(
            "/v1/payment_intents/pi_unknown",
            headers={"Authorization": "Bearer sk_test_x"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).status_code
        == 404
    )


def test_a_simulator_bound_to_every_interface_still_keeps_its_control_api_to_this_machine(tmp_path) -> None:
    # The same over real sockets: the simulator listens on 0.0.0.0 and is asked through this machine's
    # own non-loopback address, as another host on the network would ask it.
    addresses = [
        a
        for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
        if ipaddress.ip_address(a).version == 4 and not ipaddress.ip_address(a).is_loopback
    ]
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address to ask through")
    port = free_port()
    proc = subprocess.Popen(
        commands.gateway_simulator(f"0.0.0.0:{port}", 2),
        cwd=ROOT,
        env={**os.environ, "SIM_WEBHOOK_SECRET": "whsec_kept_local"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                local = requests.get(f"http://127.0.0.1:{port}/_sim/config", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, "the simulator did not start"
                time.sleep(0.1)
        assert local.status_code == 200 and local.json()["webhook_secret"] == "whsec_kept_local"
        remote = requests.get(f"http://{addresses[0]}:{port}/_sim/config", timeout=5)
        assert remote.status_code == 404 and "whsec_" not in remote.text
        reset = requests.post(f"http://{addresses[0]}:{port}/_sim/reset", timeout=5)
        assert reset.status_code == 404
    finally:
        proc.terminate()
        proc.wait(10)
