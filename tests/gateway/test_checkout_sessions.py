"""Checkout Sessions and the hosted payment page of the simulator (gateway_simulator/checkout.py),
driven through the official stripe client and over HTTP like a browser would."""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from tests.gateway.conftest import WEBHOOK_SECRET, Sim


def new_session(client: stripe.StripeClient, key: str | None = None, **params):
    body = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {"currency": "inr", "unit_amount": 25000, "product_data": {"name": "Seats A1"}},
                "quantity": 2,
            }
        ],
        "success_url": "http://127.0.0.1:9/holds/h1/checkout/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/holds/h1/checkout",
        "client_reference_id": "h1",
        "metadata": {"hold_id": "h1"},
        "payment_intent_data": {"metadata": {"hold_id": "h1"}},
        **params,
    }
    options = {"idempotency_key": key} if key else {}
    return client.v1.checkout.sessions.create(params=body, options=options)


def pay(session, card: str) -> requests.Response:
    return requests.post(session.url, data={"cardnumber": card}, allow_redirects=False, timeout=10)


def test_a_session_has_stripes_shape_and_its_page(client: stripe.StripeClient, sim: Sim) -> None:
    session = new_session(client)
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert (session.amount_total, session.currency, session.client_reference_id) == (50000, "inr", "h1")
    assert session.payment_intent is None and session.metadata.to_dict() == {"hold_id": "h1"}
    assert session.url == f"{sim.base}/c/pay/{session.id}"
    assert 24 * 3600 - 5 <= session.expires_at - session.created <= 24 * 3600
    assert client.v1.checkout.sessions.retrieve(session.id).to_dict() == session.to_dict()
    page = requests.get(session.url, timeout=5)
    assert page.status_code == 200 and 'name="cardnumber"' in page.text and "500.00 inr" in page.text
    assert 'href="http://127.0.0.1:9/holds/h1/checkout"' in page.text  # the cancel link
    assert requests.get(f"{sim.base}/c/pay/cs_test_nope", timeout=5).status_code == 404


def test_paying_with_4242_completes_the_session_and_sends_both_events(client: stripe.StripeClient, sim: Sim) -> None:
    session = new_session(client)
    paid = pay(session, "4242 4242 4242 4242")
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"http://127.0.0.1:9/holds/h1/checkout/return?session_id={session.id}"
    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    assert done.payment_intent.status == "succeeded" and done.payment_intent.amount_received == 50000
    assert done.payment_intent.metadata.to_dict() == {"hold_id": "h1"}
    got = sim.receiver.wait_for(2)
    assert [e["type"] for e in got] == ["payment_intent.succeeded", "checkout.session.completed"]
    req = sim.receiver.all()[1]
    event = stripe.Webhook.construct_event(req["body"].decode(), req["headers"]["Stripe-Signature"], WEBHOOK_SECRET)
    assert event.data.object.id == session.id and event.data.object.payment_intent == done.payment_intent.id
    assert "Paid" in requests.get(f"{sim.base}/c/pay/{session.id}", timeout=5).text
    assert pay(session, "4242424242424242").status_code != 303  # a complete session takes no second payment
    assert len([i for i in sim.intents() if i["status"] == "succeeded"]) == 1


def test_a_decline_shows_on_the_page_and_the_fan_tries_again(client: stripe.StripeClient, sim: Sim) -> None:
    session = new_session(client)
    declined = pay(session, "4000000000000002")
    assert (
        declined.status_code == 402 and "Your card was declined." in declined.text and 'role="alert"' in declined.text
    )
    wrong = pay(session, "1234 5678")
    assert wrong.status_code == 402 and "Your card number is incorrect." in wrong.text
    open_ = client.v1.checkout.sessions.retrieve(session.id)
    assert open_.status == "open" and open_.payment_intent is not None
    assert pay(session, "4242424242424242").status_code == 303
    again = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert again.payment_intent.id == open_.payment_intent and again.payment_intent.status == "succeeded"
    types = [e["type"] for e in sim.receiver.wait_for(3)]
    assert types == ["payment_intent.payment_failed", "payment_intent.succeeded", "checkout.session.completed"]


@pytest.mark.parametrize("result", ["fail", "complete"])
def test_3d_secure_asks_a_second_page(client: stripe.StripeClient, sim: Sim, result: str) -> None:
    session = new_session(client)
    challenged = pay(session, "4000 0025 0000 3155")
    assert challenged.status_code == 303 and challenged.headers["Location"] == f"/c/3ds/{session.id}"
    page = requests.get(f"{sim.base}/c/3ds/{session.id}", timeout=5)
    assert page.status_code == 200 and ">Complete</button>" in page.text and ">Fail</button>" in page.text
    assert requests.get(session.url, allow_redirects=False, timeout=5).headers["Location"] == f"/c/3ds/{session.id}"
    answer = requests.post(f"{sim.base}/c/3ds/{session.id}", data={"result": result}, allow_redirects=False, timeout=10)
    after = client.v1.checkout.sessions.retrieve(session.id)
    if result == "fail":
        assert answer.status_code == 402 and "unable to authenticate" in answer.text
        assert after.status == "open" and after.payment_status == "unpaid"
        assert pay(session, "4242424242424242").status_code == 303  # a second try with another card
    else:
        assert answer.status_code == 303 and answer.headers["Location"].endswith(f"session_id={session.id}")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_expiry_by_api_and_by_time(client: stripe.StripeClient, sim: Sim) -> None:
    tried = new_session(client)
    pay(tried, "4000000000000002")  # an intent exists: expiring the session cancels it
    expired = client.v1.checkout.sessions.expire(tried.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert sim.intents()[0]["status"] == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(tried.id)
    assert pay(tried, "4242424242424242").status_code == 410
    assert all(i["status"] != "succeeded" for i in sim.intents())

    lapsing = new_session(client)
    sim.post(f"/_sim/checkout/sessions/{lapsing.id}/lapse")

    # Nobody asks about it: the simulator's own thread expires it and says so.
    # The first session's events may still be arriving: wait until this one's expiry is among them.
    def expired_sessions() -> list[str]:
        return [e["data"]["object"]["id"] for e in sim.receiver.acked() if e["type"] == "checkout.session.expired"]

    deadline = time.monotonic() + 15
    while lapsing.id not in expired_sessions() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expired_sessions() == [tried.id, lapsing.id]
    assert client.v1.checkout.sessions.retrieve(lapsing.id).status == "expired"


def test_bad_parameters_are_refused_like_stripe(client: stripe.StripeClient, sim: Sim) -> None:
    now = int(time.time())
    cases = [
        ({"mode": "subscription"}, "mode"),
        ({"success_url": "not a url"}, "success_url"),
        ({"expires_at": now + 60}, "expires_at"),
        ({"expires_at": now + 25 * 3600}, "expires_at"),
        ({"line_items": [{"price_data": {"currency": "inr", "unit_amount": 1}, "quantity": 1}]}, "amount"),
        ({"line_items": [{"price_data": {"currency": "xyz", "unit_amount": 5000}, "quantity": 1}]}, "currency"),
        ({"line_items": [{"price": "price_123", "quantity": 1}]}, "line_items[0][price]"),
        ({"bogus": "1"}, "bogus"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            new_session(client, **params)
        assert refused.value.param == param, params
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.retrieve("cs_test_missing")
    assert sim.get("/_sim/checkout/sessions")["data"] == []


def test_idempotency_keys_replay_one_session(client: stripe.StripeClient, sim: Sim) -> None:
    first = new_session(client, key="hold-h1-checkout-1")
    again = new_session(client, key="hold-h1-checkout-1")
    assert again.id == first.id
    with pytest.raises(stripe.IdempotencyError):
        new_session(client, key="hold-h1-checkout-1", client_reference_id="h2")
    assert len(sim.get("/_sim/checkout/sessions")["data"]) == 1


def test_webhook_faults_apply_to_checkout_events(client: stripe.StripeClient, sim: Sim) -> None:
    sim.faults({"kind": "webhook_duplicate", "event_type": "checkout.session.completed", "count": 1})
    sim.faults({"kind": "webhook_drop", "event_type": "payment_intent.succeeded", "count": 1})
    pay(new_session(client), "4242424242424242")
    got = sim.receiver.wait_for(2)
    assert [e["type"] for e in got] == ["checkout.session.completed"] * 2 and got[0]["id"] == got[1]["id"]
    dropped = sim.events(type="payment_intent.succeeded")
    assert [e["status"] for e in dropped] == ["dropped"]
