"""The waiting list in Chromium: a fan joins a sold-out show's line, sees their place, gets the
offer's email when seats come back (a real worker process makes the offer, the SMTP sink gets the
mail) and follows its link to the checkout."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.conftest import SCREENSHOTS
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow


def test_join_see_the_place_get_the_offer_and_reach_checkout(live_server, worker, browser, make, smtp_sink):
    sink, _ = smtp_sink
    sink.clear()
    show, buyer = make.show(rows=1, per_row=2, title="Waiting List Gala"), make.fan()
    held = requests.post(
        f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1", "A2"]}, headers=buyer.headers
    )
    assert held.status_code == 201
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "waiting@example.com", "password": "correct horse", "name": "Wai"},
    )
    page = browser.new_page()
    page.goto(f"{live_server}/login?next=/shows/{show.show_id}")
    page.fill("#email", "waiting@example.com")
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}")

    # Sold out: the fan joins the line for two seats, by keyboard, and the form answers in place.
    assert "Sold out" in page.text_content("[data-testid=sold-out]")
    page.select_option("#waitlist-quantity", "2")
    page.focus("button >> text=Join the waiting list")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=waitlist-result]")
    assert "number 1" in page.text_content("[data-testid=waitlist-result]")
    page.click("[data-testid=waitlist-result] a")
    page.wait_for_url(f"{live_server}/waitlist")
    assert "number 1 in line" in page.text_content("[data-testid=waitlist-position]")
    page.screenshot(path=str(SCREENSHOTS / "waitlist.png"), full_page=True)

    # The seats come back: the worker offers them to the fan, who gets the link by email.
    released = requests.delete(f"{live_server}/api/v1/holds/{held.json()['holdId']}", headers=buyer.headers)
    assert released.status_code == 200
    [mail] = wait_for(lambda: [m for m in sink.to("waiting@example.com") if "yours to buy" in m["Subject"]], timeout=30)
    link = re.search(r"https?://\S+/holds/[0-9a-f-]{36}", mail.get_payload(decode=True).decode()).group(0)
    page.reload()
    assert "A1, A2" in page.text_content("[data-testid=waitlist-offer]")
    hold_path = link[link.index("/holds/") :]
    assert page.get_attribute("[data-testid=waitlist-pay]", "href") == hold_path

    # Claiming the offer is paying its hold: the normal checkout.
    page.goto(f"{live_server}{hold_path}")
    assert "A1" in page.text_content("main")
    page.click("[data-testid=pay]")
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}{re.escape(hold_path)}/checkout"))
    assert "A1" in page.text_content("main")
    page.screenshot(path=str(SCREENSHOTS / "waitlist-checkout.png"), full_page=True)
