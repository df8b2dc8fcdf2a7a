"""Money: the currencies Seatline sells in, amounts in minor units, and how they are shown.

Every amount Seatline stores or sends to the gateway is an integer in the currency's minor unit,
10 ** -exponent of the major unit (ISO 4217): cents and pence (exponent 2), yen (0), fils (3).
``to_minor`` and ``to_major`` are the only conversions between what a person types or reads and
what is stored; ``format_money`` is the only way an amount is shown (Babel, for a locale).

The limits are the payment gateway's (Stripe's) per-currency minimum and maximum charge, so that a
price a manager can set is always one the gateway will take (see "What happens when…" in the
README). They are Seatline's own copy of Stripe's published table: the gateway simulator keeps
another (``gateway_simulator/currencies.py``), because it plays Stripe and must refuse on its own
rules, not on Seatline's; ``tests/unit/test_money.py`` checks that this table stays inside the
simulator's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision
from flask import has_request_context, request

from app import i18n

DEFAULT_LOCALE = "en"
# The gateway's largest charge, in minor units, for every currency below (Stripe: eight digits).
GATEWAY_MAX_MINOR = 99_999_999
# Typed amounts of this many digits before the point are refused before any arithmetic (``1e999999``).
AMOUNT_DIGITS = 12


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int  # ISO 4217 minor-unit digits
    minimum: int  # the gateway's smallest charge, minor units
    maximum: int = GATEWAY_MAX_MINOR
    step: int = 1  # an amount must be a multiple of this (Stripe: three-decimal currencies end in 0)


# Stripe's minimum charge amounts ("Minimum and maximum charge amounts", docs.stripe.com/currencies).
# KWD is not in that table: Stripe requires the equivalent of the account's settlement minimum
# (USD 0.50, about KWD 0.154); 0.160 is that, rounded up to the 10 fils Stripe's three-decimal rule asks for.
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", 2, 50),
        Currency("EUR", 2, 50),
        Currency("GBP", 2, 30),
        Currency("INR", 2, 50),
        Currency("AUD", 2, 50),
        Currency("CAD", 2, 50),
        Currency("CHF", 2, 50),
        Currency("SGD", 2, 50),
        Currency("AED", 2, 200),
        Currency("JPY", 0, 50),
        Currency("KWD", 3, 160, step=10),
    )
}


class UnsupportedCurrency(ValueError):
    pass


class TooManyDecimals(ValueError):
    """An amount with more decimals than its currency has (a third decimal of a pound, any of a yen)."""


def currency(code: str) -> Currency:
    found = CURRENCIES.get(code.upper()) if isinstance(code, str) else None
    if found is None:
        raise UnsupportedCurrency(f"{code} is not a currency Seatline sells in ({', '.join(sorted(CURRENCIES))})")
    return found


def exponent(code: str) -> int:
    """ISO 4217 minor-unit digits. A currency Seatline does not sell in (a show from before that was
    checked) is still shown and converted, with the digits Babel's CLDR data gives it."""
    known = CURRENCIES.get(code.upper())
    return known.exponent if known is not None else get_currency_precision(code.upper())


def to_minor(major: str | int | Decimal, code: str) -> int:
    """``"12.50"`` GBP is 1250, ``"3000"`` JPY is 3000, ``"1.250"`` KWD is 1250. Raises ValueError for
    anything that is not a finite number with at most the currency's number of decimals."""
    try:
        value = Decimal(str(major).strip())
    except InvalidOperation:
        raise ValueError(f"{major!r} is not an amount") from None
    if not value.is_finite() or (value and value.adjusted() >= AMOUNT_DIGITS):
        raise ValueError(f"{major!r} is not an amount Seatline can take")
    if value and value.adjusted() < -AMOUNT_DIGITS:
        raise TooManyDecimals(f"{code} amounts have at most {exponent(code)} decimals")
    minor = value.scaleb(exponent(code))
    if minor != minor.to_integral_value():
        raise TooManyDecimals(f"{code} amounts have at most {exponent(code)} decimals")
    return int(minor)


def to_major(minor: int, code: str) -> Decimal:
    """The amount in major units, with exactly the currency's decimals (``Decimal("12.50")``)."""
    digits = exponent(code)
    return Decimal(int(minor)).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_money(minor: int | None, code: str, locale: str | None = None) -> str:
    """``¥3,000``, ``₹300.00``, ``£12.50`` (for ``en``), ``₹1,00,000.00`` (``hi``): how every page,
    email and message shows money, with the currency's own number of decimals. Without a locale: the
    request's (``request_locale``) inside a request, else ``DEFAULT_LOCALE``."""
    if minor is None:
        return "—"
    return _formatted(minor, code.upper(), locale or request_locale())


@lru_cache(maxsize=4096)
def _formatted(minor: int, code: str, locale: str) -> str:
    # A page lists the same few prices once per seat (2,000 times on a concert hall's seat map):
    # Babel's formatting, the larger part of building such a page, is done once per amount.
    return format_currency(to_major(minor, code), code, locale=locale)


def request_locale() -> str:
    """The locale money is shown in for this request; ``en`` outside a request. Worked out once per request.

    It follows the page's language (app/i18n.py): a page in a language the fan chose in their profile
    or the site translates into (Hindi) shows money in it, refined by the browser's region for that
    language (``en-IN``: Indian grouping). An English page the fan did not choose is also what a
    browser gets whose languages the site does not speak: its money follows the browser's first
    locale Babel knows (``de-DE``: ``12,50 €``)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    found = request.environ.get("seatline.locale")
    if found is None:
        found = request.environ["seatline.locale"] = _negotiated_locale()
    return found


def _negotiated_locale() -> str:
    chosen = i18n.chosen_locale()
    page = chosen or i18n.select_locale()
    for tag, _quality in request.accept_languages:
        if tag == "*" or len(tag) > 35:
            continue
        try:
            found = Locale.parse(tag, sep="-")
        except (ValueError, TypeError, UnknownLocaleError):
            continue
        if (chosen is None and page == DEFAULT_LOCALE) or found.language == page:
            return str(found)
    return page


def price_problems(code: str, prices: Mapping[str, Any], max_seats_per_hold: int) -> list[dict[str, str]]:
    """Why these prices could not all be charged at the gateway (empty: they can).

    Rule: 0 is always allowed (those seats are free; a hold of only free seats books without a
    payment); every other price is at least the gateway's minimum charge, a multiple of its step,
    and small enough that the largest hold (``max_seats_per_hold`` seats of it) stays within the
    gateway's maximum. So any hold's total is either 0 or a charge the gateway accepts."""
    try:
        cur = currency(code)
    except UnsupportedCurrency as exc:
        return [{"field": "currency", "message": str(exc)}]
    problems = []
    ceiling = cur.maximum // max(1, max_seats_per_hold)
    for tier, price in prices.items():
        if not isinstance(price, int) or price == 0:
            continue
        field = f"prices.{tier}"
        if price < cur.minimum:
            problems.append(
                {
                    "field": field,
                    "message": (
                        f"{format_money(price, code, DEFAULT_LOCALE)} is below the smallest charge the payment gateway "
                        f"takes in {code} ({format_money(cur.minimum, code, DEFAULT_LOCALE)}); use 0 for free seats"
                    ),
                }
            )
        elif price > ceiling:
            problems.append(
                {
                    "field": field,
                    "message": (
                        f"at most {format_money(ceiling, code, DEFAULT_LOCALE)}: {max_seats_per_hold} seats must stay within "
                        f"the payment gateway's largest charge ({format_money(cur.maximum, code, DEFAULT_LOCALE)})"
                    ),
                }
            )
        elif price % cur.step:
            problems.append(
                {
                    "field": field,
                    "message": (f"{code} amounts must be a multiple of {format_money(cur.step, code, DEFAULT_LOCALE)}"),
                }
            )
    return problems
