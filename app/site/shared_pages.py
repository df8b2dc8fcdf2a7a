"""The parts of the fan site's pages that are the same for every fan, shared like the JSON catalog.

The home page's listing and the show page's body (details, sections, the seat map with its states)
are rendered once per second per key into the same shared cache as the catalog and seat-map
answers (``app/response_cache.py``): a Redis copy that lives until the end of the second it was
built in, rebuilt by one process at a time, with a last good copy served while Postgres cannot be
reached (ARCHITECTURE.md rule 6), and built directly while Redis is down. A seat taken shows on
the page within that second.

What is personal (the signed-in name and links, the CSRF token, the fan's admission, a message
about their own request, the seats they had picked) is never in a shared copy: the layout around
the body is rendered per request, and the body carries markers that each request replaces with
its own parts (``personalise``). The markers are HTML comments, which no escaped text in the
body can contain. The pages themselves are ``Cache-Control: private``: the edge passes them
straight through (README, "The edge and a CDN").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from markupsafe import Markup

from app.extensions import redis_store
from app.response_cache import cached_bytes

CSRF_FIELD = Markup("<!--seatline:csrf-field-->")
PERSONAL = Markup("<!--seatline:personal-->")
# Every response that has a personal part: no shared cache (the edge, a CDN) may keep it.
PRIVATE = "private, no-cache"


def key_of(kind: str, *parts: object) -> str:
    """A cache key for a page body; the request's own values (query arguments) are hashed, so a
    made-up one cannot make a long key."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"page:{kind}:{digest}"


def shared_body(key: str, seconds: int, build: Callable[[], bytes], keep_last_good: Callable[[], bool]) -> bytes:
    """The body everyone shares: the stored copy of ``key``, or ``build()``'s (see the module)."""
    return cached_bytes(redis_store.client, key, seconds, build, keep_last_good)[1]


def personalise(body: str, csrf_field: str, personal: str = "") -> Markup:
    """The shared body with this request's CSRF field and personal part in place of the markers."""
    return Markup(body.replace(CSRF_FIELD, csrf_field).replace(PERSONAL, personal, 1))
