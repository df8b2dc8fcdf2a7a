"""axe-core, injected into the main pages in Chromium: no serious or critical violations."""

from __future__ import annotations

import pytest
import requests

from devstack.processes import ROOT

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
    page.goto(f"{live_server}/bookings")
    found["my bookings"] = violations(page)
    page.goto(f"{live_server}/account")
    found["account"] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}


def test_the_checker_does_find_violations(browser):
    page = browser.new_page()
    page.set_content('<html lang="en"><title>x</title><main><img src="x.png"><button></button></main></html>')
    assert {v["id"] for v in violations(page)} >= {"image-alt", "button-name"}
