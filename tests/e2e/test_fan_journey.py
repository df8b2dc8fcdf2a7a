"""A fan's first steps over real HTTP: register, find a show, read its seat map, hold, lose a race."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

pytestmark = pytest.mark.slow


def test_register_find_show_hold_and_lose_a_race(live_server, make):
    show = make.show(city="Bengaluru", timezone_name="Asia/Kolkata", title="Opening Night")
    http = requests.Session()

    def register(email):
        r = http.post(
            f"{live_server}/api/v1/auth/register", json={"email": email, "password": "s3cret-pass", "name": "Fan"}
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    ada, bob = register("ada@example.com"), register("bob@example.com")

    cities = http.get(f"{live_server}/api/v1/cities").json()["cities"]
    city_id = next(c["cityId"] for c in cities if c["name"] == "Bengaluru")
    detail = http.get(f"{live_server}/api/v1/shows/{show.show_id}").json()
    local_date = datetime.fromisoformat(detail["startTime"]).date().isoformat()
    listing = http.get(f"{live_server}/api/v1/cities/{city_id}/shows", params={"date": local_date}).json()
    found = next(s for s in listing["shows"] if s["title"] == "Opening Night")
    show_id = found["showId"]

    seatmap = http.get(f"{live_server}/api/v1/shows/{show_id}/seatmap").json()
    assert {s["status"] for s in seatmap["seats"]} == {"AVAILABLE"}

    held = http.post(f"{live_server}/api/v1/shows/{show_id}/holds", json={"seatIds": ["C4", "C5"]}, headers=ada)
    assert held.status_code == 201, held.text
    hold_id = held.json()["holdId"]

    deadline = time.monotonic() + 2.0
    while True:
        seats = {
            s["seatId"]: s["status"] for s in http.get(f"{live_server}/api/v1/shows/{show_id}/seatmap").json()["seats"]
        }
        if seats["C4"] == "HELD" and seats["C5"] == "HELD":
            break
        assert time.monotonic() < deadline, "seat map still stale after 2 s"
        time.sleep(0.1)

    lost = http.post(f"{live_server}/api/v1/shows/{show_id}/holds", json={"seatIds": ["C5", "C6"]}, headers=bob)
    assert lost.status_code == 409
    assert lost.json()["error"] == {
        "code": "SEATS_UNAVAILABLE",
        "message": lost.json()["error"]["message"],
        "seatIds": ["C5"],
    }

    assert http.get(f"{live_server}/api/v1/holds/{hold_id}", headers=ada).json()["status"] == "ACTIVE"
    assert http.get(f"{live_server}/api/v1/holds/{hold_id}", headers=bob).status_code == 404
    assert http.delete(f"{live_server}/api/v1/holds/{hold_id}", headers=ada).status_code == 200
    retry = http.post(f"{live_server}/api/v1/shows/{show_id}/holds", json={"seatIds": ["C5", "C6"]}, headers=bob)
    assert retry.status_code == 201, retry.text


def test_health_and_readiness(live_server):
    assert requests.get(f"{live_server}/healthz").json() == {"status": "ok"}
    ready = requests.get(f"{live_server}/readyz").json()
    assert ready["checks"] == {"postgres": "ok", "redis": "ok"}
