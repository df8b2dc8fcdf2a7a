"""Holds the payment gateway refuses to charge, and free holds that need no charge at all.

The gateway here is the simulator process, refusing on Stripe's own per-currency rules; the shows
are made without the manager's price checks (as a show priced before those checks existed would
be), so every refusal really comes from the gateway.
"""

from __future__ import annotations

import time

import pytest

from app.booking.invariants import money_invariant_violations
from app.inventory.hints import key as hint_key
from app.unit_of_work import unit_of_work
from devstack.mail import text_body
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for

# (currency, prices, seats held, what the gateway says)
REFUSED = {
    "below the minimum": ("INR", {"gold": 20, "silver": 20}, ["B1"], "amount_too_small"),
    "above the maximum": ("INR", {"gold": 40_000_000, "silver": 25_000}, ["A1", "A2", "A3"], "amount_too_large"),
    "an unsupported currency": ("KPW", {"gold": 50_000, "silver": 25_000}, ["B1"], None),
}
# Holds left over from before the fix, in every state a refusal left them: seats protected for ever.
STRANDED = {**REFUSED, "a free hold paid for": ("INR", {"gold": 0, "silver": 0}, ["B1"], None)}


@pytest.fixture
def quick_app(app):
    """The same app with one-second holds, to watch holds lapse for real."""
    from app import create_app

    settings = app.extensions["seatline.settings"]
    quick = create_app(settings.__class__(**{**settings.__dict__, "hold_ttl_seconds": 1}))
    quick.test_client_class = app.test_client_class
    return quick


def hold(client, fan, show_id, seats):
    r = client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def seat_rows(app, show_id, seats):
    return fetch(
        app,
        "SELECT seat_id, status, hold_expires_at = 'infinity' AS protected FROM show_seats "
        "WHERE show_id = :s AND seat_id = ANY(:seats) ORDER BY seat_id",
        s=show_id,
        seats=seats,
    )


def strand(app, client, make, case):
    """A lapsed hold in the state the old code left a refused payment in: payment started, seats
    protected with an infinite expiry, no intent."""
    currency, prices, seats, _ = STRANDED[case]
    show, fan = make.show(currency=currency, prices=prices), make.fan()
    held = hold(client, fan, show.show_id, seats)
    run_sql(
        app,
        "UPDATE holds SET payment_started_at = now(), expires_at = now() - interval '1 second', "
        "created_at = now() - interval '1 hour' "
        "WHERE id = :h",
        h=held["holdId"],
    )
    run_sql(app, "UPDATE show_seats SET hold_expires_at = 'infinity' WHERE hold_id = :h", h=held["holdId"])
    return show, fan, held


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_payment_answers_422_and_the_seats_lapse_with_the_hold(app, client, make, gateway, rds, case):
    currency, prices, seats, gateway_code = REFUSED[case]
    show, fan, rival = make.show(currency=currency, prices=prices), make.fan(), make.fan()
    held = hold(client, fan, show.show_id, seats)
    refused = client.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers)
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "PAYMENT_REFUSED" and error["param"] == ("currency" if gateway_code is None else "amount")
    if gateway_code:
        assert error["gatewayCode"] == gateway_code
    assert gateway.intents() == []
    assert [r.protected for r in seat_rows(app, show.show_id, seats)] == [False] * len(seats)
    assert (
        fetch(app, "SELECT payment_started_at FROM holds WHERE id = :h", h=held["holdId"])[0].payment_started_at is None
    )
    assert fetch(
        app,
        "SELECT DISTINCT ss.hold_expires_at = h.expires_at AS same FROM show_seats ss "
        "JOIN holds h ON h.id = ss.hold_id WHERE h.id = :h",
        h=held["holdId"],
    ) == [(True,)]
    # Time passes: the hold lapses like any unpaid hold (seats that still follow its expiry lapse
    # with it) and its seats are anyone's.
    run_sql(
        app,
        "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' "
        "WHERE id = :h",
        h=held["holdId"],
    )
    run_sql(
        app,
        "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' "
        "WHERE hold_id = :h AND hold_expires_at <> 'infinity'",
        h=held["holdId"],
    )
    rds.delete(hint_key(show.show_id))
    taken = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": seats}, headers=rival.headers)
    assert taken.status_code == 201, taken.get_json()


@pytest.mark.parametrize("case", list(STRANDED))
def test_expiry_frees_a_hold_whose_intent_the_gateway_refused_and_the_sweeper_stops(app, client, make, gateway, case):
    import workers.jobs

    show, fan, held = strand(app, client, make, case)
    first = workers.jobs.sweep()
    assert first["expire_hold"] == 1
    run_jobs(app)
    assert client.get(f"/api/v1/holds/{held['holdId']}", headers=fan.headers).get_json()["status"] == "EXPIRED"
    assert {r.status for r in seat_rows(app, show.show_id, held["seatIds"])} == {"AVAILABLE"}
    assert workers.jobs.sweep()["expire_hold"] == 0  # nothing left to re-queue, ever
    assert gateway.intents() == []


@pytest.mark.parametrize("case", ["below the minimum", "a free hold paid for"])
def test_releasing_a_hold_whose_intent_the_gateway_refused_frees_its_seats(app, client, make, gateway, case):
    show, fan, held = strand(app, client, make, case)
    run_sql(app, "UPDATE holds SET expires_at = now() + interval '5 minutes' WHERE id = :h", h=held["holdId"])
    released = client.delete(f"/api/v1/holds/{held['holdId']}", headers=fan.headers)
    assert released.status_code == 200, released.get_json()
    assert released.get_json()["status"] == "RELEASED"
    assert {r.status for r in seat_rows(app, show.show_id, held["seatIds"])} == {"AVAILABLE"}


def test_a_show_cancellation_finishes_with_holds_the_gateway_would_not_charge(app, client, make, gateway):
    import workers.jobs
    from app.manage import cancellation

    show, fan, held = strand(app, client, make, "an unsupported currency")
    run_sql(app, "UPDATE shows SET status = 'CANCELLED', cancelled_at = now() WHERE id = :s", s=show.show_id)
    assert workers.jobs.cancel_show(show.show_id) is True
    with app.app_context(), unit_of_work() as uow:
        assert show.show_id not in cancellation.unfinished(uow)
        assert cancellation.progress(uow, show.show_id)["done"] is True
    assert {r.status for r in seat_rows(app, show.show_id, held["seatIds"])} == {"AVAILABLE"}
    assert workers.jobs.sweep()["cancel_show"] == 0


# ---------------------------------------------------------------- free shows


def test_a_free_hold_books_without_a_payment_and_cancels_without_a_refund(app, client, make, gateway, mail):
    show, fan = make.show(prices={"gold": 0, "silver": 0}), make.fan()
    held = hold(client, fan, show.show_id, ["B1", "B2"])
    assert held["amount"] == 0
    not_needed = client.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers)
    assert not_needed.status_code == 422 and not_needed.get_json()["error"]["code"] == "PAYMENT_NOT_NEEDED"

    booked = client.post(f"/api/v1/holds/{held['holdId']}/confirm", headers=fan.headers)
    assert booked.status_code == 201, booked.get_json()
    booking_id = booked.get_json()["bookingId"]
    again = client.post(f"/api/v1/holds/{held['holdId']}/confirm", json={}, headers=fan.headers)
    assert again.status_code == 200 and again.get_json()["bookingId"] == booking_id
    assert {r.status for r in seat_rows(app, show.show_id, ["B1", "B2"])} == {"BOOKED"}
    booking = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()
    assert booking["amount"] == 0 and booking["paymentIntentId"] is None and booking["status"] == "CONFIRMED"

    run_jobs(app)
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    confirmation = wait_for(lambda: mail.to(email))
    assert "B1, B2" in text_body(confirmation[0])

    cancelled = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert cancelled.status_code == 200
    assert cancelled.get_json() == {"bookingId": booking_id, "status": "CANCELLED", "refundAmount": 0}
    assert fetch(app, "SELECT id FROM refunds") == []
    assert gateway.intents() == []
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}


def test_free_seats_of_a_paid_show_book_free_and_paid_seats_still_need_a_payment(app, client, make, gateway):
    show, fan = make.show(prices={"gold": 0, "silver": 25000}), make.fan()
    free = hold(client, fan, show.show_id, ["A1"])
    paid = hold(client, fan, show.show_id, ["B1"])
    assert (free["amount"], paid["amount"]) == (0, 25000)
    needs_payment = client.post(f"/api/v1/holds/{paid['holdId']}/confirm", headers=fan.headers)
    assert needs_payment.status_code == 400
    assert needs_payment.get_json()["error"]["fields"][0]["field"] == "paymentIntentId"
    assert client.post(f"/api/v1/holds/{free['holdId']}/confirm", headers=fan.headers).status_code == 201
    assert client.get(f"/api/v1/holds/{paid['holdId']}", headers=fan.headers).get_json()["status"] == "ACTIVE"


def test_a_free_hold_that_lapsed_is_not_booked(app, client, quick_app, make, gateway):
    show, fan = make.show(prices={"gold": 0, "silver": 0}), make.fan()
    held = hold(quick_app.test_client(), fan, show.show_id, ["C1"])
    time.sleep(1.1)
    late = client.post(f"/api/v1/holds/{held['holdId']}/confirm", headers=fan.headers)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "HOLD_EXPIRED"
    assert fetch(app, "SELECT id FROM bookings") == []


def test_the_site_offers_get_tickets_for_free_seats_and_books_them(app, client, make, gateway, mail):
    import re

    def token_of(response) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)

    show = make.show(rows=2, per_row=4, prices={"gold": 0, "silver": 0})
    client.post("/api/v1/auth/register", json={"email": "free@example.com", "password": "correct horse", "name": "F"})
    login = client.get("/login")
    client.post(
        "/login", data={"csrf_token": token_of(login), "email": "free@example.com", "password": "correct horse"}
    )
    page = client.get(f"/shows/{show.show_id}")
    hold_url = client.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["B1"]}).headers[
        "Location"
    ]
    hold_page = client.get(hold_url).get_data(as_text=True)
    assert "Get tickets" in hold_page and "Free" in hold_page
    checkout = client.get(f"{hold_url}/checkout")
    html = checkout.get_data(as_text=True)
    assert checkout.status_code == 200 and "Get tickets" in html and 'name="card"' not in html
    booked = client.post(f"{hold_url}/checkout", data={"csrf_token": token_of(checkout)})
    assert booked.status_code == 303 and "/bookings/" in booked.headers["Location"]
    assert "Free tickets" in client.get(booked.headers["Location"]).get_data(as_text=True)
    assert gateway.intents() == []
    assert [r.status for r in fetch(app, "SELECT status FROM bookings")] == ["CONFIRMED"]


def test_cancelling_a_free_show_cancels_its_bookings_without_a_refund(app, client, make, gateway, mail):
    show, fan, manager = make.show(prices={"gold": 0, "silver": 0}), make.fan(), make.fan(role="manager")
    held = hold(client, fan, show.show_id, ["C1"])
    booking_id = client.post(f"/api/v1/holds/{held['holdId']}/confirm", headers=fan.headers).get_json()["bookingId"]
    r = client.post(f"/api/v1/manage/shows/{show.show_id}/cancel", json={"reason": "Rain"}, headers=manager.headers)
    assert r.status_code in (200, 202), r.get_json()
    run_jobs(app)
    booking = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()
    assert (booking["status"], booking["refundAmount"], booking["refund"]) == ("CANCELLED", 0, None)
    assert gateway.intents() == [] and fetch(app, "SELECT id FROM refunds") == []
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    cancelled = wait_for(lambda: [m for m in mail.to(email) if "cancelled" in m["Subject"]])
    assert "nothing to refund" in text_body(cancelled[0])
