"""Which limits a view is under: the rules, and ``@rate_limited``, written at each view they limit.

A view says what limits it::

    @bp.post("/shows/<show_id>/holds")
    @rate_limited(HOLDS)
    def create_hold(show_id): ...

``@rate_limited`` only marks the view function; the limiter (``app/api/rate_limits.py``) wraps every
marked view of an app once its blueprints are registered, because each app has a limiter of its
own (the web app and the gate, or apps with different settings side by side in a test run). No
view is named by a string, so a renamed or moved view keeps its limits, and
``tests/unit/test_view_guards.py`` fails if a view loses its decorator.

Kept apart from the limiter, which reads who is signed in (``app/accounts``), so that every view,
the auth API's included, declares its limits without closing an import cycle between app's
packages: this module imports nothing of the app.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

View = TypeVar("View", bound=Callable[..., Any])


class Key(enum.Enum):
    """Whom a limit counts (``app/api/rate_limits.py`` reads each from the request)."""

    FAN = "fan"  # the authenticated user; nobody signed in: not counted (the per-IP limit still is)
    CLIENT_IP = "client-ip"
    EMAIL_FROM_IP = "email-from-ip"  # the email a login names, together with the client's address


@dataclass(frozen=True)
class Rule:
    setting: str  # the Settings field holding the limit
    scope: str  # the count's name: views with the same rule share one count
    key: Key
    failures_only: bool = False  # count only failed attempts (and slow the view down, app/api/login_slowdown.py)


HOLDS = (Rule("rate_limit_holds", "holds", Key.FAN), Rule("rate_limit_holds_per_ip", "holds-ip", Key.CLIENT_IP))
PAYMENT_INTENTS = (
    Rule("rate_limit_payment_intents", "payment-intents", Key.FAN),
    Rule("rate_limit_payment_intents_per_ip", "payment-intents-ip", Key.CLIENT_IP),
)
JOINS = (Rule("rate_limit_joins", "joins", Key.FAN), Rule("rate_limit_joins_per_ip", "joins-ip", Key.CLIENT_IP))
LOGINS = (
    Rule("rate_limit_logins", "logins", Key.EMAIL_FROM_IP, failures_only=True),
    Rule("rate_limit_logins_per_ip", "logins-ip", Key.CLIENT_IP),
)
SIGNUPS = (Rule("rate_limit_signups_per_ip", "signups-ip", Key.CLIENT_IP),)
# Calls that ask the payment gateway each time (confirming, releasing a hold whose payment started,
# paying on the checkout page): a loop of them would use up the gateway's own limit for everyone.
GATEWAY_CALLS = (
    Rule("rate_limit_gateway_calls", "gateway-calls", Key.FAN),
    Rule("rate_limit_gateway_calls_per_ip", "gateway-calls-ip", Key.CLIENT_IP),
)
# Changing a password checks the current one: guesses count per fan, like failed logins.
PASSWORD_CHANGES = (Rule("rate_limit_logins", "password-changes", Key.FAN, failures_only=True), LOGINS[1])
# The gate's join form signs the fan in and takes a place in one go: a login and a join.
GATE_JOIN_FORM = (JOINS[1], *LOGINS)


@dataclass(frozen=True)
class Limits:
    """What ``@rate_limited`` wrote on a view: its rules, and the methods they count."""

    rules: tuple[Rule, ...]
    methods: tuple[str, ...]


_MARK = "seatline_rate_limits"


def rate_limited(rules: Sequence[Rule], methods: Sequence[str] = ("POST",)) -> Callable[[View], View]:
    """Marks a view as limited by ``rules``, counting requests with ``methods`` (POST unless named:
    showing a form is free). Write it under the route decorator; once per view."""
    if not rules:
        raise ValueError("a rate-limited view needs at least one rule")

    def mark(view: View) -> View:
        if limits_of(view) is not None:
            raise TypeError(f"{view.__qualname__} is rate limited twice: give it one @rate_limited with every rule")
        setattr(view, _MARK, Limits(tuple(rules), tuple(method.upper() for method in methods)))
        return view

    return mark


def limits_of(view: Callable[..., Any]) -> Limits | None:
    """The limits marked on ``view`` (or on a view it wraps with ``functools.wraps``), if any."""
    return getattr(view, _MARK, None)
