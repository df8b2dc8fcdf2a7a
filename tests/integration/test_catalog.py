from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest


def test_cities_are_listed_with_string_ids(client, make):
    make.show(city="Kolkata", timezone_name="Asia/Kolkata")
    make.show(city="Denver", timezone_name="America/Denver", rows=2)
    response = client.get("/api/v1/cities")
    assert response.status_code == 200
    cities = response.get_json()["cities"]
    assert [c["name"] for c in cities] == ["Denver", "Kolkata"]
    assert all(isinstance(c["cityId"], str) for c in cities)
    assert "public" in response.headers["Cache-Control"]


def _show_at(make, city, zone, local: datetime, title: str):
    return make.show(city=city, timezone_name=zone, starts_at=local.replace(tzinfo=ZoneInfo(zone)), title=title)


def test_shows_are_grouped_by_the_citys_local_date(client, make):
    zone = "Asia/Kolkata"
    late = _show_at(make, "Kolkata", zone, datetime(2026, 12, 1, 23, 30), "Late")  # 18:00 UTC on the 1st
    early = _show_at(make, "Kolkata", zone, datetime(2026, 12, 2, 1, 0), "Early")  # 19:30 UTC on the 1st
    response = client.get(f"/api/v1/cities/{late.city_id}/shows?date=2026-12-01")
    assert response.status_code == 200
    body = response.get_json()
    assert body["cityId"] == str(late.city_id) and body["date"] == "2026-12-01"
    assert [s["title"] for s in body["shows"]] == ["Late"]
    show = body["shows"][0]
    assert show["startTime"] == "2026-12-01T23:30:00+05:30"
    assert set(show) >= {"showId", "eventId", "title", "venueId", "venueName", "startTime", "status", "queueRequired"}
    next_day = client.get(f"/api/v1/cities/{late.city_id}/shows?date=2026-12-02").get_json()
    assert [s["showId"] for s in next_day["shows"]] == [str(early.show_id)]


def test_dst_changeover_day_counts_every_local_hour(client, make):
    zone = "America/New_York"  # clocks go forward at 02:00 on 2026-03-08: a 23-hour day
    first = _show_at(make, "New York", zone, datetime(2026, 3, 8, 0, 30), "Midnight")
    _show_at(make, "New York", zone, datetime(2026, 3, 8, 23, 30), "Late night")
    _show_at(make, "New York", zone, datetime(2026, 3, 9, 0, 30), "Next day")
    _show_at(make, "New York", zone, datetime(2026, 3, 7, 23, 59), "Day before")
    body = client.get(f"/api/v1/cities/{first.city_id}/shows?date=2026-03-08").get_json()
    assert [s["title"] for s in body["shows"]] == ["Midnight", "Late night"]
    assert [s["startTime"] for s in body["shows"]] == ["2026-03-08T00:30:00-05:00", "2026-03-08T23:30:00-04:00"]


def test_date_defaults_to_the_citys_today(client, make):
    zone = "Pacific/Kiritimati"  # UTC+14: its date is often not UTC's
    local_now = datetime.now(ZoneInfo(zone))
    show = make.show(city="Kiritimati", timezone_name=zone, starts_at=local_now + timedelta(minutes=1))
    body = client.get(f"/api/v1/cities/{show.city_id}/shows").get_json()
    expected_day = (local_now + timedelta(minutes=1)).date().isoformat()
    assert body["date"] == expected_day
    if body["date"] == local_now.date().isoformat():
        assert [s["showId"] for s in body["shows"]] == [str(show.show_id)]


@pytest.mark.parametrize("date", ["2026-13-01", "2026-02-30", "tomorrow", "2026-1-1", "20260101", "", "2026-01-01T00:00"])
def test_bad_date_is_rejected(client, make, date):
    show = make.show()
    response = client.get(f"/api/v1/cities/{show.city_id}/shows", query_string={"date": date})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"


@pytest.mark.parametrize("city_id", ["999999", "abc", "-1", "1.5", "99999999999999999999999"])
def test_unknown_city(client, city_id):
    response = client.get(f"/api/v1/cities/{city_id}/shows?date=2026-12-01")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "CITY_NOT_FOUND"


def test_show_detail_has_price_tiers_and_sale_state(client, make):
    show = make.show(prices={"gold": 90000, "silver": 45000})
    response = client.get(f"/api/v1/shows/{show.show_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["showId"] == str(show.show_id)
    assert body["priceTiers"] == [
        {"tier": "gold", "price": 90000, "currency": "INR"},
        {"tier": "silver", "price": 45000, "currency": "INR"},
    ]
    assert body["saleStatus"] == "ON_SALE"
    assert body["venue"]["seatCount"] == 50
    assert datetime.fromisoformat(body["startTime"]).utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    "kwargs,sale_status",
    [
        ({"sale_opens_in": timedelta(hours=2)}, "NOT_OPEN"),
        ({"sale_opens_in": timedelta(days=-2), "sale_closes_in": timedelta(hours=-1)}, "CLOSED"),
        ({"status": "CANCELLED"}, "CANCELLED"),
    ],
)
def test_show_detail_sale_status(client, make, kwargs, sale_status):
    show = make.show(**kwargs)
    assert client.get(f"/api/v1/shows/{show.show_id}").get_json()["saleStatus"] == sale_status


@pytest.mark.parametrize("show_id", ["424242", "x", "0x10", "%20"])
def test_unknown_show(client, show_id):
    for path in (f"/api/v1/shows/{show_id}", f"/api/v1/shows/{show_id}/seatmap", f"/api/v1/shows/{show_id}/seatmap/sections"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "SHOW_NOT_FOUND"


def test_times_carry_an_offset(client, make):
    show = make.show(timezone_name="Europe/London", city="London")
    body = client.get(f"/api/v1/shows/{show.show_id}").get_json()
    for field in ("startTime", "saleOpensAt", "saleClosesAt"):
        assert datetime.fromisoformat(body[field]).tzinfo is not None
    assert datetime.fromisoformat(body["startTime"]) > datetime.now(timezone.utc)
