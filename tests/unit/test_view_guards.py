"""Rate limits and the booking path's breaker are written at each view (``@rate_limited``,
``@behind_breaker``) and wrapped around it by each app's ``init_app``. These are the views that
carry them in the web app and the gate: a view that loses its decorator, or one written where its
app never sees it, fails here. (That a marked view is really limited and guarded, in that order,
and limited first, is in tests/integration/test_degraded_mode.py.)"""

from __future__ import annotations

import functools

import pytest
from flask import Flask

from app import create_app
from app.circuit import behind_breaker, is_behind_breaker
from app.rate_limit_rules import (
    GATE_JOIN_FORM,
    GATEWAY_CALLS,
    HOLDS,
    JOINS,
    LOGINS,
    PASSWORD_CHANGES,
    PASSWORD_RESETS,
    PAYMENT_INTENTS,
    SIGNUPS,
    TRANSFERS,
    VERIFICATION_RESENDS,
    Limits,
    limits_of,
    rate_limited,
)
from queue_gate import create_gate_app
from tests.conftest import settings_for_tests

POST = ("POST",)
WEB_LIMITS = {
    "inventory_api.create_hold": Limits(HOLDS, POST),
    "site.hold_from_page": Limits(HOLDS, POST),
    "site.hold_best_available": Limits(HOLDS, POST),
    "site.check_access_code": Limits(HOLDS, ("GET",)),
    "site.hold_standing_from_page": Limits(HOLDS, POST),
    "payments_api.create_payment_intent": Limits(PAYMENT_INTENTS, POST),
    "accounts_api.token": Limits(LOGINS, POST),
    "site_auth.login": Limits(LOGINS, POST),
    "accounts_api.register": Limits(SIGNUPS, POST),
    "site_auth.signup": Limits(SIGNUPS, POST),
    "booking_api.confirm": Limits(GATEWAY_CALLS, POST),
    "inventory_api.release_hold": Limits(GATEWAY_CALLS, ("DELETE",)),
    "site_checkout.checkout": Limits(GATEWAY_CALLS, POST),
    "booking_api.create_checkout_session": Limits(PAYMENT_INTENTS, POST),
    "site_checkout.checkout_return": Limits(GATEWAY_CALLS, ("GET",)),
    "site.release_from_page": Limits(GATEWAY_CALLS, POST),
    "accounts_api.change_password": Limits(PASSWORD_CHANGES, POST),
    "accounts_api.password_reset": Limits(PASSWORD_RESETS, POST),
    "accounts_api.resend_verification": Limits(VERIFICATION_RESENDS, POST),
    "site_account.change_password": Limits(PASSWORD_CHANGES, POST),
    "site_recovery.forgot_password": Limits(PASSWORD_RESETS, POST),
    "site_account.resend_verification": Limits(VERIFICATION_RESENDS, POST),
    "booking_api.transfer_booking": Limits(TRANSFERS, POST),
    "site_checkout.transfer_from_page": Limits(TRANSFERS, POST),
}
GATE_LIMITS = {
    "gate_api.join": Limits(JOINS, POST),
    "gate_pages.join_page": Limits(GATE_JOIN_FORM, POST),
}
# Every view that writes bookings, holds or payments (API, pages and the gateway's webhook).
WEB_BOOKING_PATH = {
    "inventory_api.create_hold",
    "inventory_api.release_hold",
    "payments_api.create_payment_intent",
    "payments_api.gateway_webhook",
    "booking_api.confirm",
    "booking_api.cancel_booking",
    "waitlist_api.join_waitlist",
    "waitlist_api.leave_waitlist",
    "waitlist_pages.join_from_page",
    "waitlist_pages.leave_from_page",
    "site.hold_from_page",
    "site.hold_best_available",
    "site.hold_standing_from_page",
    "site.release_from_page",
    "site_checkout.checkout",
    "site_checkout.checkout_return",
    "booking_api.create_checkout_session",
    "site_checkout.cancel_from_page",
    "booking_api.transfer_booking",
    "site_checkout.transfer_from_page",
}


@pytest.fixture(scope="module")
def web() -> Flask:
    return create_app(settings_for_tests())


@pytest.fixture(scope="module")
def gate() -> Flask:
    return create_gate_app(settings_for_tests())


def test_the_web_app_limits_and_guards_exactly_these_views(web):
    assert web.extensions["seatline.rate_limits"].endpoints == WEB_LIMITS
    assert set(web.extensions["seatline.booking_path"]) == WEB_BOOKING_PATH


def test_the_gate_limits_exactly_these_views_and_guards_none(gate):
    assert gate.extensions["seatline.rate_limits"].endpoints == GATE_LIMITS
    assert gate.extensions["seatline.booking_path"] == ()


@pytest.mark.parametrize("factory", [create_app, create_gate_app], ids=["web", "gate"])
def test_every_view_an_app_calls_with_a_mark_is_wrapped_and_no_other(factory):
    application = factory(settings_for_tests())
    limited = application.extensions["seatline.rate_limits"].endpoints
    guarded = application.extensions["seatline.booking_path"]
    for endpoint, view in application.view_functions.items():
        assert (endpoint in limited) == (limits_of(view) is not None), endpoint
        assert (endpoint in guarded) == is_behind_breaker(view), endpoint


def test_a_view_takes_one_rate_limited_and_marks_survive_wrapping():
    def view() -> str:
        return "ok"

    marked = behind_breaker(rate_limited(SIGNUPS)(view))
    with pytest.raises(TypeError, match="rate limited twice"):
        rate_limited(HOLDS)(marked)

    @functools.wraps(marked)
    def wrapper() -> str:
        return marked()

    assert limits_of(wrapper) == Limits(SIGNUPS, POST) and is_behind_breaker(wrapper)
    assert limits_of(lambda: None) is None and not is_behind_breaker(lambda: None)
    assert limits_of(rate_limited(GATEWAY_CALLS, methods=["delete"])(lambda: None)) == Limits(
        GATEWAY_CALLS, ("DELETE",)
    )
