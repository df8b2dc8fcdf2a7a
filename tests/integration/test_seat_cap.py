"""The per-fan cap on one show counts seats held and seats booked together, so paying for seats
never makes room for more (anti-scalping), under concurrency too."""

from __future__ import annotations

import re
import threading

from app.inventory.invariants import seat_invariant_violations
from app.unit_of_work import unit_of_work
from tests.support.booking import book
from tests.support.db import Fan, fetch, run_sql
from tests.support.races import Attempt, run_together


def hold(client, fan, show_id, seats):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


def state(app, show_id):
    """Everything a refused hold must leave as it was."""
    return (
        fetch(app, "SELECT id, status, seat_ids FROM holds WHERE show_id = :s ORDER BY id", s=show_id),
        fetch(
            app,
            "SELECT seat_id, status, hold_id, booking_id FROM show_seats WHERE show_id = :s ORDER BY seat_id",
            s=show_id,
        ),
        fetch(app, "SELECT id, action FROM audit_log ORDER BY id"),
    )


def has(app, user_id, show_id) -> int:
    """Seats the fan holds (live or paying) plus seats of their confirmed bookings, from Postgres."""
    return fetch(
        app,
        """
        SELECT (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM holds
                 WHERE user_id = :u AND show_id = :s AND status = 'ACTIVE'
                   AND (expires_at > now() OR payment_started_at IS NOT NULL))
             + (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM bookings
                 WHERE user_id = :u AND show_id = :s AND status = 'CONFIRMED') AS n
        """,
        u=user_id,
        s=show_id,
    )[0].n


def test_paid_seats_still_count_against_the_cap(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, [f"B{n}" for n in range(1, 9)])
    before = state(app, show.show_id)
    one_more = hold(client, fan, show.show_id, ["C1"])
    assert one_more.status_code == 422
    error = one_more.get_json()["error"]
    assert error["code"] == "SEAT_LIMIT_EXCEEDED" and error["limit"] == 8 and error["held"] == 8
    assert "held and booked together" in error["message"] and "8 already" in error["message"]
    assert state(app, show.show_id) == before
    # Other fans, and other shows, are not affected.
    assert hold(client, make.fan(), show.show_id, ["C1"]).status_code == 201
    assert hold(client, fan, make.show(rows=1, per_row=2).show_id, ["A1"]).status_code == 201
    # A cancelled booking stops counting.
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    assert hold(client, fan, show.show_id, ["C2", "C3"]).status_code == 201


def test_held_and_booked_seats_add_up(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    book(client, gateway, fan, show.show_id, ["A1", "A2", "A3"])
    assert hold(client, fan, show.show_id, ["B1", "B2", "B3"]).status_code == 201
    over = hold(client, fan, show.show_id, ["C1", "C2", "C3"])
    assert over.status_code == 422 and over.get_json()["error"]["held"] == 6
    assert hold(client, fan, show.show_id, ["C1", "C2"]).status_code == 201
    assert has(app, fan.user_id, show.show_id) == 8


def test_a_paying_hold_past_its_time_still_counts(app, client, make, gateway):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, [f"D{n}" for n in range(1, 9)]).get_json()
    assert client.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers).status_code == 201
    # Its time runs out while the payment may still succeed: the seats stay protected (rule 4), and counted.
    run_sql(
        app,
        "UPDATE holds SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' "
        "WHERE id = :h",
        h=held["holdId"],
    )
    refused = hold(client, fan, show.show_id, ["E1"])
    assert refused.status_code == 422 and refused.get_json()["error"]["held"] == 8


def test_one_fan_racing_themselves_while_paying_never_passes_the_cap(app, client, make, gateway):
    """16 holds of different seats leave together with the fan's confirm of a paid hold: the cap
    (8) is never passed, held and booked together, and exactly the room left is taken."""
    show, fan = make.show(rows=4, per_row=10), make.fan()
    book(client, gateway, fan, show.show_id, ["A1", "A2", "A3"])
    paying = hold(client, fan, show.show_id, ["A4", "A5"]).get_json()
    intent = client.post(f"/api/v1/holds/{paying['holdId']}/payment-intents", headers=fan.headers).get_json()
    gateway.succeed(intent["paymentIntentId"])
    seats = [f"{row}{n}" for row in "CD" for n in range(1, 9)]
    assert len(seats) == 16

    def attempt(i: int, start_line: threading.Barrier) -> Attempt:
        racer = app.test_client()
        start_line.wait()
        if i == len(seats):
            r = racer.post(
                f"/api/v1/holds/{paying['holdId']}/confirm",
                json={"paymentIntentId": intent["paymentIntentId"]},
                headers=fan.headers,
            )
            return Attempt(fan.user_id, [], r.status_code, r.get_json())
        r = racer.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seats[i]]}, headers=fan.headers)
        return Attempt(fan.user_id, [seats[i]], r.status_code, r.get_json())

    attempts = run_together(len(seats) + 1, attempt)
    confirm, holds = attempts[-1], attempts[:-1]
    assert confirm.status in (200, 201), confirm.body
    won = [a for a in holds if a.status == 201]
    assert len(won) == 3  # 3 booked + 2 paid + 3 = 8
    refused = [a.body["error"] for a in holds if a.status != 201]
    assert {e["code"] for e in refused} == {"SEAT_LIMIT_EXCEEDED"} and {e["limit"] for e in refused} == {8}
    assert {e["held"] for e in refused} == {8}  # one seat is refused only once the fan has all 8
    assert has(app, fan.user_id, show.show_id) == 8
    held = fetch(app, "SELECT seat_id FROM show_seats WHERE show_id = :s AND status = 'HELD'", s=show.show_id)
    assert sorted(r.seat_id for r in held) == sorted(a.seats[0] for a in won)
    assert len(fetch(app, "SELECT 1 FROM audit_log WHERE action = 'hold.created'")) == 2 + 3
    with app.app_context(), unit_of_work() as uow:
        assert seat_invariant_violations(uow) == {}


def token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_the_site_explains_the_cap_on_the_show_page_and_for_best_available(app, client, make, gateway):
    show = make.show(rows=3, per_row=9)
    registered = client.post(
        "/api/v1/auth/register", json={"email": "cap@example.com", "password": "correct horse", "name": "Cap"}
    ).get_json()
    login = client.get("/login")
    client.post("/login", data={"csrf_token": token_of(login), "email": "cap@example.com", "password": "correct horse"})
    fan = Fan(int(registered["userId"]), registered["token"])  # the same fan, through the API
    book(client, gateway, fan, show.show_id, ["C1", "C2", "C3", "C4", "C5", "C6"])
    page = client.get(f"/shows/{show.show_id}")

    picked = client.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["B1", "B2", "B3"]})
    assert picked.status_code == 422
    html = picked.get_data(as_text=True)
    message = re.search(r'data-testid="message">([^<]+)<', html).group(1)
    assert message == "You can have at most 8 seats for this show, held and booked together (you have 6 already)."
    assert """data-selected='["B1","B2","B3"]'""" in html  # the selection is kept: the map is drawn with it

    best = client.post(
        f"/shows/{show.show_id}/best", data={"csrf_token": token_of(page), "count": "3", "tier": "silver"}
    )
    assert best.status_code == 422
    assert "at most 8 seats for this show, held and booked together" in best.get_data(as_text=True)
    assert fetch(app, "SELECT id FROM holds WHERE status = 'ACTIVE'") == []
    two = client.post(
        f"/shows/{show.show_id}/best", data={"csrf_token": token_of(page), "count": "2", "tier": "silver"}
    )
    assert two.status_code == 303
