"""Cancelling a show with 300 bookings through real processes: the manager cancels over HTTP (gunicorn),
`flask worker` refunds 300 bookings at the gateway simulator, is SIGKILLed while the gateway is
carrying out one of the refunds, is restarted, and the sweeper (run here as rq-scheduler would)
finishes the job. Everyone ends with exactly one full refund and one "show cancelled" email."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.booking.invariants import money_invariant_violations
from app.extensions import redis_roles
from app.unit_of_work import unit_of_work
from devstack.mail import text_body
from tests.support.booking import book
from tests.support.db import fetch
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

FANS = 150
BOOKINGS = 300  # two per fan: one of one seat, one of two seats (450 of the show's 500 seats)
REASON = "The venue has flooded."


def until(predicate, timeout=20.0, interval=0.1):
    return wait_for(predicate, timeout=timeout, interval=interval)


def sweep_until(app, predicate, timeout=60.0, every=2.0, describe=lambda: None):
    """Queues the periodic sweeper every ``every`` seconds, as rq-scheduler would, until ``predicate()``
    returns something truthy, and returns that; on timeout, fails saying what ``describe()`` says."""
    from app.background import queues

    deadline, next_sweep = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= next_sweep:
            queues.enqueue(redis_roles(app).queues, queues.HOLDS, "workers.jobs.sweep")
            next_sweep = time.monotonic() + every
        time.sleep(0.25)
    raise AssertionError(f"not finished after {timeout} s of sweeping: {describe()}")


def jobs_that_raised(app) -> list[str]:
    """RQ jobs that raised at least once: failed for good, waiting for a retry, or finished on a retry."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from app.background import queues

    connection = redis_roles(app).queues
    raised = []
    for name in queues.ALL_QUEUES:
        q = queues.queue(name, connection)
        raised += [f"{name}: {job_id} failed" for job_id in q.failed_job_registry.get_job_ids()]
        ids = q.scheduled_job_registry.get_job_ids() + q.finished_job_registry.get_job_ids()
        for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer):
            if job is not None and job.retries_left is not None and job.retries_left < queues.RETRY.max:
                raised.append(f"{name}: {job.func_name}{tuple(job.args)} raised ({job.retries_left} retries left)")
    return raised


def gateway_faults(gateway) -> list[dict]:
    return requests.get(f"{gateway.base}/_sim/faults", timeout=5).json()["data"]


def test_a_cancelled_show_refunds_hundreds_once_each_across_a_worker_crash(
    app, live_server, live_gateway, worker, make, smtp_sink
):
    live_gateway.reset()
    sink, _ = smtp_sink
    sink.clear()
    manager = make.fan(role="manager")
    show = make.show(rows=20, per_row=25)
    sid = show.show_id
    fans = [make.fan() for _ in range(FANS)]
    plan, seats = [], iter(show.seat_ids)
    for fan in fans:
        plan.append((fan, [next(seats)]))
        plan.append((fan, [next(seats), next(seats)]))
    assert len(plan) == BOOKINGS

    # The bookings are made the way fans make them (hold, pay at the gateway, confirm), in-process
    # for speed. The gateway's "payment succeeded" webhooks are dropped meanwhile so that the worker
    # does not race the confirm calls (each must answer 201, a new booking).
    live_gateway.fault(kind="webhook_drop", event_type="payment_intent.succeeded")
    with ThreadPoolExecutor(max_workers=6) as pool:
        booking_ids = list(pool.map(lambda item: book(app.test_client(), live_gateway, item[0], sid, item[1]), plan))
    assert len(set(booking_ids)) == BOOKINGS
    live_gateway.clear_faults()

    # Live holds at cancel time: three fans holding a seat each, the last of them in the middle of paying.
    holders = [make.fan() for _ in range(3)]
    client = app.test_client()
    for holder in holders:
        r = client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": [next(seats)]}, headers=holder.headers)
        assert r.status_code == 201, r.get_json()
    paying_hold = r.get_json()["holdId"]
    r = client.post(f"/api/v1/holds/{paying_hold}/payment-intents", headers=holders[-1].headers)
    assert r.status_code == 201, r.get_json()
    unpaid_intent = r.get_json()["paymentIntentId"]

    # The booking confirmations go out first, so that the mail below is the cancellation's alone.
    until(lambda: not fetch(app, "SELECT 1 FROM notifications WHERE status <> 'SENT'"), timeout=60, interval=0.5)
    emails = {r.user_id: r.email for r in fetch(app, "SELECT id AS user_id, email FROM users")}

    # Refunds are slow at the gateway (0.1 s each), so the worker is still refunding when it dies.
    live_gateway.fault(kind="api_delay", path="/v1/refunds", method="POST", seconds=0.1)
    http = requests.Session()
    http.headers.update(manager.headers)
    r = http.post(f"{live_server}/api/v1/manage/shows/{sid}/cancel", json={"reason": REASON}, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "CANCELLED" and r.json()["bookings"] == BOOKINGS

    def progress() -> dict:
        p = http.get(f"{live_server}/api/v1/manage/shows/{sid}/cancellation", timeout=10)
        assert p.status_code == 200, p.text
        return p.json()

    until(lambda: progress()["refundsCompleted"] >= 40, timeout=60, interval=0.2)
    # The next refund takes the gateway 1.5 s; the worker is killed while it waits for the answer,
    # so the gateway refunds the payment and Seatline never hears of it.
    live_gateway.clear_faults()
    live_gateway.fault(kind="api_delay", path="/v1/refunds", method="POST", seconds=1.5, count=1)
    until(lambda: not gateway_faults(live_gateway), timeout=20, interval=0.02)
    worker.kill()
    killed_at = progress()
    assert 40 <= killed_at["refundsCompleted"] < BOOKINGS

    def refunded_at_gateway_only() -> list[str]:
        pending = {
            r.payment_intent_id for r in fetch(app, "SELECT payment_intent_id FROM refunds WHERE status = 'PENDING'")
        }
        return [i["id"] for i in live_gateway.intents() if i["refund_count"] and i["id"] in pending]

    in_flight = until(refunded_at_gateway_only, timeout=10)
    assert len(in_flight) == 1  # the dead worker's refund: done at the gateway, PENDING here

    worker.start()
    # The manager, seeing no progress, presses "cancel" again: nothing new, but the job is queued again.
    again = http.post(f"{live_server}/api/v1/manage/shows/{sid}/cancel", timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "CANCELLED", again.text
    late = requests.post(
        f"{live_server}/api/v1/shows/{sid}/holds",
        json={"seatIds": [next(seats)]},
        headers=make.fan().headers,
        timeout=10,
    )
    assert late.status_code == 422 and late.json()["error"]["code"] == "SALE_CLOSED", late.text

    def finished() -> dict | None:
        """The cancellation is done (every booking cancelled, no refund pending, no live hold) and
        every message it wrote has been dealt with."""
        p = progress()
        unsent = fetch(app, "SELECT 1 FROM notifications WHERE kind = 'show_cancelled' AND status = 'PENDING'")
        return p if p["done"] and not unsent else None

    final = sweep_until(app, finished, timeout=60, describe=progress)
    assert final["bookings"] == final["bookingsCancelled"] == BOOKINGS
    assert final["refundsCompleted"] == final["emailsSent"] == BOOKINGS, final
    assert final["refundsPending"] == final["refundsFailed"] == final["liveHolds"] == 0, final
    # No job raised along the way (a refund the gateway refused, say, as a second refund would be).
    assert jobs_that_raised(app) == []

    # Every booking is cancelled with its full amount refunded ...
    bookings = {
        str(b.id): b
        for b in fetch(
            app,
            "SELECT id, user_id, amount, refund_amount, status, payment_intent_id FROM bookings WHERE show_id = :s",
            s=sid,
        )
    }
    assert set(bookings) == set(booking_ids)
    assert len({b.user_id for b in bookings.values()}) == FANS
    assert all(b.status == "CANCELLED" and b.refund_amount == b.amount > 0 for b in bookings.values())

    # ... by exactly one refund row each, carried out ...
    refunds = fetch(app, "SELECT booking_id, payment_intent_id, amount, status, reason, gateway_refund_id FROM refunds")
    assert len(refunds) == BOOKINGS
    assert Counter(str(r.booking_id) for r in refunds) == Counter(booking_ids)
    for r in refunds:
        b = bookings[str(r.booking_id)]
        assert (r.payment_intent_id, r.amount, r.status, r.reason) == (
            b.payment_intent_id,
            b.amount,
            "SUCCEEDED",
            "SHOW_CANCELLED",
        )

    # ... and exactly one refund of the full amount at the gateway, the one Seatline recorded.
    intents = {i["id"]: i for i in live_gateway.intents()}
    for r in refunds:
        intent = intents[r.payment_intent_id]
        assert intent["status"] == "succeeded" and intent["refund_count"] == 1, intent
        assert intent["amount_refunded"] == intent["amount_received"] == r.amount, intent
        assert intent["refunds"][0]["id"] == r.gateway_refund_id
    assert intents[unpaid_intent]["status"] == "canceled" and not intents[unpaid_intent]["amount_refunded"]
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, list(intents.values())) == {}

    # One "show cancelled" email per booking in the outbox, sent ...
    notices = fetch(
        app, "SELECT id, user_id, channel, status, dedupe_key FROM notifications WHERE kind = 'show_cancelled'"
    )
    assert len(notices) == BOOKINGS
    assert all(n.channel == "email" and n.status == "SENT" for n in notices)
    assert {n.dedupe_key for n in notices} == {f"show_cancelled:{b}:email" for b in booking_ids}
    notice_of_booking = {n.dedupe_key.split(":")[1]: n for n in notices}

    # ... and received: one distinct Message-ID per booking, at its fan's address. (Delivery is at
    # least once, so the same message may have arrived twice, never two different ones.)
    received = defaultdict(list)
    for m in sink.messages:
        if "cancelled" in m["Subject"]:
            received[m["Message-ID"]].append(m)
    assert len(received) == BOOKINGS, f"{len(received)} distinct cancellation emails"
    per_fan = Counter()
    for booking_id, b in bookings.items():
        notice = notice_of_booking[booking_id]
        assert notice.user_id == b.user_id
        copies = received[f"<notification-{notice.id}@seatline.example>"]
        assert copies, f"no cancellation email for booking {booking_id}"
        for m in copies:
            assert m["To"] == emails[b.user_id]
            body = text_body(m)
            assert booking_id in body and REASON in body
        per_fan[emails[b.user_id]] += 1
    assert per_fan == Counter({emails[f.user_id]: 2 for f in fans})

    # No hold is left live and no seat is held or booked.
    assert not fetch(app, "SELECT id FROM holds WHERE show_id = :s AND status = 'ACTIVE'", s=sid)
    seats_left = {
        r.status: r.n
        for r in fetch(app, "SELECT status, count(*) AS n FROM show_seats WHERE show_id = :s GROUP BY status", s=sid)
    }
    assert seats_left == {"AVAILABLE": len(show.seat_ids)}
