"""Redis round trips per request on the booking path and the gate (ARCHITECTURE.md "A hold, step by
step"): every check a request makes before its database work (the bearer token's revocation, all
of its rate limits, the seat hint) is one round trip, and a waiting fan's status poll is one.

Counted on the real Redis and PostgreSQL with ``tests/support/redis_trips.py``; ``-s`` prints
what each request asked, for bench/RESULTS.md."""

from __future__ import annotations

import re

from app.api.http import SESSION_COOKIE
from tests.support.db import fetch
from tests.support.redis_trips import traced


def _hold(client, show_id, seats, fan):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


def test_a_hold_checks_token_limits_and_hint_in_one_round_trip_before_its_sql(client, make):
    show, fan = make.show(rows=2, per_row=5), make.fan()
    assert _hold(client, show.show_id, ["A1"], fan).status_code == 201  # the revocation copy is in Redis now
    with traced() as trace:
        response = _hold(client, show.show_id, ["A2", "A3"], fan)
    assert response.status_code == 201, response.get_json()
    print("\nhold:", trace.summary())
    assert trace.round_trips_before_sql() == 1, trace.summary()
    # After the commit: the seats hinted taken (one pipeline).
    assert trace.round_trips == 2, trace.summary()


def test_a_hold_refused_by_the_hint_makes_one_round_trip(client, make):
    show, fan, other = make.show(rows=2, per_row=5), make.fan(), make.fan()
    assert _hold(client, show.show_id, ["A1"], fan).status_code == 201
    assert _hold(client, show.show_id, ["B1"], other).status_code == 201
    with traced() as trace:
        response = _hold(client, show.show_id, ["A1"], other)
    assert response.status_code == 409
    print("\nhold refused by the hint:", trace.summary())
    assert trace.round_trips_before_sql() == 1, trace.summary()


def test_releasing_a_hold_checks_in_one_round_trip(client, make):
    show, fan = make.show(rows=2, per_row=5), make.fan()
    hold_id = _hold(client, show.show_id, ["A1"], fan).get_json()["holdId"]
    with traced() as trace:
        response = client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert response.status_code == 200
    print("\nrelease:", trace.summary())
    assert trace.round_trips_before_sql() == 1, trace.summary()


def test_a_payment_intent_and_a_confirm_check_in_one_round_trip(client, gateway, make):
    show, fan = make.show(rows=2, per_row=5), make.fan()
    hold_id = _hold(client, show.show_id, ["A1"], fan).get_json()["holdId"]
    with traced() as trace:
        response = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)
    assert response.status_code == 201, response.get_json()
    print("\npayment intent:", trace.summary())
    assert trace.round_trips_before_sql() == 1, trace.summary()
    intent_id = response.get_json()["paymentIntentId"]
    gateway.succeed(intent_id)
    with traced() as trace:
        response = client.post(
            f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent_id}, headers=fan.headers
        )
    assert response.status_code == 201, response.get_json()
    print("\nconfirm:", trace.summary())
    assert trace.round_trips_before_sql() == 1, trace.summary()
    # After the commit: the confirmation email's job queued and the seats hinted booked, together.
    assert trace.round_trips == 2, trace.summary()


def test_a_seat_map_and_the_sites_hold_form(client, make):
    show = make.show(rows=2, per_row=5)
    with traced() as trace:
        assert client.get(f"/api/v1/shows/{show.show_id}/seatmap").status_code == 200
    print("\nseat map (not cached yet):", trace.summary())
    with traced() as trace:
        assert client.get(f"/api/v1/shows/{show.show_id}/seatmap").status_code == 200
    print("\nseat map (cached):", trace.summary())
    assert trace.round_trips == 1, trace.summary()

    form = client.get("/signup")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.get_data(as_text=True)).group(1)
    signed_up = client.post(
        "/signup", data={"csrf_token": token, "name": "Ada", "email": "trips@example.com", "password": "correct horse"}
    )
    assert signed_up.status_code == 303
    page = client.get(f"/shows/{show.show_id}")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    with traced() as trace:
        held = client.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token, "seat": ["A1"]})
    assert held.status_code == 303
    print("\nsite hold form:", trace.summary())
    # The session (one GET, to learn who is signed in), its revocation check (the CSRF check reads
    # the session first), then the one round trip of limits and the seat hint.
    assert trace.round_trips_before_sql() == 3, trace.summary()


def test_the_gates_join_and_a_waiting_fans_status(gate_app, make):
    gate = gate_app.test_client()
    show = make.show()
    event_id = fetch(make.app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0][0]
    manager, fan, other = make.fan(role="manager"), make.fan(), make.fan()
    body = {"batchSize": 1, "admissionIntervalSeconds": 3600, "maxActive": 1, "sessionSeconds": 600}
    assert gate.put(f"/gate/v1/queues/{event_id}", json=body, headers=manager.headers).status_code == 200
    assert gate.post(f"/gate/v1/queues/{event_id}/join", headers=other.headers).status_code == 201
    gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": "tk_warm"})  # the first batch is due
    assert gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers).status_code == 201
    with traced() as trace:  # again (the fan's revocation record is in Redis now): the same place
        joined = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
    assert joined.status_code == 200, joined.get_json()
    print("\ngate join:", trace.summary())
    ticket = joined.get_json()["ticket"]
    with traced() as trace:
        polled = gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": ticket})
    assert polled.status_code == 200 and polled.get_json()["state"] == "WAITING", polled.get_json()
    print("\ngate status:", trace.summary())
    assert trace.round_trips == 1 and trace.steps[0][0] == "redis", trace.summary()


def test_the_api_opens_no_session_for_a_browsers_cookie(client, make):
    """A signed-in browser's cookie comes along with its API calls (a seat map, a hold from a
    script): the API reads bearer tokens only, so no session is looked up in Redis or sent back."""
    show, fan = make.show(rows=2, per_row=5), make.fan()
    assert _hold(client, show.show_id, ["A1"], fan).status_code == 201
    client.set_cookie(SESSION_COOKIE, "a" * 32)
    with traced() as trace:
        response = _hold(client, show.show_id, ["A2"], fan)
    assert response.status_code == 201, response.get_json()
    assert trace.round_trips_before_sql() == 1 and trace.round_trips == 2, trace.summary()
    assert "Set-Cookie" not in response.headers
