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

A view may also name a Redis read it will need before its database work (``reads=``: the seat
hints a hold looks at): the limiter queues it in the same round trip as the token's revocation
check and the limits, and the view takes the answer with ``prefetched()``.

Kept apart from the limiter, which reads who is signed in (``app/accounts``), so that every view,
the auth API's included, declares its limits without closing an import cycle between app's
packages: this module imports nothing of the app.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from flask import g

View = TypeVar("View", bound=Callable[..., Any])


class Key(enum.Enum):
    """Whom a limit counts (``app/api/rate_limits.py`` reads each from the request)."""

    FAN = "fan"  # the authenticated user; nobody signed in: not counted (the per-IP limit still is)
    CLIENT_IP = "client-ip"
    EMAIL_FROM_IP = "email-from-ip"  # the email a login names, together with the client's address
    EMAIL = "email"  # the email a request names, from wherever it comes (password resets)


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
VERIFICATION_RESENDS = (Rule("rate_limit_verification_resends", "verification-resends", Key.FAN),)
# Each password-reset request may email the owner: counted per email (no inbox is flooded) and per IP.
PASSWORD_RESETS = (
    Rule("rate_limit_password_resets", "password-resets", Key.EMAIL),
    Rule("rate_limit_password_resets_per_ip", "password-resets-ip", Key.CLIENT_IP),
)
# Calls that ask the payment gateway each time (confirming, releasing a hold whose payment started,
# paying on the checkout page): a loop of them would use up the gateway's own limit for everyone.
GATEWAY_CALLS = (
    Rule("rate_limit_gateway_calls", "gateway-calls", Key.FAN),
    Rule("rate_limit_gateway_calls_per_ip", "gateway-calls-ip", Key.CLIENT_IP),
)
# Transferring a booking emails two people, whoever asks: counted per fan and per IP, on the API and the site.
TRANSFERS = (
    Rule("rate_limit_transfers", "transfers", Key.FAN),
    Rule("rate_limit_transfers_per_ip", "transfers-ip", Key.CLIENT_IP),
)
# Changing a password checks the current one: guesses count per fan, like failed logins.
PASSWORD_CHANGES = (Rule("rate_limit_logins", "password-changes", Key.FAN, failures_only=True), LOGINS[1])
# The gate's join form signs the fan in and takes a place in one go: a login and a join.
GATE_JOIN_FORM = (JOINS[1], *LOGINS)


class Read(Protocol):
    """A Redis read a view needs, made in the request's one round trip of checks."""

    def queue(self, pipe: Any) -> None:
        """Adds the read's commands to ``pipe`` (one reply per command, handed to ``take``)."""

    def take(self, replies: list[Any] | None) -> None:
        """The replies, or None if Redis did not answer."""


@dataclass(frozen=True)
class Limits:
    """What ``@rate_limited`` wrote on a view: its rules, the methods they count, and the read the
    view will need (built from the view's arguments and the request; None when there is nothing to read)."""

    rules: tuple[Rule, ...]
    methods: tuple[str, ...]
    reads: Callable[..., Read | None] | None = field(default=None, compare=False)


_MARK = "seatline_rate_limits"


def rate_limited(
    rules: Sequence[Rule], methods: Sequence[str] = ("POST",), reads: Callable[..., Read | None] | None = None
) -> Callable[[View], View]:
    """Marks a view as limited by ``rules``, counting requests with ``methods`` (POST unless named:
    showing a form is free). ``reads``, given the view's keyword arguments, names what else the view
    will read from Redis first (taken with ``prefetched()``). Write it under the route decorator; once per view."""
    if not rules:
        raise ValueError("a rate-limited view needs at least one rule")

    def mark(view: View) -> View:
        if limits_of(view) is not None:
            raise TypeError(f"{view.__qualname__} is rate limited twice: give it one @rate_limited with every rule")
        setattr(view, _MARK, Limits(tuple(rules), tuple(method.upper() for method in methods), reads))
        return view

    return mark


def limits_of(view: Callable[..., Any]) -> Limits | None:
    """The limits marked on ``view`` (or on a view it wraps with ``functools.wraps``), if any."""
    return getattr(view, _MARK, None)


_READ = "seatline_first_trip_read"


def remember_read(read: Read) -> None:
    """The limiter keeps the view's read, answered, for the rest of the request."""
    setattr(g, _READ, read)


def prefetched() -> Any:
    """The read this request's view asked for with ``reads=``, answered; None if none was made
    (limits turned off, another method, or input the read could not make sense of)."""
    return g.get(_READ)
