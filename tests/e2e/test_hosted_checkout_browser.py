"""Hosted checkout in Chromium (README "Hosted checkout"): the fan pays on the gateway's page, never
on Seatline's, and comes back to the booking; the webhooks alone finish it if the tab is closed."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.support.db import fetch
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow


def to_the_payment_page(page, base, gateway, make, email: str, seat: str) -> str:
    """Signs up and in, holds ``seat`` and goes to the gateway's page; returns the hold's page URL."""
    show = make.show(rows=2, per_row=5, title="Hosted Evening")
    requests.post(f"{base}/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "H"})
    page.goto(f"{base}/login?next=/shows/{show.show_id}")
    page.fill("#email", email)
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/shows/{show.show_id}")
    page.check(f"input[value={seat}]")
    page.click("text=Hold seats")
    page.wait_for_selector("[data-testid=countdown]")
    hold_url = page.url
    page.click("[data-testid=pay]")
    assert page.locator("input[name^=card]").count() == 0  # no card field on Seatline's page
    page.click("[data-testid=hosted-pay]")
    page.wait_for_url(f"{gateway.base}/c/pay/cs_test_*")
    return hold_url


def test_pay_with_4242_and_land_on_the_booking(live_server, live_gateway, worker, browser, make):
    live_gateway.reset()
    page = browser.new_page()
    to_the_payment_page(page, live_server, live_gateway, make, "hosted1@example.com", "A1")
    assert violations(page) == []  # the simulator's page, as keyboard- and screen-reader-friendly as ours
    page.fill("#cardnumber", "4242 4242 4242 4242")
    page.click("button >> text=Pay")
    page.wait_for_selector("[data-testid=tickets]")
    assert page.url.startswith(f"{live_server}/bookings/")
    assert page.locator("[data-testid=tickets] svg").count() == 1


def test_a_decline_then_success_and_the_3d_secure_step(live_server, live_gateway, worker, browser, make):
    live_gateway.reset()
    page = browser.new_page()
    to_the_payment_page(page, live_server, live_gateway, make, "hosted2@example.com", "A2")
    page.fill("#cardnumber", "4000 0000 0000 0002")
    page.click("button >> text=Pay")
    assert "declined" in page.text_content("[data-testid=decline]")
    page.fill("#cardnumber", "4000 0025 0000 3155")
    page.click("button >> text=Pay")
    page.wait_for_selector("text=3D Secure test payment page")
    page.screenshot(path=str(SCREENSHOTS / "hosted-3ds.png"), full_page=True)
    page.click("button >> text=Fail")
    assert "unable to authenticate" in page.text_content("[data-testid=decline]")
    page.fill("#cardnumber", "4000 0025 0000 3155")
    page.click("button >> text=Pay")
    page.click("button >> text=Complete")
    page.wait_for_selector("[data-testid=tickets]")
    assert page.url.startswith(f"{live_server}/bookings/")
    succeeded = [i for i in live_gateway.intents() if i["status"] == "succeeded"]
    assert len(succeeded) == 1  # one intent for the session, paid once after a decline and a failed check


def test_closing_the_tab_before_the_redirect_still_books(app, live_server, live_gateway, worker, browser, make):
    live_gateway.reset()
    context = browser.new_context()
    page = context.new_page()
    to_the_payment_page(page, live_server, live_gateway, make, "hosted3@example.com", "B1")
    # The card reaches the gateway, but the tab is gone before the gateway's answer (the redirect to
    # Seatline's return page) arrives: the return page is never asked.
    answers = []

    def pay_then_vanish(route):
        if route.request.method != "POST":
            route.continue_()
            return
        answers.append(route.fetch(max_redirects=0).status)
        route.abort()

    page.route("**/c/pay/*", pay_then_vanish)
    page.fill("#cardnumber", "4242 4242 4242 4242")
    page.click("button >> text=Pay")
    for _ in range(200):  # Playwright runs the route handler while the page is waited on
        if answers:
            break
        page.wait_for_timeout(50)
    context.close()
    assert answers == [303]
    booked = wait_for(lambda: fetch(app, "SELECT id, seat_ids FROM bookings"), timeout=30)
    assert [b.seat_ids for b in booked] == [["B1"]]
    # Booked by the gateway's webhook (the fan's return page would have booked as the fan).
    actors = fetch(app, "SELECT actor_kind FROM audit_log WHERE action = 'booking.confirmed'")
    assert [a.actor_kind for a in actors] == ["gateway"]
    again = browser.new_page()
    again.goto(f"{live_server}/login?next=/bookings")
    again.fill("#email", "hosted3@example.com")
    again.fill("#password", "correct horse")
    again.keyboard.press("Enter")
    again.wait_for_url(f"{live_server}/bookings")
    assert "Hosted Evening" in again.text_content("main")
