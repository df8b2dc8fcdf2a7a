"""Minor units by each currency's ISO 4217 exponent, Babel formatting, and the gateway's limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask

from app import money
from gateway_simulator import currencies as stripe_rules


@pytest.mark.parametrize(
    "typed, code, minor",
    [
        ("12.50", "GBP", 1250),
        ("12.5", "GBP", 1250),
        ("3000", "JPY", 3000),
        ("12.350", "KWD", 12350),
        ("0", "INR", 0),
        (" 45 ", "USD", 4500),
        ("1e3", "JPY", 1000),
    ],
)
def test_major_to_minor_units_by_the_currency_exponent(typed, code, minor):
    assert money.to_minor(typed, code) == minor


@pytest.mark.parametrize(
    "typed, code",
    [
        ("12.505", "GBP"),
        ("3000.5", "JPY"),
        ("1.2345", "KWD"),
        ("lots", "GBP"),
        ("inf", "GBP"),
        ("nan", "EUR"),
    ],
)
def test_amounts_with_more_decimals_than_the_currency_or_no_number_are_refused(typed, code):
    with pytest.raises(ValueError):
        money.to_minor(typed, code)


def test_minor_to_major_units_keep_the_currency_decimals():
    assert str(money.to_major(3000, "JPY")) == "3000"
    assert str(money.to_major(1250, "GBP")) == "12.50"
    assert str(money.to_major(12350, "KWD")) == "12.350"
    assert money.to_major(5, "INR") == Decimal("0.05")


@pytest.mark.parametrize(
    "minor, code, locale, shown",
    [
        (3000, "JPY", "en", "¥3,000"),
        (30000, "INR", "en", "₹300.00"),
        (1250, "GBP", "en", "£12.50"),
        (1250, "EUR", "de_DE", "12,50\xa0€"),
        (12350, "KWD", "en", "KWD12.350"),
    ],
)
def test_money_is_formatted_for_the_locale(minor, code, locale, shown):
    assert money.format_money(minor, code, locale) == shown


def test_the_locale_comes_from_accept_language_inside_a_request_and_is_english_outside():
    app = Flask(__name__)
    assert money.format_money(1250, "EUR") == "€12.50"
    with app.test_request_context(headers={"Accept-Language": "xx-nope, de-DE;q=0.9, en;q=0.5"}):
        assert money.request_locale() == "de_DE"
    with app.test_request_context(headers={"Accept-Language": "*"}):
        assert money.request_locale() == "en"


def test_price_rules_zero_is_free_and_the_rest_must_be_chargeable():
    assert money.price_problems("GBP", {"a": 0, "b": 30, "c": 99_999_999 // 8}, 8) == []
    fields = [p["field"] for p in money.price_problems("GBP", {"a": 29, "b": 99_999_999 // 8 + 1}, 8)]
    assert fields == ["prices.a", "prices.b"]
    assert [p["field"] for p in money.price_problems("KWD", {"a": 12345}, 8)] == ["prices.a"]
    assert [p["field"] for p in money.price_problems("KPW", {"a": 1000}, 8)] == ["currency"]


@pytest.mark.parametrize("code", sorted(money.CURRENCIES))
def test_every_currency_seatline_sells_in_is_one_the_gateway_charges_within_its_limits(code):
    """Seatline's table is its own copy of the gateway's rules (the simulator keeps Stripe's): a price
    that passes Seatline's check must never be refused by the gateway."""
    ours, theirs = money.CURRENCIES[code], code.lower()
    assert theirs in stripe_rules.MINIMUM_CHARGE
    assert ours.exponent == stripe_rules.exponent(theirs)
    assert ours.minimum >= stripe_rules.MINIMUM_CHARGE[theirs]
    assert ours.maximum <= stripe_rules.MAX_AMOUNT
    if theirs in stripe_rules.THREE_DECIMAL:
        assert ours.step % 10 == 0


@pytest.mark.parametrize("typed", ["1e999999999", "-1e400", "1e12"])
def test_absurd_amounts_are_refused_before_any_arithmetic(typed):
    with pytest.raises(ValueError):
        money.to_minor(typed, "GBP")


def test_a_vanishingly_small_amount_is_too_many_decimals_not_zero():
    with pytest.raises(money.TooManyDecimals):
        money.to_minor("1e-999999999", "GBP")
