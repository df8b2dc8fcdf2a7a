"""A new fan's whole journey in Chromium, every step through the pages and the real services: sign
up, confirm the address from the email, reset the password from the email, join a sold-out show's
waiting list, get the offer by email (a real `flask worker` makes it), pay on the gateway's hosted
page, download the PDF ticket, transfer it, and read the pages in Hindi.

Each step leaves a full-page screenshot in `test-artifacts/screenshots/journey/` (README "Tests").
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime
from email.message import Message

import pytest
import requests
import zxingcpp
from babel import Locale
from pypdf import PdfReader

from devstack.mail import MailSink, text_body
from tests.e2e.conftest import SCREENSHOTS, WorkerProcess
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

JOURNEY = SCREENSHOTS / "journey"
EMAIL = "newfan@example.com"
FIRST_PASSWORD = "first correct horse"
NEW_PASSWORD = "second battery staple"
TITLE = "Journey Night"


@pytest.fixture
def linking_worker(stack_env, live_server, tmp_path) -> Iterator[WorkerProcess]:
    """`flask worker` writing the emails' links to the live server, as `make run` points
    PUBLIC_URL at the site (README "Configuration")."""
    process = WorkerProcess({**stack_env, "PUBLIC_URL": live_server}, tmp_path)
    process.start()
    yield process
    process.stop()


def shot(page, name: str) -> None:
    page.screenshot(path=str(JOURNEY / f"{name}.png"), full_page=True)


def one_email(sink: MailSink, to: str, subject_part: str) -> Message:
    [message] = wait_for(lambda: [m for m in sink.to(to) if subject_part in m["Subject"]], timeout=30)
    return message


def link_in(message: Message, base: str, path_pattern: str) -> str:
    found = re.search(rf"{re.escape(base)}{path_pattern}", text_body(message))
    assert found, text_body(message)
    return found.group(0)


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Log in", exact=True).click()


def token(base: str, email: str, password: str) -> dict[str, str]:
    answer = requests.post(f"{base}/api/v1/auth/token", json={"email": email, "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_a_new_fan_from_sign_up_to_a_transferred_ticket_in_hindi(
    live_server, live_gateway, linking_worker, browser, make, smtp_sink
):
    base = live_server
    live_gateway.reset()
    sink, _ = smtp_sink
    sink.clear()
    JOURNEY.mkdir(parents=True, exist_ok=True)
    for old in JOURNEY.glob("*.png"):
        old.unlink()
    show, other_fan = make.show(rows=1, per_row=1, title=TITLE), make.fan()
    friend = requests.post(
        f"{base}/api/v1/auth/register",
        json={"email": "friend.of.newfan@example.com", "password": "correct horse", "name": "Friend"},
        timeout=10,
    )
    assert friend.status_code == 201, friend.text
    page = browser.new_context().new_page()

    # 1. Sign up on the site: signed in at once, the address not yet confirmed.
    page.goto(f"{base}/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Your name").fill("Nia")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(FIRST_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.get_by_role("navigation", name="Account").get_by_text("Hello, Nia").wait_for()
    page.goto(f"{base}/account")
    assert EMAIL in page.text_content("main")
    assert "Please confirm your email address" in page.text_content("[data-testid=unverified-banner]")
    shot(page, "01-signed-up")

    # 2. The verification email's link confirms the address.
    verification = one_email(sink, EMAIL, "Confirm your email address")
    page.goto(link_in(verification, base, r"/account/verify\?token=\S+"))
    assert page.text_content("[data-testid=verify-result]") == "Thank you: your email address is confirmed."
    assert "token=" not in page.url  # the token left the address bar (README "Account pages")
    page.goto(f"{base}/account")
    assert page.locator("[data-testid=unverified-banner]").count() == 0
    shot(page, "02-email-confirmed")

    # 3. Log out, "Forgot your password?", the reset email's link, a new password; the old one is refused.
    page.get_by_role("navigation", name="Account").get_by_role("button", name="Log out", exact=True).click()
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Log in").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_role("button", name="Email me a link").click()
    page.wait_for_selector("[data-testid=reset-sent]")
    shot(page, "03a-reset-asked")
    reset = one_email(sink, EMAIL, "Reset your Seatline password")
    page.goto(link_in(reset, base, r"/account/reset\?token=\S+"))
    assert page.url == f"{base}/account/reset"
    page.get_by_label("New password (8 characters or more)").fill(NEW_PASSWORD)
    page.get_by_label("The new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    page.wait_for_selector("[data-testid=reset-done]")
    log_in(page, base, EMAIL, FIRST_PASSWORD)
    assert "That email and password don't match an account." in page.text_content("main [role=alert]")
    shot(page, "03b-old-password-refused")
    log_in(page, base, EMAIL, NEW_PASSWORD)
    page.get_by_role("navigation", name="Account").get_by_text("Hello, Nia").wait_for()
    shot(page, "03c-signed-in-with-the-new-password")

    # 4. Another fan holds the only seat; the new fan joins the line for one seat and sees the place.
    held = requests.post(
        f"{base}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=other_fan.headers, timeout=10
    )
    assert held.status_code == 201, held.text
    page.goto(f"{base}/shows/{show.show_id}")
    assert "Sold out" in page.text_content("[data-testid=sold-out]")
    line = page.get_by_test_id("waitlist-form")
    line.get_by_label("How many seats").select_option("1")
    line.get_by_role("button", name="Join the waiting list").click()
    page.wait_for_selector("[data-testid=waitlist-result]")
    assert "You're in line: number 1." in page.text_content("[data-testid=waitlist-result]")
    shot(page, "04a-joined-the-waiting-list")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="My waiting lists").click()
    page.wait_for_url(f"{base}/waitlist")
    entry = page.locator("[data-testid=waitlist-entry]")
    assert TITLE in entry.text_content()
    assert "1 seat" in entry.text_content()
    assert "you are number 1 in line" in page.text_content("[data-testid=waitlist-position]")
    shot(page, "04b-place-in-line")

    # 5. The other fan lets the seat go: the worker offers it, and the offer's email has the link.
    released = requests.delete(f"{base}/api/v1/holds/{held.json()['holdId']}", headers=other_fan.headers, timeout=10)
    assert released.status_code == 200, released.text
    offer = one_email(sink, EMAIL, f"Seats for {TITLE} are yours to buy")
    offer_link = link_in(offer, base, r"/holds/[0-9a-f-]{36}")
    page.reload()
    assert "Seats A1 are held for you" in page.text_content("[data-testid=waitlist-offer]")
    shot(page, "05-offer-on-the-waiting-list")

    # 6. Claim it: the link, the gateway's hosted page with 4242…, back to the booking.
    page.goto(offer_link)
    page.wait_for_selector("[data-testid=countdown]")
    assert "A1" in page.text_content("main")
    page.click("[data-testid=pay]")
    page.click("[data-testid=hosted-pay]")
    page.wait_for_url(f"{live_gateway.base}/c/pay/cs_test_*")
    shot(page, "06a-gateway-hosted-page")
    page.get_by_label(re.compile("card number", re.IGNORECASE)).fill("4242 4242 4242 4242")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    page.wait_for_selector("[data-testid=tickets]")
    booking_id = page.url.rsplit("/", 1)[1]
    assert page.url == f"{base}/bookings/{booking_id}"
    assert page.get_by_role("heading", level=1).text_content() == f"You're going to {TITLE}!"
    assert page.text_content("[data-testid=tickets] li").strip().startswith("Seat A1")
    assert page.locator("[data-testid=tickets] svg").count() == 1
    shot(page, "06b-booked")
    fan = token(base, EMAIL, NEW_PASSWORD)
    booking = requests.get(f"{base}/api/v1/bookings/{booking_id}", headers=fan, timeout=10).json()
    [old_code] = [t["code"] for t in booking["tickets"]]
    assert [t["seatId"] for t in booking["tickets"]] == ["A1"]

    # 7. The PDF ticket: the seat, the title, and a QR code that reads back as the API's code.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download tickets (PDF)").click()
    pdf = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    assert TITLE in text and "A1" in text
    read = [found.text for image in pdf.pages[0].images for found in zxingcpp.read_barcodes(image.image)]
    assert read == [old_code]
    shot(page, "07-pdf-downloaded")

    # 8. Transfer the booking to the friend: they get the email, the old code is listed nowhere.
    page.get_by_label("Email").fill("friend.of.newfan@example.com")
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Transfer tickets").click()
    page.wait_for_url(f"{base}/bookings?transferred=1")
    assert "Your tickets are transferred" in page.text_content("[data-testid=transferred]")
    shot(page, "08-transferred")
    received = one_email(sink, "friend.of.newfan@example.com", f"Tickets for {TITLE} transferred to you")
    assert "A1" in text_body(received) and EMAIL in text_body(received)
    one_email(sink, EMAIL, f"Your tickets for {TITLE} are transferred")
    mine = requests.get(f"{base}/api/v1/bookings", headers=fan, timeout=10).json()["bookings"]
    assert booking_id not in [b["bookingId"] for b in mine]
    assert requests.get(f"{base}/api/v1/bookings/{booking_id}", headers=fan, timeout=10).status_code == 404
    theirs = requests.get(
        f"{base}/api/v1/bookings/{booking_id}",
        headers={"Authorization": f"Bearer {friend.json()['token']}"},
        timeout=10,
    ).json()
    assert [t["seatId"] for t in theirs["tickets"]] == ["A1"]
    assert old_code not in [t["code"] for t in theirs["tickets"]]

    # 9. Hindi, chosen on the account page: the account, the bookings, the show and the waiting list.
    page.goto(f"{base}/account")
    page.get_by_label("Language").select_option("hi")
    page.get_by_role("button", name="Save my details").click()
    page.wait_for_selector("html[lang=hi]")
    assert page.get_by_role("heading", level=1).text_content() == "आपका खाता"
    assert "आपकी जानकारी" in page.text_content("main")
    assert page.locator("#locale").input_value() == "hi"
    shot(page, "09a-account-in-hindi")
    page.goto(f"{base}/bookings")
    assert page.get_attribute("html", "lang") == "hi"
    assert page.get_by_role("heading", level=1).text_content() == "मेरी बुकिंग"
    assert page.get_by_role("heading", name="आने वाली").count() == 1
    assert "कोई नहीं।" in page.text_content("main")  # the only booking now belongs to the friend
    shot(page, "09b-bookings-in-hindi")
    page.goto(f"{base}/shows/{show.show_id}")
    assert page.get_attribute("html", "lang") == "hi"
    starts = datetime.fromisoformat(requests.get(f"{base}/api/v1/shows/{show.show_id}", timeout=10).json()["startTime"])
    hindi = Locale.parse("hi")  # the show's day as CLDR words it in Hindi, in the show's own zone
    day = f"{hindi.days['format']['abbreviated'][starts.weekday()]}, {starts.day} "
    day += f"{hindi.months['format']['abbreviated'][starts.month]} {starts.year}"
    assert day in page.text_content("main")
    assert "सभी बिक गए" in page.text_content("[data-testid=sold-out]")  # the friend has the seat
    assert page.get_by_test_id("waitlist-form").get_by_role("button", name="प्रतीक्षा सूची में शामिल हों").count() == 1
    shot(page, "09c-show-in-hindi")
    page.goto(f"{base}/waitlist")
    assert page.get_attribute("html", "lang") == "hi"
    assert page.get_by_role("heading", level=1).text_content() == "मेरी प्रतीक्षा सूचियाँ"
    assert "आपने अपने लिए ऑफ़र की गई सीटें खरीद लीं।" in page.text_content("[data-testid=waitlist-entry]")
    assert day in page.text_content("[data-testid=waitlist-entry]")
    shot(page, "09d-waiting-list-in-hindi")
