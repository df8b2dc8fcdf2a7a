"""Money in currencies with other minor units (JPY has none, KWD three), from the manager's form to
the gateway's charge, the fan's pages, the email and the CSV export; and prices the gateway could
never charge, refused when a show is created or changed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devstack.mail import text_body
from tests.support.db import fetch, run_jobs
from tests.support.polling import wait_for


def token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def manager_signed_in(client, make):
    manager = make.fan(role="manager")
    with client.session_transaction() as session:
        session["user_id"], session["role"] = manager.user_id, "manager"
    return manager


def show_form(app, show, currency: str, prices: dict[str, str]) -> dict[str, str]:
    day = datetime.now(ZoneInfo("Asia/Kolkata")).date() + timedelta(days=20)
    venue_id, event_id = fetch(app, "SELECT venue_id, event_id FROM shows WHERE id = :s", s=show.show_id)[0]
    return {
        "eventId": str(event_id),
        "venueId": str(venue_id),
        "currency": currency,
        "startTime": f"{day}T20:00",
        "saleOpensAt": f"{day - timedelta(days=10)}T09:00",
        "refundFullHours": "48",
        "refundHalfHours": "",
        "refundFee": "0",
        **{f"price-{tier}": value for tier, value in prices.items()},
    }


def prices_of(app, show_id: int) -> dict[str, int]:
    return dict(fetch(app, "SELECT tier, price FROM show_prices WHERE show_id = :s", s=show_id))


@pytest.mark.parametrize(
    "currency, typed, stored",
    [
        ("JPY", {"gold": "3000", "silver": "1500"}, {"gold": 3000, "silver": 1500}),
        ("KWD", {"gold": "12.350", "silver": "0.500"}, {"gold": 12350, "silver": 500}),
        ("GBP", {"gold": "12.50", "silver": "0.00"}, {"gold": 1250, "silver": 0}),
    ],
)
def test_the_show_form_takes_major_units_of_the_currency_and_round_trips(app, client, make, currency, typed, stored):
    template = make.show()  # a venue with gold and silver seats, and an event, of the manager's organisation
    manager_signed_in(client, make)
    form = client.get("/manage/shows/new")
    data = {"csrf_token": token_of(form), **show_form(app, template, currency, typed)}
    created = client.post("/manage/shows/new", data=data)
    assert created.status_code == 303, created.get_data(as_text=True)[:800]
    show_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert prices_of(app, show_id) == stored

    edit = client.get(f"/manage/shows/{show_id}/edit")
    html = edit.get_data(as_text=True)
    for tier, value in typed.items():
        assert f'name="price-{tier}" inputmode="decimal" required value="{value}"' in html, tier
    saved = client.post(
        f"/manage/shows/{show_id}/edit",
        data={
            "csrf_token": token_of(edit),
            **{f"price-{t}": v for t, v in typed.items()},
            "refundFullHours": "48",
            "refundFee": "0",
        },
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:800]
    assert prices_of(app, show_id) == stored


@pytest.mark.parametrize(
    "currency, typed, field",
    [
        ("GBP", {"gold": "12.505", "silver": "10"}, "prices.gold"),  # a third decimal of a pound
        ("JPY", {"gold": "3000.5", "silver": "1000"}, "prices.gold"),  # yen have no decimals
        ("KWD", {"gold": "12.345", "silver": "1"}, "prices.gold"),  # Stripe: fils end in 0
        ("GBP", {"gold": "0.20", "silver": "10"}, "prices.gold"),  # below the gateway's smallest charge
        ("KPW", {"gold": "10", "silver": "10"}, "currency"),
    ],
)
def test_the_show_form_refuses_amounts_the_currency_or_the_gateway_cannot_take(
    app, client, make, currency, typed, field
):
    template = make.show()
    manager_signed_in(client, make)
    form = client.get("/manage/shows/new")
    r = client.post(
        "/manage/shows/new", data={"csrf_token": token_of(form), **show_form(app, template, currency, typed)}
    )
    assert r.status_code == 422
    assert field in r.get_data(as_text=True)
    assert fetch(app, "SELECT count(*) AS n FROM shows")[0].n == 1


def api_show_body(app, show, **changes) -> dict:
    venue_id, event_id = fetch(app, "SELECT venue_id, event_id FROM shows WHERE id = :s", s=show.show_id)[0]
    return {
        "eventId": str(event_id),
        "venueId": str(venue_id),
        "startTime": "2030-03-01T19:30",
        "saleOpensAt": "2030-02-01T10:00",
        "currency": "INR",
        "prices": {"gold": 5000, "silver": 2500},
        **changes,
    }


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"currency": "GBP", "prices": {"gold": 20, "silver": 1000}}, "prices.gold"),
        ({"prices": {"gold": 13_000_000, "silver": 2500}}, "prices.gold"),  # 8 seats would pass the gateway's maximum
        ({"currency": "KPW"}, "currency"),
        ({"currency": "KWD", "prices": {"gold": 12345, "silver": 500}}, "prices.gold"),
    ],
)
def test_the_manager_api_refuses_prices_the_gateway_could_not_charge(app, client, make, changes, field):
    template, manager = make.show(), make.fan(role="manager")
    r = client.post("/api/v1/manage/shows", json=api_show_body(app, template, **changes), headers=manager.headers)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert field in [f["field"] for f in r.get_json()["error"]["fields"]]
    assert fetch(app, "SELECT count(*) AS n FROM shows")[0].n == 1


def test_free_and_chargeable_prices_are_accepted_and_a_change_is_checked_too(app, client, make):
    template, manager = make.show(), make.fan(role="manager")
    free = client.post(
        "/api/v1/manage/shows",
        json=api_show_body(app, template, prices={"gold": 0, "silver": 0}),
        headers=manager.headers,
    )
    assert free.status_code == 201, free.get_json()
    mixed = client.post(
        "/api/v1/manage/shows",
        json=api_show_body(
            app, template, startTime="2030-03-02T19:30", currency="KWD", prices={"gold": 12350, "silver": 0}
        ),
        headers=manager.headers,
    )
    assert mixed.status_code == 201, mixed.get_json()
    show_id = free.get_json()["showId"]
    r = client.patch(f"/api/v1/manage/shows/{show_id}", json={"prices": {"gold": 10}}, headers=manager.headers)
    assert r.status_code == 400 and r.get_json()["error"]["fields"][0]["field"] == "prices.gold"
    assert prices_of(app, int(show_id)) == {"gold": 0, "silver": 0}


def test_a_yen_show_is_charged_in_yen_and_shown_in_yen_everywhere(app, client, make, gateway, mail):
    show, fan = make.show(currency="JPY", prices={"gold": 3000, "silver": 1500}), make.fan()
    page = client.get(f"/shows/{show.show_id}").get_data(as_text=True)
    assert "¥3,000" in page and "¥1,500" in page and 'data-exponent="0"' in page
    assert "30.00" not in page

    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers).get_json()
    assert (held["amount"], held["currency"]) == (3000, "JPY")
    intent = client.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers).get_json()
    at_gateway = gateway.intent(intent["paymentIntentId"])
    assert (at_gateway["amount"], at_gateway["currency"]) == (3000, "jpy")
    gateway.succeed(intent["paymentIntentId"])
    booked = client.post(
        f"/api/v1/holds/{held['holdId']}/confirm",
        json={"paymentIntentId": intent["paymentIntentId"]},
        headers=fan.headers,
    )
    assert booked.status_code == 201

    run_jobs(app)
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    message = text_body(wait_for(lambda: mail.to(email))[0])
    assert "¥3,000" in message and "30.00" not in message

    manager = make.fan(role="manager")
    with client.session_transaction() as session:
        session["user_id"], session["role"] = manager.user_id, "manager"
    csv = client.get(f"/manage/shows/{show.show_id}/bookings.csv").get_data(as_text=True)
    assert ",3000,0,," in csv and ",JPY," in csv


def test_a_dinar_show_keeps_three_decimals(app, client, make, gateway):
    show, fan = make.show(currency="KWD", prices={"gold": 12350, "silver": 500}), make.fan()
    page = client.get(f"/shows/{show.show_id}").get_data(as_text=True)
    assert "KWD" in page and "12.350" in page and 'data-exponent="3"' in page
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers).get_json()
    intent = client.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers).get_json()
    assert gateway.intent(intent["paymentIntentId"])["amount"] == 12350


def test_pages_format_money_for_the_fans_language(app, client, make):
    show = make.show(currency="EUR", prices={"gold": 1250, "silver": 990})
    english = client.get(f"/shows/{show.show_id}").get_data(as_text=True)
    german = client.get(f"/shows/{show.show_id}", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert "€12.50" in english
    assert "12,50\xa0€" in german
