"""The live ticket in headless Chromium (README "Rotating codes"): its QR code, drawn in the browser,
changes with the 15-second step (Playwright's clock drives the page's time), reads back with zxing-cpp
and checks in over the API; the page opens offline after one visit; the scanner's verifier
(app/static/js/rotating-codes.js) agrees with the server. Against the app under gunicorn."""

from __future__ import annotations

import base64
import io
import secrets
import time

import pytest
import requests
import zxingcpp
from PIL import Image

from app.tickets import rotating
from tests.e2e.test_accessibility import violations
from tests.e2e.test_tickets_browser import book_free, register

pytestmark = pytest.mark.slow

SAVED = "seatline-live-v1"


def rotating_booking(live_server, make, email):
    show = make.show(rows=1, per_row=4, title="Live Ticket Gig", prices={"gold": 0, "silver": 0})
    manager, door = make.fan(role="manager"), make.fan(role="door")
    r = requests.patch(
        f"{live_server}/api/v1/manage/shows/{show.show_id}",
        json={"ticketCodes": "ROTATING"},
        headers=manager.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    fan = register(live_server, email)
    return show, door, book_free(live_server, fan, show.show_id, ["A1", "A2"])


def sign_in(page, live_server, email, booking_id):
    page.goto(f"{live_server}/login?next=/bookings/{booking_id}/live")
    page.fill("#email", email)
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/bookings/{booking_id}/live")
    page.wait_for_selector("#live-ticket[data-ready] [data-seat=A1] .qr svg")


def shown(page, seat):
    """The QR code's text as drawn, read from a screenshot of it, and as the page says it drew it."""
    box = page.locator(f"[data-seat={seat}] .qr")
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(box.screenshot())))
    return found.text, box.get_attribute("data-text")


def scan(live_server, door, show_id, ticket, **extra):
    body = {"ticket": ticket, "gate": "Main", "nonce": secrets.token_hex(8), **extra}
    return requests.post(
        f"{live_server}/api/v1/manage/shows/{show_id}/checkins", json=body, headers=door.headers, timeout=10
    )


def test_the_code_changes_with_the_step_and_checks_in(live_server, browser, make):
    show, door, booking_id = rotating_booking(live_server, make, "live-fan@example.com")
    context = browser.new_context()
    page = context.new_page()
    # The page's timers and clock are Playwright's; the page follows the server's time (the offset it
    # measures), so its first code is the server's code of now.
    page.clock.install(time=time.time() - 3600)
    sign_in(page, live_server, "live-fan@example.com", booking_id)

    first, drawn = shown(page, "A1")
    assert first == drawn and ":" in first
    r = scan(live_server, door, show.show_id, first)
    assert r.status_code == 201, r.text

    page.clock.run_for(15_000)
    page.wait_for_function(f"document.querySelector('[data-seat=A1] .qr').dataset.text !== {first!r}")
    second, _ = shown(page, "A1")
    assert second != first and second.split(":")[0] == first.split(":")[0]
    # A2's code of the page's next step, checked in as an offline scan made at that moment.
    later, _ = shown(page, "A2")
    key = "seatline-live-offset:/bookings/" + booking_id + "/live.json"
    at = page.evaluate(f"new Date(Date.now() + Number(localStorage.getItem({key!r}))).toISOString()")
    batch = requests.post(
        f"{live_server}/api/v1/manage/shows/{show.show_id}/checkins/batch",
        json={"scans": [{"ticket": later, "gate": "Main", "nonce": "a2-later-scan", "scannedAt": at}]},
        headers=door.headers,
        timeout=10,
    )
    assert batch.status_code == 200 and batch.json()["results"][0]["result"] == "ADMITTED", batch.text


def test_the_page_opens_offline_after_the_first_visit(live_server, browser, make):
    _, _, booking_id = rotating_booking(live_server, make, "offline-fan@example.com")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "offline-fan@example.com", booking_id)
    page.wait_for_selector("#live-ticket[data-saved]")
    assert violations(page) == []
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    online, _ = shown(page, "A1")

    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#live-ticket[data-ready] [data-seat=A1] .qr svg")
    offline, _ = shown(page, "A1")
    assert offline.split(":")[0] == online.split(":")[0]
    assert page.locator("[data-testid=live-status]").inner_text() != ""
    context.set_offline(False)


def test_the_scanner_s_verifier_agrees_with_the_server(live_server, browser, make):
    show, door, booking_id = rotating_booking(live_server, make, "verify-fan@example.com")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "verify-fan@example.com", booking_id)
    live = page.evaluate(f"fetch('/bookings/{booking_id}/live.json').then(r => r.json())")
    [a1, a2] = live["tickets"]
    key = base64.urlsafe_b64decode(a1["secret"] + "=" * (-len(a1["secret"]) % 4))
    now = time.time()
    texts = {
        "fresh": rotating.rotating_text(a1["code"], key, now),
        "stale": rotating.rotating_text(a1["code"], key, now - 45),
        "static": a2["code"],
        "tampered": a2["code"][:-3] + ("A" if a2["code"][-3] != "A" else "B") + a2["code"][-2:] + ":12345678",
        "wrong value": a1["code"] + ":00000000",
    }

    def bundle():
        r = requests.get(f"{live_server}/api/v1/manage/shows/{show.show_id}/checkin-bundle", headers=door.headers)
        assert r.status_code == 200
        return r.json()

    def js(text, b):
        return page.evaluate(
            "([text, bundle, now]) => window.SeatlineRotating.verify(text, bundle, now)", [text, b, now * 1000]
        )

    b = bundle()
    answers = {name: js(text, b) for name, text in texts.items()}
    assert answers["fresh"]["ok"] is True and answers["fresh"]["ticket"]["bookingId"] == booking_id
    assert answers["fresh"]["ticket"]["seatId"] == "A1" and answers["fresh"]["ticket"]["showId"] == str(show.show_id)
    for name, text in texts.items():
        server = scan(live_server, door, show.show_id, text)
        expected = "ADMITTED" if server.status_code == 201 else server.json()["error"]["code"]
        assert (answers[name]["reason"] or "ADMITTED") == expected, name
    # With the admission in a new bundle, the fresh code is already checked in for the scanner as well.
    assert js(texts["fresh"], bundle())["reason"] == "ALREADY_CHECKED_IN"
