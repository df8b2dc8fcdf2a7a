"""A venue manager's day in Chromium: build a small venue, schedule a show, watch a fan book it from
another browser, take a seat out of sale, and cancel the show with every fan refunded."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from app.accounts import services as accounts
from app.booking.invariants import money_invariant_violations
from app.unit_of_work import unit_of_work
from devstack.mail import text_body
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.support.db import TEST_ORGANISATION, fetch
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow
PASSWORD = "correct horse"


def manager_account(app, email: str) -> None:
    from app.catalog import scheduling

    with app.app_context(), unit_of_work() as uow:
        org = scheduling.ensure_organisation(uow, TEST_ORGANISATION)
        accounts.register(
            uow,
            app.extensions["seatline.passwords"],
            email,
            PASSWORD,
            "Mona Manager",
            role="manager",
            organisation_id=org,
        )


def log_in(page, base, email, next_path=""):
    page.goto(f"{base}/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")


def test_build_schedule_watch_and_cancel(app, live_server, live_gateway, worker, browser, make, smtp_sink):
    live_gateway.reset()
    sink, _ = smtp_sink
    sink.clear()
    make.show(city="Leeds", timezone_name="Europe/London", title="Earlier Night")  # the city, and another venue
    manager_account(app, "mona@example.com")
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "fran@example.com", "password": PASSWORD, "name": "Fran Fan"},
    )
    a11y = {}

    desk = browser.new_page()
    log_in(desk, live_server, "mona@example.com")
    desk.wait_for_url(f"{live_server}/manage")
    a11y["overview"] = violations(desk)

    # A small venue: two rows with an aisle, an accessible seat and one not for sale.
    desk.click("text=New venue")
    desk.select_option("select[name=cityId]", label="Leeds")
    desk.fill("input[name=name]", "Corn Exchange")
    desk.select_option("select[name=kind]", "concert_hall")
    desk.click("button >> text=Create venue")
    desk.wait_for_selector("text=Venue created")
    form = desk.locator("[data-testid=add-rows]")
    form.locator("input[name=section]").fill("Stalls")
    form.locator("input[name=rows]").fill("A-B")
    form.locator("input[name=seatsPerRow]").fill("6")
    form.locator("input[name=tier]").fill("standard")
    form.locator("input[name=aislesAfter]").fill("3")
    form.locator("input[name=accessible]").fill("A1")
    form.locator("input[name=notForSale]").fill("B6")
    form.locator("button").click()
    desk.wait_for_selector("[data-testid=plan-Stalls]")
    assert desk.locator("[data-testid=plan-Stalls] .cell").count() == 12
    desk.screenshot(path=str(SCREENSHOTS / "manage-venue-editor.png"), full_page=True)
    a11y["venue editor"] = violations(desk)

    # An event and its show, at 20:00 Leeds time.
    desk.click("text=New event")
    desk.fill("input[name=title]", "Northern Lights Quartet")
    desk.click("button >> text=Create event")
    desk.wait_for_url(f"{live_server}/manage/shows/new")
    desk.select_option("select[name=eventId]", label="Northern Lights Quartet")
    # Choosing the venue swaps in its price fields (htmx): wait for that answer, or the fields filled
    # below may be the first venue's, replaced a moment later by empty ones.
    with desk.expect_response(lambda r: "venueId=" in r.url and "/manage/shows/new" in r.url):
        desk.select_option("select[name=venueId]", label="Corn Exchange, Leeds")
    expect(desk.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)  # swapped and settled
    desk.wait_for_selector("input[name=price-standard]")
    day = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=4)
    desk.fill("input[name=startTime]", f"{day}T20:00")
    desk.fill("input[name=saleOpensAt]", f"{day - timedelta(days=10)}T09:00")
    desk.fill("input[name=currency]", "GBP")
    desk.fill("input[name=price-standard]", "30.00")
    desk.screenshot(path=str(SCREENSHOTS / "manage-new-show.png"), full_page=True)
    a11y["new show"] = violations(desk)
    desk.click("button >> text=Schedule show")
    desk.wait_for_selector("text=Show scheduled")
    show_id = re.search(r"/manage/shows/(\d+)$", desk.url).group(1)
    assert desk.text_content("[data-testid=available]") == "11"

    # A fan books two seats from another browser while the manager watches.
    fan = browser.new_context().new_page()
    log_in(fan, live_server, "fran@example.com", f"/shows/{show_id}")
    fan.wait_for_url(f"{live_server}/shows/{show_id}")
    fan.check("input[value=A2]")
    fan.check("input[value=A4]")
    fan.click("text=Hold seats")
    wait_for(lambda: desk.text_content("[data-testid=held]") == "2", timeout=15)
    fan.click("[data-testid=pay]")
    fan.click("[data-testid=hosted-pay]")  # the gateway's page (README "Hosted checkout")
    fan.fill("#cardnumber", "4242 4242 4242 4242")
    fan.click("button >> text=Pay")
    fan.wait_for_selector("[data-testid=tickets]")
    wait_for(lambda: desk.text_content("[data-testid=booked]") == "2", timeout=15)
    assert desk.text_content("[data-testid=revenue]") == "£60.00"
    desk.screenshot(path=str(SCREENSHOTS / "manage-live-sale.png"), full_page=True)
    a11y["live sale"] = violations(desk)

    # The box office sees who has the seats, and holds one for the house.
    desk.click("text=Box office seat map")
    assert "Fran Fan" in desk.text_content("[data-testid=holders]")
    desk.check("input[data-seat=B1]")
    desk.select_option("select[name=action]", "HOUSE")
    desk.click("button >> text=Apply")
    desk.wait_for_selector("text=Taken out of sale")
    assert desk.get_attribute("input[data-seat=B1]", "data-status") == "BLOCKED"
    desk.screenshot(path=str(SCREENSHOTS / "manage-box-office.png"), full_page=True)
    a11y["box office"] = violations(desk)

    def taken_for_fans():
        fan.goto(f"{live_server}/shows/{show_id}")  # seat maps may be a second or two old
        return fan.is_disabled("input[value=B1]")

    wait_for(taken_for_fans, timeout=10)

    # Cancel: the dialog wants CANCEL typed; then the refunds run and the page shows them done.
    desk.click("text=live sale")
    desk.click("[data-testid=cancel-open]")
    dialog = desk.locator("#cancel-dialog")
    dialog.locator("textarea[name=reason]").fill("The quartet's flight was cancelled.")
    dialog.locator("input[name=confirm]").fill("CANCEL")
    desk.screenshot(path=str(SCREENSHOTS / "manage-cancel-dialog.png"), full_page=True)
    dialog.locator("button >> text=Cancel the show and refund everyone").click()
    desk.wait_for_selector("[data-testid=cancel-done]", timeout=30_000)
    assert desk.text_content("[data-testid=show-status]") == "cancelled"
    desk.screenshot(path=str(SCREENSHOTS / "manage-cancelled.png"), full_page=True)

    booking = fetch(
        app, "SELECT status, refund_amount, payment_intent_id FROM bookings WHERE show_id = :s", s=int(show_id)
    )
    assert [(b.status, b.refund_amount) for b in booking] == [("CANCELLED", 6000)]
    assert live_gateway.intent(booking[0].payment_intent_id)["amount_refunded"] == 6000
    mail = wait_for(lambda: [m for m in sink.to("fran@example.com") if "cancelled" in m["Subject"]], timeout=20)
    assert len(mail) == 1 and "flight was cancelled" in text_body(mail[0])
    fan.goto(f"{live_server}/shows/{show_id}")
    assert "cancelled" in fan.text_content("main").lower()
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, live_gateway.intents()) == {}
    assert {page: found for page, found in a11y.items() if found} == {}
