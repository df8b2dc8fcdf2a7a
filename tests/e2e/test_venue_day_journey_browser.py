"""A venue's show from the manager's desk to the door, in Chromium, through the pages and the real
services: the manager adds standing room to the venue, a presale code to the show and door staff to
the organisation; before the public sale a fan uses the code to buy two standing places on the
gateway's hosted page; at the door, on a phone-sized screen, door staff check one ticket in online
and the other offline, and the offline scan uploads when the phone is back online.

Each step leaves a full-page screenshot in `test-artifacts/screenshots/venue-day/` (README "Tests").
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.e2e.test_manager_browser import PASSWORD, log_in, manager_account
from tests.support.db import fetch

pytestmark = pytest.mark.slow

DAY = SCREENSHOTS / "venue-day"
PHONE = {"width": 390, "height": 844}
MANAGER, FAN, DOOR = "venue.manager@example.com", "floor.fan@example.com", "door.keeper@example.com"
TITLE = "Standing Room Night"


def shot(page, name: str) -> None:
    page.screenshot(path=str(DAY / f"{name}.png"), full_page=True)


def register(base: str, email: str, name: str) -> None:
    r = requests.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name}, timeout=10
    )
    assert r.status_code == 201, r.text


def token(base: str, email: str) -> dict[str, str]:
    r = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def check_in_page(page, code: str) -> None:
    page.fill("#ticket-code", code)
    page.click("text=Check ticket")


def test_a_presale_code_buys_standing_places_that_are_checked_in_online_and_offline(
    app, live_server, live_gateway, worker, browser, make
):
    base = live_server
    live_gateway.reset()
    DAY.mkdir(parents=True, exist_ok=True)
    for old in DAY.glob("*.png"):
        old.unlink()
    show = make.show(rows=1, per_row=4, title=TITLE, sale_opens_in=timedelta(days=2))
    manager_account(app, MANAGER)
    register(base, FAN, "Farah Fan")
    register(base, DOOR, "Dev Door")

    # 1. The manager adds standing room for 20 to the venue's layout.
    desk = browser.new_context().new_page()
    log_in(desk, base, MANAGER)
    desk.wait_for_url(f"{base}/manage")
    desk.goto(f"{base}/manage/venues/{show.venue_id}")
    standing = desk.locator("[data-testid=add-standing]")
    standing.locator("input[name=section]").fill("Floor")
    standing.locator("input[name=tier]").fill("silver")
    standing.locator("input[name=capacity]").fill("20")
    standing.locator("button").click()
    desk.wait_for_selector("text=Layout saved")
    expect(desk.locator("[data-testid=standing-Floor]")).to_be_visible()
    shot(desk, "01-standing-room-added")

    # 2. A presale code for the show: five uses, ten percent off.
    desk.goto(f"{base}/manage/shows/{show.show_id}")
    code_form = desk.locator("[data-testid=new-access-code]")
    code_form.locator("input[name=code]").fill("FLOORFIRST")
    code_form.locator("select[name=kind]").select_option("PRESALE")
    code_form.locator("input[name=percentOff]").fill("10")
    code_form.locator("input[name=maxUses]").fill("5")
    code_form.locator("button[type=submit]").click()
    expect(desk.locator("#access-codes")).to_contain_text("Code FLOORFIRST created.")
    shot(desk, "02-presale-code-created")

    # 3. Door staff: the manager adds the account by email on the overview page.
    desk.goto(f"{base}/manage")
    desk.fill("#door-staff-email", DOOR)
    desk.locator("[data-testid=add-door-staff] button").click()
    expect(desk.locator("[data-testid=door-staff]")).to_contain_text(DOOR)
    shot(desk, "03-door-staff-added")

    # 4. Before the public sale the fan enters the code on the standing block and holds two places.
    fan = browser.new_context().new_page()
    log_in(fan, base, FAN, f"/shows/{show.show_id}")
    fan.wait_for_url(f"{base}/shows/{show.show_id}")
    expect(fan.locator("[data-testid=sale-status]")).to_contain_text("Tickets go on sale on")
    block = fan.locator("[data-testid=standing]")
    expect(block).to_contain_text("Standing — Floor: 20 left")
    expect(block).to_contain_text("Before the sale opens, places can be held with a presale code.")
    block.locator("select[name=quantity]").select_option("2")
    block.locator("[data-testid=standing-access-code]").fill("floorfirst")
    shot(fan, "04a-presale-code-entered")
    block.locator("button[type=submit]").click()
    fan.wait_for_url(re.compile(rf"{re.escape(base)}/holds/[0-9a-f-]{{36}}$"))
    expect(fan.locator("main")).to_contain_text("Standing, Floor × 2")
    expect(fan.locator("[data-testid=hold-discount]")).to_contain_text("FLOORFIRST")
    expect(fan.locator("main")).to_contain_text("₹450.00")  # two places at ₹250.00, ten percent off
    shot(fan, "04b-standing-places-held")

    # 5. Pay on the gateway's hosted page with 4242…: the booking names the places.
    fan.click("[data-testid=pay]")
    fan.click("[data-testid=hosted-pay]")
    fan.wait_for_url(f"{live_gateway.base}/c/pay/cs_test_*")
    expect(fan.locator("body")).to_contain_text("450.00")
    fan.get_by_label(re.compile("card number", re.IGNORECASE)).fill("4242 4242 4242 4242")
    fan.get_by_role("button", name=re.compile("^Pay")).click()
    fan.wait_for_selector("[data-testid=tickets]")
    booking_id = fan.url.rsplit("/", 1)[1]
    expect(fan.locator("[data-testid=tickets]")).to_contain_text("Standing, Floor")
    shot(fan, "05-booked")
    booking = requests.get(f"{base}/api/v1/bookings/{booking_id}", headers=token(base, FAN), timeout=10).json()
    assert booking["amount"] == 45000 and booking["accessCode"] == "FLOORFIRST"
    codes = {t["seatId"]: t["code"] for t in booking["tickets"]}
    assert sorted(codes) == ["FLOOR-0001", "FLOOR-0002"]
    [uses] = fetch(app, "SELECT used FROM access_codes WHERE code = 'FLOORFIRST'")
    assert uses.used == 1

    # 6. At the door, on a phone: door staff land on their shows, open the scanner, name the gate.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    door = phone.new_page()
    door.goto(f"{base}/login")
    door.fill("#email", DOOR)
    door.fill("#password", PASSWORD)
    door.keyboard.press("Enter")
    door.wait_for_url(f"{base}/door")
    door.click(f"a[href='/door/shows/{show.show_id}']")
    door.wait_for_url(f"{base}/door/shows/{show.show_id}")
    door.fill("#gate-input", "Floor gate")
    door.click("text=Save gate")
    door.wait_for_selector("[data-testid=gate-name]:has-text('Floor gate')")
    door.wait_for_selector("[data-scanner][data-offline-ready=true]")
    door.wait_for_function("navigator.serviceWorker.controller !== null")
    assert door.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling

    # Online: the first place is admitted, and shown again it is refused with when and where.
    check_in_page(door, codes["FLOOR-0001"])
    door.wait_for_selector("[data-testid=answer][data-result=admitted]")
    expect(door.locator("[data-testid=answer]")).to_contain_text("Standing, Floor (admission FLOOR-0001)")
    shot(door, "06a-admitted-online")
    door.click("[data-testid=answer] >> text=Next ticket")
    check_in_page(door, codes["FLOOR-0001"])
    door.wait_for_selector("[data-testid=answer][data-result=refused]")
    expect(door.locator("[data-testid=answer]")).to_contain_text("Already admitted at")
    expect(door.locator("[data-testid=answer]")).to_contain_text("Floor gate")
    shot(door, "06b-already-admitted")
    door.click("[data-testid=answer] >> text=Next ticket")
    assert violations(door) == []

    # 7. The network goes: the scanner opens from the phone's copy and admits the second place itself.
    phone.set_offline(True)
    reloaded = door.reload()
    assert reloaded is not None and reloaded.from_service_worker
    door.wait_for_selector("[data-testid=connection]:has-text('Offline')")
    check_in_page(door, codes["FLOOR-0002"])
    door.wait_for_selector("[data-testid=answer][data-result=admitted]")
    expect(door.locator("[data-testid=answer]")).to_contain_text("Standing, Floor (admission FLOOR-0002)")
    shot(door, "07a-admitted-offline")
    door.click("[data-testid=answer] >> text=Next ticket")
    assert "1 scan waiting" in door.inner_text("[data-testid=connection]")
    check_in_page(door, codes["FLOOR-0002"])  # the phone remembers what it admitted offline
    door.wait_for_selector("[data-testid=answer][data-result=refused]")
    door.click("[data-testid=answer] >> text=Next ticket")
    admitted = fetch(app, "SELECT seat_id FROM checkins WHERE show_id = :s ORDER BY seat_id", s=show.show_id)
    assert [a.seat_id for a in admitted] == ["FLOOR-0001"]  # the server has not heard of it yet
    shot(door, "07b-scan-waiting")

    # 8. Back online the waiting scan uploads; the manager's show page counts both.
    phone.set_offline(False)
    door.wait_for_selector("[data-testid=connection][data-waiting='0']")
    admitted = fetch(
        app, "SELECT seat_id, gate, offline FROM checkins WHERE show_id = :s ORDER BY seat_id", s=show.show_id
    )
    assert [(a.seat_id, a.gate, a.offline) for a in admitted] == [
        ("FLOOR-0001", "Floor gate", False),
        ("FLOOR-0002", "Floor gate", True),
    ]
    shot(door, "08a-uploaded")
    desk.goto(f"{base}/manage/shows/{show.show_id}")
    expect(desk.locator("[data-testid=admitted]")).to_contain_text("Admitted 2 of 2")
    shot(desk, "08b-admitted-on-the-dashboard")
    phone.close()
