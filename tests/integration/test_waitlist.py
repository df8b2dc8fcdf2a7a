"""The waiting list for sold-out shows (README "Waiting list"): joining, leaving, bad input, the
line's order, and offers made when seats come back, on real Postgres and Redis, jobs run by a real
RQ worker, email through the SMTP sink."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

import workers.jobs
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for

# make.show(rows=2, per_row=3): A1-A3 are gold, B1-B3 silver.
GOLD = ["A1", "A2", "A3"]
SILVER = ["B1", "B2", "B3"]


def hold(client, fan, show_id, seats):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


def join(client, fan, show_id, **body):
    return client.post(f"/api/v1/shows/{show_id}/waitlist", json=body, headers=fan.headers)


def entries(client, fan):
    r = client.get("/api/v1/waitlist", headers=fan.headers)
    assert r.status_code == 200
    return r.get_json()["entries"]


def sold_out(make, client):
    """A show of six seats, all held by one fan; returns (show, that fan, their hold ids by seat)."""
    show, buyer = make.show(rows=2, per_row=3), make.fan()
    holds = {}
    for seats in (GOLD[:2], GOLD[2:], SILVER):
        r = hold(client, buyer, show.show_id, seats)
        assert r.status_code == 201, r.get_json()
        for seat in seats:
            holds[seat] = r.get_json()["holdId"]
    return show, buyer, holds


def release(client, fan, hold_id):
    r = client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert r.status_code == 200, r.get_json()


def entry_count(app):
    return fetch(app, "SELECT count(*) AS n FROM waitlist_entries")[0].n


def test_a_show_with_seats_on_sale_needs_no_waiting_list(app, client, make):
    show, fan = make.show(rows=2, per_row=3), make.fan()
    r = join(client, fan, show.show_id, quantity=2)
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "WAITLIST_NOT_NEEDED" and r.get_json()["error"]["available"] == 6
    hold(client, make.fan(), show.show_id, GOLD)
    r = join(client, fan, show.show_id, quantity=1, tier="silver")
    assert r.status_code == 409 and r.get_json()["error"]["available"] == 3
    r = join(client, fan, show.show_id, quantity=1, tier="gold")  # gold is sold out, silver is not
    assert r.status_code == 201 and r.get_json()["position"] == 1
    assert entry_count(app) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 9}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 2.0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({}, "quantity"),
        ({"quantity": 1, "tier": ""}, "tier"),
        ({"quantity": 1, "tier": 5}, "tier"),
        ({"quantity": 1, "seats": 2}, "seats"),
        ({"quantity": 1, "tier": "platinum"}, "tier"),
    ],
)
def test_bad_joins_are_refused_and_change_nothing(app, client, make, body, field):
    show, _, _ = sold_out(make, client)
    r = join(client, make.fan(), show.show_id, **body)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert field in str(error.get("fields", "")) + str(error.get("unknownTier", "")) + error["message"]
    assert entry_count(app) == 0


def test_a_body_that_is_not_an_object_is_refused(app, client, make):
    show, _, _ = sold_out(make, client)
    fan = make.fan()
    for data in (b"[1]", b"not json", b""):
        r = client.post(
            f"/api/v1/shows/{show.show_id}/waitlist",
            data=data,
            headers={**fan.headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert entry_count(app) == 0


def test_unknown_shows_and_missing_auth(app, client, make):
    show, _, _ = sold_out(make, client)
    fan = make.fan()
    for show_id in ("999999", "abc", "-1"):
        r = join(client, fan, show_id, quantity=1)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "SHOW_NOT_FOUND"
    r = client.post(f"/api/v1/shows/{show.show_id}/waitlist", json={"quantity": 1})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "AUTH_REQUIRED"
    r = client.post(
        f"/api/v1/shows/{show.show_id}/waitlist", json={"quantity": 1}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "INVALID_TOKEN"
    assert client.get("/api/v1/waitlist").status_code == 401
    assert client.delete(f"/api/v1/waitlist/{uuid.uuid4()}").status_code == 401
    assert entry_count(app) == 0


def test_a_cancelled_or_closed_show_has_no_line(app, client, make):
    fan = make.fan()
    cancelled = make.show(rows=1, per_row=1, status="CANCELLED")
    r = join(client, fan, cancelled.show_id, quantity=1)
    assert r.status_code == 422 and r.get_json()["error"]["saleStatus"] == "CANCELLED"
    not_open = make.show(rows=1, per_row=1, sale_opens_in=timedelta(hours=5))
    r = join(client, fan, not_open.show_id, quantity=1)
    assert r.status_code == 422 and r.get_json()["error"]["saleStatus"] == "NOT_OPEN"
    assert entry_count(app) == 0


def test_joining_again_returns_the_same_entry_and_places_follow_the_order_of_joining(app, client, make):
    show, _, _ = sold_out(make, client)
    fans = [make.fan() for _ in range(3)]
    ids = []
    for place, fan in enumerate(fans, start=1):
        r = join(client, fan, show.show_id, quantity=1)
        assert r.status_code == 201 and r.get_json()["position"] == place
        ids.append(r.get_json()["waitlistId"])
    again = join(client, fans[1], show.show_id, quantity=3, tier="gold")
    assert again.status_code == 200 and again.get_json() == {"waitlistId": ids[1], "position": 2}
    assert entry_count(app) == 3
    [mine] = entries(client, fans[2])
    assert mine["status"] == "WAITING" and mine["position"] == 3 and mine["quantity"] == 1 and mine["tier"] is None
    assert mine["offer"] is None and mine["showId"] == str(show.show_id)

    assert client.delete(f"/api/v1/waitlist/{ids[0]}", headers=fans[0].headers).status_code == 204
    assert client.delete(f"/api/v1/waitlist/{ids[0]}", headers=fans[0].headers).status_code == 204  # again: same
    assert [e["position"] for e in entries(client, fans[1])] == [1]
    assert [e["position"] for e in entries(client, fans[2])] == [2]
    assert entries(client, fans[0])[0]["status"] == "LEFT"
    # A fan who left joins again at the back.
    r = join(client, fans[0], show.show_id, quantity=1)
    assert r.status_code == 201 and r.get_json()["position"] == 3 and r.get_json()["waitlistId"] != ids[0]


def test_another_fans_entry_reads_as_missing(app, client, make):
    show, _, _ = sold_out(make, client)
    owner, other = make.fan(), make.fan()
    entry_id = join(client, owner, show.show_id, quantity=1).get_json()["waitlistId"]
    r = client.delete(f"/api/v1/waitlist/{entry_id}", headers=other.headers)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "WAITLIST_NOT_FOUND"
    for bad in ("nope", str(uuid.uuid4())):
        r = client.delete(f"/api/v1/waitlist/{bad}", headers=owner.headers)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "WAITLIST_NOT_FOUND"
    assert entries(client, owner)[0]["status"] == "WAITING" and entries(client, other) == []


def test_returned_seats_are_offered_to_the_first_in_line_and_kept_from_everyone_else(app, client, make, mail):
    show, buyer, holds = sold_out(make, client)
    first, second, outsider = make.fan(), make.fan(), make.fan()
    join(client, first, show.show_id, quantity=2)
    join(client, second, show.show_id, quantity=1)
    release(client, buyer, holds["A1"])  # A1 and A2 come back
    # Before any offer is made, the seats are the line's: the public cannot hold them.
    r = hold(client, outsider, show.show_id, ["A1"])
    assert r.status_code == 409 and r.get_json()["error"]["seatIds"] == ["A1"]
    seatmap = client.get(f"/api/v1/shows/{show.show_id}/seatmap").get_json()["seats"]
    assert {s["seatId"]: s["status"] for s in seatmap}["A1"] == "HELD"
    r = join(client, outsider, show.show_id, quantity=1)  # nothing is on sale to them: they join the line
    assert r.status_code == 201 and r.get_json()["position"] == 3

    run_jobs(app)
    [offered] = entries(client, first)
    assert offered["status"] == "OFFERED" and sorted(offered["offer"]["seatIds"]) == ["A1", "A2"]
    hold_id = offered["offer"]["holdId"]
    held = client.get(f"/api/v1/holds/{hold_id}", headers=first.headers).get_json()
    assert held["status"] == "ACTIVE" and sorted(held["seatIds"]) == ["A1", "A2"] and held["amount"] == 100000
    assert entries(client, second)[0]["position"] == 1  # still waiting, now first
    # The offer email carries the link to the hold.
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=first.user_id)[0].email
    [message] = wait_for(lambda: mail.to(email))
    assert f"/holds/{hold_id}" in message.get_payload(decode=True).decode()
    assert show.show_id and "are yours to buy" in message["Subject"]


def test_an_entry_is_offered_seats_only_when_its_whole_quantity_can_be(app, client, make):
    show, buyer, holds = sold_out(make, client)
    wants_two, wants_one = make.fan(), make.fan()
    join(client, wants_two, show.show_id, quantity=2)
    join(client, wants_one, show.show_id, quantity=1)
    release(client, buyer, holds["A3"])  # one seat back
    run_jobs(app)
    assert entries(client, wants_two)[0]["status"] == "WAITING"
    offer = entries(client, wants_one)[0]["offer"]
    assert offer["seatIds"] == ["A3"]


def test_a_tier_gets_only_its_own_seats_and_other_seats_go_back_on_sale(app, client, make):
    show, buyer, holds = sold_out(make, client)
    gold_fan, outsider = make.fan(), make.fan()
    join(client, gold_fan, show.show_id, quantity=1, tier="gold")
    release(client, buyer, holds["B1"])  # silver comes back: nobody in line wants silver
    run_jobs(app)
    assert entries(client, gold_fan)[0]["status"] == "WAITING"
    assert hold(client, outsider, show.show_id, ["B1"]).status_code == 201


def test_an_unclaimed_offer_passes_to_the_next_fan(app, client, make):
    show, buyer, holds = sold_out(make, client)
    first, second = make.fan(), make.fan()
    join(client, first, show.show_id, quantity=1, tier="gold")
    join(client, second, show.show_id, quantity=1)
    release(client, buyer, holds["A3"])
    run_jobs(app)
    offer = entries(client, first)[0]["offer"]
    # The offer's time runs out (set back behind the API, as a lapse would leave it).
    run_sql(
        app,
        "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 minute' WHERE id = :h",
        h=offer["holdId"],
    )
    run_sql(
        app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id = :h", h=offer["holdId"]
    )
    assert entries(client, first)[0]["status"] == "MISSED"  # read from the hold before any job ran
    # The fan may join again at once, at the back: the missed offer is recorded as it joins.
    rejoined = join(client, first, show.show_id, quantity=1, tier="gold")
    assert rejoined.status_code == 201 and rejoined.get_json()["position"] == 2
    client.delete(f"/api/v1/waitlist/{rejoined.get_json()['waitlistId']}", headers=first.headers)
    assert workers.jobs.offer_waitlist_seats(show.show_id) == 1
    assert entries(client, first)[1]["status"] == "MISSED"
    second_offer = entries(client, second)[0]["offer"]
    assert second_offer["seatIds"] == ["A3"] and second_offer["holdId"] != offer["holdId"]
    statuses = fetch(app, "SELECT status FROM holds WHERE id = :h", h=offer["holdId"])
    assert statuses[0].status == "EXPIRED"


def test_a_claimed_offer_is_a_booking_and_a_cancelled_booking_goes_to_the_line(app, client, make, gateway):
    show, buyer, holds = sold_out(make, client)
    fan, next_fan = make.fan(), make.fan()
    join(client, fan, show.show_id, quantity=1, tier="gold")
    release(client, buyer, holds["A3"])
    run_jobs(app)
    hold_id = entries(client, fan)[0]["offer"]["holdId"]
    intent = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers).get_json()["paymentIntentId"]
    gateway.succeed(intent)
    r = client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=fan.headers)
    assert r.status_code == 201
    booking_id = r.get_json()["bookingId"]
    assert entries(client, fan)[0]["status"] == "CLAIMED"
    paid_entry = entries(client, fan)[0]["waitlistId"]
    assert client.delete(f"/api/v1/waitlist/{paid_entry}", headers=fan.headers).status_code == 204
    assert entries(client, fan)[0]["status"] == "CLAIMED"  # a paid offer is not left behind
    assert join(client, next_fan, show.show_id, quantity=3).status_code == 201
    # The booking is cancelled: its seat, with two more released, makes the next fan's three.
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    release(client, buyer, holds["A1"])
    run_jobs(app)
    offer = entries(client, next_fan)[0]["offer"]
    assert sorted(offer["seatIds"]) == ["A1", "A2", "A3"]
    assert fetch(app, "SELECT status FROM waitlist_entries WHERE user_id = :u", u=fan.user_id)[0].status == "CLAIMED"


def test_the_periodic_sweep_makes_offers_when_a_hold_lapses_unnoticed(app, client, make):
    show, buyer, holds = sold_out(make, client)
    fan = make.fan()
    join(client, fan, show.show_id, quantity=1)
    run_sql(
        app,
        "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 minute' WHERE id = :h",
        h=holds["B1"],
    )
    run_sql(
        app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id = :h", h=holds["B1"]
    )
    # A lapsed seat is the line's at once, before any job: the public cannot take it.
    assert hold(client, make.fan(), show.show_id, ["B2"]).status_code == 409
    counts = workers.jobs.sweep()
    assert counts["offer_waitlist_seats"] == 1
    run_jobs(app)
    assert entries(client, fan)[0]["status"] == "OFFERED"


def test_leaving_with_an_open_offer_releases_it_to_the_next_fan(app, client, make):
    show, buyer, holds = sold_out(make, client)
    first, second = make.fan(), make.fan()
    first_id = join(client, first, show.show_id, quantity=1).get_json()["waitlistId"]
    join(client, second, show.show_id, quantity=1)
    release(client, buyer, holds["A3"])
    run_jobs(app)
    hold_id = entries(client, first)[0]["offer"]["holdId"]
    assert client.delete(f"/api/v1/waitlist/{first_id}", headers=first.headers).status_code == 204
    assert client.get(f"/api/v1/holds/{hold_id}", headers=first.headers).get_json()["status"] == "RELEASED"
    run_jobs(app)
    assert entries(client, second)[0]["offer"]["seatIds"] == ["A3"]


def test_seats_the_box_office_puts_back_go_to_the_line(app, client, make):
    show, manager, fan, line_fan = make.show(rows=1, per_row=2), make.fan(role="manager"), make.fan(), make.fan()
    r = client.post(
        f"/api/v1/manage/shows/{show.show_id}/seats/block", json={"seatIds": ["A1"]}, headers=manager.headers
    )
    assert r.status_code == 200, r.get_json()
    assert hold(client, fan, show.show_id, ["A2"]).status_code == 201
    assert join(client, line_fan, show.show_id, quantity=1).status_code == 201
    r = client.post(
        f"/api/v1/manage/shows/{show.show_id}/seats/unblock", json={"seatIds": ["A1"]}, headers=manager.headers
    )
    assert r.status_code == 200, r.get_json()
    assert hold(client, make.fan(), show.show_id, ["A1"]).status_code == 409  # the line's, before any job
    run_jobs(app)
    assert entries(client, line_fan)[0]["offer"]["seatIds"] == ["A1"]


def test_a_cancelled_show_s_line_closes_and_each_fan_is_told(app, client, make, mail):
    show, buyer, holds = sold_out(make, client)
    first, second = make.fan(), make.fan()
    for fan in (first, second):
        assert join(client, fan, show.show_id, quantity=1).status_code == 201
    manager = make.fan(role="manager")
    r = client.post(f"/api/v1/manage/shows/{show.show_id}/cancel", json={"reason": "Storm."}, headers=manager.headers)
    assert r.status_code in (200, 202), r.get_json()  # 202 while the refunds are under way

    assert workers.jobs.sweep()["waitlist_entries_closed"] == 2
    run_jobs(app)
    for fan in (first, second):
        [entry] = entries(client, fan)
        assert entry["status"] == "CLOSED" and entry["position"] is None
        email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
        [message] = wait_for(lambda email=email: mail.to(email))
        assert "is cancelled: your waiting list has closed" in message["Subject"]
        assert "not been charged" in message.get_payload(decode=True).decode()
    assert workers.jobs.sweep()["waitlist_entries_closed"] == 0  # once: a later sweep finds nothing
    assert fetch(app, "SELECT count(*) AS n FROM notifications WHERE kind = 'waitlist_closed'")[0].n == 2


def test_a_line_closes_when_the_sale_ends_and_only_then(app, client, make, mail):
    show, buyer, holds = sold_out(make, client)
    fan, other_show = make.fan(), sold_out(make, client)[0]
    assert join(client, fan, show.show_id, quantity=2).status_code == 201
    assert join(client, fan, other_show.show_id, quantity=1).status_code == 201
    assert workers.jobs.sweep()["waitlist_entries_closed"] == 0  # both sales still open

    run_sql(app, "UPDATE shows SET sale_closes_at = now() - interval '1 second' WHERE id = :s", s=show.show_id)
    assert workers.jobs.sweep()["waitlist_entries_closed"] == 1
    run_jobs(app)
    by_show = {e["showId"]: e["status"] for e in entries(client, fan)}
    assert by_show == {str(show.show_id): "CLOSED", str(other_show.show_id): "WAITING"}
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    [message] = wait_for(lambda: mail.to(email))
    assert "The sale for" in message["Subject"] and "has ended" in message["Subject"]
