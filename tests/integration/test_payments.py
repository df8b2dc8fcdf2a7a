"""Hold -> payment intent -> paid at the gateway -> confirm/webhook -> one booking -> email."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from app.booking.invariants import money_invariant_violations
from app.inventory.hints import key as hint_key
from app.unit_of_work import unit_of_work
from devstack.mail import text_body
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for


def hold(client, fan, show_id, seats):
    r = client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start_payment(client, fan, hold_id):
    return client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)


def confirm(client, fan, hold_id, intent_id):
    return client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent_id}, headers=fan.headers)


def assert_money_invariants(app, gateway):
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}


def test_pay_confirm_book_and_email(app, client, make, gateway, mail):
    show, fan = make.show(prices={"gold": 50000, "silver": 25000}), make.fan()
    held = hold(client, fan, show.show_id, ["A1", "B1"])
    first = start_payment(client, fan, held["holdId"])
    assert first.status_code == 201, first.get_json()
    intent = first.get_json()
    assert intent["amount"] == 75000 and intent["currency"] == "INR" and intent["clientSecret"]
    again = start_payment(client, fan, held["holdId"])
    assert again.get_json()["paymentIntentId"] == intent["paymentIntentId"]

    not_yet = confirm(client, fan, held["holdId"], intent["paymentIntentId"])
    assert not_yet.status_code == 402
    assert not_yet.get_json()["error"]["code"] == "PAYMENT_NOT_COMPLETED"

    gateway.succeed(intent["paymentIntentId"])
    booked = confirm(client, fan, held["holdId"], intent["paymentIntentId"])
    assert booked.status_code == 201, booked.get_json()
    booking_id = booked.get_json()["bookingId"]
    repeat = confirm(client, fan, held["holdId"], intent["paymentIntentId"])
    assert repeat.status_code == 200 and repeat.get_json()["bookingId"] == booking_id

    seats = fetch(
        app, "SELECT seat_id, status FROM show_seats WHERE show_id = :s AND status <> 'AVAILABLE'", s=show.show_id
    )
    assert sorted(seats) == [("A1", "BOOKED"), ("B1", "BOOKED")]
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "CONFIRMED"

    # The gateway's webhook arrives too (on the app's real port) and changes nothing.
    wait_for(lambda: fetch(app, "SELECT 1 FROM webhook_events WHERE type = 'payment_intent.succeeded'"))
    run_jobs(app)
    assert len(fetch(app, "SELECT id FROM bookings")) == 1
    email = wait_for(lambda: mail.to(fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email))
    assert len(email) == 1 and "A1, B1" in text_body(email[0])
    assert_money_invariants(app, gateway)

    bookings = client.get("/api/v1/bookings", headers=fan.headers).get_json()["bookings"]
    assert [b["bookingId"] for b in bookings] == [booking_id]
    assert bookings[0]["seatIds"] == ["A1", "B1"] and bookings[0]["status"] == "CONFIRMED"


@pytest.fixture
def quick_app(app):
    """The same app with one-second holds, to watch holds lapse for real."""
    from app import create_app

    quick = create_app(
        app.extensions["seatline.settings"].__class__(
            **{
                **app.extensions["seatline.settings"].__dict__,
                "hold_ttl_seconds": 1,
            }
        )
    )
    quick.test_client_class = app.test_client_class
    return quick


def paid_booking(app, client, make, gateway, seats=("A1", "A2"), **show_kwargs):
    show, fan = make.show(**show_kwargs), make.fan()
    held = hold(client, fan, show.show_id, list(seats))
    intent = start_payment(client, fan, held["holdId"]).get_json()
    gateway.succeed(intent["paymentIntentId"])
    booking_id = confirm(client, fan, held["holdId"], intent["paymentIntentId"]).get_json()["bookingId"]
    return show, fan, held, intent, booking_id


def test_a_declined_card_keeps_the_hold_and_a_retry_can_succeed(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["C1"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    gateway.fail(intent["paymentIntentId"])
    declined = confirm(client, fan, held["holdId"], intent["paymentIntentId"])
    assert declined.status_code == 402
    assert declined.get_json()["error"]["paymentStatus"] == "requires_payment_method"
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"
    gateway.succeed(intent["paymentIntentId"])
    assert confirm(client, fan, held["holdId"], intent["paymentIntentId"]).status_code == 201


def test_confirm_refuses_another_holds_intent_and_other_users(client, make, gateway):
    show, fan, other = make.show(), make.fan(), make.fan()
    first = hold(client, fan, show.show_id, ["D1"])
    second = hold(client, fan, show.show_id, ["D2"])
    intent = start_payment(client, fan, first["holdId"]).get_json()
    wrong = confirm(client, fan, second["holdId"], intent["paymentIntentId"])
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "VALIDATION_FAILED"
    theirs = confirm(client, other, first["holdId"], intent["paymentIntentId"])
    assert theirs.status_code == 404
    assert start_payment(client, other, first["holdId"]).status_code == 404
    for body in ({}, {"paymentIntentId": 5}, {"paymentIntentId": ""}, {"paymentIntentId": "pi", "x": 1}):
        r = client.post(f"/api/v1/holds/{first['holdId']}/confirm", json=body, headers=fan.headers)
        assert r.status_code == 400


def test_payment_on_a_lapsed_hold_is_refused(client, quick_app, make, gateway):
    show, fan = make.show(), make.fan()
    quick = quick_app.test_client()
    held = hold(quick, fan, show.show_id, ["E1"])
    time.sleep(1.1)
    response = start_payment(client, fan, held["holdId"])
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "HOLD_EXPIRED"
    assert gateway.intents() == []


def test_seats_stay_protected_while_a_payment_may_succeed(app, client, quick_app, make, gateway):
    """Rule 4: the hold lapses mid-payment, but nobody can take its seats until the gateway settles it."""
    show, fan, rival = make.show(), make.fan(), make.fan()
    quick = quick_app.test_client()
    held = hold(quick, fan, show.show_id, ["E5", "E6"])
    intent = start_payment(quick, fan, held["holdId"]).get_json()
    time.sleep(1.2)
    taken = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["E6"]}, headers=rival.headers)
    assert taken.status_code == 409
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"
    gateway.succeed(intent["paymentIntentId"])  # the payment lands after the hold's time ran out
    assert confirm(client, fan, held["holdId"], intent["paymentIntentId"]).status_code == 201
    assert_money_invariants(app, gateway)


def test_expiry_cancels_an_unpaid_intent_before_freeing_the_seats(app, client, quick_app, make, gateway):
    import workers.jobs

    show, fan = make.show(), make.fan()
    quick = quick_app.test_client()
    held = hold(quick, fan, show.show_id, ["D7"])
    intent = start_payment(quick, fan, held["holdId"]).get_json()
    time.sleep(1.1)
    assert workers.jobs.expire_hold(held["holdId"]) == "CANCELED"
    assert gateway.intent(intent["paymentIntentId"])["status"] == "canceled"
    assert (
        fetch(app, "SELECT status FROM show_seats WHERE seat_id = 'D7' AND show_id = :s", s=show.show_id)[0].status
        == "AVAILABLE"
    )
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "EXPIRED"
    assert workers.jobs.expire_hold(held["holdId"]) is None  # a second run changes nothing


def test_expiry_finds_the_payment_went_through_and_books(app, client, quick_app, make, gateway):
    import workers.jobs

    show, fan = make.show(), make.fan()
    held = hold(quick_app.test_client(), fan, show.show_id, ["D8"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    gateway.succeed(intent["paymentIntentId"])
    time.sleep(1.1)
    assert workers.jobs.expire_hold(held["holdId"]) == "BOOKED"
    assert len(fetch(app, "SELECT id FROM bookings")) == 1
    assert confirm(client, fan, held["holdId"], intent["paymentIntentId"]).status_code == 200
    assert_money_invariants(app, gateway)


def test_payment_after_seats_were_taken_is_refunded_and_the_fan_told(app, client, make, gateway, mail, rds):
    show, fan, rival = make.show(), make.fan(), make.fan()
    held = hold(client, fan, show.show_id, ["C7", "C8"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    # Something outside the normal flow (a box-office change, an operator) freed the seats.
    run_sql(
        app,
        "UPDATE show_seats SET status = 'AVAILABLE', hold_id = NULL, hold_expires_at = NULL WHERE hold_id = :h",
        h=held["holdId"],
    )
    run_sql(
        app,
        "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' "
        "WHERE id = :h",
        h=held["holdId"],
    )
    rds.delete(hint_key(show.show_id))
    assert (
        client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["C8"]}, headers=rival.headers).status_code
        == 201
    )
    gateway.succeed(intent["paymentIntentId"])
    lost = confirm(client, fan, held["holdId"], intent["paymentIntentId"])
    assert lost.status_code == 409 and lost.get_json()["error"]["code"] == "HOLD_EXPIRED"
    # C7 was still free, C8 was not: no part of the hold is booked.
    assert fetch(app, "SELECT id FROM bookings WHERE hold_id = :h", h=held["holdId"]) == []
    seats = fetch(
        app,
        "SELECT seat_id, status FROM show_seats WHERE show_id = :s AND seat_id IN ('C7', 'C8') ORDER BY seat_id",
        s=show.show_id,
    )
    assert [(r.seat_id, r.status) for r in seats] == [("C7", "AVAILABLE"), ("C8", "HELD")]
    run_jobs(app)
    assert gateway.intent(intent["paymentIntentId"])["amount_refunded"] == intent["amount"]
    assert fetch(app, "SELECT status FROM refunds")[0].status == "SUCCEEDED"
    assert (
        confirm(client, fan, held["holdId"], intent["paymentIntentId"]).status_code == 409
    )  # still, and no 2nd refund
    run_jobs(app)
    assert gateway.intent(intent["paymentIntentId"])["refund_count"] == 1
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    assert any("refund" in m["Subject"].lower() for m in wait_for(lambda: mail.to(email)))
    assert_money_invariants(app, gateway)


def test_releasing_a_paying_hold_cancels_the_intent_first(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["B9"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    released = client.delete(f"/api/v1/holds/{held['holdId']}", headers=fan.headers)
    assert released.status_code == 200 and released.get_json()["status"] == "RELEASED"
    assert gateway.intent(intent["paymentIntentId"])["status"] == "canceled"
    assert (
        fetch(app, "SELECT status FROM show_seats WHERE seat_id = 'B9' AND show_id = :s", s=show.show_id)[0].status
        == "AVAILABLE"
    )


def test_releasing_a_hold_that_was_paid_meanwhile_is_refused(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["B10"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    gateway.succeed(intent["paymentIntentId"])
    response = client.delete(f"/api/v1/holds/{held['holdId']}", headers=fan.headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "HOLD_NOT_ACTIVE"
    assert len(fetch(app, "SELECT id FROM bookings")) == 1


# The hold page's "Release these seats" is the same release as DELETE /api/v1/holds/{id}
# (app/booking/release.py): a paying hold goes through the saga there too.


def release_on_page(client, fan, hold_id):
    """The fan's browser, signed in on the site, posts the hold page's release form."""
    with client.session_transaction() as session:
        session["user_id"] = fan.user_id
    page = client.get(f"/holds/{hold_id}")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post(f"/holds/{hold_id}/release", data={"csrf_token": token})


def test_releasing_a_paying_hold_from_its_page_cancels_the_intent_first(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["C1"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    released = release_on_page(client, fan, held["holdId"])
    assert released.status_code == 303 and released.headers["Location"] == f"/shows/{show.show_id}"
    assert gateway.intent(intent["paymentIntentId"])["status"] == "canceled"
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "RELEASED"
    assert (
        fetch(app, "SELECT status FROM show_seats WHERE seat_id = 'C1' AND show_id = :s", s=show.show_id)[0].status
        == "AVAILABLE"
    )
    assert "is released" in client.get(f"/holds/{held['holdId']}").get_data(as_text=True)


def test_releasing_from_the_page_a_hold_paid_meanwhile_shows_the_booking(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["C2"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    gateway.succeed(intent["paymentIntentId"])
    response = release_on_page(client, fan, held["holdId"])
    bookings = fetch(app, "SELECT id FROM bookings WHERE hold_id = :h", h=held["holdId"])
    assert len(bookings) == 1
    assert response.status_code == 303 and response.headers["Location"] == f"/bookings/{bookings[0].id}"
    again = release_on_page(client, fan, held["holdId"])  # confirmed by now: the same booking, nothing else
    assert again.status_code == 303 and again.headers["Location"] == f"/bookings/{bookings[0].id}"
    api = client.delete(f"/api/v1/holds/{held['holdId']}", headers=fan.headers)
    assert api.status_code == 409 and api.get_json()["error"]["code"] == "HOLD_NOT_ACTIVE"
    assert (
        fetch(app, "SELECT status FROM show_seats WHERE seat_id = 'C2' AND show_id = :s", s=show.show_id)[0].status
        == "BOOKED"
    )
    assert_money_invariants(app, gateway)


def test_a_gateway_outage_on_release_from_the_page_keeps_the_hold(app, client, make, gateway):
    show, fan, rival = make.show(), make.fan(), make.fan()
    held = hold(client, fan, show.show_id, ["C3"])
    intent = start_payment(client, fan, held["holdId"]).get_json()
    gateway.fault(kind="api_error", path=f"/v1/payment_intents/{intent['paymentIntentId']}", count=10)
    down = release_on_page(client, fan, held["holdId"])
    assert down.status_code == 503 and int(down.headers["Retry-After"]) >= 1
    assert "payment service is not answering" in down.get_data(as_text=True)
    assert 'data-testid="countdown"' in down.get_data(as_text=True)  # still the fan's, with its release button
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"
    assert (
        client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["C3"]}, headers=rival.headers).status_code
        == 409
    )
    api = client.delete(f"/api/v1/holds/{held['holdId']}", headers=fan.headers)  # the API answers the same way
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "DEGRADED" and api.headers["Retry-After"]
    gateway.clear_faults()
    assert gateway.intent(intent["paymentIntentId"])["status"] != "canceled"


@pytest.mark.parametrize("starts_in,refund_share", [(timedelta(days=3), 1.0), (timedelta(hours=30), 0.5)])
def test_cancellation_refunds_per_policy_once(app, client, make, gateway, mail, starts_in, refund_share):
    show, fan, held, intent, booking_id = paid_booking(app, client, make, gateway, starts_in=starts_in)
    run_jobs(app)
    response = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert response.status_code == 200
    expected = int(intent["amount"] * refund_share)
    assert response.get_json() == {"bookingId": booking_id, "status": "CANCELLED", "refundAmount": expected}
    again = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert again.status_code == 200 and again.get_json() == response.get_json()
    run_jobs(app)
    gateway_view = gateway.intent(intent["paymentIntentId"])
    assert gateway_view["amount_refunded"] == expected and gateway_view["refund_count"] == 1
    seats = fetch(app, "SELECT status FROM show_seats WHERE show_id = :s AND seat_id IN ('A1', 'A2')", s=show.show_id)
    assert {s.status for s in seats} == {"AVAILABLE"}
    booking = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()
    assert booking["refund"] == {"amount": expected, "status": "SUCCEEDED"}
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    subjects = sorted(m["Subject"] for m in wait_for(lambda: len(mail.to(email)) >= 2 and mail.to(email)))
    assert len(subjects) == 2 and "cancelled" in subjects[0]
    assert_money_invariants(app, gateway)


def test_cancellation_past_the_deadline_is_refused(app, client, make, gateway):
    show, fan, held, intent, booking_id = paid_booking(app, client, make, gateway, starts_in=timedelta(hours=5))
    response = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "CANCELLATION_NOT_ALLOWED"
    assert fetch(app, "SELECT status FROM bookings")[0].status == "CONFIRMED"
    assert fetch(app, "SELECT id FROM refunds") == []


def test_bookings_are_private(client, app, make, gateway):
    show, fan, held, intent, booking_id = paid_booking(app, client, make, gateway)
    other = make.fan()
    assert client.get(f"/api/v1/bookings/{booking_id}", headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=other.headers).status_code == 404
    assert client.get("/api/v1/bookings", headers=other.headers).get_json() == {"bookings": []}
    for bad in ("nope", "00000000-0000-0000-0000-000000000000"):
        assert client.get(f"/api/v1/bookings/{bad}", headers=fan.headers).status_code == 404
    assert client.get("/api/v1/bookings").status_code == 401
