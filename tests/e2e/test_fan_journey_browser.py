"""A fan's whole journey in Chromium, from the home page to the confirmation email and a refund."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from devstack.mail import text_body
from devstack.processes import free_port
from tests.e2e.conftest import SCREENSHOTS, gunicorn
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow


def log_in(page, base, email, next_path):
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#email", email)
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")


def test_home_to_confirmation_email_and_refund(app, live_server, live_gateway, worker, browser, make, smtp_sink):
    live_gateway.reset()
    sink, _ = smtp_sink
    sink.clear()
    soon = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=3)).replace(
        hour=18, minute=0, second=0, microsecond=0
    )
    show = make.show(city="Mysuru", starts_at=soon, title="Journey Film")
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "journey@example.com", "password": "correct horse", "name": "Jo"},
    )
    page = browser.new_page()
    page.goto(f"{live_server}/?date={soon.date().isoformat()}")
    page.select_option("#city", label="Mysuru")
    page.click("text=Journey Film >> xpath=ancestor::article//a")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}")
    log_in(page, live_server, "journey@example.com", f"/shows/{show.show_id}")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}")
    page.check("input[value=B4]")
    page.check("input[value=B5]")
    page.click("text=Hold seats")
    page.click("[data-testid=pay]")
    page.click("[data-testid=hosted-pay]")  # to the gateway's own page (README "Hosted checkout")
    page.wait_for_url(f"{live_gateway.base}/c/pay/**")
    page.fill("#cardnumber", "4000 0000 0000 0002")
    page.click("button >> text=Pay")
    assert "declined" in page.text_content("[data-testid=decline]")
    page.fill("#cardnumber", "4242 4242 4242 4242")
    page.click("button >> text=Pay")
    page.wait_for_selector("[data-testid=tickets]")
    assert page.locator("[data-testid=tickets] svg").count() == 2
    page.screenshot(path=str(SCREENSHOTS / "confirmation.png"), full_page=True)
    email = wait_for(
        lambda: [m for m in sink.to("journey@example.com") if m["Subject"].startswith("Your tickets")], timeout=20
    )
    assert "B4, B5" in text_body(email[0])
    # Signing up sent a link to confirm the address too (README "Accounts").
    wait_for(lambda: [m for m in sink.to("journey@example.com") if m["Subject"].startswith("Confirm your email")])

    page.click("text=All my bookings")
    page.click("text=Journey Film")
    quote = page.text_content("[data-testid=refund-quote]")
    assert quote == "₹500.00"  # both silver seats, refunded in full three days ahead
    page.screenshot(path=str(SCREENSHOTS / "cancel.png"), full_page=True)
    page.click("text=Cancel and refund")
    page.wait_for_selector("text=Booking cancelled")
    wait_for(lambda: live_gateway.intents()[0]["amount_refunded"] == 50000, timeout=20)
    wait_for(lambda: len(sink.to("journey@example.com")) == 3, timeout=20)  # and the cancellation's


@pytest.fixture
def short_hold_server(app, stack_env):
    """The web app with three-second holds, to watch a countdown run out."""
    with gunicorn("wsgi:app", free_port(), {**stack_env, "HOLD_TTL_SECONDS": "3", "WEB_WORKERS": "1"}) as base:
        yield base


def test_countdown_runs_out_and_the_seats_come_back_at_phone_width(short_hold_server, browser, make):
    base = short_hold_server
    show = make.show(rows=2, per_row=5, title="Short Hold")
    requests.post(
        f"{base}/api/v1/auth/register", json={"email": "short@example.com", "password": "correct horse", "name": "S"}
    )
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    log_in(page, base, "short@example.com", f"/shows/{show.show_id}")
    page.wait_for_url(f"{base}/shows/{show.show_id}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing spills sideways on a phone
    page.screenshot(path=str(SCREENSHOTS / "seat-map-phone.png"), full_page=True)
    page.check("input[value=A3]")
    page.click("text=Hold seats")
    page.wait_for_selector("text=the hold has ended", timeout=10_000)
    page.click("text=Back to the seat map")
    # The map is drawn in the page from the shared seat map copy, so the box may not exist yet and
    # may first show the seat held; a locator waits for both (a wait_for_function predicate would
    # fail at once on the missing box).
    page.locator("input[value=A3]:not([disabled])").wait_for(timeout=10_000)
    assert re.search("available", page.get_attribute("input[value=A3]", "aria-label"))
    statuses = {
        s["seatId"]: s["status"] for s in requests.get(f"{base}/api/v1/shows/{show.show_id}/seatmap").json()["seats"]
    }
    assert statuses["A3"] == "AVAILABLE"
