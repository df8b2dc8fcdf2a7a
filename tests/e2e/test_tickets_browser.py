"""A fan's tickets in headless Chromium: the booking page's PDF download (its QR codes read back with
zxing-cpp) and the Transfer form, against the app under gunicorn."""

from __future__ import annotations

import io

import pytest
import requests
import zxingcpp
from pypdf import PdfReader

pytestmark = pytest.mark.slow


def register(base: str, email: str) -> dict[str, str]:
    r = requests.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "Fan"}, timeout=10
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def book_free(base: str, headers: dict[str, str], show_id: int, seats: list[str]) -> str:
    hold = requests.post(f"{base}/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=headers, timeout=10)
    assert hold.status_code == 201, hold.text
    confirmed = requests.post(f"{base}/api/v1/holds/{hold.json()['holdId']}/confirm", headers=headers, timeout=10)
    assert confirmed.status_code == 201, confirmed.text
    return confirmed.json()["bookingId"]


def test_download_the_pdf_then_transfer_the_tickets(live_server, browser, make):
    show = make.show(rows=2, per_row=4, title="Browser Ball", prices={"gold": 0, "silver": 0})
    owner = register(live_server, "holder@example.com")
    friend = register(live_server, "friend@example.com")
    booking_id = book_free(live_server, owner, show.show_id, ["A2", "A3"])
    codes = [
        t["code"] for t in requests.get(f"{live_server}/api/v1/bookings/{booking_id}", headers=owner).json()["tickets"]
    ]

    page = browser.new_page()
    page.goto(f"{live_server}/login?next=/bookings/{booking_id}")
    page.fill("#email", "holder@example.com")
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/bookings/{booking_id}")

    with page.expect_download() as download:
        page.click("[data-testid=tickets-pdf]")
    pdf = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    assert len(pdf.pages) == 2 and "Browser Ball" in pdf.pages[0].extract_text()
    assert [[found.text for image in p.images for found in zxingcpp.read_barcodes(image.image)] for p in pdf.pages] == [
        [c] for c in codes
    ]

    # Without the confirmation box ticked, the server refuses and shows the form again.
    page.fill("#email", "friend@example.com")
    page.click("text=Transfer tickets")
    page.wait_for_url(f"{live_server}/bookings/{booking_id}/transfer")
    assert page.locator("[data-testid=transfer-form] [role=alert]").count() == 1
    assert requests.get(f"{live_server}/api/v1/bookings/{booking_id}", headers=owner).status_code == 200
    page.check("#confirm")
    page.click("text=Transfer tickets")
    page.wait_for_url(f"{live_server}/bookings?transferred=1")
    assert "transferred" in page.text_content("[data-testid=transferred]")

    assert requests.get(f"{live_server}/api/v1/bookings/{booking_id}", headers=owner).status_code == 404
    moved = requests.get(f"{live_server}/api/v1/bookings/{booking_id}", headers=friend).json()
    assert [t["seatId"] for t in moved["tickets"]] == ["A2", "A3"]
    assert {t["code"] for t in moved["tickets"]}.isdisjoint(codes)
    assert page.goto(f"{live_server}/bookings/{booking_id}").status == 404


def test_the_transfer_form_says_why_a_transfer_is_refused(live_server, browser, make):
    show = make.show(rows=2, per_row=4, prices={"gold": 0, "silver": 0})
    owner = register(live_server, "refused@example.com")
    booking_id = book_free(live_server, owner, show.show_id, ["B1"])
    page = browser.new_page()
    page.goto(f"{live_server}/login?next=/bookings/{booking_id}")
    page.fill("#email", "refused@example.com")
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/bookings/{booking_id}")
    page.fill("#email", "nobody-signed-up@example.com")
    page.check("#confirm")
    page.click("text=Transfer tickets")
    assert "No Seatline account" in page.text_content("[data-testid=transfer-error]")
    assert requests.get(f"{live_server}/api/v1/bookings/{booking_id}", headers=owner).status_code == 200
