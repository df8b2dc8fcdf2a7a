"""The languages the site and its emails speak, and how a request picks one (README "Languages").

A page's locale is the signed-in fan's preferred language from their profile (kept in the session
when they sign in or change it), then the best match in the browser's Accept-Language, then English.
Messages outside a request (emails from the workers) are rendered under ``force_locale`` with the
recipient's own locale (``users.locale``, app/notifications/outbox.py). Money follows the same
choice (``app.money.request_locale``); dates and times are shown in the show's own time zone
(``format_show_time``), worded for the locale.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from babel import Locale, dates
from flask import Flask, has_request_context, request, session
from flask_babel import Babel, get_locale

from app.config import SUPPORTED_LOCALES

DEFAULT_LOCALE = "en"
SESSION_LOCALE = "locale"

babel = Babel()


def chosen_locale() -> str | None:
    """The language the signed-in fan chose in their profile (kept in the session), if any."""
    if not has_request_context() or request.path.startswith("/api/"):
        return None
    chosen = session.get(SESSION_LOCALE)
    return chosen if chosen in SUPPORTED_LOCALES else None


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    return chosen_locale() or request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def message_locale(preferred: str | None) -> str:
    """The locale of a message to someone whose profile says ``preferred`` (English if unset or unknown)."""
    return preferred if preferred in SUPPORTED_LOCALES else DEFAULT_LOCALE


def current_locale() -> str:
    """The locale the page or message is written in, as a language tag (``<html lang>``: ``en``, ``hi``)."""
    return str(get_locale() or DEFAULT_LOCALE).replace("_", "-")


def format_show_time(value: str | datetime, timezone: str | None = None, locale: str | None = None) -> str:
    """``Wed, Dec 9, 2026, 6:30 PM`` (en), ``बुध, 9 दिस॰ 2026, 6:30 pm`` (hi): a show's date and time,
    in the show's time zone (``timezone``, else the offset the ISO time carries, which the API gives
    in the show's zone), worded for ``locale`` (else the page's or message's)."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    zone: tzinfo = ZoneInfo(timezone) if timezone else when.tzinfo  # type: ignore[assignment]
    when = when.astimezone(zone)
    found = Locale.parse(locale or str(get_locale() or DEFAULT_LOCALE))
    day = dates.format_skeleton("yMMMEd", when, tzinfo=zone, locale=found)
    time = dates.format_time(when, "short", tzinfo=zone, locale=found)
    return str(found.datetime_formats["medium"]).format(time, day)


def init_app(app: Flask, translations_dir: str) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations_dir
    babel.init_app(app, locale_selector=select_locale)
    app.add_template_global(current_locale, "current_locale")  # base.html: <html lang="{{ current_locale() }}">
    app.add_template_filter(format_show_time, "show_time")
