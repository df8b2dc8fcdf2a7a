"""The waiting-room page in headless Chromium: queue, admission, cookie, seat map, hold."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.conftest import SCREENSHOTS
from tests.support.db import fetch, run_sql

pytestmark = pytest.mark.slow


def test_from_the_queue_to_the_seat_map_in_a_browser(app, live_server, live_gate, browser, make):
    show = make.show(title="Stadium Night")
    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show.show_id)
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    manager = make.fan(role="manager")
    opened = requests.put(
        f"{live_gate}/gate/v1/queues/{event_id}",
        headers=manager.headers,
        json={"batchSize": 1, "admissionIntervalSeconds": 2, "maxActive": 10},
    )
    assert opened.status_code == 200, opened.text
    ahead = [make.fan() for _ in range(2)]
    for fan in ahead:
        requests.post(f"{live_gate}/gate/v1/queues/{event_id}/join", headers=fan.headers)
    registered = requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "queuer@example.com", "password": "s3cret-pass", "name": "Q"},
    ).json()
    headers = {"Authorization": f"Bearer {registered['token']}"}

    # The fan arrives at the show's page, is sent to the queue, signs in there and waits.
    page = browser.new_page()
    page.goto(f"{live_server}/shows/{show.show_id}")
    assert "behind the waiting room" in page.text_content("main")
    page.click("[data-testid=join]")
    page.fill("#email", "queuer@example.com")
    page.fill("#password", "s3cret-pass")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=position]")
    assert int(page.text_content("[data-testid=position]")) == 3
    assert page.get_attribute("progress", "max") == "3"
    page.screenshot(path=str(SCREENSHOTS / "waiting-room.png"), full_page=True)

    # Batches of one every two seconds: the page follows on its own, then lands on the seat map.
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}/shows/{show.show_id}$"), timeout=30_000)
    page.wait_for_selector("[data-testid=admitted]")
    page.screenshot(path=str(SCREENSHOTS / "admitted-seat-map.png"), full_page=True)
    cookie = next(c for c in page.context.cookies() if c["name"] == "seatline_admission")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # The cookie the gate set is the fan's pass to hold seats; without it, the sale is closed to them.
    held = requests.post(
        f"{live_server}/api/v1/shows/{show.show_id}/holds",
        json={"seatIds": ["A1"]},
        headers=headers,
        cookies={"seatline_admission": cookie["value"]},
    )
    assert held.status_code == 201, held.text
    refused = requests.post(
        f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A2"]}, headers=headers
    )
    assert refused.status_code == 403
    blocked = browser.new_page()
    blocked.goto(f"{live_server}/shows/{show.show_id}")
    assert "behind the waiting room" in blocked.text_content("main")
