"""The site's look at a phone's and a desktop's size in Chromium: the home page's cards with their
posters, a show page and the manager's event page, screenshotted into
test-artifacts/screenshots/look/ (README, "The look"), with the layout checked: nothing wider than
the window, one column of cards on a phone and several on a desktop, posters loaded, no axe
violations."""

from __future__ import annotations

import io

import pytest
import requests

from app.demo.posters import draw_poster
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.e2e.test_manager_browser import log_in, manager_account
from tests.support.db import fetch

pytestmark = pytest.mark.slow
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
OUT = SCREENSHOTS / "look"


def layout(page) -> dict:
    return page.evaluate(
        """() => ({
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
            columns: new Set([...document.querySelectorAll('.cards > .card')].map(c => Math.round(c.getBoundingClientRect().left))).size,
            cards: document.querySelectorAll('.cards > .card').length,
            posters: [...document.querySelectorAll('img.poster, img.hero-poster, img.poster-preview')].map(i => i.complete && i.naturalWidth > 0),
        })"""
    )


def test_home_show_and_event_pages_at_phone_and_desktop_sizes(app, live_server, browser, make):
    manager = make.fan(role="manager")
    titles = ["Night Market Sessions", "Orbit Nine", "The Quiet Year", "Derby Day", "Laughing Matters", "Moon Opera"]
    shows = [make.show(city="Screenshot City", title=t, rows=4, per_row=12) for t in titles]
    event_ids = [fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=s.show_id)[0][0] for s in shows]
    for i, event_id in enumerate(event_ids[:4]):  # two events keep the placeholder
        r = requests.post(
            f"{live_server}/api/v1/manage/events/{event_id}/poster",
            files={"file": ("poster.png", io.BytesIO(draw_poster(titles[i], "concert", i)), "image/png")},
            headers=manager.headers,
        )
        assert r.status_code == 201, r.text
    manager_account(app, "looks@example.com")
    OUT.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{live_server}/?city={shows[0].city_id}")
        page.wait_for_load_state("networkidle")
        home = layout(page)
        page.screenshot(path=str(OUT / f"home-{name}.png"), full_page=True)
        assert home["scrollWidth"] <= home["innerWidth"], (name, home)
        assert home["cards"] == 6 and home["posters"] == [True] * 4, home
        if name == "phone":
            assert home["columns"] == 1, home
        else:
            assert home["columns"] >= 3, home
        found[f"home {name}"] = violations(page)

        page.goto(f"{live_server}/shows/{shows[0].show_id}")
        page.wait_for_selector("input[name=seat]")
        show = layout(page)
        page.screenshot(path=str(OUT / f"show-{name}.png"), full_page=True)
        assert show["scrollWidth"] <= show["innerWidth"], (name, show)
        assert show["posters"] == [True], show
        found[f"show {name}"] = violations(page)

        log_in(page, live_server, "looks@example.com", f"/manage/events/{event_ids[0]}/edit")
        page.wait_for_selector("[data-testid=poster]")
        event = layout(page)
        page.screenshot(path=str(OUT / f"manage-event-{name}.png"), full_page=True)
        assert event["scrollWidth"] <= event["innerWidth"], (name, event)
        assert event["posters"] == [True], event
        found[f"manager's event {name}"] = violations(page)
        context.close()
    assert {p: v for p, v in found.items() if v} == {}
    assert sorted(p.name for p in OUT.glob("*.png")) >= sorted(
        f"{kind}-{size}.png" for kind in ("home", "show", "manage-event") for size in SIZES
    )
