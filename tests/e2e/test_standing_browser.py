"""General admission in Chromium (README "General admission (standing)"): a manager adds a standing
section to a venue on its layout page, and a fan holds two standing places from the show page."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.test_manager_browser import PASSWORD, log_in, manager_account
from tests.support.db import fetch

pytestmark = pytest.mark.slow


def test_a_manager_adds_standing_room_and_a_fan_holds_two_places(app, live_server, browser, make):
    show = make.show(rows=1, per_row=4, title="Floor Night")
    manager_account(app, "mona@example.com")
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "fran@example.com", "password": PASSWORD, "name": "Fran Fan"},
        timeout=30,
    )

    desk = browser.new_page()
    log_in(desk, live_server, "mona@example.com")
    desk.wait_for_url(f"{live_server}/manage")
    desk.goto(f"{live_server}/manage/venues/{show.venue_id}")
    form = desk.locator("[data-testid=add-standing]")
    form.locator("input[name=section]").fill("Floor")
    form.locator("input[name=tier]").fill("silver")
    form.locator("input[name=capacity]").fill("30")
    form.locator("button").click()
    desk.wait_for_selector("text=Layout saved")
    expect(desk.locator("[data-testid=standing-Floor]")).to_be_visible()

    fan = browser.new_context().new_page()
    log_in(fan, live_server, "fran@example.com", f"/shows/{show.show_id}")
    fan.wait_for_url(f"{live_server}/shows/{show.show_id}")
    block = fan.locator("[data-testid=standing]")
    expect(block).to_contain_text("Standing — Floor: 30 left")
    block.locator("select[name=quantity]").select_option("2")
    block.locator("button").click()
    fan.wait_for_url(f"{live_server}/holds/*")
    expect(fan.locator("main")).to_contain_text("Standing, Floor × 2")
    held = fetch(app, "SELECT seat_ids FROM holds WHERE show_id = :s AND status = 'ACTIVE'", s=show.show_id)
    assert [sorted(h.seat_ids) for h in held] == [["FLOOR-0001", "FLOOR-0002"]]
