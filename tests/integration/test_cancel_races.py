"""A fan's cancel racing the show's cancellation: a cancelled show refunds in full, whoever gets there
first (README "How money stays correct"). Real threads against real Postgres, the gateway simulator
process carrying out the refunds."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import workers.jobs
from app.booking.invariants import money_invariant_violations
from app.unit_of_work import unit_of_work
from tests.support.booking import book
from tests.support.db import fetch, run_jobs

FANS = 8
# 30 hours ahead: the default policy refunds a fan's own cancel by half.
STARTS_IN = timedelta(hours=30)


def booked_show(app, client, make, gateway):
    show = make.show(starts_in=STARTS_IN, prices={"gold": 50000, "silver": 25000})
    fans = [make.fan() for _ in range(FANS)]
    seats = [f"B{n}" for n in range(1, FANS + 1)]
    bookings = [book(client, gateway, fan, show.show_id, [seat]) for fan, seat in zip(fans, seats)]
    return show, list(zip(fans, bookings))


def fan_cancels(app, fan, booking_id, results, start=None):
    c = app.test_client()
    if start is not None:
        start.wait()
    r = c.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    results.append((r.status_code, r.get_json()))


def manager_cancels(app, manager, show_id, results, start=None, run_job=False):
    c = app.test_client()
    if start is not None:
        start.wait()
    r = c.post(f"/api/v1/manage/shows/{show_id}/cancel", json={"reason": "Storm."}, headers=manager.headers)
    results.append((r.status_code, r.get_json()))
    if run_job:  # the cancellation job at once, still racing the fans
        workers.jobs.cancel_show(show_id)


def together(threads):
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive()


def assert_everyone_refunded_in_full(app, client, gateway, manager, show_id, fans_bookings):
    run_jobs(app)
    intents = {i["id"]: i for i in gateway.intents()}
    for fan, booking_id in fans_bookings:
        b = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()
        assert b["status"] == "CANCELLED", b
        assert b["refundAmount"] == b["amount"] == 25000, b
        assert b["refund"] == {"amount": 25000, "status": "SUCCEEDED"}, b
        at_gateway = intents[b["paymentIntentId"]]
        assert at_gateway["amount_refunded"] == at_gateway["amount_received"] == 25000
        assert 1 <= at_gateway["refund_count"] <= 2
    refunds = fetch(
        app,
        """
        SELECT b.id, sum(r.amount) AS total, count(*) AS n FROM bookings b JOIN refunds r ON r.booking_id = b.id
        WHERE b.show_id = :s GROUP BY b.id""",
        s=show_id,
    )
    assert len(refunds) == FANS and all(r.total == 25000 and r.n <= 2 for r in refunds)
    progress = client.get(f"/api/v1/manage/shows/{show_id}/cancellation", headers=manager.headers).get_json()
    assert progress["done"], progress
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}


def test_fans_who_cancelled_first_are_topped_up_when_the_show_is_cancelled(app, client, make, gateway):
    manager = make.fan(role="manager")
    show, fans_bookings = booked_show(app, client, make, gateway)
    results: list = []
    together([threading.Thread(target=fan_cancels, args=(app, f, b, results)) for f, b in fans_bookings])
    assert all(status == 200 and body["refundAmount"] == 12500 for status, body in results), results
    run_jobs(app)  # the half refunds reach the gateway before the show is cancelled
    manager_cancels(app, manager, show.show_id, results := [])
    assert results[0][0] == 202
    assert_everyone_refunded_in_full(app, client, gateway, manager, show.show_id, fans_bookings)
    reasons = fetch(app, "SELECT reason, top_up, amount FROM refunds ORDER BY top_up, reason")
    assert [(r.reason, r.top_up, r.amount) for r in reasons] == (
        [("CUSTOMER_CANCELLED", False, 12500)] * FANS + [("SHOW_CANCELLED", True, 12500)] * FANS
    )


def test_fans_who_cancel_after_the_show_was_cancelled_get_everything_at_once(app, client, make, gateway):
    manager = make.fan(role="manager")
    show, fans_bookings = booked_show(app, client, make, gateway)
    manager_cancels(app, manager, show.show_id, results := [])
    assert results[0][0] == 202
    results = []
    together([threading.Thread(target=fan_cancels, args=(app, f, b, results)) for f, b in fans_bookings])
    assert all(status == 200 and body["refundAmount"] == 25000 for status, body in results), results
    assert_everyone_refunded_in_full(app, client, gateway, manager, show.show_id, fans_bookings)
    assert fetch(app, "SELECT count(*) FROM refunds WHERE top_up OR reason <> 'SHOW_CANCELLED'")[0][0] == 0


@pytest.mark.parametrize("round_", range(6))
def test_fans_cancelling_while_the_show_is_cancelled_are_refunded_in_full(app, client, make, gateway, round_):
    manager = make.fan(role="manager")
    show, fans_bookings = booked_show(app, client, make, gateway)
    start = threading.Barrier(FANS + 1)
    fan_results: list = []
    manager_results: list = []
    threads = [threading.Thread(target=fan_cancels, args=(app, f, b, fan_results, start)) for f, b in fans_bookings]
    threads.insert(
        round_ * FANS // 5,
        threading.Thread(target=manager_cancels, args=(app, manager, show.show_id, manager_results, start, True)),
    )
    together(threads)
    assert manager_results[0][0] == 202
    assert all(status == 200 for status, _ in fan_results), fan_results
    assert_everyone_refunded_in_full(app, client, gateway, manager, show.show_id, fans_bookings)
