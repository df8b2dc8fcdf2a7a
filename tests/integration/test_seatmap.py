from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.support.db import fetch, run_sql


def seatmap(client, show_id, **params):
    response = client.get(f"/api/v1/shows/{show_id}/seatmap", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response


def hold(client, fan, show_id, seats):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


def test_full_seat_map_lists_every_seat_with_price_and_state(client, make):
    show = make.show(rows=3, per_row=4, prices={"gold": 900, "silver": 400})
    response = seatmap(client, show.show_id)
    body = response.get_json()
    assert body["showId"] == str(show.show_id)
    assert datetime.fromisoformat(body["asOf"]).tzinfo is not None
    assert [s["seatId"] for s in body["seats"]] == show.seat_ids
    first = body["seats"][0]
    assert first == {
        "seatId": "A1",
        "section": "Main",
        "row": "A",
        "number": 1,
        "tier": "gold",
        "price": 900,
        "accessible": True,
        "x": 1,
        "y": 0,
        "status": "AVAILABLE",
    }
    assert {s["price"] for s in body["seats"] if s["tier"] == "silver"} == {400}
    cache_control = response.headers["Cache-Control"]
    assert "public" in cache_control and "max-age=1" in cache_control


def test_held_seats_show_as_held_within_the_staleness_limit(client, make):
    show, fan = make.show(), make.fan()
    seatmap(client, show.show_id)  # warm the cache with everything AVAILABLE
    assert hold(client, fan, show.show_id, ["B2", "B3"]).status_code == 201
    deadline = time.monotonic() + 2.0
    while True:
        statuses = {s["seatId"]: s["status"] for s in seatmap(client, show.show_id).get_json()["seats"]}
        if statuses["B2"] == "HELD":
            break
        assert time.monotonic() < deadline, "seat map more than 2 s stale"
        time.sleep(0.1)
    assert statuses["B3"] == "HELD"
    assert sum(1 for s in statuses.values() if s == "HELD") == 2


def test_a_lapsed_hold_reads_available(app, client, make):
    show, fan = make.show(), make.fan()
    hold(client, fan, show.show_id, ["C1"])
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE seat_id = 'C1'")
    statuses = {s["seatId"]: s["status"] for s in seatmap(client, show.show_id).get_json()["seats"]}
    assert statuses["C1"] == "AVAILABLE"
    compact = seatmap(client, show.show_id, format="compact").get_json()
    assert compact["status"][compact["seatIds"].index("C1")] == "A"


def test_compact_format_has_one_character_per_seat(client, make):
    show, fan = make.show(rows=2, per_row=3), make.fan()
    hold(client, fan, show.show_id, ["A2"])
    body = seatmap(client, show.show_id, format="compact").get_json()
    assert body["format"] == "compact"
    assert body["seatIds"] == show.seat_ids
    assert body["status"] == "AHAAAA"
    assert body["statusCodes"] == {"A": "AVAILABLE", "H": "HELD", "B": "BOOKED"}


def test_section_filter_and_sections_summary(app, client, make):
    show, fan = make.show(rows=2, per_row=3), make.fan()
    run_sql(app, "UPDATE venue_seats SET section = 'Balcony' WHERE row = 'B'")
    hold(client, fan, show.show_id, ["B1"])
    balcony = seatmap(client, show.show_id, section="Balcony").get_json()
    assert balcony["section"] == "Balcony"
    assert [s["seatId"] for s in balcony["seats"]] == ["B1", "B2", "B3"]
    summary = client.get(f"/api/v1/shows/{show.show_id}/seatmap/sections").get_json()["sections"]
    assert [(s["section"], s["seats"], s["available"], s["held"]) for s in summary] == [
        ("Main", 3, 3, 0),
        ("Balcony", 3, 2, 1),
    ]
    missing = client.get(f"/api/v1/shows/{show.show_id}/seatmap", query_string={"section": "Nope"})
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "SECTION_NOT_FOUND"


@pytest.mark.parametrize(
    "params",
    [
        {"format": "xml"},
        {"format": ""},
        {"section": ""},
        {"section": "x" * 65},
        {"format": "compact", "section": "Main"},
    ],
)
def test_bad_seat_map_parameters(client, make, params):
    show = make.show()
    response = client.get(f"/api/v1/shows/{show.show_id}/seatmap", query_string=params)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"


def test_seat_map_is_served_when_redis_is_gone(app, make):
    show = make.show()
    from app import create_app
    from tests.conftest import settings_for_tests

    cut_off = create_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0"))
    response = cut_off.test_client().get(f"/api/v1/shows/{show.show_id}/seatmap")
    assert response.status_code == 200
    assert len(response.get_json()["seats"]) == 50


def test_layout_and_price_changes_reach_the_seat_map(app, client, make, rds):
    show = make.show(rows=1, per_row=2, prices={"gold": 100, "silver": 50})
    assert seatmap(client, show.show_id).get_json()["seats"][0]["section"] == "Main"
    (before,) = fetch(app, "SELECT layout_version FROM venues WHERE id = :v", v=show.venue_id)
    run_sql(app, "UPDATE venue_seats SET section = 'Box' WHERE seat_id = 'A1'")
    run_sql(app, "UPDATE show_prices SET price = 120 WHERE tier = 'gold'")
    rds.flushdb()  # skip the 1 s response cache; the per-process layout cache must notice by itself
    first = seatmap(client, show.show_id).get_json()["seats"][0]
    assert (first["section"], first["price"]) == ("Box", 120)
    (after,) = fetch(app, "SELECT layout_version FROM venues WHERE id = :v", v=show.venue_id)
    assert after.layout_version != before.layout_version
