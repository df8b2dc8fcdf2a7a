from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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


def _days_ahead(days: int) -> date:
    """A date that far ahead (listings answer only within the booking horizon)."""
    return datetime.now(UTC).date() + timedelta(days=days)


def test_shows_are_grouped_by_the_citys_local_date(client, make):
    zone = "Asia/Kolkata"
    day = _days_ahead(10)
    late = _show_at(
        make, "Kolkata", zone, datetime.combine(day, datetime.min.time()).replace(hour=23, minute=30), "Late"
    )  # 18:00 UTC on the day
    early = _show_at(
        make, "Kolkata", zone, datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(hour=1), "Early"
    )  # 19:30 UTC on the day
    response = client.get(f"/api/v1/cities/{late.city_id}/shows?date={day}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["cityId"] == str(late.city_id) and body["date"] == day.isoformat()
    assert [s["title"] for s in body["shows"]] == ["Late"]
    show = body["shows"][0]
    assert show["startTime"] == f"{day}T23:30:00+05:30"
    assert set(show) >= {"showId", "eventId", "title", "venueId", "venueName", "startTime", "status", "queueRequired"}
    next_day = client.get(f"/api/v1/cities/{late.city_id}/shows?date={day + timedelta(days=1)}").get_json()
    assert [s["showId"] for s in next_day["shows"]] == [str(early.show_id)]


def _next_spring_forward() -> date:
    """The next second Sunday of March: New York's clocks go forward at 02:00, a 23-hour day."""
    today = datetime.now(UTC).date()
    for year in (today.year, today.year + 1):
        first = date(year, 3, 1)
        day = first + timedelta(days=(6 - first.weekday()) % 7 + 7)
        if day > today + timedelta(days=1):
            return day
    raise AssertionError("unreachable")


def test_dst_changeover_day_counts_every_local_hour(client, make):
    zone = "America/New_York"
    day = _next_spring_forward()
    at = lambda d, h, m: datetime.combine(d, datetime.min.time()).replace(hour=h, minute=m)  # noqa: E731
    first = _show_at(make, "New York", zone, at(day, 0, 30), "Midnight")
    _show_at(make, "New York", zone, at(day, 23, 30), "Late night")
    _show_at(make, "New York", zone, at(day + timedelta(days=1), 0, 30), "Next day")
    _show_at(make, "New York", zone, at(day - timedelta(days=1), 23, 59), "Day before")
    body = client.get(f"/api/v1/cities/{first.city_id}/shows?date={day}").get_json()
    assert [s["title"] for s in body["shows"]] == ["Midnight", "Late night"]
    assert [s["startTime"] for s in body["shows"]] == [f"{day}T00:30:00-05:00", f"{day}T23:30:00-04:00"]


def test_date_defaults_to_the_citys_today(client, make):
    zone = "Pacific/Kiritimati"  # UTC+14: its date is often not UTC's
    local_now = datetime.now(ZoneInfo(zone))
    show = make.show(city="Kiritimati", timezone_name=zone, starts_at=local_now + timedelta(minutes=1))
    body = client.get(f"/api/v1/cities/{show.city_id}/shows").get_json()
    expected_day = (local_now + timedelta(minutes=1)).date().isoformat()
    assert body["date"] == expected_day
    if body["date"] == local_now.date().isoformat():
        assert [s["showId"] for s in body["shows"]] == [str(show.show_id)]


@pytest.mark.parametrize(
    "date", ["2026-13-01", "2026-02-30", "tomorrow", "2026-1-1", "20260101", "", "2026-01-01T00:00"]
)
def test_bad_date_is_rejected(client, make, date):
    show = make.show()
    response = client.get(f"/api/v1/cities/{show.city_id}/shows", query_string={"date": date})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"


@pytest.mark.parametrize("city_id", ["999999", "abc", "-1", "1.5", "99999999999999999999999"])
def test_unknown_city(client, city_id):
    response = client.get(f"/api/v1/cities/{city_id}/shows?date={_days_ahead(1)}")
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
    for path in (
        f"/api/v1/shows/{show_id}",
        f"/api/v1/shows/{show_id}/seatmap",
        f"/api/v1/shows/{show_id}/seatmap/sections",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "SHOW_NOT_FOUND"


def test_times_carry_an_offset(client, make):
    show = make.show(timezone_name="Europe/London", city="London")
    body = client.get(f"/api/v1/shows/{show.show_id}").get_json()
    for field in ("startTime", "saleOpensAt", "saleClosesAt"):
        assert datetime.fromisoformat(body[field]).tzinfo is not None
    assert datetime.fromisoformat(body["startTime"]) > datetime.now(UTC)


@pytest.mark.parametrize("date_text", ["9999-12-31", "0001-01-01", "1970-01-01", "far-past", "far-future"])
def test_dates_outside_the_booking_horizon_are_refused_and_cache_nothing(client, make, rds, date_text):
    show = make.show()
    today = datetime.now(UTC).date()
    date_text = {
        "far-past": (today - timedelta(days=3)).isoformat(),
        "far-future": (today + timedelta(days=733)).isoformat(),
    }.get(date_text, date_text)
    before = set(rds.keys("{catalog:*"))
    response = client.get(f"/api/v1/cities/{show.city_id}/shows", query_string={"date": date_text})
    assert response.status_code == 400, response.get_data()
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED" and "730 days" in error["message"]
    assert set(rds.keys("{catalog:*")) == before, "no copy, no last good copy, no lock"
    # The same on the site's home page: no error, nothing on that day.
    page = client.get("/", query_string={"city": str(show.city_id), "date": date_text})
    assert page.status_code == 200 and "No shows on this day" in page.get_data(as_text=True)


def test_the_horizon_runs_from_the_day_before_today_to_730_days_ahead(client, make):
    show = make.show()
    today = datetime.now(UTC).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=730)):
        response = client.get(f"/api/v1/cities/{show.city_id}/shows", query_string={"date": day.isoformat()})
        assert response.status_code == 200 and response.get_json()["date"] == day.isoformat()


def test_a_last_good_copy_is_kept_only_of_a_day_with_shows(client, make, rds):
    local = datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=3)
    show = make.show(city="Kolkata", timezone_name="Asia/Kolkata", starts_at=local)
    busy, empty = local.date(), local.date() + timedelta(days=1)
    for day in (busy, empty):
        assert (
            client.get(f"/api/v1/cities/{show.city_id}/shows", query_string={"date": day.isoformat()}).status_code
            == 200
        )
    assert rds.exists(f"{{catalog:shows:{show.city_id}:{busy}}}:last")
    assert not rds.exists(f"{{catalog:shows:{show.city_id}:{empty}}}:last"), "an empty day is not kept for an hour"
    # Errors are never stored, as copies or last good copies.
    assert client.get("/api/v1/cities/999999/shows", query_string={"date": busy.isoformat()}).status_code == 404
    assert client.get(f"/api/v1/shows/{show.show_id}/seatmap", query_string={"section": "Nowhere"}).status_code == 404
    assert rds.keys("{catalog:shows:999999:*") == [] and rds.keys(f"{{seatmap:{show.show_id}:section:*") == []
