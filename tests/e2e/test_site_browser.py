"""The home page in headless Chromium: filters swap the results in place (htmx), no full reload."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import SCREENSHOTS
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow


def test_changing_city_updates_the_shows_without_reloading(live_server, browser, make):
    soon = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).replace(
        hour=19, minute=0, second=0, microsecond=0
    )
    make.show(city="Agra", starts_at=soon, title="Agra Premiere")
    make.show(city="Bengaluru", timezone_name="Asia/Kolkata", starts_at=soon, title="Bengaluru Gala")
    page = browser.new_page()
    page.goto(f"{live_server}/?date={soon.date().isoformat()}")
    assert "Agra Premiere" in page.text_content("[data-testid=results]")
    page.evaluate("window.__stillTheSamePage = true")
    page.select_option("#city", label="Bengaluru")
    # A locator, not wait_for_function: its string predicate is evaluated in the page, where the
    # Content-Security-Policy (no unsafe-eval) refuses it whenever the first look does not find it.
    page.locator("[data-testid=results]").get_by_text("Bengaluru Gala").wait_for()
    assert page.evaluate("window.__stillTheSamePage") is True
    assert "city=" in page.url  # the filter is in the address, so it can be shared and reloaded
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)


def test_keyboard_selection_live_refresh_and_hold(live_server, browser, make):
    import requests

    show, rival = make.show(rows=3, per_row=6, title="Keyboard Matinee"), make.fan()
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "keys@example.com", "password": "correct horse", "name": "Keys"},
    )
    page = browser.new_page()
    page.goto(f"{live_server}/login?next=/shows/{show.show_id}")
    page.fill("#email", "keys@example.com")
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}")

    # Keyboard only: focus a seat, Space selects it, Tab moves on, Space again.
    page.focus("input[value=B2]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.text_content("[data-testid=count]") == "2"
    assert page.text_content("[data-testid=total]") == "₹500.00"

    # Someone else takes a seat the fan has selected: the page notices within a few seconds.
    requests.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["B3"]}, headers=rival.headers)
    page.wait_for_selector("[data-testid=message]", timeout=10_000)
    assert "B3" in page.text_content("[data-testid=message]")
    assert page.is_checked("input[value=B2]") and not page.is_checked("input[value=B3]")
    page.screenshot(path=str(SCREENSHOTS / "seat-map.png"), full_page=True)

    page.click("button[type=submit] >> text=Hold seats")
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}/holds/"))
    assert "B2" in page.text_content("main")
    countdown = page.text_content("[data-testid=countdown]")
    assert re.fullmatch(r"[45]:\d\d", countdown), countdown
    page.reload()
    assert re.fullmatch(r"[45]:\d\d", page.text_content("[data-testid=countdown]"))
    page.screenshot(path=str(SCREENSHOTS / "hold.png"), full_page=True)


def test_two_browsers_race_for_the_same_seat(live_server, browser, make):
    import requests

    show = make.show(rows=2, per_row=5, title="Race Night")
    pages = []
    for who in ("first", "second"):
        requests.post(
            f"{live_server}/api/v1/auth/register",
            json={"email": f"{who}@example.com", "password": "correct horse", "name": who},
        )
        context = browser.new_context()  # separate cookies: two different fans
        page = context.new_page()
        page.goto(f"{live_server}/login?next=/shows/{show.show_id}")
        page.fill("#email", f"{who}@example.com")
        page.fill("#password", "correct horse")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server}/shows/{show.show_id}")
        page.check("input[value=A3]")
        page.check("input[value=A4]")
        pages.append(page)
    for page in pages:
        page.click("text=Hold seats")
    pages[0].wait_for_url(re.compile(r".*/holds/"))
    loser = pages[1]
    loser.wait_for_selector("[data-testid=message]")
    assert "A3, A4 were just taken" in loser.text_content("[data-testid=message]")
    assert loser.is_disabled("input[value=A3]")
    loser.screenshot(path=str(SCREENSHOTS / "seat-taken.png"), full_page=True)


def sign_up_and_in(page, base, email, next_path):
    import requests

    requests.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": email.split("@")[0]}
    )
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#email", email)
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}{next_path}")


def test_two_seats_of_a_2000_seat_hall_held_through_the_drawn_map(live_server, browser, make):
    import requests

    show = make.show(rows=40, per_row=50, title="Big Hall Night")
    page = browser.new_page()
    sign_up_and_in(page, live_server, "hall@example.com", f"/shows/{show.show_id}")
    # The page itself carries no seat; the script draws all 2,000 from the seat-map JSON, as checkboxes.
    seats = page.locator("#seat-form input[type=checkbox][name=seat]")
    page.wait_for_selector("input[value=T25]")
    assert seats.count() == 2000
    assert page.get_attribute(".seatmap", "aria-busy") is None
    assert page.get_attribute("input[value=T25]", "aria-label") == "Main, row T, seat 25, ₹250.00, available"
    assert page.is_hidden("[data-testid=map-fallback]") and page.is_visible("[data-testid=map-controls]")
    # Keyboard: Space picks a seat, Tab moves to the next one in the row, Space picks it too.
    page.focus("input[value=T25]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.is_checked("input[value=T26]")
    assert page.text_content("[data-testid=count]") == "2"
    assert page.text_content("[data-testid=total]") == "₹500.00"
    page.screenshot(path=str(SCREENSHOTS / "seat-map-hall.png"))
    page.click("button[type=submit] >> text=Hold seats")
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}/holds/"))
    assert "T25, T26" in page.text_content("main")

    def states():
        seats = requests.get(f"{live_server}/api/v1/shows/{show.show_id}/seatmap").json()["seats"]
        statuses = {s["seatId"]: s["status"] for s in seats}
        return statuses["T25"], statuses["T26"], statuses["T27"]

    # The seat map is a shared copy renewed once a second (at most 2 s stale): it shows the hold soon.
    assert wait_for(lambda: states() == ("HELD", "HELD", "AVAILABLE"), timeout=5)


def test_the_hall_page_is_a_few_kilobytes_and_the_map_comes_as_shared_json(live_server, browser, make):
    hall, small = make.show(rows=40, per_row=50, title="Big Hall"), make.show(rows=2, per_row=5, city="Smallton")
    page = browser.new_page()
    sign_up_and_in(page, live_server, "bytes@example.com", f"/shows/{small.show_id}")
    sizes: dict[int, int] = {}
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url.removeprefix(live_server)))
    for show in (hall, small):
        document = page.goto(f"{live_server}/shows/{show.show_id}")
        sizes[show.show_id] = len(document.body())
        page.wait_for_selector("input[name=seat]")
    assert sizes[hall.show_id] < 12_000, sizes  # was 747 KB with one <input> per seat in the HTML
    assert abs(sizes[hall.show_id] - sizes[small.show_id]) < 300, sizes  # the seats are not in it
    # What the script fetches: the shared seat map (kept at the edge), then the compact one every 2 s.
    assert f"/api/v1/shows/{hall.show_id}/seatmap" in asked
    compact = f"/api/v1/shows/{small.show_id}/seatmap?format=compact"
    page.wait_for_event("request", lambda r: r.url.endswith(compact), timeout=10_000)


def test_without_javascript_a_section_lists_its_seats_and_holds_them(live_server, browser, make):
    show = make.show(rows=40, per_row=50, title="No Script Hall")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_up_and_in(page, live_server, "noscript@example.com", f"/shows/{show.show_id}")
    assert page.locator("input[name=seat]").count() == 0
    assert page.is_visible("[data-testid=map-fallback]") and page.is_hidden("[data-testid=map-controls]")
    page.click("a[href='?section=Main']")
    page.wait_for_url(f"{live_server}/shows/{show.show_id}?section=Main")
    page.check("input[value=B7]")
    page.check("input[value=B8]")
    page.click("button[type=submit] >> text=Hold seats")
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}/holds/"))
    assert "B7, B8" in page.text_content("main")


def test_the_seat_maps_script_speaks_the_pages_language(live_server, browser, make):
    """A Hindi browser: the drawn seats' labels, a seat's new state and "just taken" are in Hindi."""
    import requests

    show, rival = make.show(rows=3, per_row=6, title="Hindi Matinee"), make.fan()
    page = browser.new_context(locale="hi-IN").new_page()
    sign_up_and_in(page, live_server, "hindi-map@example.com", f"/shows/{show.show_id}")
    page.wait_for_selector("input[value=B2]")
    assert page.get_attribute("input[value=B2]", "aria-label") == "Main, पंक्ति B, सीट 2, ₹250.00, उपलब्ध"
    page.check("input[value=B2]")
    page.check("input[value=B3]")
    requests.post(f"{live_server}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["B3"]}, headers=rival.headers)
    page.wait_for_selector("[data-testid=message]", timeout=10_000)
    assert page.text_content("[data-testid=message]") == (
        "माफ़ कीजिए, B3 अभी-अभी किसी और ने ले ली। आपकी बाकी चुनी हुई सीटें बनी हुई हैं।"
    )
    assert page.get_attribute("input[value=B3]", "aria-label") == "Main, पंक्ति B, सीट 3, ₹250.00, होल्ड पर"
    assert page.is_checked("input[value=B2]") and not page.is_checked("input[value=B3]")
