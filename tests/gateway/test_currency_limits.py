"""The simulator refuses charges as Stripe does, per currency: its minimum and maximum charge, the
currencies it takes, zero- and three-decimal currencies. The numbers are Stripe's published ones,
written out here, not read from Seatline's or the simulator's own tables."""

from __future__ import annotations

import pytest
import stripe

from tests.gateway.conftest import Sim


def create(client: stripe.StripeClient, amount: int, currency: str):
    return client.v1.payment_intents.create(params={"amount": amount, "currency": currency})


@pytest.mark.parametrize(
    "currency, smallest", [("usd", 50), ("eur", 50), ("gbp", 30), ("inr", 50), ("jpy", 50), ("kwd", 160)]
)
def test_below_the_minimum_charge_is_amount_too_small(client: stripe.StripeClient, sim: Sim, currency, smallest):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        create(client, smallest - (10 if currency == "kwd" else 1), currency)
    assert exc.value.http_status == 400
    assert (exc.value.code, exc.value.param) == ("amount_too_small", "amount")
    assert create(client, smallest, currency).amount == smallest


def test_above_eight_digits_is_amount_too_large(client: stripe.StripeClient, sim: Sim):
    for currency in ("usd", "jpy", "kwd"):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            create(client, 100_000_000, currency)
        assert (exc.value.code, exc.value.param) == ("amount_too_large", "amount")
    assert create(client, 99_999_990, "kwd").amount == 99_999_990


def test_a_currency_it_does_not_take_is_refused_on_the_currency(client: stripe.StripeClient, sim: Sim):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        create(client, 5000, "kpw")
    assert exc.value.http_status == 400 and exc.value.param == "currency"
    assert sim.intents() == []


def test_three_decimal_amounts_end_in_zero(client: stripe.StripeClient, sim: Sim):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        create(client, 12345, "kwd")
    assert exc.value.param == "amount"
    assert create(client, 12350, "kwd").currency == "kwd"
