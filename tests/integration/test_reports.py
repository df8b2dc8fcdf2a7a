"""The sales report (README "Sales reports"): its figures are the bookings and refunds made in the test,
per day, show, tier and currency (never added across currencies); the CSV parses and keeps titles from
running as formulas; only the caller's organisation's shows (an admin: all); bad dates are 400
VALIDATION_FAILED; the manager page draws it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_manage_authz import sign_in
from tests.support.booking import book
from tests.support.db import run_sql

FORMULA_TITLE = '=HYPERLINK("http://evil.example","Click")'


@pytest.fixture
def sold(app, client, make, gateway):
    """Two shows of the test organisation (INR and GBP) and a rival's show, with bookings; one refund."""
    manager = make.fan(role="manager")
    rupees = make.show(title=FORMULA_TITLE, prices={"gold": 50000, "silver": 25000})
    pounds = make.show(city="Londonish", currency="GBP", prices={"gold": 4000, "silver": 2500}, per_row=4)
    rival = make.show(organisation="Rival Venues", title="Rival Night", city="Rivaltown", rows=2, per_row=2)
    fans = [make.fan() for _ in range(5)]
    bookings = {
        "gold": book(client, gateway, fans[0], rupees.show_id, ["A2"]),  # 50000
        "silver": book(client, gateway, fans[1], rupees.show_id, ["B1", "B2"]),  # 50000
        "mixed": book(client, gateway, fans[2], rupees.show_id, ["A3", "C3"]),  # 75000
        "pounds": book(client, gateway, fans[3], pounds.show_id, ["B1"]),  # 2500
        "rival": book(client, gateway, fans[4], rival.show_id, ["B1"]),
    }
    # Three days ahead: the default policy refunds in full.
    r = client.post(f"/api/v1/bookings/{bookings['silver']}/cancel", headers=fans[1].headers)
    assert r.status_code == 200 and r.get_json()["refundAmount"] == 50000
    return manager, rupees, pounds, rival, bookings


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def report(client, who, **query):
    r = client.get("/api/v1/manage/reports/sales", query_string=query, headers=who.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_figures_are_the_bookings_and_refunds_made(client, sold):
    manager, rupees, pounds, rival, _ = sold
    body = report(client, manager, **{"from": today(), "to": today()})
    assert body["from"] == body["to"] == today()
    figures = ("bookings", "seats", "sales", "refunds", "refunded")
    assert [{k: t[k] for k in ("currency", *figures)} for t in body["totals"]] == [
        {"currency": "GBP", "bookings": 1, "seats": 1, "sales": 2500, "refunds": 0, "refunded": 0},
        {"currency": "INR", "bookings": 3, "seats": 5, "sales": 175000, "refunds": 1, "refunded": 50000},
    ]
    assert sorted((d["date"], d["currency"], d["sales"]) for d in body["days"]) == [
        (today(), "GBP", 2500),
        (today(), "INR", 175000),
    ]
    shows = {s["showId"]: s for s in body["shows"]}
    assert set(shows) == {str(rupees.show_id), str(pounds.show_id)}  # not the rival's
    assert shows[str(rupees.show_id)]["title"] == FORMULA_TITLE and shows[str(rupees.show_id)]["refunded"] == 50000
    tiers = {(t["tier"], t["currency"]): (t["bookings"], t["seats"], t["sales"]) for t in body["tiers"]}
    assert tiers == {
        ("gold", "INR"): (1, 1, 50000),
        ("silver", "INR"): (1, 2, 50000),
        (None, "INR"): (1, 2, 75000),
        ("silver", "GBP"): (1, 1, 2500),
    }


def test_an_admin_sees_every_organisation(client, make, sold):
    *_, rival, _ = sold
    admin = make.fan(role="admin")
    body = report(client, admin)
    assert str(rival.show_id) in {s["showId"] for s in body["shows"]}


def test_a_range_without_the_bookings_is_empty(client, sold, app):
    manager = sold[0]
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    long_ago = (datetime.now(UTC).date() - timedelta(days=200)).isoformat()
    body = report(client, manager, **{"from": long_ago, "to": yesterday})
    assert body["totals"] == body["days"] == body["shows"] == body["tiers"] == []
    # Moved into the range, a booking counts on its own day.
    run_sql(app, "UPDATE bookings SET created_at = created_at - interval '2 days'")
    run_sql(app, "UPDATE refunds SET created_at = created_at - interval '2 days'")
    body = report(client, manager, **{"from": long_ago, "to": yesterday})
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    assert {d["date"] for d in body["days"]} <= {
        two_days_ago,
        (datetime.now(UTC) - timedelta(days=3)).date().isoformat(),
    }
    assert sum(t["bookings"] for t in body["totals"]) == 4


def test_the_csv_parses_and_keeps_titles_from_running(client, sold):
    manager, rupees, pounds, *_ = sold
    r = client.get(f"/api/v1/manage/reports/sales.csv?from={today()}&to={today()}", headers=manager.headers)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == f'attachment; filename="sales-{today()}-{today()}.csv"'
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    by_show = {row["show_id"]: row for row in rows}
    assert set(by_show) == {str(rupees.show_id), str(pounds.show_id)}
    inr = by_show[str(rupees.show_id)]
    assert inr["title"] == "'" + FORMULA_TITLE  # text, not a formula
    assert (inr["currency"], inr["bookings"], inr["seats"], inr["sales"], inr["refunds"], inr["refunded"]) == (
        "INR",
        "3",
        "5",
        "175000",
        "1",
        "50000",
    )
    assert by_show[str(pounds.show_id)]["sales"] == "2500" and by_show[str(pounds.show_id)]["currency"] == "GBP"


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-13-01"},
        {"to": "yesterday"},
        {"from": ""},  # given but empty: not a date
        {"from": "2026-1-1"},
        {"from": "2026-02-01", "to": "2026-01-01"},  # starts after it ends
        {"from": "2020-01-01", "to": "2026-01-01"},  # more than 366 days
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/manage/reports/sales", "/api/v1/manage/reports/sales.csv"])
def test_bad_dates_are_refused(client, make, query, path):
    manager = make.fan(role="manager")
    r = client.get(path, query_string=query, headers=manager.headers)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert r.get_json()["error"]["fields"]


def test_the_report_page_draws_the_report(client, sold):
    manager, rupees, *_ = sold
    sign_in(client, manager)
    r = client.get(f"/manage/reports?from={today()}&to={today()}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert page.count('<svg class="chart"') == 2  # one chart per currency
    assert 'data-testid="report-shows"' in page and "=HYPERLINK(&#34;http://evil.example" in page
    assert f"/manage/reports/sales.csv?from={today()}&amp;to={today()}" in page
    csv_file = client.get(f"/manage/reports/sales.csv?from={today()}&to={today()}")
    assert csv_file.status_code == 200 and str(rupees.show_id) in csv_file.get_data(as_text=True)
    bad = client.get("/manage/reports?from=nope")
    assert bad.status_code == 400 and 'data-testid="range-problem"' in bad.get_data(as_text=True)
