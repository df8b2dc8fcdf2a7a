"""The home page in headless Chromium: filters swap the results in place (htmx), no full reload."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow


def test_changing_city_updates_the_shows_without_reloading(live_server, browser, make):
    soon = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).replace(hour=19, minute=0, second=0, microsecond=0)
    make.show(city="Agra", starts_at=soon, title="Agra Premiere")
    make.show(city="Bengaluru", timezone_name="Asia/Kolkata", starts_at=soon, title="Bengaluru Gala")
    page = browser.new_page()
    page.goto(f"{live_server}/?date={soon.date().isoformat()}")
    assert "Agra Premiere" in page.text_content("[data-testid=results]")
    page.evaluate("window.__stillTheSamePage = true")
    page.select_option("#city", label="Bengaluru")
    page.wait_for_function("document.querySelector('[data-testid=results]').textContent.includes('Bengaluru Gala')")
    assert page.evaluate("window.__stillTheSamePage") is True
    assert "city=" in page.url  # the filter is in the address, so it can be shared and reloaded
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)
