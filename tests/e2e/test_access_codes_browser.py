"""Presale codes and vouchers in Chromium (README "Presale codes and vouchers"): a manager creates a
voucher and deactivates a presale code on the show's dashboard page (htmx swaps the section); a fan
enters the voucher on the show page, sees what it gives, holds seats with it and is shown the
discounted total."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.test_manager_browser import PASSWORD, log_in, manager_account
from tests.support.db import fetch

pytestmark = pytest.mark.slow


def test_a_manager_makes_a_voucher_and_a_fan_holds_with_it(app, live_server, browser, make):
    show = make.show(rows=2, per_row=4, prices={"gold": 40000, "silver": 20000})
    manager_account(app, "codes-manager@example.com")
    requests.post(
        f"{live_server}/api/v1/auth/register",
        json={"email": "codes-fan@example.com", "password": PASSWORD, "name": "Cody Fan"},
    )

    desk = browser.new_page()
    log_in(desk, live_server, "codes-manager@example.com")
    desk.wait_for_url(f"{live_server}/manage")
    desk.goto(f"{live_server}/manage/shows/{show.show_id}")
    form = desk.locator("[data-testid=new-access-code]")
    for code, kind, extra in (("EARLYBIRD", "PRESALE", {}), ("HALFPRICE", "VOUCHER", {"percentOff": "50"})):
        form.locator("input[name=code]").fill(code)
        form.locator("select[name=kind]").select_option(kind)
        form.locator("input[name=percentOff]").fill(extra.get("percentOff", ""))
        form.locator("input[name=maxUses]").fill("5")
        form.locator("button[type=submit]").click()
        expect(desk.locator("#access-codes")).to_contain_text(f"Code {code} created.")
        form = desk.locator("[data-testid=new-access-code]")  # the section was swapped
    table = desk.locator("[data-testid=access-codes]")
    expect(table.locator("tr[data-code=HALFPRICE]")).to_contain_text("50% off")
    table.locator("tr[data-code=EARLYBIRD] button").click()
    expect(desk.locator("#access-codes")).to_contain_text("Code EARLYBIRD deactivated.")
    assert [r.active for r in fetch(app, "SELECT active FROM access_codes ORDER BY code")] == [False, True]

    fan = browser.new_context().new_page()
    log_in(fan, live_server, "codes-fan@example.com", f"/shows/{show.show_id}?section=Main")
    fan.wait_for_url(f"**/shows/{show.show_id}?section=Main")
    fan.fill("[data-testid=access-code]", "halfprice")
    fan.keyboard.press("Tab")  # leaving the field asks what the code gives
    expect(fan.locator("[data-testid=access-code-check]")).to_contain_text("HALFPRICE: 50% off your seats.")
    fan.locator("input[name=seat][value=B1]").check(force=True)
    fan.locator("input[name=seat][value=B2]").check(force=True)
    fan.locator("#seat-form button[type=submit]").click()
    fan.wait_for_url("**/holds/**")
    expect(fan.locator("[data-testid=hold-discount]")).to_contain_text("HALFPRICE")
    expect(fan.locator("main")).to_contain_text("₹200.00")
    assert fetch(app, "SELECT amount, discount FROM holds")[0]._tuple() == (20000, 20000)
