"""Response headers that keep Seatline's pages from being framed, sniffed, or made to run anyone
else's scripts. Every process built on ``create_base_app`` (web, browse, gate) sends them."""

from __future__ import annotations

from flask import Flask, Response

from app.config import Settings

# Scripts only from this origin (htmx and the app's own files under /static/; no inline scripts or
# event handlers, no eval). Inline styles stay allowed: seat plans position each seat with a style
# attribute, and a style cannot run code.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    )
)
# Browsers that have seen Seatline over HTTPS never try plain HTTP again for a year.
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask, settings: Settings) -> None:
    # Worked out once: every answer gets these unless its view set one of them itself.
    defaults = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers without CSP 2
        ("Referrer-Policy", "same-origin"),
    ]
    if settings.is_production:
        defaults.append(("Strict-Transport-Security", HSTS))
    names = frozenset(name.lower() for name, _ in defaults)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # One pass over the answer's few headers, instead of a search per default.
        present = names.intersection(name.lower() for name, _ in headers.items())
        if not present:
            headers.extend(defaults)
        else:
            headers.extend([(name, value) for name, value in defaults if name.lower() not in present])
        return response
