"""The parts of the fan site's pages that are the same for every fan, shared like the JSON catalog.

The home page's listing and the show page's body (details, sections, a section's seats with their
states; the whole show's map is drawn by the page's script from the seat-map JSON) are rendered once per second per key into the same shared cache as the catalog and seat-map
answers (``app/response_cache.py``): a Redis copy that lives until the end of the second it was
built in, rebuilt by one process at a time, with a last good copy served while Postgres cannot be
reached (ARCHITECTURE.md rule 6), and built directly while Redis is down. A seat taken shows on
the page within that second.

What is personal (the signed-in name and links, the CSRF token, the fan's admission, a message
about their own request, the seats they had picked) is never in a shared copy: the layout around
the body is rendered per request, and the body carries markers that each request replaces with
its own parts (``personalise``). The markers are HTML comments, which no escaped text in the
body can contain.

A visitor with neither a session nor an admission cookie (nor ``Authorization``) is anonymous
(``is_anonymous``): every anonymous visitor gets the same page, so it is answered like the
catalog (``Cache-Control: public``, ``X-Accel-Expires`` from when the body was built) and the
edge keeps it for its second. Such a page creates no session: it has no CSRF token, and its
forms' buttons are links to sign in and come back (a POST without a token would only fail).
Everyone else gets the page with their own parts, ``Cache-Control: private``, which no shared
cache keeps (README, "The edge and a CDN").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request
from markupsafe import Markup

from app import admission
from app.extensions import redis_store
from app.response_cache import cached_bytes, shared_headers

CSRF_FIELD = Markup("<!--seatline:csrf-field-->")
PERSONAL = Markup("<!--seatline:personal-->")
# The show page's submit buttons: a button for a visitor with a session, a link to sign in otherwise.
HOLD_BUTTON = Markup("<!--seatline:hold-button-->")
BEST_BUTTON = Markup("<!--seatline:best-button-->")
STANDING_BUTTON = Markup("<!--seatline:standing-button-->")
# A sold-out show's "Join the waiting list" form (a link to sign in for a visitor without a session).
WAITLIST_FORM = Markup("<!--seatline:waitlist-form-->")
# Every response that has a personal part: no shared cache (the edge, a CDN) may keep it.
PRIVATE = "private, no-cache"


def is_anonymous() -> bool:
    """Whether this request carries nothing that makes its page personal: no session cookie, no
    admission cookie, no ``Authorization``. The edge decides alike, on the same names
    (deploy/nginx/seatline.conf.template, ``$edge_personal``)."""
    return not (
        request.cookies.get(current_app.config["SESSION_COOKIE_NAME"])
        or request.cookies.get(admission.COOKIE)
        or request.headers.get("Authorization")
    )


def headers_for(anonymous: bool, built_at: float, seconds: int, vary: str) -> dict[str, str]:
    """An anonymous page is shared like the catalog (at most ``seconds`` + 1 old, counted from when
    its body was built); a page with personal parts is private. ``vary``: the request headers the
    page depends on besides its URL."""
    if not anonymous:
        return {"Cache-Control": PRIVATE, "Vary": vary} if vary else {"Cache-Control": PRIVATE}
    return {**shared_headers(built_at, seconds), "Vary": ", ".join(filter(None, (vary, "Accept-Language")))}


def key_of(kind: str, *parts: object) -> str:
    """A cache key for a page body; the request's own values (query arguments) are hashed, so a
    made-up one cannot make a long key."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"page:{kind}:{digest}"


def shared_body(
    key: str, seconds: int, build: Callable[[], bytes], keep_last_good: Callable[[], bool]
) -> tuple[float, bytes]:
    """``(built_at, body)``: the body everyone shares, the stored copy of ``key`` or ``build()``'s
    (see the module)."""
    return cached_bytes(redis_store.cache, key, seconds, build, keep_last_good)


def personalise(body: str, parts: dict[str, str]) -> Markup:
    """The shared body with this request's parts in place of the markers (each marker: its part)."""
    for marker, part in parts.items():
        body = body.replace(marker, part)
    return Markup(body)
