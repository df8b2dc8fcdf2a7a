"""How a request's language and its money's locale are chosen, and how a show's time is worded
(app/i18n.py, app/money.py; README "Languages")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask, session

from app import i18n, money


@pytest.fixture
def app():
    app = Flask(__name__)
    app.secret_key = "test"
    i18n.init_app(app, "translations")
    return app


@pytest.mark.parametrize(
    "accept, chosen, page, money_locale",
    [
        ("hi-IN,hi;q=0.9", None, "hi", "hi_IN"),
        ("hi", None, "hi", "hi"),
        ("en-IN,en;q=0.9", None, "en", "en_IN"),
        ("de-DE,de;q=0.9", None, "en", "de_DE"),  # no German pages: English, with German numbers
        ("de-DE, hi;q=0.5", None, "hi", "hi"),  # a Hindi page shows Hindi money
        ("fr-FR", "hi", "hi", "hi"),  # the profile's choice beats the browser
        ("hi-IN", "en", "en", "en"),
        ("en-IN", "en", "en", "en_IN"),  # the browser's region for the chosen language
        ("hi-IN", "xx", "hi", "hi_IN"),  # not a language Seatline speaks: ignored
        ("", None, "en", "en"),
    ],
)
def test_the_page_and_its_money_follow_the_same_choice(app, accept, chosen, page, money_locale):
    with app.test_request_context("/", headers={"Accept-Language": accept}):
        if chosen:
            session[i18n.SESSION_LOCALE] = chosen
        assert i18n.select_locale() == page
        assert money.request_locale() == money_locale


def test_the_api_ignores_the_sessions_language(app):
    with app.test_request_context("/api/v1/shows", headers={"Accept-Language": "hi"}):
        session[i18n.SESSION_LOCALE] = "en"
        assert i18n.select_locale() == "hi"


def test_money_keeps_each_currencys_decimals_in_hindi():
    assert money.format_money(10_000_000, "INR", "hi") == "₹1,00,000.00"
    assert money.format_money(3000, "JPY", "hi") == "JP¥3,000"
    assert money.format_money(12350, "KWD", "hi") == "KWD12.350"


def test_a_shows_time_is_in_its_own_zone_and_worded_for_the_language():
    utc = datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
    assert i18n.format_show_time(utc, "Asia/Kolkata", "hi") == "बुध, 9 दिस॰ 2026, 6:30 pm"
    assert i18n.format_show_time(utc, "Asia/Kolkata", "en") == "Wed, Dec 9, 2026, 6:30\u202fPM"
    # The API's ISO time carries the show's offset: shown as it is, not moved to UTC.
    assert i18n.format_show_time("2026-12-09T18:30:00+05:30", locale="en") == "Wed, Dec 9, 2026, 6:30\u202fPM"
    assert i18n.format_show_time(utc, "Europe/London", "en") == "Wed, Dec 9, 2026, 1:00\u202fPM"


def test_messages_are_in_the_recipients_language_or_english():
    assert [i18n.message_locale(x) for x in ("hi", "en", None, "xx")] == ["hi", "en", "en", "en"]


def test_current_locale_names_the_page_language_for_html_lang(app):
    with app.test_request_context("/", headers={"Accept-Language": "hi-IN"}):
        assert i18n.current_locale() == "hi"
    with app.test_request_context("/"):
        assert i18n.current_locale() == "en"
