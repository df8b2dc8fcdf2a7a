"""The audit log: one row per change of seats or money and per manager change, written in the
change's own transaction (a refused or rolled-back change leaves none), and append-only."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import orjson
import pytest
from sqlalchemy.exc import DBAPIError

from app.audit.log import entries
from app.booking import sweeper
from app.unit_of_work import unit_of_work
from tests.integration.test_manage_api import add_rows, create_event, create_show, create_venue, local_start
from tests.support.booking import book
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for
from tests.support.races import Attempt, run_together


def rows(app, **filters):
    with app.app_context(), unit_of_work() as uow:
        return entries(uow, **filters)


def only(app, **filters):
    found = rows(app, **filters)
    assert len(found) == 1, [(r.action, r.subject_id, r.details) for r in found]
    return found[0]


def hold(client, fan, show_id, seats):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


def lapse(app, hold_id):
    """Makes a hold's time run out (seats included), as if its five minutes had passed."""
    run_sql(
        app,
        "UPDATE holds SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' "
        "WHERE id = :h",
        h=hold_id,
    )
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id = :h", h=hold_id)


def paid_hold(client, gateway, fan, show_id, seats):
    """A hold paid at the gateway but not yet confirmed: (hold id, intent id)."""
    held = hold(client, fan, show_id, seats)
    assert held.status_code == 201, held.get_json()
    hold_id = held.get_json()["holdId"]
    intent = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers).get_json()
    gateway.succeed(intent["paymentIntentId"])
    return hold_id, intent["paymentIntentId"]


def webhook_event(app, intent_id):
    """The gateway's payment_intent.succeeded event for the intent, once it reached the app."""
    found = wait_for(
        lambda: fetch(
            app,
            "SELECT event_id FROM webhook_events WHERE type = 'payment_intent.succeeded' "
            "AND payload->'data'->'object'->>'id' = :pi",
            pi=intent_id,
        )
    )
    return found[0].event_id


# ---------------------------------------------------------------- holds


def test_a_hold_and_its_release_are_recorded_once(app, client, make):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["A1", "B2"])
    assert held.status_code == 201
    body = held.get_json()
    created = only(app, action="hold.created")
    assert (created.actor_kind, created.actor_user_id) == ("fan", fan.user_id)
    assert (created.subject_type, created.subject_id, created.show_id) == ("hold", body["holdId"], show.show_id)
    assert created.details["seatIds"] == ["A1", "B2"] and created.details["amount"] == 75000 == body["amount"]
    assert created.details["currency"] == "INR" and created.details["expiresAt"]

    assert client.delete(f"/api/v1/holds/{body['holdId']}", headers=fan.headers).status_code == 200
    assert client.delete(f"/api/v1/holds/{body['holdId']}", headers=fan.headers).status_code == 200  # a no-op
    released = only(app, action="hold.released")
    assert (released.actor_kind, released.actor_user_id, released.subject_id) == ("fan", fan.user_id, body["holdId"])
    assert released.details == {"seatIds": ["A1", "B2"]}
    assert [r.action for r in rows(app, subject_type="hold", subject_id=body["holdId"])] == [
        "hold.created",
        "hold.released",
    ]


def test_refused_and_rolled_back_holds_write_no_row(app, client, make, rds):
    show, fan, rival, late = make.show(), make.fan(), make.fan(), make.fan()
    assert hold(client, fan, show.show_id, ["A1"]).status_code == 201
    lapsed_id = hold(client, late, show.show_id, ["A3"]).get_json()["holdId"]
    lapse(app, lapsed_id)
    rds.flushdb()  # no hints: every attempt below reaches Postgres
    before = rows(app)
    assert len(before) == 2

    # A3 is free to take (its hold lapsed) and A1 is not: the statement takes A3, marks the lapsed
    # hold EXPIRED and writes its rows, then the whole attempt rolls back.
    taken = hold(client, rival, show.show_id, ["A3", "A1"])
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "SEATS_UNAVAILABLE"
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=lapsed_id)[0].status == "ACTIVE"

    not_open = make.show(sale_opens_in=timedelta(days=1), starts_in=timedelta(days=5))
    closed = hold(client, rival, not_open.show_id, ["A1"])
    assert closed.status_code == 422 and closed.get_json()["error"]["code"] == "SALE_CLOSED"
    cancelled = make.show(status="CANCELLED")
    assert hold(client, rival, cancelled.show_id, ["A1"]).get_json()["error"]["code"] == "SALE_CLOSED"
    assert hold(client, fan, show.show_id, [f"C{n}" for n in range(1, 9)]).get_json()["error"]["code"] == (
        "SEAT_LIMIT_EXCEEDED"
    )
    assert hold(client, rival, show.show_id, ["ZZ1"]).status_code == 400
    assert [(r.id, r.action) for r in rows(app)] == [(r.id, r.action) for r in before]


def test_a_lapsed_hold_taken_over_is_expired_with_its_row(app, client, make, rds):
    show, first, second = make.show(), make.fan(), make.fan()
    old = hold(client, first, show.show_id, ["D4", "D5"]).get_json()["holdId"]
    lapse(app, old)
    rds.flushdb()
    new = hold(client, second, show.show_id, ["D5"])
    assert new.status_code == 201
    expired = only(app, action="hold.expired")
    assert (expired.actor_kind, expired.actor_user_id, expired.subject_id) == ("system", None, old)
    assert expired.details == {
        "seatIds": ["D4", "D5"],
        "userId": first.user_id,
        "reason": "LAPSED",
        "seatsTakenBy": new.get_json()["holdId"],
    }
    assert only(app, action="hold.created", subject_id=new.get_json()["holdId"]).actor_user_id == second.user_id
    # The fan lets go of what is left of the lapsed hold: it had ended already, so no second row.
    assert client.delete(f"/api/v1/holds/{old}", headers=first.headers).status_code == 200
    assert len(rows(app, subject_type="hold", subject_id=old)) == 2


def test_the_sweeper_expires_many_holds_set_based_with_one_row_each(app, make):
    import workers.jobs

    show = make.show(rows=20, per_row=30)
    fans = [make.fan() for _ in range(7)]
    run_sql(
        app,
        """
        WITH picked AS (
            SELECT show_id, seat_id, gen_random_uuid() AS hold_id,
                   (CAST(:users AS bigint[]))[CAST(1 + row_number() OVER (ORDER BY seat_id) % 7 AS int)] AS user_id
            FROM show_seats WHERE show_id = :s
        ), made AS (
            INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at)
            SELECT hold_id, show_id, user_id, ARRAY[seat_id], 100, 'INR', now() - interval '1 hour',
                   now() - interval '1 minute'
            FROM picked
        )
        UPDATE show_seats ss SET status = 'HELD', hold_id = p.hold_id, hold_expires_at = now() - interval '1 minute'
        FROM picked p WHERE ss.show_id = p.show_id AND ss.seat_id = p.seat_id
        """,
        users=[f.user_id for f in fans],
        s=show.show_id,
    )
    batches = 0
    with app.app_context(), unit_of_work() as uow:
        while sweeper.release_expired_holds(uow, batch=250):
            batches += 1
    assert batches == 3
    holds = {str(r.id): r for r in fetch(app, "SELECT id, user_id, seat_ids, status FROM holds")}
    assert len(holds) == 600 and {h.status for h in holds.values()} == {"EXPIRED"}
    expired = rows(app, action="hold.expired", show_id=show.show_id)
    assert sorted(r.subject_id for r in expired) == sorted(holds)  # one row per hold, none twice
    for r in expired:
        h = holds[r.subject_id]
        assert (r.actor_kind, r.actor_user_id) == ("system", None)
        assert r.details == {"seatIds": list(h.seat_ids), "userId": h.user_id, "reason": "LAPSED"}
    assert workers.jobs.sweep()["holds_expired"] == 0
    assert len(rows(app, action="hold.expired")) == 600


def test_the_expiry_job_records_the_hold_it_ends(app, client, make):
    import workers.jobs

    show, fan = make.show(), make.fan()
    hold_id = hold(client, fan, show.show_id, ["E1"]).get_json()["holdId"]
    lapse(app, hold_id)
    assert workers.jobs.expire_hold(hold_id) == "CANCELED"
    assert workers.jobs.expire_hold(hold_id) is None
    expired = only(app, action="hold.expired")
    assert (expired.actor_kind, expired.subject_id, expired.show_id) == ("system", hold_id, show.show_id)
    assert expired.details["reason"] == "LAPSED" and expired.details["userId"] == fan.user_id


# ---------------------------------------------------------------- bookings and money


def test_a_booking_is_recorded_once_whether_the_fan_or_the_webhook_makes_it(app, client, make, gateway):
    show, fan, other = make.show(), make.fan(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A1", "A2"])
    confirmed = only(app, action="booking.confirmed")
    assert (confirmed.actor_kind, confirmed.actor_user_id) == ("fan", fan.user_id)
    assert (confirmed.subject_type, confirmed.subject_id, confirmed.show_id) == ("booking", booking_id, show.show_id)
    booking = fetch(app, "SELECT hold_id, payment_intent_id FROM bookings WHERE id = :b", b=booking_id)[0]
    assert confirmed.details == {
        "holdId": str(booking.hold_id),
        "userId": fan.user_id,
        "paymentIntentId": booking.payment_intent_id,
        "seatIds": ["A1", "A2"],
        "amount": 100000,
        "currency": "INR",
    }
    webhook_event(app, booking.payment_intent_id)
    run_jobs(app)  # the webhook arrives after the confirm call: nothing more

    hold_id, intent_id = paid_hold(client, gateway, other, show.show_id, ["B1"])
    webhook_event(app, intent_id)
    run_jobs(app)  # only the webhook: the fan never came back to confirm
    by_gateway = only(
        app,
        action="booking.confirmed",
        subject_id=str(fetch(app, "SELECT id FROM bookings WHERE hold_id = :h", h=hold_id)[0].id),
    )
    assert (by_gateway.actor_kind, by_gateway.actor_user_id) == ("gateway", None)
    assert by_gateway.details["userId"] == other.user_id and by_gateway.details["paymentIntentId"] == intent_id
    assert len(rows(app, action="booking.confirmed")) == 2
    assert rows(app, action="payment.refunded") == []


def test_the_confirm_call_racing_the_webhook_writes_one_row_per_booking(app, client, make, gateway):
    import workers.jobs

    show = make.show()
    for round_ in range(4):
        fan = make.fan()
        hold_id, intent_id = paid_hold(client, gateway, fan, show.show_id, [f"C{round_ + 1}"])
        event_id = webhook_event(app, intent_id)

        def attempt(i: int, start_line: threading.Barrier) -> Attempt:
            if i == 0:
                racer = app.test_client()
                start_line.wait()
                r = racer.post(
                    f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent_id}, headers=fan.headers
                )
                return Attempt(fan.user_id, [], r.status_code, r.get_json())
            start_line.wait()
            workers.jobs.process_webhook_event(event_id)
            return Attempt(fan.user_id, [], 200, {})

        results = run_together(2, attempt)
        assert results[0].status in (200, 201), results[0].body
        (booking,) = fetch(app, "SELECT id FROM bookings WHERE hold_id = :h", h=hold_id)
        row = only(app, action="booking.confirmed", subject_id=str(booking.id))
        assert row.actor_kind in ("fan", "gateway")
    run_jobs(app)
    assert len(rows(app, action="booking.confirmed")) == 4


def test_a_fans_cancellation_and_its_refund_are_recorded(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A5"])
    intent_id = fetch(app, "SELECT payment_intent_id FROM bookings")[0].payment_intent_id
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    cancelled = only(app, action="booking.cancelled")
    assert (cancelled.actor_kind, cancelled.actor_user_id, cancelled.subject_id) == ("fan", fan.user_id, booking_id)
    assert cancelled.details == {
        "seatIds": ["A5"],
        "amount": 50000,
        "refundAmount": 50000,
        "paymentIntentId": intent_id,
        "reason": "CUSTOMER_CANCELLED",
    }
    refunded = only(app, action="payment.refunded")
    refund = fetch(app, "SELECT id FROM refunds")[0]
    assert (refunded.actor_kind, refunded.subject_type, refunded.subject_id, refunded.show_id) == (
        "fan",
        "payment",
        intent_id,
        show.show_id,
    )
    assert refunded.details == {
        "refundId": str(refund.id),
        "bookingId": booking_id,
        "amount": 50000,
        "currency": "INR",
        "reason": "CUSTOMER_CANCELLED",
        "userId": fan.user_id,
    }
    run_jobs(app)
    done = only(app, action="refund.succeeded")
    assert (done.actor_kind, done.subject_id, done.details["refundId"]) == ("system", intent_id, str(refund.id))
    assert [r.action for r in rows(app, subject_type="payment", subject_id=intent_id)] == [
        "payment.refunded",
        "refund.succeeded",
    ]


def test_a_payment_whose_seats_are_gone_is_refunded_and_no_booking_is_recorded(app, client, make, gateway, rds):
    show, fan, rival = make.show(), make.fan(), make.fan()
    held = hold(client, fan, show.show_id, ["C7", "C8"]).get_json()
    intent = client.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers).get_json()
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
    rds.flushdb()
    assert hold(client, rival, show.show_id, ["C8"]).status_code == 201
    gateway.succeed(intent["paymentIntentId"])
    lost = client.post(
        f"/api/v1/holds/{held['holdId']}/confirm",
        json={"paymentIntentId": intent["paymentIntentId"]},
        headers=fan.headers,
    )
    assert lost.status_code == 409
    # The booking was inserted, then rolled back to its savepoint with its audit row.
    assert rows(app, action="booking.confirmed") == []
    refunded = only(app, action="payment.refunded")
    assert (refunded.actor_kind, refunded.actor_user_id, refunded.subject_id) == (
        "fan",
        fan.user_id,
        intent["paymentIntentId"],
    )
    assert refunded.details["reason"] == "HOLD_LAPSED" and refunded.details["bookingId"] is None
    expired = only(app, action="hold.expired")
    assert expired.subject_id == held["holdId"] and expired.details["reason"] == "HOLD_LAPSED"


# ---------------------------------------------------------------- managers


@pytest.fixture
def owner(make):
    return make.fan(role="manager")


def test_manager_changes_are_recorded_and_refused_ones_are_not(app, client, make, owner):
    venue_id = create_venue(client, app, owner)
    venue = only(app, action="venue.created")
    assert (venue.actor_kind, venue.actor_user_id, venue.subject_type, venue.subject_id) == (
        "manager",
        owner.user_id,
        "venue",
        venue_id,
    )
    assert venue.details["name"] == "The Roundhouse" and venue.show_id is None
    again = client.post(
        "/api/v1/manage/venues",
        json={"cityId": str(venue.details["cityId"]), "name": "The Roundhouse", "kind": "theatre"},
        headers=owner.headers,
    )
    assert again.status_code == 409
    assert len(rows(app, action="venue.created")) == 1

    assert add_rows(client, owner, venue_id).status_code == 201
    layout = only(app, action="layout.changed")
    assert layout.subject_id == venue_id and layout.details["added"] == 18 and layout.details["removed"] == 0
    assert "C6" in layout.details["addedSeats"]

    event_id = create_event(client, owner)
    assert only(app, action="event.created").details["title"] == "Lantern Festival"
    r = client.patch(f"/api/v1/manage/events/{event_id}", json={"title": "Lantern Festival II"}, headers=owner.headers)
    assert r.status_code == 200
    edited = only(app, action="event.updated")
    assert edited.details == {"changes": {"title": "Lantern Festival II"}, "titleBefore": "Lantern Festival"}
    admin = make.fan(role="admin")
    assert (
        client.patch(
            f"/api/v1/manage/events/{event_id}", json={"durationMinutes": 100}, headers=admin.headers
        ).status_code
        == 200
    )
    by_admin = rows(app, action="event.updated")[-1]
    assert (by_admin.actor_kind, by_admin.actor_user_id) == ("admin", admin.user_id)

    created = create_show(client, owner, event_id, venue_id)
    assert created.status_code == 201, created.get_json()
    sid = created.get_json()["showId"]
    show_row = only(app, action="show.created")
    assert (show_row.subject_id, show_row.show_id) == (sid, int(sid))
    assert show_row.details["prices"] == {"standard": 4500} and show_row.details["eventId"] == int(event_id)
    r = client.patch(
        f"/api/v1/manage/shows/{sid}",
        json={"startTime": local_start(days=12, hour=20, minute=0), "prices": {"standard": 5000}},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.get_json()
    updated = only(app, action="show.updated")
    assert updated.details["changes"]["prices"] == {"standard": 5000}
    assert set(updated.details["changes"]) == {"starts_at", "prices"}
    assert set(updated.details["before"]) == {"starts_at"}

    fan = make.fan()
    assert hold(client, fan, sid, ["A5"]).status_code == 201
    refused = client.post(
        f"/api/v1/manage/shows/{sid}/seats/block",
        json={"seatIds": ["B1", "A5"], "kind": "HOUSE"},
        headers=owner.headers,
    )
    assert refused.status_code == 409
    for body in ({"seatIds": ["B1", "B2"], "kind": "HOUSE"}, {"seatIds": ["B3"], "kind": "KILL"}):
        r = client.post(f"/api/v1/manage/shows/{sid}/seats/block", json=body, headers=owner.headers)
        assert r.status_code == 200, r.get_json()
    assert (
        client.post(
            f"/api/v1/manage/shows/{sid}/seats/unblock", json={"seatIds": ["B1", "B4"]}, headers=owner.headers
        ).status_code
        == 200
    )
    house, kill, back = (only(app, action=a) for a in ("seats.house_held", "seats.killed", "seats.released"))
    assert house.details == {"seatIds": ["B1", "B2"], "kind": "HOUSE"} and house.show_id == int(sid)
    assert kill.details == {"seatIds": ["B3"], "kind": "KILL"}
    assert back.details == {"seatIds": ["B1"]} and back.actor_user_id == owner.user_id
    assert [r.action for r in rows(app, show_id=int(sid))] == [
        "show.created",
        "show.updated",
        "show.rescheduled",  # the new start moved the show (README "Rescheduling a show")
        "hold.created",
        "seats.house_held",
        "seats.killed",
        "seats.released",
    ]


def test_cancelling_a_show_records_the_manager_and_every_booking_refund_and_hold(app, client, make, owner, gateway):
    venue_id = create_venue(client, app, owner)
    assert add_rows(client, owner, venue_id).status_code == 201
    sid = create_show(client, owner, create_event(client, owner), venue_id).get_json()["showId"]
    fans = [make.fan() for _ in range(3)]
    bookings = [book(client, gateway, f, sid, [seat]) for f, seat in zip(fans, ["A1", "A2", "A4"])]
    holder, payer = make.fan(), make.fan()
    unpaid = hold(client, holder, sid, ["B1"]).get_json()["holdId"]
    paying = hold(client, payer, sid, ["B2"]).get_json()["holdId"]
    assert client.post(f"/api/v1/holds/{paying}/payment-intents", headers=payer.headers).status_code == 201

    r = client.post(f"/api/v1/manage/shows/{sid}/cancel", json={"reason": "Flooded stage."}, headers=owner.headers)
    assert r.status_code == 202
    cancelled = only(app, action="show.cancelled")
    assert (cancelled.actor_kind, cancelled.actor_user_id, cancelled.subject_id) == ("manager", owner.user_id, sid)
    assert cancelled.details["reason"] == "Flooded stage."
    run_jobs(app)
    run_jobs(app)
    booking_rows = rows(app, action="booking.cancelled")
    assert sorted(r.subject_id for r in booking_rows) == sorted(bookings)
    assert {(r.actor_kind, r.details["reason"], r.details["refundAmount"]) for r in booking_rows} == {
        ("system", "SHOW_CANCELLED", 4500)
    }
    refunds = rows(app, action="payment.refunded")
    assert len(refunds) == 3 and {r.details["reason"] for r in refunds} == {"SHOW_CANCELLED"}
    assert sorted(r.details["bookingId"] for r in refunds) == sorted(bookings)
    assert len(rows(app, action="refund.succeeded")) == 3
    released = only(app, action="hold.released", subject_id=unpaid)
    assert released.actor_kind == "system" and released.details["reason"] == "SHOW_CANCELLED"
    ended = rows(app, subject_type="hold", subject_id=paying)
    assert [r.action for r in ended] == ["hold.created", "hold.released"]
    assert ended[1].details["reason"] == "PAYMENT_CANCELED"

    count = len(rows(app))
    assert client.post(f"/api/v1/manage/shows/{sid}/cancel", headers=owner.headers).status_code == 200
    run_jobs(app)
    assert len(rows(app)) == count


# ---------------------------------------------------------------- the table itself


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'hold.forged'",
        "UPDATE audit_log SET details = '{}' WHERE false",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE false",
    ],
)
def test_the_audit_log_refuses_updates_and_deletes(app, client, make, statement):
    show, fan = make.show(), make.fan()
    assert hold(client, fan, show.show_id, ["A1"]).status_code == 201
    before = fetch(app, "SELECT id, action, details FROM audit_log")
    with pytest.raises(DBAPIError, match="append-only"):
        run_sql(app, statement)
    assert fetch(app, "SELECT id, action, details FROM audit_log") == before
    run_sql(app, "TRUNCATE audit_log")  # the owner may still clear it (the tests do, between cases)
    assert fetch(app, "SELECT id FROM audit_log") == []


def test_the_audit_log_names_who_acted(app):
    with pytest.raises(DBAPIError):
        run_sql(
            app,
            "INSERT INTO audit_log (actor_kind, action, subject_type, subject_id) "
            "VALUES ('fan', 'hold.created', 'hold', 'x')",
        )  # a fan without a user id
    with pytest.raises(DBAPIError):
        run_sql(
            app,
            "INSERT INTO audit_log (actor_kind, action, subject_type, subject_id) "
            "VALUES ('robot', 'hold.created', 'hold', 'x')",
        )


def test_flask_audit_log_prints_the_rows(app, client, make):
    show, fan = make.show(), make.fan()
    hold_id = hold(client, fan, show.show_id, ["A1"]).get_json()["holdId"]
    client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    other = make.show(rows=1, per_row=2)
    hold(client, fan, other.show_id, ["A2"])
    runner = app.test_cli_runner()

    by_show = runner.invoke(args=["audit-log", "--show", str(show.show_id)])
    assert by_show.exit_code == 0, by_show.output
    lines = by_show.output.splitlines()
    assert len(lines) == 2 and "hold.created" in lines[0] and "hold.released" in lines[1]
    assert f"hold:{hold_id}" in lines[0] and f"fan#{fan.user_id}" in lines[0] and '"seatIds":["A1"]' in lines[0]

    by_subject = runner.invoke(args=["audit-log", "--subject", f"hold:{hold_id}", "--json"])
    parsed = [orjson.loads(line) for line in by_subject.output.splitlines()]
    assert [p["action"] for p in parsed] == ["hold.created", "hold.released"]
    assert {p["subjectId"] for p in parsed} == {hold_id} and parsed[0]["actorUserId"] == fan.user_id

    latest = runner.invoke(args=["audit-log", "--subject", "hold", "--limit", "1"])
    assert len(latest.output.splitlines()) == 1 and f"show {other.show_id}" in latest.output
    nothing = runner.invoke(args=["audit-log", "--subject", f"hold:{uuid.uuid4()}"])
    assert nothing.exit_code == 0 and nothing.output.strip() == "no audit rows match"
    assert runner.invoke(args=["audit-log"]).exit_code == 2
