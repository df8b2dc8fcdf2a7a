"""Hosted checkout (README "Hosted checkout"): a hold paid on the gateway's own page, booked by its
webhooks through the saga; the card number never reaches Seatline."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.booking.invariants import money_invariant_violations
from app.unit_of_work import unit_of_work
from tests.support.db import Fan, fetch, run_jobs
from tests.support.polling import wait_for


def hold(client, fan, show_id, seats):
    r = client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def open_session(client, fan, hold_id):
    return client.post(f"/api/v1/holds/{hold_id}/checkout-session", headers=fan.headers)


def pay(checkout_url: str, card: str) -> requests.Response:
    """What the fan's browser posts on the gateway's page (the simulator's, over HTTP)."""
    return requests.post(checkout_url, data={"cardnumber": card}, allow_redirects=False, timeout=10)


def sim_sessions(gateway) -> list[dict]:
    return requests.get(f"{gateway.base}/_sim/checkout/sessions", timeout=5).json()["data"]


def settle_webhooks(app, *types: str) -> None:
    """Waits until the gateway's webhooks of these types reached the app, then works its jobs."""
    for type_ in types:
        wait_for(lambda t=type_: fetch(app, "SELECT 1 FROM webhook_events WHERE type = :t", t=t))
    run_jobs(app)


def assert_money_invariants(app, gateway):
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}


def test_paid_on_the_hosted_page_and_booked_by_the_webhooks(app, client, make, gateway, mail):
    show, fan = make.show(prices={"gold": 50000, "silver": 25000}), make.fan()
    held = hold(client, fan, show.show_id, ["A1", "B1"])
    first = open_session(client, fan, held["holdId"])
    assert first.status_code == 201, first.get_json()
    assert first.headers["Cache-Control"] == "no-store"
    session = first.get_json()
    assert session["sessionId"].startswith("cs_test_") and session["checkoutUrl"].endswith(session["sessionId"])
    again = open_session(client, fan, held["holdId"])
    assert again.status_code == 201 and again.get_json() == session

    at_gateway = sim_sessions(gateway)
    assert len(at_gateway) == 1
    assert at_gateway[0]["amount_total"] == 75000 and at_gateway[0]["currency"] == "inr"
    assert at_gateway[0]["client_reference_id"] == held["holdId"]
    hold_expiry = fetch(app, "SELECT extract(epoch FROM expires_at) AS e FROM holds")[0].e
    # The gateway keeps a session at least 30 minutes: never shorter than the hold, never far beyond that.
    assert at_gateway[0]["expires_at"] >= int(hold_expiry)
    assert at_gateway[0]["expires_at"] - at_gateway[0]["created"] >= 30 * 60

    page = requests.get(session["checkoutUrl"], timeout=5)
    assert page.status_code == 200 and 'name="cardnumber"' in page.text

    declined = pay(session["checkoutUrl"], "4000 0000 0000 0002")
    assert declined.status_code == 402 and "declined" in declined.text
    run_jobs(app)
    assert fetch(app, "SELECT id FROM bookings") == []
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"

    paid = pay(session["checkoutUrl"], "4242 4242 4242 4242")
    assert paid.status_code == 303
    back = urlsplit(paid.headers["Location"])
    assert back.path == f"/holds/{held['holdId']}/checkout/return"
    assert parse_qs(back.query)["session_id"] == [session["sessionId"]]

    settle_webhooks(app, "checkout.session.completed", "payment_intent.succeeded")
    bookings = fetch(app, "SELECT hold_id, seat_ids, amount FROM bookings")
    assert [(str(b.hold_id), b.seat_ids, b.amount) for b in bookings] == [(held["holdId"], ["A1", "B1"], 75000)]
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "CONFIRMED"
    assert fetch(app, "SELECT status FROM checkout_sessions")[0].status == "complete"
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    assert wait_for(lambda: mail.to(email))
    assert_money_invariants(app, gateway)

    ended = open_session(client, fan, held["holdId"])
    assert ended.status_code == 409 and ended.get_json()["error"]["code"] == "HOLD_EXPIRED"
    assert ended.get_json()["error"]["status"] == "CONFIRMED"


def test_bad_input_and_other_fans_change_nothing(app, client, make, gateway):
    show, fan, other = make.show(prices={"gold": 0, "silver": 25000}), make.fan(), make.fan()
    paid = hold(client, fan, show.show_id, ["B2"])
    free = hold(client, fan, show.show_id, ["A2"])
    path = f"/api/v1/holds/{paid['holdId']}/checkout-session"

    anonymous = client.post(path)
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["code"] == "AUTH_REQUIRED"
    bad_token = client.post(path, headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401 and bad_token.get_json()["error"]["code"] == "INVALID_TOKEN"
    for hold_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        missing = open_session(client, fan, hold_id)
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "HOLD_NOT_FOUND"
    theirs = open_session(client, other, paid["holdId"])
    assert theirs.status_code == 404 and theirs.get_json()["error"]["code"] == "HOLD_NOT_FOUND"
    gratis = open_session(client, fan, free["holdId"])
    assert gratis.status_code == 422 and gratis.get_json()["error"]["code"] == "PAYMENT_NOT_NEEDED"

    by_intent = hold(client, fan, show.show_id, ["B3"])
    assert client.post(f"/api/v1/holds/{by_intent['holdId']}/payment-intents", headers=fan.headers).status_code == 201
    started = open_session(client, fan, by_intent["holdId"])
    assert started.status_code == 409 and started.get_json()["error"]["code"] == "PAYMENT_IN_PROGRESS"

    released = hold(client, fan, show.show_id, ["B4"])
    assert client.delete(f"/api/v1/holds/{released['holdId']}", headers=fan.headers).status_code == 200
    gone = open_session(client, fan, released["holdId"])
    assert gone.status_code == 409 and gone.get_json()["error"]["code"] == "HOLD_EXPIRED"
    assert gone.get_json()["error"]["status"] == "RELEASED"

    assert sim_sessions(gateway) == []
    assert fetch(app, "SELECT hold_id FROM checkout_sessions") == []
    assert client.get(f"/api/v1/holds/{paid['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"


def test_duplicate_and_reordered_webhooks_book_once(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["C1", "C2"])
    session = open_session(client, fan, held["holdId"]).get_json()
    gateway.fault(kind="webhook_duplicate", copies=3)
    gateway.fault(kind="webhook_reorder")
    assert pay(session["checkoutUrl"], "4242424242424242").status_code == 303
    held_back = wait_for(lambda: len(gateway.release_held_webhooks()) >= 2 or None)
    assert held_back
    # Released newest first: the session's completion arrives before the intent's success.
    settle_webhooks(app, "checkout.session.completed", "payment_intent.succeeded")
    wait_for(lambda: fetch(app, "SELECT count(*) AS n FROM webhook_events")[0].n >= 2)
    run_jobs(app)
    assert len(fetch(app, "SELECT id FROM bookings")) == 1
    seats = fetch(
        app, "SELECT seat_id, status FROM show_seats WHERE show_id = :s AND status <> 'AVAILABLE'", s=show.show_id
    )
    assert sorted(seats) == [("C1", "BOOKED"), ("C2", "BOOKED")]
    assert fetch(app, "SELECT id FROM refunds") == []
    assert_money_invariants(app, gateway)


def site_fan(client, email: str) -> Fan:
    """A fan signed in on the site (``client``'s cookie) who also has a bearer token for the API."""
    api = client.post("/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "Fan"})
    login = client.get("/login")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.get_data(as_text=True))
    assert csrf is not None
    client.post("/login", data={"csrf_token": csrf.group(1), "email": email, "password": "correct horse"})
    user_id = fetch(client.application, "SELECT id FROM users WHERE email = :e", e=email)[0].id
    return Fan(user_id, api.get_json()["token"])


def test_the_return_page_books_even_when_the_webhooks_are_lost(app, client, make, gateway):
    show, fan = make.show(), site_fan(client, "returning@example.com")
    held = hold(client, fan, show.show_id, ["D1"])
    session = open_session(client, fan, held["holdId"]).get_json()
    gateway.fault(kind="webhook_drop")
    back = pay(session["checkoutUrl"], "4242 4242 4242 4242").headers["Location"]
    waiting = client.get(f"/holds/{held['holdId']}/checkout/return?session_id=cs_test_someone_elses")
    assert waiting.status_code == 200 and 'data-state="waiting"' in waiting.get_data(as_text=True)
    assert fetch(app, "SELECT id FROM bookings") == []  # a session id not the hold's asks the gateway nothing
    landed = client.get(back[back.index("/holds/") :])
    assert landed.status_code == 303, landed.get_data(as_text=True)
    booking_id = fetch(app, "SELECT id FROM bookings")[0].id
    assert landed.headers["Location"].endswith(f"/bookings/{booking_id}")
    status = client.get(f"/holds/{held['holdId']}/checkout/status")
    assert status.headers["HX-Redirect"].endswith(f"/bookings/{booking_id}")
    stranger = app.test_client()
    site_fan(stranger, "stranger@example.com")
    for path in (back[back.index("/holds/") :], f"/holds/{held['holdId']}/checkout/status"):
        assert stranger.get(path).status_code == 404  # another fan's hold reads as missing
    assert client.get("/holds/00000000-0000-0000-0000-000000000000/checkout/status").status_code == 404
    assert_money_invariants(app, gateway)


def test_a_lapsed_hold_paid_late_is_refunded_not_booked(app, client, quick_app, make, gateway):
    show, fan, rival = make.show(), make.fan(), make.fan()
    quick = quick_app.test_client()
    held = hold(quick, fan, show.show_id, ["E1"])
    session = open_session(quick, fan, held["holdId"]).get_json()
    time.sleep(1.1)  # the hold lapses; the session (30 minutes at least) stays open at the gateway
    taken = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["E1"]}, headers=rival.headers)
    assert taken.status_code == 201, taken.get_json()

    assert pay(session["checkoutUrl"], "4242 4242 4242 4242").status_code == 303
    settle_webhooks(app, "checkout.session.completed", "payment_intent.succeeded")
    run_jobs(app)  # the refund's own job
    assert fetch(app, "SELECT id FROM bookings") == []
    refunds = fetch(app, "SELECT amount, reason, status FROM refunds")
    assert [(r.amount, r.reason, r.status) for r in refunds] == [(25000, "HOLD_LAPSED", "SUCCEEDED")]
    intent = next(i for i in gateway.intents() if i["status"] == "succeeded")
    assert intent["amount_refunded"] == intent["amount_received"]
    seat = fetch(app, "SELECT status, hold_id FROM show_seats WHERE show_id = :s AND seat_id = 'E1'", s=show.show_id)
    assert str(seat[0].hold_id) == taken.get_json()["holdId"]
    assert_money_invariants(app, gateway)


def test_twenty_concurrent_calls_for_one_hold_make_one_session(app, client, make, gateway, web_server):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["A3"])
    url = f"{web_server.url}/api/v1/holds/{held['holdId']}/checkout-session"

    def call(_):
        r = requests.post(url, headers=fan.headers, timeout=30)
        return r.status_code, r.json()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(call, range(20)))
    assert {status for status, _ in answers} == {201}, answers
    assert len({body["sessionId"] for _, body in answers}) == 1
    assert len(sim_sessions(gateway)) == 1
    assert len(fetch(app, "SELECT hold_id FROM checkout_sessions")) == 1


@pytest.fixture
def quick_app(app):
    """The same app with one-second holds, to watch holds lapse for real."""
    from app import create_app

    settings = app.extensions["seatline.settings"]
    quick = create_app(settings.__class__(**{**settings.__dict__, "hold_ttl_seconds": 1}))
    quick.test_client_class = app.test_client_class
    return quick


def test_the_sweep_closes_the_session_of_a_lapsed_hold(app, client, quick_app, make, gateway):
    import workers.jobs

    show, fan = make.show(), make.fan()
    held = hold(quick_app.test_client(), fan, show.show_id, ["E2"])
    session = open_session(quick_app.test_client(), fan, held["holdId"]).get_json()
    assert workers.jobs.sweep()["close_checkout_session"] == 0  # the hold is still active
    time.sleep(1.1)
    workers.jobs.sweep()  # the hold expires
    assert workers.jobs.sweep()["close_checkout_session"] == 1
    run_jobs(app)
    assert sim_sessions(gateway)[0]["status"] == "expired"
    assert fetch(app, "SELECT status FROM checkout_sessions")[0].status == "expired"
    late = pay(session["checkoutUrl"], "4242 4242 4242 4242")
    assert late.status_code == 410 and "expired" in late.text  # nothing to pay for any more
    assert [i for i in gateway.intents() if i["status"] == "succeeded"] == []
    assert workers.jobs.sweep()["close_checkout_session"] == 0


def test_the_sweep_settles_a_late_payment_whose_webhooks_were_lost(app, client, quick_app, make, gateway):
    import workers.jobs

    show, fan, rival = make.show(), make.fan(), make.fan()
    held = hold(quick_app.test_client(), fan, show.show_id, ["E3"])
    session = open_session(quick_app.test_client(), fan, held["holdId"]).get_json()
    time.sleep(1.1)
    workers.jobs.sweep()  # the hold expires before the fan pays
    taken = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["E3"]}, headers=rival.headers)
    assert taken.status_code == 201
    gateway.fault(kind="webhook_drop")
    assert pay(session["checkoutUrl"], "4242 4242 4242 4242").status_code == 303
    assert workers.jobs.sweep()["close_checkout_session"] == 1
    run_jobs(app)
    assert fetch(app, "SELECT id FROM bookings") == []
    assert [(r.reason, r.status) for r in fetch(app, "SELECT reason, status FROM refunds")] == [
        ("HOLD_LAPSED", "SUCCEEDED")
    ]
    assert fetch(app, "SELECT status FROM checkout_sessions")[0].status == "complete"
    assert_money_invariants(app, gateway)
