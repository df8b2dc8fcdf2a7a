"""The database itself refuses illegal seat and money states, whatever the code does."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from tests.support.db import fetch, run_sql


@pytest.fixture
def held(app, client, make):
    show, fan = make.show(), make.fan()
    body = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers).get_json()
    return show, fan, body["holdId"]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE show_seats SET status = 'HELD' WHERE seat_id = 'A2'",  # held by nobody
        "UPDATE show_seats SET hold_id = NULL WHERE seat_id = 'A1'",
        "UPDATE show_seats SET status = 'AVAILABLE' WHERE seat_id = 'A1'",  # keeps a hold id
        "UPDATE show_seats SET hold_expires_at = NULL WHERE seat_id = 'A1'",
        "UPDATE show_seats SET status = 'BOOKED' WHERE seat_id = 'A2'",  # no booking
        "UPDATE show_seats SET status = 'SOLD' WHERE seat_id = 'A2'",
        "UPDATE holds SET status = 'PENDING'",
        "UPDATE holds SET seat_ids = '{}'",
        "UPDATE holds SET amount = -1",
        "UPDATE holds SET status = 'RELEASED'",  # released without an end time
        "UPDATE shows SET sale_closes_at = sale_opens_at",
        "UPDATE shows SET currency = 'usd'",
        "UPDATE users SET email = upper(email)",
        "UPDATE show_prices SET price = -5",
        "INSERT INTO show_seats (show_id, seat_id, venue_id) SELECT id, 'NOPE', venue_id FROM shows",
    ],
)
def test_illegal_states_are_refused(app, held, sql):
    with pytest.raises(IntegrityError):
        run_sql(app, sql)


def test_a_seat_of_another_venue_cannot_join_a_show(app, make):
    first = make.show(rows=1, per_row=2)
    other = make.show(rows=2, per_row=2)
    with pytest.raises(IntegrityError):
        run_sql(
            app,
            "INSERT INTO show_seats (show_id, seat_id, venue_id) VALUES (:s, 'B1', :v)",
            s=first.show_id,
            v=other.venue_id,
        )


def test_a_payment_intent_yields_at_most_one_booking(app, held):
    show, fan, hold_id = held
    insert = (
        "INSERT INTO bookings (id, hold_id, show_id, user_id, payment_intent_id, seat_ids, amount, currency) "
        "VALUES (:id, :h, :s, :u, 'pi_1', '{A1}', 100, 'INR')"
    )
    run_sql(app, insert, id=uuid.uuid4(), h=hold_id, s=show.show_id, u=fan.user_id)
    other_hold = fetch(app, "SELECT id FROM holds")  # same hold again also refused
    with pytest.raises(IntegrityError):
        run_sql(app, insert, id=uuid.uuid4(), h=other_hold[0].id, s=show.show_id, u=fan.user_id)
