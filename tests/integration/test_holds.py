from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import pytest

from app.inventory.hints import key as hint_key
from tests.support.db import fetch, run_sql


def hold(client, fan, show_id, seats, **extra):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats, **extra}, headers=fan.headers)


def seat_rows(app, show_id):
    return {
        r.seat_id: (r.status, r.hold_id)
        for r in fetch(app, "SELECT seat_id, status, hold_id FROM show_seats WHERE show_id = :s", s=show_id)
    }


def test_hold_takes_the_seats_and_prices_them(app, client, make):
    show, fan = make.show(prices={"gold": 50000, "silver": 25000}), make.fan()
    response = hold(client, fan, show.show_id, ["A1", "B1"])
    assert response.status_code == 201
    body = response.get_json()
    assert body["showId"] == str(show.show_id)
    assert body["seatIds"] == ["A1", "B1"]
    assert body["amount"] == 75000 and body["currency"] == "INR"
    assert body["status"] == "ACTIVE"
    expires = datetime.fromisoformat(body["expiresAt"])
    created = datetime.fromisoformat(body["createdAt"])
    assert expires - created == timedelta(minutes=5)
    seats = seat_rows(app, show.show_id)
    assert seats["A1"] == ("HELD", uuid.UUID(body["holdId"])) and seats["B1"][0] == "HELD"
    assert sum(1 for s, _ in seats.values() if s == "HELD") == 2
    assert response.headers["Location"] == f"/api/v1/holds/{body['holdId']}"


def test_all_or_nothing_names_the_taken_seats(app, client, make):
    show, first, second = make.show(), make.fan(), make.fan()
    assert hold(client, first, show.show_id, ["A2", "A3"]).status_code == 201
    response = hold(client, second, show.show_id, ["A1", "A2", "A3", "A4"])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "SEATS_UNAVAILABLE"
    assert error["seatIds"] == ["A2", "A3"]
    seats = seat_rows(app, show.show_id)
    assert seats["A1"] == ("AVAILABLE", None) and seats["A4"] == ("AVAILABLE", None)
    assert len(fetch(app, "SELECT id FROM holds WHERE user_id = :u", u=second.user_id)) == 0


def test_postgres_decides_when_redis_has_no_hint(app, client, make, rds):
    show, first, second = make.show(), make.fan(), make.fan()
    assert hold(client, first, show.show_id, ["C5"]).status_code == 201
    rds.flushdb()
    response = hold(client, second, show.show_id, ["C5", "C6"])
    assert response.status_code == 409
    assert response.get_json()["error"]["seatIds"] == ["C5"]
    assert seat_rows(app, show.show_id)["C6"] == ("AVAILABLE", None)


def test_a_redis_hint_can_only_reject(app, client, make, rds):
    """A stale 'taken' hint costs a fast 409; a missing hint never grants: Postgres still decides."""
    show, fan = make.show(), make.fan()
    rds.zadd(hint_key(show.show_id), {"D1": 9e12})
    assert hold(client, fan, show.show_id, ["D1"]).status_code == 409
    assert seat_rows(app, show.show_id)["D1"] == ("AVAILABLE", None)
    rds.delete(hint_key(show.show_id))
    assert hold(client, fan, show.show_id, ["D1"]).status_code == 201


@pytest.fixture
def quick_client():
    """A client of an app whose holds last one second, so tests can watch them lapse for real."""
    from app import create_app
    from tests.conftest import settings_for_tests

    return create_app(settings_for_tests(hold_ttl_seconds=1)).test_client()


def test_lapsed_hold_no_longer_blocks_its_seats_without_any_sweeper(app, client, quick_client, make):
    show, first, second = make.show(), make.fan(), make.fan()
    old = hold(quick_client, first, show.show_id, ["E1", "E2"]).get_json()["holdId"]
    assert hold(client, second, show.show_id, ["E1"]).status_code == 409
    time.sleep(1.1)
    response = hold(client, second, show.show_id, ["E1", "E2"])
    assert response.status_code == 201, response.get_json()
    new = response.get_json()["holdId"]
    assert {k: v for k, v in seat_rows(app, show.show_id).items() if v[0] == "HELD"} == {
        "E1": ("HELD", uuid.UUID(new)),
        "E2": ("HELD", uuid.UUID(new)),
    }
    (old_row,) = fetch(app, "SELECT status FROM holds WHERE id = :h", h=old)
    assert old_row.status == "EXPIRED"
    assert client.get(f"/api/v1/holds/{old}", headers=first.headers).get_json()["status"] == "EXPIRED"


def test_releasing_a_lapsed_hold_does_not_free_seats_someone_else_took(app, client, quick_client, make):
    show, first, second = make.show(), make.fan(), make.fan()
    old = hold(quick_client, first, show.show_id, ["C1", "C2"]).get_json()["holdId"]
    time.sleep(1.1)
    new = hold(client, second, show.show_id, ["C1"]).get_json()["holdId"]
    assert client.delete(f"/api/v1/holds/{old}", headers=first.headers).status_code == 200
    seats = seat_rows(app, show.show_id)
    assert seats["C1"] == ("HELD", uuid.UUID(new))
    assert seats["C2"] == ("AVAILABLE", None)


def test_get_hold_is_private_to_its_owner(client, make):
    show, owner, other = make.show(), make.fan(), make.fan()
    hold_id = hold(client, owner, show.show_id, ["A1"]).get_json()["holdId"]
    mine = client.get(f"/api/v1/holds/{hold_id}", headers=owner.headers)
    assert mine.status_code == 200
    assert mine.get_json()["seatIds"] == ["A1"] and mine.get_json()["status"] == "ACTIVE"
    for path in (f"/api/v1/holds/{hold_id}",):
        theirs = client.get(path, headers=other.headers)
        assert theirs.status_code == 404
        assert theirs.get_json()["error"]["code"] == "HOLD_NOT_FOUND"
    assert client.delete(f"/api/v1/holds/{hold_id}", headers=other.headers).status_code == 404


@pytest.mark.parametrize(
    "hold_id",
    ["nope", "123", pytest.param(str(uuid.uuid4()), id="a-random-uuid"), "00000000-0000-0000-0000-00000000000g"],
)
def test_unknown_holds(client, make, hold_id):
    fan = make.fan()
    for method in (client.get, client.delete):
        response = method(f"/api/v1/holds/{hold_id}", headers=fan.headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "HOLD_NOT_FOUND"


def test_release_frees_seats_at_once_and_repeats_are_harmless(app, client, make):
    show, fan, other = make.show(), make.fan(), make.fan()
    hold_id = hold(client, fan, show.show_id, ["B4", "B5"]).get_json()["holdId"]
    released = client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert released.status_code == 200
    assert released.get_json()["status"] == "RELEASED"
    assert seat_rows(app, show.show_id)["B4"] == ("AVAILABLE", None)
    assert hold(client, other, show.show_id, ["B4", "B5"]).status_code == 201  # no stale hint blocks it
    again = client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert again.status_code == 200 and again.get_json()["status"] == "RELEASED"
    assert seat_rows(app, show.show_id)["B4"][0] == "HELD"  # the other fan's hold is untouched


def test_confirmed_hold_cannot_be_released(app, client, make):
    show, fan = make.show(), make.fan()
    hold_id = hold(client, fan, show.show_id, ["A5"]).get_json()["holdId"]
    run_sql(app, "UPDATE holds SET status = 'CONFIRMED' WHERE id = :h", h=hold_id)
    response = client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "HOLD_NOT_ACTIVE"


@pytest.mark.parametrize(
    "seats,detail",
    [
        ([], None),
        (["A1", "A1"], "duplicateSeatIds"),
        (["A1", "Z99"], "unknownSeatIds"),
        ([f"B{i}" for i in range(1, 10)], None),  # over the per-hold limit of 8
        ([f"X{i}" for i in range(101)], None),
        (["A1", ""], None),
        (["A1", "Q" * 33], None),
        (["' OR 1=1 --"], "unknownSeatIds"),
        (["<script>alert(1)</script>"], "unknownSeatIds"),
    ],
)
def test_bad_seat_lists_are_rejected_and_hold_nothing(app, client, make, seats, detail):
    show, fan = make.show(), make.fan()
    response = hold(client, fan, show.show_id, seats)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    if detail:
        assert detail in error
    assert fetch(app, "SELECT id FROM holds") == []
    assert all(status == "AVAILABLE" for status, _ in seat_rows(app, show.show_id).values())


@pytest.mark.parametrize(
    "body",
    [
        {"seatIds": "A1"},
        {"seatIds": [1, 2]},
        {"seatIds": None},
        {"seatIds": {"A1": True}},
        {"seats": ["A1"]},
        {"seatIds": ["A1"], "extra": 1},
        {"seatIds": ["A1"], "userId": 5},
        {"seatIds": [["A1"]]},
    ],
)
def test_wrongly_typed_bodies(app, client, make, body):
    show, fan = make.show(), make.fan()
    response = client.post(f"/api/v1/shows/{show.show_id}/holds", json=body, headers=fan.headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert fetch(app, "SELECT id FROM holds") == []


@pytest.mark.parametrize("raw", [b"", b"not json", b'["A1"]', b"\xc3\x28", b"{" * 100000])
def test_malformed_hold_bodies(app, client, make, raw):
    show, fan = make.show(), make.fan()
    response = client.post(
        f"/api/v1/shows/{show.show_id}/holds", data=raw, content_type="application/json", headers=fan.headers
    )
    assert response.status_code in (400, 413)
    assert response.get_json()["error"]["code"] in ("VALIDATION_FAILED", "PAYLOAD_TOO_LARGE")
    assert fetch(app, "SELECT id FROM holds") == []


def test_hold_on_unknown_show(client, make):
    fan = make.fan()
    for show_id in ("987654", "abc"):
        response = client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "SHOW_NOT_FOUND"


@pytest.mark.parametrize(
    "kwargs,sale_status",
    [
        ({"sale_opens_in": timedelta(hours=1)}, "NOT_OPEN"),
        ({"sale_opens_in": timedelta(days=-2), "sale_closes_in": timedelta(minutes=-1)}, "CLOSED"),
        ({"status": "CANCELLED"}, "CANCELLED"),
    ],
)
def test_sale_must_be_open(app, client, make, kwargs, sale_status):
    show, fan = make.show(**kwargs), make.fan()
    response = hold(client, fan, show.show_id, ["A1"])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "SALE_CLOSED" and error["saleStatus"] == sale_status
    assert fetch(app, "SELECT id FROM holds") == []


def test_per_user_cap_on_active_held_seats(app, client, make):
    show, fan, other = make.show(), make.fan(), make.fan()
    assert hold(client, fan, show.show_id, ["A1", "A2", "A3", "A4", "A5"]).status_code == 201
    response = hold(client, fan, show.show_id, ["B1", "B2", "B3", "B4"])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "SEAT_LIMIT_EXCEEDED" and error["limit"] == 8 and error["held"] == 5
    assert hold(client, fan, show.show_id, ["B1", "B2", "B3"]).status_code == 201
    assert hold(client, other, show.show_id, ["C1", "C2", "C3", "C4"]).status_code == 201


def test_released_seats_stop_counting_against_the_cap(client, make):
    show, fan = make.show(), make.fan()
    hold_id = hold(client, fan, show.show_id, [f"A{i}" for i in range(1, 9)]).get_json()["holdId"]
    assert hold(client, fan, show.show_id, ["B1"]).status_code == 422
    client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert hold(client, fan, show.show_id, ["B1"]).status_code == 201


def test_a_token_whose_account_is_gone_is_refused_and_holds_nothing(app, client, make):
    # Tokens are verified without a database call, so a signed token outlives a deleted account.
    fan, show = make.fan(), make.show()
    run_sql(app, "DELETE FROM users WHERE id = :u", u=fan.user_id)
    answer = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "INVALID_TOKEN"
    assert fetch(app, "SELECT count(*) FROM holds")[0][0] == 0
    assert fetch(app, "SELECT count(*) FROM show_seats WHERE status <> 'AVAILABLE'")[0][0] == 0
