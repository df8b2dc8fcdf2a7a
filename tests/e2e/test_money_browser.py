"""The seat map's running total in the browser, in currencies with other minor units."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "currency, prices, seats, total",
    [
        ("JPY", {"gold": 3000, "silver": 1500}, ["A1", "B1"], "¥4,500"),  # yen have no minor unit
        ("KWD", {"gold": 12350, "silver": 500}, ["A1"], "12.350"),  # fils: three decimals
    ],
)
def test_the_running_total_uses_the_currency_minor_unit(live_server, browser, make, currency, prices, seats, total):
    show = make.show(rows=2, per_row=4, currency=currency, prices=prices)
    page = browser.new_page()
    page.goto(f"{live_server}/shows/{show.show_id}")
    for seat in seats:
        page.check(f"input[value={seat}]")
    assert total in page.text_content("[data-testid=total]")
