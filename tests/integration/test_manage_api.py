"""The manager API: venues and layouts, events and shows, the box office, live figures, export, cancellation."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.booking.invariants import money_invariant_violations
from app.unit_of_work import unit_of_work
from devstack.mail import text_body
from queue_gate import create_gate_app
from tests.support.booking import book
from tests.support.db import fetch, run_jobs, run_sql

GOOD_CSV = """section,row,number,tier,seat_id,x,y,accessible,companion,sellable
Stalls,A,1,premium,A1,1,0,yes,no,yes
Stalls,A,2,premium,A2,2,0,no,yes,yes
Stalls,A,3,premium,A3,4,0,no,no,no
Stalls,B,1,standard,,,,,,
Stalls,B,2,standard,,,,,,
"""


@pytest.fixture
def owner(make):
    return make.fan(role="manager")


def city_id(app) -> str:
    with app.app_context(), unit_of_work() as uow:
        from app.catalog import scheduling

        cid = scheduling.ensure_city(uow, "London", "GB", "Europe/London")
        uow.commit()
    return str(cid)


def create_venue(client, app, manager, name="The Roundhouse"):
    r = client.post(
        "/api/v1/manage/venues",
        json={"cityId": city_id(app), "name": name, "kind": "theatre", "address": "Chalk Farm Rd"},
        headers=manager.headers,
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["venueId"]


def add_rows(client, manager, venue_id, **overrides):
    body = {
        "section": "Stalls",
        "rows": "A-C",
        "seatsPerRow": 6,
        "tier": "standard",
        "aislesAfter": [3],
        "accessible": ["A1"],
        "companion": ["A2"],
        "notForSale": ["C6"],
        **overrides,
    }
    return client.post(f"/api/v1/manage/venues/{venue_id}/layout/blocks", json=body, headers=manager.headers)


def create_event(client, manager, title="Lantern Festival"):
    r = client.post(
        "/api/v1/manage/events",
        json={"title": title, "category": "concert", "durationMinutes": 90},
        headers=manager.headers,
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["eventId"]


def local_start(days=10, hour=19, minute=30) -> str:
    day = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00"


def create_show(client, manager, event_id, venue_id, **overrides):
    body = {
        "eventId": event_id,
        "venueId": venue_id,
        "startTime": local_start(),
        "saleOpensAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "currency": "GBP",
        "prices": {"standard": 4500},
        **overrides,
    }
    return client.post("/api/v1/manage/shows", json=body, headers=manager.headers)


def scheduled_show(client, app, manager, **overrides):
    venue_id = create_venue(client, app, manager)
    assert add_rows(client, manager, venue_id).status_code == 201
    event_id = create_event(client, manager)
    r = create_show(client, manager, event_id, venue_id, **overrides)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# ---------------------------------------------------------------- venues and layouts


def test_build_a_venue_with_rows_aisles_and_marked_seats(client, app, owner):
    venue_id = create_venue(client, app, owner)
    r = add_rows(client, owner, venue_id)
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"seats": 18, "added": 18, "removed": 0, "changed": 0}
    seats = {
        s["seatId"]: s
        for s in client.get(f"/api/v1/manage/venues/{venue_id}/layout", headers=owner.headers).get_json()["seats"]
    }
    assert len(seats) == 18
    # An aisle after seat 3: seat 4 sits one position further along.
    assert [seats[f"A{n}"]["x"] for n in range(1, 7)] == [0, 1, 2, 4, 5, 6]
    assert seats["A1"]["accessible"] and seats["A2"]["companion"] and not seats["C6"]["sellable"]
    assert seats["B1"]["y"] == seats["A1"]["y"] + 1

    second = add_rows(
        client,
        owner,
        venue_id,
        section="Balcony",
        rows="A-B",
        seatsPerRow=4,
        tier="value",
        accessible=[],
        companion=[],
        notForSale=[],
    )
    assert second.status_code == 400  # A1 again: seat ids must be unique in a venue
    assert "prefix" in second.get_json()["error"]["message"]
    third = add_rows(
        client,
        owner,
        venue_id,
        section="Balcony",
        rows="A-B",
        seatsPerRow=4,
        tier="value",
        accessible=[],
        companion=[],
        notForSale=[],
        seatIdPrefix="BAL-",
    )
    assert third.status_code == 201, third.get_json()
    venue = client.get(f"/api/v1/manage/venues/{venue_id}", headers=owner.headers).get_json()
    assert venue["seatCount"] == 26
    assert [s["section"] for s in venue["sections"]] == ["Stalls", "Balcony"]

    marked = client.patch(
        f"/api/v1/manage/venues/{venue_id}/layout/seats",
        json={"seatIds": ["BAL-A1", "BAL-A2"], "accessible": True},
        headers=owner.headers,
    )
    assert marked.status_code == 200 and marked.get_json()["changed"] == 2
    removed = client.delete(f"/api/v1/manage/venues/{venue_id}/layout/sections/Balcony", headers=owner.headers)
    assert removed.status_code == 200 and removed.get_json()["removed"] == 8


def test_a_layout_must_fit_the_drawn_area_however_it_is_saved(client, app, owner):
    # Seats across x = 0..100,000 made every view of the show's page build hundreds of millions of
    # cells: the drawn map is at most 1000 x 1000 seat widths (the demo stadium is about 620 x 630).
    venue_id = create_venue(client, app, owner)
    seat = {"seatId": "A1", "section": "Stalls", "row": "A", "number": 1, "tier": "standard", "x": 0, "y": 0}
    far = {**seat, "seatId": "A2", "number": 2, "x": 100_000}
    for body in (
        {"seats": [seat, far]},
        {"seats": [seat, {**far, "x": 1000}]},
        {"seats": [seat, {**far, "x": 5, "y": 1000}]},
    ):
        r = client.put(f"/api/v1/manage/venues/{venue_id}/layout", json=body, headers=owner.headers)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
        assert "999" in str(r.get_json()["error"]), r.get_json()
    fits = client.put(
        f"/api/v1/manage/venues/{venue_id}/layout",
        json={"seats": [seat, {**far, "x": 999, "y": 999}]},
        headers=owner.headers,
    )
    assert fits.status_code == 200, fits.get_json()

    url = f"/api/v1/manage/venues/{venue_id}/layout/import"
    for line in ("Stalls,A,2,standard,A2,100000,0", "Stalls,A,2,standard,A2,1000,0", "Stalls,A,2,standard,A2,0,1000"):
        wide = f"section,row,number,tier,seat_id,x,y\nStalls,B,1,standard,B1,0,1\n{line}\n"
        r = client.post(url, data=wide, content_type="text/csv", headers=owner.headers)
        assert r.status_code == 400, line
        assert "from 0 to 999" in r.get_json()["error"]["lines"][0]["message"]
    # The row builder stacks each block below the last: past the bottom of the map it is refused too.
    other = create_venue(client, app, owner, name="The Deep Hall")
    assert (
        add_rows(
            client,
            owner,
            other,
            rows="1-990",
            seatsPerRow=1,
            aislesAfter=[],
            accessible=[],
            companion=[],
            notForSale=[],
        ).status_code
        == 201
    )
    deeper = add_rows(
        client,
        owner,
        other,
        rows="1-20",
        seatsPerRow=1,
        aislesAfter=[],
        accessible=[],
        companion=[],
        notForSale=[],
        seatIdPrefix="LOW-",
        section="Lower",
    )
    assert deeper.status_code == 400 and "999" in deeper.get_json()["error"]["message"]
    assert len(client.get(f"/api/v1/manage/venues/{other}/layout", headers=owner.headers).get_json()["seats"]) == 990
    layout = client.get(f"/api/v1/manage/venues/{venue_id}/layout", headers=owner.headers).get_json()["seats"]
    assert sorted((s["seatId"], s["x"], s["y"]) for s in layout) == [("A1", 0, 0), ("A2", 999, 999)], (
        "refusals stored nothing"
    )


def test_csv_import_good_and_bad_files(client, app, owner):
    venue_id = create_venue(client, app, owner)
    url = f"/api/v1/manage/venues/{venue_id}/layout/import"
    r = client.post(url, data=GOOD_CSV, content_type="text/csv", headers=owner.headers)
    assert r.status_code == 200, r.get_json()
    seats = {
        s["seatId"]: s
        for s in client.get(f"/api/v1/manage/venues/{venue_id}/layout", headers=owner.headers).get_json()["seats"]
    }
    assert sorted(seats) == ["A1", "A2", "A3", "B1", "B2"]
    assert seats["A1"]["accessible"] and seats["A2"]["companion"] and not seats["A3"]["sellable"]
    # Exported CSV imports back to the same layout.
    exported = client.get(f"/api/v1/manage/venues/{venue_id}/layout?format=csv", headers=owner.headers)
    assert exported.mimetype == "text/csv"
    again = client.post(url, data=exported.get_data(), content_type="text/csv", headers=owner.headers)
    assert again.get_json()["changed"] == 0 and again.get_json()["added"] == 0

    bad = """section,row,number,tier
Stalls,A,1,premium
Stalls,A,zero,premium
Stalls,A,1,premium
Stalls,B,2,Not A Tier!
Stalls,B
"""
    r = client.post(url, data=bad, content_type="text/csv", headers=owner.headers)
    assert r.status_code == 400
    lines = {e["line"]: e["message"] for e in r.get_json()["error"]["lines"]}
    assert set(lines) == {3, 5, 6}
    assert "number" in lines[3] and "tier" in lines[5] and "expected 4 values" in lines[6]
    dup = client.post(
        url, data="section,row,number,tier\nS,A,1,x\nS,A,1,x\n", content_type="text/csv", headers=owner.headers
    )
    assert dup.status_code == 400 and dup.get_json()["error"]["lines"][0]["line"] == 3
    for body in ("", "seat,row\nA,1\n", "section,row,number,tier\n"):
        r = client.post(url, data=body, content_type="text/csv", headers=owner.headers)
        assert r.status_code == 400, body
    wrong_type = client.post(url, json={"seats": []}, headers=owner.headers)
    assert wrong_type.status_code == 400
    not_utf8 = client.post(
        url, data=b"section,row,number,tier\n\xff,A,1,x\n", content_type="text/csv", headers=owner.headers
    )
    assert not_utf8.status_code == 400
    # Nothing of the rejected files was stored.
    assert len(client.get(f"/api/v1/manage/venues/{venue_id}/layout", headers=owner.headers).get_json()["seats"]) == 5


def test_a_layout_with_bookings_cannot_change_destructively(client, app, make, owner, gateway):
    show = scheduled_show(client, app, owner)
    venue_id, fan = show["venueId"], make.fan()
    book(client, gateway, fan, show["showId"], ["A4"])
    for change in (
        lambda: client.delete(f"/api/v1/manage/venues/{venue_id}/layout/sections/Stalls", headers=owner.headers),
        lambda: client.patch(
            f"/api/v1/manage/venues/{venue_id}/layout/seats",
            json={"seatIds": ["B1"], "tier": "premium"},
            headers=owner.headers,
        ),
        lambda: client.post(
            f"/api/v1/manage/venues/{venue_id}/layout/import",
            data=GOOD_CSV,
            content_type="text/csv",
            headers=owner.headers,
        ),
    ):
        r = change()
        assert r.status_code == 409, r.get_json()
        assert r.get_json()["error"]["code"] == "LAYOUT_IN_USE"
        assert r.get_json()["error"]["showIds"] == [show["showId"]]
    assert len(fetch(app, "SELECT 1 FROM venue_seats WHERE venue_id = :v", v=int(venue_id))) == 18
    # Additions and marks are fine, and reach the show at once.
    more = add_rows(
        client,
        owner,
        venue_id,
        section="Gallery",
        rows="G",
        seatsPerRow=2,
        accessible=[],
        companion=[],
        notForSale=[],
        seatIdPrefix="GAL-",
    )
    assert more.status_code == 201, more.get_json()
    kill = client.patch(
        f"/api/v1/manage/venues/{venue_id}/layout/seats",
        json={"seatIds": ["B2"], "sellable": False},
        headers=owner.headers,
    )
    assert kill.status_code == 200
    states = dict(
        fetch(
            app,
            "SELECT seat_id, status FROM show_seats WHERE show_id = :s AND seat_id = ANY(:ids)",
            s=int(show["showId"]),
            ids=["GAL-G1", "B2", "A4"],
        )
    )
    assert states == {"GAL-G1": "AVAILABLE", "B2": "BLOCKED", "A4": "BOOKED"}
    seatmap = client.get(f"/api/v1/shows/{show['showId']}/seatmap").get_json()
    assert {s["seatId"]: s["status"] for s in seatmap["seats"]}["B2"] == "BOOKED"  # not for sale, to fans


def test_a_new_tier_needs_prices_in_scheduled_shows(client, app, owner):
    show = scheduled_show(client, app, owner)
    r = add_rows(
        client,
        owner,
        show["venueId"],
        section="Boxes",
        rows="X",
        seatsPerRow=2,
        tier="box",
        accessible=[],
        companion=[],
        notForSale=[],
        seatIdPrefix="BOX-",
    )
    assert r.status_code == 400 and r.get_json()["error"]["unpricedTiers"] == ["box"]
    priced = client.patch(
        f"/api/v1/manage/shows/{show['showId']}", json={"prices": {"standard": 4500}}, headers=owner.headers
    )
    assert priced.status_code == 200


# ---------------------------------------------------------------- events and shows


def test_schedule_a_show_in_venue_time_and_a_fan_books_it(client, app, make, owner, gateway, mail):
    show = scheduled_show(
        client, app, owner, refundPolicy={"rules": [{"hoursBefore": 24, "refundPercent": 100}], "feeMinor": 100}
    )
    # 19:30 wall-clock in London, with London's offset on that date.
    assert show["startTime"].startswith(local_start()[:16])
    assert (
        datetime.fromisoformat(show["startTime"]).utcoffset()
        == datetime.fromisoformat(local_start()).replace(tzinfo=ZoneInfo("Europe/London")).utcoffset()
    )
    assert show["prices"] == {"standard": 4500} and show["refundPolicy"]["feeMinor"] == 100
    detail = client.get(f"/api/v1/shows/{show['showId']}").get_json()
    assert detail["status"] == "SCHEDULED" and detail["saleStatus"] == "ON_SALE"
    fan = make.fan()
    booking_id = book(client, gateway, fan, show["showId"], ["A4", "A5"])
    assert client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()["amount"] == 9000
    # Out-of-sale seats cannot be held by fans.
    r = client.post(f"/api/v1/shows/{show['showId']}/holds", json={"seatIds": ["C6"]}, headers=fan.headers)
    assert r.status_code == 409


@pytest.mark.parametrize(
    "change, field",
    [
        ({"startTime": "2020-01-01T10:00:00"}, "startTime"),
        ({"saleOpensAt": "2090-01-01T10:00:00+00:00"}, "saleClosesAt"),
        ({"prices": {"nosuchtier": 100}}, None),
        ({"prices": {"standard": -1}}, "prices.standard"),
        ({"currency": "pounds"}, "currency"),
        ({"startTime": "not a time"}, "startTime"),
        ({"startTime": 1700000000}, "startTime"),
        ({"refundPolicy": {"rules": [{"hoursBefore": 1, "refundPercent": 140}]}}, "refundPolicy.rules.0.refundPercent"),
        ({"queue": {"batchSize": 0}}, "queue.batchSize"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_show_input_is_refused_and_stores_nothing(client, app, owner, change, field):
    venue_id = create_venue(client, app, owner)
    add_rows(client, owner, venue_id)
    event_id = create_event(client, owner)
    r = create_show(client, owner, event_id, venue_id, **change)
    assert r.status_code == 400, r.get_json()
    if field:
        assert field in [f["field"] for f in r.get_json()["error"].get("fields", [])], r.get_json()
    assert fetch(app, "SELECT id FROM shows") == []


def test_a_wall_clock_time_that_does_not_exist_is_refused(client, app, owner):
    venue_id = create_venue(client, app, owner)
    add_rows(client, owner, venue_id)
    event_id = create_event(client, owner)
    year = datetime.now().year + 1
    # Clocks go forward in London at 01:00 on the last Sunday of March: 01:30 does not exist.
    march = max(datetime(year, 3, d) for d in range(25, 32) if datetime(year, 3, d).weekday() == 6)
    r = create_show(client, owner, event_id, venue_id, startTime=f"{march.date()}T01:30:00")
    assert r.status_code == 400 and "does not exist" in r.get_json()["error"]["message"]


def test_duplicate_show_event_and_venue_are_409(client, app, owner):
    show = scheduled_show(client, app, owner)
    again = create_show(client, owner, show["eventId"], show["venueId"], startTime=local_start())
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "SHOW_EXISTS"
    r = client.post(
        "/api/v1/manage/events",
        json={"title": "Lantern Festival", "category": "concert", "durationMinutes": 90},
        headers=owner.headers,
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "EVENT_EXISTS"
    r = client.post(
        "/api/v1/manage/venues",
        json={"cityId": city_id(app), "name": "The Roundhouse", "kind": "theatre"},
        headers=owner.headers,
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "VENUE_EXISTS"


def test_edit_a_show_and_make_it_queue_protected(client, app, owner, make):
    show = scheduled_show(client, app, owner)
    r = client.patch(
        f"/api/v1/manage/shows/{show['showId']}",
        json={
            "startTime": local_start(days=12, hour=20, minute=0),
            "prices": {"standard": 5000},
            "queue": {"batchSize": 50, "admissionIntervalSeconds": 5, "maxActive": 200, "sessionSeconds": 300},
        },
        headers=owner.headers,
    )
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert edited["startTime"].startswith(local_start(days=12, hour=20, minute=0)[:16])
    assert edited["prices"] == {"standard": 5000} and edited["queueRequired"]
    assert edited["queue"]["batchSize"] == 50 and edited["queue"]["state"] == "OPEN"
    fan = make.fan()
    held = client.post(f"/api/v1/shows/{show['showId']}/holds", json={"seatIds": ["A4"]}, headers=fan.headers)
    assert held.status_code == 403 and held.get_json()["error"]["code"] == "ADMISSION_REQUIRED"
    figures = client.get(f"/api/v1/manage/events/{show['eventId']}/queue", headers=owner.headers)
    assert figures.status_code == 200 and figures.get_json()["batchSize"] == 50
    paused = client.post(f"/api/v1/manage/events/{show['eventId']}/queue/pause", headers=owner.headers)
    assert paused.status_code == 200 and paused.get_json()["state"] == "PAUSED"
    assert client.post(f"/api/v1/manage/events/{show['eventId']}/queue/fly", headers=owner.headers).status_code == 404
    off = client.patch(f"/api/v1/manage/shows/{show['showId']}", json={"queueRequired": False}, headers=owner.headers)
    assert off.status_code == 200 and not off.get_json()["queueRequired"]


def test_changes_made_through_the_apis_show_on_the_dashboard_at_once(client, app, owner):
    """The dashboard's figures are shared through Redis for two seconds; a change a manager makes is
    seen on the next read, whichever way it was made: the manager API, the gate's API or the pages."""
    show = scheduled_show(client, app, owner)
    dashboard = f"/api/v1/manage/shows/{show['showId']}/dashboard"
    assert client.get(dashboard, headers=owner.headers).get_json()["waitingRoom"] is None  # and now shared
    edited = client.patch(
        f"/api/v1/manage/shows/{show['showId']}",
        headers=owner.headers,
        json={"queue": {"batchSize": 5, "admissionIntervalSeconds": 2, "maxActive": 20, "sessionSeconds": 300}},
    )
    assert edited.status_code == 200, edited.get_json()
    assert client.get(dashboard, headers=owner.headers).get_json()["waitingRoom"]["state"] == "OPEN"
    paused = client.post(f"/api/v1/manage/events/{show['eventId']}/queue/pause", headers=owner.headers)
    assert paused.status_code == 200
    assert client.get(dashboard, headers=owner.headers).get_json()["waitingRoom"]["state"] == "PAUSED"
    gate = create_gate_app(app.extensions["seatline.settings"]).test_client()
    resumed = gate.post(f"/gate/v1/queues/{show['eventId']}/resume", headers=owner.headers)
    assert resumed.status_code == 200 and resumed.get_json()["state"] == "OPEN"
    assert client.get(dashboard, headers=owner.headers).get_json()["waitingRoom"]["state"] == "OPEN"
    blocked = client.post(
        f"/api/v1/manage/shows/{show['showId']}/seats/block", json={"seatIds": ["A4"]}, headers=owner.headers
    )
    assert blocked.status_code == 200
    assert client.get(dashboard, headers=owner.headers).get_json()["seats"]["blocked"] == 2  # C6 was never for sale


# ---------------------------------------------------------------- box office, figures, export


def test_box_office_sees_holders_and_takes_seats_out_of_sale(client, app, make, owner, gateway):
    show = scheduled_show(client, app, owner)
    sid, fan, other = show["showId"], make.fan(), make.fan()
    book(client, gateway, fan, sid, ["A4"])
    client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["A5"]}, headers=other.headers)
    seats = {
        s["seatId"]: s
        for s in client.get(f"/api/v1/manage/shows/{sid}/seats", headers=owner.headers).get_json()["seats"]
    }
    assert seats["A4"]["status"] == "BOOKED" and seats["A4"]["holder"]["userId"] == str(fan.user_id)
    assert seats["A5"]["status"] == "HELD" and seats["A5"]["holder"]["userId"] == str(other.user_id)
    assert seats["C6"]["status"] == "BLOCKED" and seats["C6"]["blockKind"] == "KILL"

    taken = client.post(
        f"/api/v1/manage/shows/{sid}/seats/block",
        json={"seatIds": ["B1", "A5"], "kind": "HOUSE"},
        headers=owner.headers,
    )
    assert taken.status_code == 409 and taken.get_json()["error"]["seatIds"] == ["A5"]
    assert (
        fetch(app, "SELECT status FROM show_seats WHERE show_id = :s AND seat_id = 'B1'", s=int(sid))[0].status
        == "AVAILABLE"
    )
    ok = client.post(
        f"/api/v1/manage/shows/{sid}/seats/block",
        json={"seatIds": ["B1", "B2"], "kind": "HOUSE"},
        headers=owner.headers,
    )
    assert ok.status_code == 200, ok.get_json()
    r = client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B1"]}, headers=fan.headers)
    assert r.status_code == 409
    back = client.post(
        f"/api/v1/manage/shows/{sid}/seats/unblock", json={"seatIds": ["B1", "B3"]}, headers=owner.headers
    )
    assert back.status_code == 200 and back.get_json()["seatIds"] == ["B1"]
    assert client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B1"]}, headers=fan.headers).status_code == 201
    for body in ({"seatIds": []}, {"seatIds": ["ZZ9"]}, {"seatIds": ["B3", "B3"]}, {"seatIds": ["B3"], "kind": "X"}):
        assert (
            client.post(f"/api/v1/manage/shows/{sid}/seats/block", json=body, headers=owner.headers).status_code == 400
        )
    assert client.get(f"/api/v1/manage/shows/{sid}/seats?section=Nope", headers=owner.headers).status_code == 404


def test_live_figures_and_bookings_export(client, app, make, owner, gateway):
    show = scheduled_show(client, app, owner)
    sid = show["showId"]
    fans = [make.fan() for _ in range(3)]
    for fan, seats in zip(fans, (["A4", "A5"], ["B1"], ["B2"])):
        book(client, gateway, fan, sid, seats)
    client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B3"]}, headers=fans[0].headers)
    run_sql(app, "UPDATE users SET name = '=HYPERLINK(\"x\")' WHERE id = :u", u=fans[1].user_id)
    figures = client.get(f"/api/v1/manage/shows/{sid}/dashboard", headers=owner.headers).get_json()
    assert figures["seats"] == {"total": 18, "available": 12, "held": 1, "booked": 4, "blocked": 1}
    assert figures["revenue"] == {"amount": 4 * 4500, "refunded": 0, "currency": "GBP"}
    assert figures["bookings"] == {"confirmed": 3, "cancelled": 0}
    assert figures["holdsPerMinute"] == 4 and figures["bookingsPerMinute"] == 3
    assert len(figures["salesOverTime"]) == 60 and figures["salesOverTime"][-1]["seatsBooked"] == 4

    export = client.get(f"/api/v1/manage/shows/{sid}/bookings.csv", headers=owner.headers)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert len(rows) == 3 and {r["seats"] for r in rows} == {"A4 A5", "B1", "B2"}
    assert {r["amount"] for r in rows} == {"90.00", "45.00"}
    assert any(r["fan_name"].startswith("'=") for r in rows)  # a formula is kept as text


# ---------------------------------------------------------------- cancelling a show


def test_cancel_a_show_refunds_everyone_once_and_stops_the_sale(client, app, make, owner, gateway, mail):
    show = scheduled_show(client, app, owner)
    sid = show["showId"]
    fans = [make.fan() for _ in range(4)]
    bookings = [book(client, gateway, fan, sid, [seat]) for fan, seat in zip(fans, ["A1", "A2", "A4", "A5"])]
    holder, payer = make.fan(), make.fan()
    client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B1"]}, headers=holder.headers)
    paying = client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B2"]}, headers=payer.headers).get_json()
    intent = client.post(f"/api/v1/holds/{paying['holdId']}/payment-intents", headers=payer.headers).get_json()

    r = client.post(
        f"/api/v1/manage/shows/{sid}/cancel", json={"reason": "The artist is unwell."}, headers=owner.headers
    )
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status"] == "CANCELLED" and r.get_json()["bookings"] == 4
    # The sale stops at once, before any job has run.
    late = client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B3"]}, headers=make.fan().headers)
    assert late.status_code == 422 and late.get_json()["error"]["code"] == "SALE_CLOSED"
    # The paying fan's money arrives after the cancellation: it is refunded, not booked.
    gateway.succeed(intent["paymentIntentId"])
    run_jobs(app)
    progress = client.get(f"/api/v1/manage/shows/{sid}/cancellation", headers=owner.headers).get_json()
    assert progress["done"], progress
    assert progress["bookingsCancelled"] == 4 and progress["refundsCompleted"] == 4 and progress["emailsSent"] == 4
    assert progress["liveHolds"] == 0
    for fan, booking_id in zip(fans, bookings):
        b = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()
        assert b["status"] == "CANCELLED" and b["refundAmount"] == b["amount"] == 4500
        assert b["refund"] == {"amount": 4500, "status": "SUCCEEDED"}
    assert (
        fetch(app, "SELECT count(*) AS n FROM bookings WHERE payment_intent_id = :pi", pi=intent["paymentIntentId"])[
            0
        ].n
        == 0
    )
    refunds = dict(fetch(app, "SELECT payment_intent_id, reason FROM refunds"))
    assert refunds[intent["paymentIntentId"]] == "SHOW_CANCELLED" and len(refunds) == 5
    assert fetch(app, "SELECT status FROM holds WHERE user_id = :u", u=holder.user_id)[0].status == "RELEASED"
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}
    for fan in fans:
        email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
        cancelled = [m for m in mail.to(email) if "cancelled" in m["Subject"]]
        assert len(cancelled) == 1 and "The artist is unwell." in text_body(cancelled[0])
    assert client.get(f"/api/v1/shows/{sid}").get_json()["status"] == "CANCELLED"

    # Again: nothing more happens.
    again = client.post(f"/api/v1/manage/shows/{sid}/cancel", headers=owner.headers)
    assert again.status_code == 200 and again.get_json()["done"]
    run_jobs(app)
    assert len(fetch(app, "SELECT 1 FROM refunds")) == 5
    assert (
        client.patch(f"/api/v1/manage/shows/{sid}", json={"prices": {"standard": 1}}, headers=owner.headers).status_code
        == 409
    )


def test_a_cancellation_left_unfinished_is_resumed_by_the_sweeper(client, app, make, owner, gateway, rds):
    show = scheduled_show(client, app, owner)
    sid = show["showId"]
    for seat in ("A1", "A2", "A4"):
        book(client, gateway, make.fan(), sid, [seat])
    client.post(f"/api/v1/manage/shows/{sid}/cancel", headers=owner.headers)
    rds.flushdb()  # the queued job is lost
    from workers import jobs

    counts = jobs.sweep()
    assert counts["cancel_show"] == 1
    run_jobs(app)
    progress = client.get(f"/api/v1/manage/shows/{sid}/cancellation", headers=owner.headers).get_json()
    assert progress["done"] and progress["refundsCompleted"] == 3
    assert jobs.sweep()["cancel_show"] == 0


def test_racing_creates_get_one_thing_and_409s(client, app, make, owner):
    from tests.support.races import run_together

    city = city_id(app)
    venue = {"cityId": city, "name": "Twin Hall", "kind": "theatre"}
    event = {"title": "Twin Night", "category": "concert", "durationMinutes": 60}

    def attempt(i, start_line):
        path, body = ("/api/v1/manage/venues", venue) if i % 2 else ("/api/v1/manage/events", event)
        http = app.test_client()
        start_line.wait()
        return http.post(path, json=body, headers=owner.headers).status_code

    statuses = run_together(16, attempt)
    assert sorted(statuses) == [201, 201] + [409] * 14
    admin = make.fan(role="admin")
    r = client.post(
        "/api/v1/manage/venues", json={**venue, "name": "Nowhere", "organisationId": "999999"}, headers=admin.headers
    )
    assert r.status_code == 400


def test_kinds_of_out_of_sale_and_layout_kills(client, app, owner):
    show = scheduled_show(client, app, owner)
    sid = show["showId"]
    kill = client.post(
        f"/api/v1/manage/shows/{sid}/seats/block", json={"seatIds": ["B1"], "kind": "KILL"}, headers=owner.headers
    )
    house = client.post(
        f"/api/v1/manage/shows/{sid}/seats/block", json={"seatIds": ["B1"], "kind": "HOUSE"}, headers=owner.headers
    )
    assert kill.status_code == house.status_code == 200
    assert (
        fetch(app, "SELECT block_kind FROM show_seats WHERE show_id = :s AND seat_id = 'B1'", s=int(sid))[0].block_kind
        == "HOUSE"
    )
    # C6 is not for sale in the venue's layout: only a layout change puts it on sale.
    r = client.post(f"/api/v1/manage/shows/{sid}/seats/unblock", json={"seatIds": ["C6", "B1"]}, headers=owner.headers)
    assert r.get_json()["seatIds"] == ["B1"]


def test_queue_protection_keeps_the_rooms_settings(client, app, owner):
    show = scheduled_show(
        client,
        app,
        owner,
        queue={"batchSize": 7, "admissionIntervalSeconds": 3, "maxActive": 70, "sessionSeconds": 300},
    )
    assert show["queue"]["batchSize"] == 7
    off = client.patch(f"/api/v1/manage/shows/{show['showId']}", json={"queueRequired": False}, headers=owner.headers)
    on = client.patch(f"/api/v1/manage/shows/{show['showId']}", json={"queueRequired": True}, headers=owner.headers)
    assert not off.get_json()["queueRequired"] and on.get_json()["queueRequired"]
    assert on.get_json()["queue"]["batchSize"] == 7
    bad = client.patch(
        f"/api/v1/manage/shows/{show['showId']}",
        json={"queue": {"admissionIntervalSeconds": "3"}},
        headers=owner.headers,
    )
    assert bad.status_code == 400
    # Cancelling the event's only protected show closes its waiting room.
    client.post(f"/api/v1/manage/shows/{show['showId']}/cancel", headers=owner.headers)
    assert fetch(app, "SELECT state FROM gate_queues WHERE event_id = :e", e=int(show["eventId"]))[0].state == "CLOSED"


def test_a_gateway_outage_during_cancellation_delays_only_the_paying_holds(client, app, make, owner, gateway):
    from app.payments.gateway import GatewayUnavailable
    from workers import jobs

    show = scheduled_show(client, app, owner)
    sid, fan, payer = show["showId"], make.fan(), make.fan()
    booking_id = book(client, gateway, fan, sid, ["A1"])
    paying = client.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": ["B2"]}, headers=payer.headers).get_json()
    client.post(f"/api/v1/holds/{paying['holdId']}/payment-intents", headers=payer.headers)
    client.post(f"/api/v1/manage/shows/{sid}/cancel", headers=owner.headers)
    gateway.fault(kind="api_error", path="/v1/payment_intents", count=50)
    with pytest.raises(GatewayUnavailable):
        jobs.cancel_show(int(sid))
    # The bookings did not wait for the gateway; the paying hold does.
    assert fetch(app, "SELECT status FROM bookings WHERE id = :b", b=booking_id)[0].status == "CANCELLED"
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=paying["holdId"])[0].status == "ACTIVE"
    gateway.clear_faults()
    assert jobs.cancel_show(int(sid)) is True
    run_jobs(app)
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=paying["holdId"])[0].status != "ACTIVE"
    progress = client.get(f"/api/v1/manage/shows/{sid}/cancellation", headers=owner.headers).get_json()
    assert progress["done"] and progress["refundsCompleted"] == 1
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}


def test_edit_an_event(client, app, make, owner):
    first, second = create_event(client, owner, "First Light"), create_event(client, owner, "Second Light")
    r = client.patch(
        f"/api/v1/manage/events/{first}",
        json={"title": "First Light (matinee)", "durationMinutes": 80},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.get_json()["title"] == "First Light (matinee)"
    assert r.get_json()["durationMinutes"] == 80
    taken = client.patch(f"/api/v1/manage/events/{first}", json={"title": "Second Light"}, headers=owner.headers)
    assert taken.status_code == 409
    assert client.patch(f"/api/v1/manage/events/{first}", json={}, headers=owner.headers).status_code == 400
    rival = make.fan(role="manager", organisation="Rival Venues")
    assert (
        client.patch(f"/api/v1/manage/events/{second}", json={"title": "Mine"}, headers=rival.headers).status_code
        == 404
    )
    assert fetch(app, "SELECT title FROM events WHERE id = :e", e=int(second))[0].title == "Second Light"
