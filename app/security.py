"""Response headers that keep Seatline's pages from being framed, sniffed, or made to run anyone
else's scripts. Every process built on ``create_base_app`` (web, browse, gate) sends them."""

from __future__ import annotations

from urllib.parse import urlsplit

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


def media_origin(settings: Settings) -> str | None:
    """The origin posters are served from when it is not this one (MEDIA_PUBLIC_URL, or the S3
    endpoint's: app/images/storage.py), which pages must be allowed to load images from."""
    url = settings.media_public_url or (settings.s3_endpoint_url if settings.media_storage == "s3" else "")
    if not url.startswith(("https://", "http://")):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    origin = media_origin(settings)
    if origin is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


def init_app(app: Flask, settings: Settings) -> None:
    # Worked out once: every answer gets these unless its view set one of them itself.
    defaults = [
        ("Content-Security-Policy", content_security_policy(settings)),
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
