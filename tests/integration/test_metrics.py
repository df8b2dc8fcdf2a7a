"""The domain metrics (app/ops/metrics.py) move when, and only when, the event they count has happened.

Without ``PROMETHEUS_MULTIPROC_DIR`` the module-level metrics live in prometheus_client's default
registry, in this process, shared by every test of the run: each test reads the samples it cares
about before and after real requests and compares the differences, never absolute values.
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY

import workers.jobs
from app import create_app
from app.extensions import db
from tests.conftest import settings_for_tests
from tests.integration.test_audit_log import lapse
from tests.integration.test_gate import admit, event_with_show, join, open_queue
from tests.integration.test_gateway_failures import WEBHOOK, event, signed
from tests.integration.test_site import signed_in, token_of
from tests.support.db import fetch, run_jobs
from tests.support.polling import wait_for
from tests.support.pool import kill_pooled_connections

Sample = tuple[str, dict[str, str]]


def value(sample: Sample) -> float:
    return REGISTRY.get_sample_value(sample[0], sample[1]) or 0.0


class Deltas:
    """Named samples of the default registry, read now; ``since()`` says how much each moved."""

    def __init__(self, **samples: Sample) -> None:
        self.samples = samples
        self.start = {name: value(sample) for name, sample in samples.items()}

    def since(self) -> dict[str, float]:
        return {name: value(sample) - self.start[name] for name, sample in self.samples.items()}


def created(kind: str = "seats") -> Sample:
    return "seatline_holds_created_total", {"kind": kind}


def rejected(reason: str) -> Sample:
    return "seatline_holds_rejected_total", {"reason": reason}


def hints(result: str) -> Sample:
    return "seatline_seat_hints_total", {"result": result}


EXPIRED: Sample = ("seatline_holds_expired_total", {})
RELEASED: Sample = ("seatline_holds_released_total", {})
IN_USE: Sample = ("seatline_db_pool_connections_in_use", {})
WAITING: Sample = ("seatline_db_pool_waiting", {})


def hold(client, fan, show_id, seats):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


# ------------------------------------------------------------------------------------------ holds


def test_a_hold_is_counted_once_made_and_a_refused_one_by_the_code_it_was_answered(client, make, rds):
    show, fan, rival = make.show(), make.fan(), make.fan()
    d = Deltas(
        created=created(),
        best=created("best"),
        taken=rejected("SEATS_UNAVAILABLE"),
        cap=rejected("SEAT_LIMIT_EXCEEDED"),
        hit=hints("hit"),
        miss=hints("miss"),
    )
    assert hold(client, fan, show.show_id, ["A1", "A2"]).status_code == 201
    assert d.since() == {"created": 1, "best": 0, "taken": 0, "cap": 0, "hit": 0, "miss": 1}

    # Refused early by the seat hints: a 409 counted with its code, and no hold.
    d = Deltas(**d.samples)
    refused = hold(client, rival, show.show_id, ["A2", "A3"])
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "SEATS_UNAVAILABLE"
    assert d.since() == {"created": 0, "best": 0, "taken": 1, "cap": 0, "hit": 1, "miss": 0}

    # Without the hints Postgres refuses it: the hold statement's transaction rolls back, nothing is created.
    rds.flushdb()
    d = Deltas(**d.samples)
    assert hold(client, rival, show.show_id, ["A2", "A3"]).status_code == 409
    assert d.since() == {"created": 0, "best": 0, "taken": 1, "cap": 0, "hit": 0, "miss": 1}

    d = Deltas(**d.samples)
    assert hold(client, rival, show.show_id, [f"B{n}" for n in range(1, 9)]).status_code == 201
    over = hold(client, rival, show.show_id, ["C1"])
    assert over.status_code == 422 and over.get_json()["error"]["code"] == "SEAT_LIMIT_EXCEEDED"
    assert d.since() == {"created": 1, "best": 0, "taken": 0, "cap": 1, "hit": 0, "miss": 2}


def test_best_available_counts_its_holds_apart_and_finding_no_seats_as_taken(client, make):
    show = make.show(rows=3, per_row=9)
    signed_in(client, "metrics-best@example.com")
    page = client.get(f"/shows/{show.show_id}")
    d = Deltas(best=created("best"), seats=created(), taken=rejected("SEATS_UNAVAILABLE"))
    held = client.post(
        f"/shows/{show.show_id}/best", data={"csrf_token": token_of(page), "count": "3", "tier": "silver"}
    )
    assert held.status_code == 303
    nothing = client.post(
        f"/shows/{show.show_id}/best", data={"csrf_token": token_of(page), "count": "2", "tier": "platinum"}
    )
    assert nothing.status_code == 409
    assert d.since() == {"best": 1, "seats": 0, "taken": 1}


def test_every_way_a_hold_ends_is_counted_once(app, client, make, rds):
    show, fan, rival = make.show(), make.fan(), make.fan()
    d = Deltas(expired=EXPIRED, released=RELEASED)

    # The fan releases a live hold, then again: one release.
    released = hold(client, fan, show.show_id, ["A1"]).get_json()["holdId"]
    assert client.delete(f"/api/v1/holds/{released}", headers=fan.headers).status_code == 200
    assert client.delete(f"/api/v1/holds/{released}", headers=fan.headers).status_code == 200
    assert d.since() == {"expired": 0, "released": 1}

    # The expiry job ends a lapsed hold, once however often it runs.
    d = Deltas(**d.samples)
    by_job = hold(client, fan, show.show_id, ["A2"]).get_json()["holdId"]
    lapse(app, by_job)
    assert workers.jobs.expire_hold(by_job) == "CANCELED"
    assert workers.jobs.expire_hold(by_job) is None
    assert d.since() == {"expired": 1, "released": 0}

    # The sweeper ends lapsed holds in a batch.
    d = Deltas(**d.samples)
    for seat in ("A3", "A4"):
        lapse(app, hold(client, fan, show.show_id, [seat]).get_json()["holdId"])
    assert workers.jobs.sweep()["holds_expired"] == 2
    assert workers.jobs.sweep()["holds_expired"] == 0
    assert d.since() == {"expired": 2, "released": 0}

    # Another fan's hold takes over a lapsed hold's seat: the lapsed hold ends there.
    d = Deltas(**d.samples)
    lapse(app, hold(client, fan, show.show_id, ["A5"]).get_json()["holdId"])
    rds.flushdb()  # the seat hints still say A5 is held until the hold's own expiry
    assert hold(client, rival, show.show_id, ["A5"]).status_code == 201
    assert d.since() == {"expired": 1, "released": 0}

    # Releasing a hold that had lapsed ends it as expired.
    d = Deltas(**d.samples)
    late = hold(client, fan, show.show_id, ["A6"]).get_json()["holdId"]
    lapse(app, late)
    assert client.delete(f"/api/v1/holds/{late}", headers=fan.headers).get_json()["status"] == "EXPIRED"
    assert d.since() == {"expired": 1, "released": 0}


def test_a_show_cancellation_counts_its_released_holds_cancelled_bookings_and_refunds(app, client, make, gateway):
    manager = make.fan(role="manager")
    show, fan, other = make.show(), make.fan(), make.fan()
    booked = _paid_booking(client, gateway, fan, show.show_id, ["A1"])
    assert hold(client, other, show.show_id, ["B1"]).status_code == 201
    assert booked
    d = Deltas(
        released=RELEASED,
        by_show=("seatline_bookings_cancelled_total", {"by": "show"}),
        requested=("seatline_refunds_total", {"state": "requested"}),
        succeeded=("seatline_refunds_total", {"state": "succeeded"}),
    )
    r = client.post(f"/api/v1/manage/shows/{show.show_id}/cancel", json={"reason": "Storm."}, headers=manager.headers)
    assert r.status_code == 202, r.get_json()
    run_jobs(app)
    assert d.since() == {"released": 1, "by_show": 1, "requested": 1, "succeeded": 1}


# ---------------------------------------------------------------------------------- payments, bookings


def _paid_booking(client, gateway, fan, show_id, seats) -> str:
    held = hold(client, fan, show_id, seats).get_json()["holdId"]
    intent = client.post(f"/api/v1/holds/{held}/payment-intents", headers=fan.headers).get_json()["paymentIntentId"]
    gateway.succeed(intent)
    r = client.post(f"/api/v1/holds/{held}/confirm", json={"paymentIntentId": intent}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["bookingId"]


def intents(outcome: str) -> Sample:
    return "seatline_payment_intents_total", {"outcome": outcome}


def confirms(outcome: str) -> Sample:
    return "seatline_confirms_total", {"outcome": outcome}


def bookings(path: str) -> Sample:
    return "seatline_bookings_confirmed_total", {"path": path}


def test_paying_confirming_cancelling_and_the_refund_are_counted(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["C1", "C2"]).get_json()["holdId"]
    d = Deltas(
        created=intents("created"),
        reused=intents("reused"),
        confirmed=confirms("confirmed"),
        again=confirms("already_confirmed"),
        not_paid=confirms("not_paid"),
        by_confirm=bookings("confirm"),
        by_webhook=bookings("webhook"),
    )
    intent = client.post(f"/api/v1/holds/{held}/payment-intents", headers=fan.headers).get_json()["paymentIntentId"]
    assert client.post(f"/api/v1/holds/{held}/payment-intents", headers=fan.headers).status_code == 201

    def confirm():
        return client.post(f"/api/v1/holds/{held}/confirm", json={"paymentIntentId": intent}, headers=fan.headers)

    assert confirm().status_code == 402
    gateway.succeed(intent)
    booking = confirm()
    assert booking.status_code == 201
    assert confirm().status_code == 200
    run_jobs(app)  # the gateway's webhook for the same payment, if it has arrived: no second booking
    assert d.since() == {
        "created": 1,
        "reused": 1,
        "confirmed": 1,
        "again": 1,
        "not_paid": 1,
        "by_confirm": 1,
        "by_webhook": 0,
    }

    d = Deltas(
        by_fan=("seatline_bookings_cancelled_total", {"by": "fan"}),
        requested=("seatline_refunds_total", {"state": "requested"}),
        succeeded=("seatline_refunds_total", {"state": "succeeded"}),
    )
    booking_id = booking.get_json()["bookingId"]
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    assert d.since() == {"by_fan": 1, "requested": 1, "succeeded": 0}
    run_jobs(app)
    assert d.since() == {"by_fan": 1, "requested": 1, "succeeded": 1}


def test_a_booking_made_by_the_webhook_is_counted_under_its_path(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["D1"]).get_json()["holdId"]
    intent = client.post(f"/api/v1/holds/{held}/payment-intents", headers=fan.headers).get_json()["paymentIntentId"]
    d = Deltas(
        by_webhook=bookings("webhook"),
        by_confirm=bookings("confirm"),
        processed=("seatline_webhook_events_total", {"type": "payment_intent.succeeded", "outcome": "processed"}),
    )
    gateway.succeed(intent)  # the fan never confirms: the webhook books it
    wait_for(
        lambda: fetch(app, "SELECT 1 FROM webhook_events WHERE payload -> 'data' -> 'object' ->> 'id' = :pi", pi=intent)
    )
    run_jobs(app)
    assert d.since()["by_webhook"] == 1 and d.since()["by_confirm"] == 0
    assert d.since()["processed"] >= 1  # this event's processing (any other late delivery's too)


def test_webhook_deliveries_are_counted_by_type_and_outcome(app, client):
    kind = "customer.created"  # a type Seatline does not act on: stored, then passed over

    def webhook(outcome: str, type_: str = kind) -> Sample:
        return "seatline_webhook_events_total", {"type": type_, "outcome": outcome}

    d = Deltas(
        received=webhook("received"),
        duplicate=webhook("duplicate"),
        ignored=webhook("ignored"),
        bad=webhook("bad_signature", "unknown"),
    )
    body, headers = signed(event("evt_metrics_1", kind=kind))
    first = client.post(WEBHOOK, data=body, headers=headers)
    assert first.status_code == 200 and first.get_json()["duplicate"] is False
    again = client.post(WEBHOOK, data=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    forged, _ = signed(event("evt_metrics_2", kind=kind), secret="whsec_someone_else")
    assert client.post(WEBHOOK, data=forged, headers=headers).status_code == 400
    assert d.since() == {"received": 1, "duplicate": 1, "ignored": 0, "bad": 1}
    run_jobs(app)
    assert d.since() == {"received": 1, "duplicate": 1, "ignored": 1, "bad": 1}


# ---------------------------------------------------------------------- caches, breakers, the pool


def test_seat_map_lookups_are_counted_as_misses_then_hits(client, make):
    show = make.show()
    url = f"/api/v1/shows/{show.show_id}/seatmap"
    d = Deltas(
        hit=("seatline_response_cache_total", {"cache": "seatmap", "result": "hit"}),
        miss=("seatline_response_cache_total", {"cache": "seatmap", "result": "miss"}),
    )
    assert client.get(url).status_code == 200
    assert d.since() == {"hit": 0, "miss": 1}
    # A copy lives until the end of the second it was built in (a second may end between two asks,
    # and the next is a miss again): ask until one is answered from a copy.
    asked = 1
    while d.since()["hit"] == 0 and asked < 20:
        assert client.get(url).status_code == 200
        asked += 1
    assert d.since() == {"hit": 1, "miss": asked - 1}


def test_the_postgres_breaker_publishes_its_state_and_counts_its_trip(make, database_proxy):
    proxy, url = database_proxy
    fan, show = make.fan(), make.show()
    degraded = create_app(settings_for_tests(database_url=url, breaker_fail_max=3, breaker_reset_seconds=30.0))
    state = ("seatline_breaker_state", {"breaker": "postgres"})
    assert value(state) == 0  # closed from its creation
    web = degraded.test_client()
    d = Deltas(trips=("seatline_breaker_trips_total", {"breaker": "postgres"}))
    proxy.cut()
    for seat in ("A1", "A2", "A3"):
        assert hold(web, fan, show.show_id, [seat]).status_code == 503
    assert d.since() == {"trips": 1}
    assert value(state) == 2
    assert hold(web, fan, show.show_id, ["A4"]).status_code == 503  # refused while open: no second trip
    assert d.since() == {"trips": 1}
    degraded.extensions["seatline.breakers"]["postgres"].close()
    assert value(state) == 0
    with degraded.app_context():
        db.engine.dispose()


def test_the_pool_gauges_follow_checkouts_and_return_to_where_they_were(app, client, make):
    show, fan = make.show(), make.fan()
    start = value(IN_USE), value(WAITING)
    with app.app_context():
        conn = db.engine.raw_connection()
        assert value(IN_USE) == start[0] + 1
        conn.close()
    assert value(IN_USE) == start[0]
    assert hold(client, fan, show.show_id, ["A1"]).status_code == 201
    assert client.get(f"/api/v1/shows/{show.show_id}/seatmap").status_code == 200
    # Connections the server closed are replaced on checkout: still one checkout each.
    kill_pooled_connections(app)
    assert hold(client, fan, show.show_id, ["A2"]).status_code == 201
    # (Waited for, not read once: a late webhook of an earlier test may be using a connection now.)
    wait_for(lambda: (value(IN_USE), value(WAITING)) == start)


def test_a_thread_blocked_on_an_exhausted_pool_is_counted_as_waiting():
    small = create_app(settings_for_tests(db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=30.0))
    with small.app_context():
        engine = db.engine
    start = value(IN_USE), value(WAITING)
    first = engine.raw_connection()
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(engine.raw_connection()), daemon=True)
    waiter.start()
    try:
        wait_for(lambda: value(WAITING) == start[1] + 1)
        assert value(IN_USE) == start[0] + 1
    finally:
        first.close()  # handed to the waiting thread
        waiter.join(30)
    assert got and value(WAITING) == start[1] and value(IN_USE) == start[0] + 1
    got[0].close()
    assert (value(IN_USE), value(WAITING)) == start
    engine.dispose()


# --------------------------------------------------------------------------------- waiting rooms


def test_places_taken_and_fans_admitted_are_counted_per_event(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager, fans = make.fan(role="manager"), [make.fan() for _ in range(3)]
    open_queue(gate, manager, event_id, batchSize=2)
    d = Deltas(
        joins=("seatline_waiting_room_joins_total", {"event": str(event_id)}),
        admitted=("seatline_waiting_room_admitted_total", {"event": str(event_id)}),
    )
    for fan in fans:
        join(gate, fan, event_id)
    join(gate, fans[0], event_id)  # joining again keeps the place: not a new one
    assert d.since() == {"joins": 3, "admitted": 0}
    assert admit(gate_app, event_id) == 2
    assert d.since() == {"joins": 3, "admitted": 2}
