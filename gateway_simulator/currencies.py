"""Stripe's per-currency charge limits, as the simulator enforces them.

The simulator plays Stripe, so it keeps its own copy of Stripe's published rules
(docs.stripe.com/currencies) and never asks Seatline what is allowed: a test that pays through
it finds out whether Seatline's own checks agree with the gateway, instead of assuming it.

- A presentment currency not listed here is refused (400 ``invalid_request_error``, param
  ``currency``), as Stripe refuses currencies it does not support.
- Zero-decimal currencies (JPY, KRW, ...) take amounts in the major unit; three-decimal ones
  (BHD, JOD, KWD, OMR, TND) in thousandths, and the last digit must be 0.
- Below the minimum charge: ``amount_too_small``; above 99,999,999 minor units (eight
  digits): ``amount_too_large``.
"""

from __future__ import annotations

MAX_AMOUNT = 99_999_999

# Minimum charge per presentment currency, in minor units ("Minimum and maximum charge amounts").
# Three-decimal currencies are not in that table: Stripe asks for the equivalent of the account's
# settlement-currency minimum (USD 0.50); the simulator fixes that at today's rate, rounded up to 10.
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
    "kwd": 160,
    "bhd": 190,
    "jod": 360,
    "omr": 200,
    "tnd": 1550,
}
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}


def exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def show(amount: int, currency: str) -> str:
    """An amount as Stripe's error messages write it: ``$0.50 usd``-like, here ``0.50 usd``."""
    digits = exponent(currency)
    return f"{amount / 10**digits:,.{digits}f} {currency}"
