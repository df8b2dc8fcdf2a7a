"""axe-core, injected into the main pages in Chromium: no serious or critical violations."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from app.accounts import recovery
from app.unit_of_work import unit_of_work
from devstack.processes import ROOT
from tests.support.db import TEST_ORGANISATION

pytestmark = pytest.mark.slow
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def violations(page) -> list[dict]:
    # Evaluated through the DevTools protocol, not added as a <script>: the pages' Content-Security-Policy
    # (rightly) refuses inline scripts, and this test must see the pages as fans get them.
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_main_pages_have_no_serious_accessibility_violations(live_server, browser, make):
    show = make.show(rows=3, per_row=6, title="Accessible Evening")
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "a11y@example.com", "password": "correct horse", "name": "A11y"},
    )
    page = browser.new_page()
    found = {}
    for path in (
        "/",
        "/?when=week&category=concert",
        "/?q=nothing-matches&date=2030-02-31",  # the filters' error and an empty result
        "/login",
        "/signup",
        f"/shows/{show.show_id}",
        f"/shows/{show.show_id}?section=Main",
        "/no-such-page",
    ):
        page.goto(f"{live_server}{path}")
        if path.startswith("/shows/"):
            page.wait_for_selector("input[name=seat]")  # the map as a fan gets to use it, drawn or listed
        found[path] = violations(page)
    page.goto(f"{live_server}/login?next=/shows/{show.show_id}")
    page.fill("#email", "a11y@example.com")
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}")
    page.check("input[value=A2]")
    page.click("text=Hold seats")
    page.wait_for_selector("[data-testid=countdown]")
    found["hold page"] = violations(page)
    hold_url = page.url
    page.click("[data-testid=pay]")
    found["checkout"] = violations(page)
    page.goto(f"{hold_url}/checkout/return?session_id=cs_test_none")
    found["finishing your booking"] = violations(page)
    page.goto(f"{live_server}/bookings")
    found["my bookings"] = violations(page)
    page.goto(f"{live_server}/account")
    found["account"] = violations(page)
    # A booking's page: its tickets' QR codes, the downloads and the Transfer form.
    free = make.show(rows=1, per_row=4, title="Accessible Free Night", prices={"gold": 0, "silver": 0})
    token = requests.post(
        f"{live_server}/api/v1/auth/token", json={"email": "a11y@example.com", "password": "correct horse"}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    hold = requests.post(f"{live_server}/api/v1/shows/{free.show_id}/holds", json={"seatIds": ["A1"]}, headers=headers)
    booking = requests.post(f"{live_server}/api/v1/holds/{hold.json()['holdId']}/confirm", headers=headers).json()
    page.goto(f"{live_server}/bookings/{booking['bookingId']}")
    found["booking"] = violations(page)
    sold = make.show(rows=1, per_row=1, title="Sold Out Evening")
    held = requests.post(
        f"{live_server}/api/v1/shows/{sold.show_id}/holds", json={"seatIds": ["A1"]}, headers=make.fan().headers
    )
    assert held.status_code == 201
    page.goto(f"{live_server}/shows/{sold.show_id}")
    page.wait_for_selector("[data-testid=waitlist-form]")
    found["sold-out show page"] = violations(page)
    page.click("button >> text=Join the waiting list")
    page.wait_for_selector("[data-testid=waitlist-result]")
    found["joined the waiting list"] = violations(page)
    page.goto(f"{live_server}/waitlist")
    found["my waiting lists"] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}


def test_the_checker_does_find_violations(browser):
    page = browser.new_page()
    page.set_content('<html lang="en"><title>x</title><main><img src="x.png"><button></button></main></html>')
    assert {v["id"] for v in violations(page)} >= {"image-alt", "button-name"}


def test_account_recovery_and_profile_pages_have_no_serious_accessibility_violations(live_server, browser, app):
    email = "recover@example.com"
    requests.post(
        f"{live_server}/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "Rec"}
    )
    page = browser.new_page()
    referers: list[str | None] = []
    page.on("request", lambda r: referers.append(r.headers.get("referer")) if "/static/" in r.url else None)
    found = {}

    page.goto(f"{live_server}/login")
    assert referers and all(r == f"{live_server}/login" for r in referers)  # other pages do name themselves
    page.click("text=Forgot your password?")
    page.wait_for_url(f"{live_server}/forgot-password")
    found["forgot password"] = violations(page)
    page.fill("#email", "not an email")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=error-summary]")
    assert page.get_attribute("#email", "aria-describedby") == "email-error"
    found["forgot password, errors"] = violations(page)
    page.fill("#email", email)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=reset-sent]")
    found["forgot password, sent"] = violations(page)

    with app.app_context(), unit_of_work() as uow:
        reset = recovery.request_password_reset(uow, email, 1800).token
        verify = recovery.queue_email_verification(uow, fetch_user_id(uow, email), 3600).token
        uow.commit()
    referers.clear()
    page.goto(f"{live_server}/account/reset?token={reset}")
    assert page.url == f"{live_server}/account/reset"  # the token left the address bar
    assert referers and not any(referers)  # and no request from the page names it
    found["reset"] = violations(page)
    page.fill("#new_password", "a new passphrase")
    page.fill("#confirm_password", "not the same")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=error-summary]")
    found["reset, errors"] = violations(page)
    page.fill("#new_password", "a new passphrase")
    page.fill("#confirm_password", "a new passphrase")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=reset-done]")
    found["login after reset"] = violations(page)
    page.goto(f"{live_server}/account/reset?token={reset}")
    page.wait_for_selector("[data-testid=reset-invalid]")
    found["reset, used link"] = violations(page)

    page.goto(f"{live_server}/account/verify?token={verify}")
    assert page.url == f"{live_server}/account/verify"
    page.wait_for_selector("[data-testid=verify-result]")
    found["verified"] = violations(page)
    page.goto(f"{live_server}/account/verify?token={verify}")
    found["verify, used link"] = violations(page)

    with app.app_context(), unit_of_work() as uow:
        uow.execute("UPDATE users SET email_verified_at = NULL WHERE email = :e", {"e": email})
        uow.commit()
    page.goto(f"{live_server}/login?next=/account")
    page.fill("#email", email)
    page.fill("#password", "a new passphrase")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/account")
    page.wait_for_selector("[data-testid=unverified-banner]")
    found["account, unverified"] = violations(page)
    page.fill("#phone", "12345")
    page.focus("#phone")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=error-summary]")
    assert "phone-error" in page.get_attribute("#phone", "aria-describedby")
    found["account, profile errors"] = violations(page)
    page.fill("#phone", "+91 98765 43210")
    page.select_option("#locale", "hi")
    page.click("text=Save my details")
    page.wait_for_selector("[data-testid=account-message]")
    found["account, saved"] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}


def fetch_user_id(uow, email: str) -> int:
    return uow.execute("SELECT id FROM users WHERE email = :e", {"e": email}).scalar_one()


def test_pages_in_hindi_have_no_serious_accessibility_violations(live_server, browser, make):
    """A fan whose browser asks for Hindi (README "Languages"): the pages read in Hindi and stay clean."""
    show = make.show(rows=2, per_row=4, title="Hindi Evening", prices={"gold": 10_000_000, "silver": 10_000_000})
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "hindi-a11y@example.com", "password": "correct horse", "name": "Meera"},
    )
    context = browser.new_context(locale="hi-IN", extra_http_headers={"Accept-Language": "hi-IN,hi;q=0.9"})
    page = context.new_page()
    found = {}
    page.goto(f"{live_server}/login?next=/shows/{show.show_id}")
    assert page.locator("h1").inner_text() == "लॉग इन करें"
    found["login"] = violations(page)
    page.locator("form button[type=submit]").click()  # nothing filled in: the errors, in Hindi
    page.wait_for_selector("text=यह फ़ील्ड भरना ज़रूरी है।")
    found["login, errors"] = violations(page)
    page.fill("#email", "hindi-a11y@example.com")
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}")
    page.check("input[value=A2]")
    page.locator("#seat-form button[type=submit]").first.click()
    page.wait_for_selector("[data-testid=countdown]")
    assert page.get_by_role("button", name="ये सीटें छोड़ें").is_visible()
    assert "₹1,00,000.00" in page.locator("main").inner_text()
    found["hold page"] = violations(page)
    page.get_by_role("link", name="भुगतान करें").click()
    assert page.locator("h1").inner_text() == "अपनी सीटों का भुगतान करें"
    found["checkout"] = violations(page)
    page.goto(f"{live_server}/waitlist")
    found["my waiting lists"] = violations(page)
    page.goto(f"{live_server}/bookings")
    assert page.locator("h1").inner_text() == "मेरी बुकिंग"
    found["my bookings"] = violations(page)
    page.goto(f"{live_server}/no-such-page")
    found["error page"] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}


def test_the_door_staff_section_and_admitted_count_have_no_serious_accessibility_violations(
    app, live_server, browser, make
):
    """README "Door check-in": the overview's door staff list and form, used with the keyboard, and the
    show page's admitted count."""
    # Imported here: test_manager_browser imports this module's ``violations``.
    from tests.e2e.test_manager_browser import log_in, manager_account

    show = make.show(rows=2, per_row=4, title="Door Evening")
    fan = make.fan()
    email = fetch_email(app, fan.user_id)
    manager_account(app, "door-a11y@example.com")
    page = browser.new_page()
    log_in(page, live_server, "door-a11y@example.com", "/manage")
    page.wait_for_selector("#door-staff-email")
    page.focus("#door-staff-email")
    page.keyboard.type(email)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=door-staff]")
    assert email in page.inner_text("[data-testid=door-staff]")
    found = {"overview with door staff": violations(page)}
    page.goto(f"{live_server}/manage/shows/{show.show_id}")
    page.wait_for_selector("[data-testid=admitted]")
    assert "Admitted 0 of 0" in page.inner_text("[data-testid=admitted]")
    found["show page"] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}


def fetch_email(app, user_id: int) -> str:
    with app.app_context(), unit_of_work() as uow:
        return uow.execute("SELECT email FROM users WHERE id = :u", {"u": user_id}).scalar_one()


def test_the_sales_report_and_a_moved_booking_have_no_serious_accessibility_violations(live_server, browser, app, make):
    """The manager's sales report (README "Sales reports"), with its date-range error, and a fan's booking
    page after the show moved (README "Rescheduling a show")."""
    show = make.show(rows=1, per_row=4, title="Accessible Moved Night", prices={"gold": 0, "silver": 0})
    tokens = {}
    for email in ("a11y-manager@example.com", "a11y-moved@example.com"):
        requests.post(
            f"{live_server}/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "A11y"}
        )
    with app.app_context(), unit_of_work() as uow:
        uow.execute(
            "UPDATE users SET role = 'manager', organisation_id = (SELECT id FROM organisations WHERE name = :o) "
            "WHERE email = 'a11y-manager@example.com'",
            {"o": TEST_ORGANISATION},
        )
        uow.commit()
    for email in ("a11y-manager@example.com", "a11y-moved@example.com"):
        tokens[email] = requests.post(
            f"{live_server}/api/v1/auth/token", json={"email": email, "password": "correct horse"}
        ).json()["token"]
    fan = {"Authorization": f"Bearer {tokens['a11y-moved@example.com']}"}
    hold = requests.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan)
    booking = requests.post(f"{live_server}/api/v1/holds/{hold.json()['holdId']}/confirm", headers=fan).json()
    start = datetime.fromisoformat(requests.get(f"{live_server}/api/v1/shows/{show.show_id}").json()["startTime"])
    moved = requests.patch(
        f"{live_server}/api/v1/manage/shows/{show.show_id}",
        json={"startTime": (start + timedelta(hours=2)).isoformat()},
        headers={"Authorization": f"Bearer {tokens['a11y-manager@example.com']}"},
    )
    assert moved.status_code == 200, moved.text

    found = {}
    for email, paths in (
        ("a11y-manager@example.com", ["/manage/reports", "/manage/reports?from=nope"]),
        ("a11y-moved@example.com", [f"/bookings/{booking['bookingId']}"]),
    ):
        page = browser.new_page()
        page.goto(f"{live_server}/login")
        page.fill("#email", email)
        page.fill("#password", "correct horse")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        for path in paths:
            page.goto(f"{live_server}{path}")
            assert "/login" not in page.url, path  # the page itself, signed in
            found[path] = violations(page)
        if email == "a11y-manager@example.com":
            assert page.locator("[data-testid=range-problem]").count() == 1
        if email == "a11y-moved@example.com":
            assert page.locator("[data-testid=rescheduled]").count() == 1
        page.close()
    assert {p: v for p, v in found.items() if v} == {}
