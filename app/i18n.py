"""The languages the site and its emails speak, and how a request picks one (README "Languages").

A page's locale is the signed-in fan's preferred language from their profile (kept in the session
when they sign in or change it), then the best match in the browser's Accept-Language, then English.
Messages outside a request (emails from the workers) are rendered under ``force_locale`` with the
recipient's own locale.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_babel import Babel

SUPPORTED_LOCALES = ("en", "hi")
DEFAULT_LOCALE = "en"
SESSION_LOCALE = "locale"

babel = Babel()


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = session.get(SESSION_LOCALE) if not request.path.startswith("/api/") else None
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def init_app(app: Flask, translations_dir: str) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations_dir
    babel.init_app(app, locale_selector=select_locale)
