"""Where a form may send the browser after signing in or up: a path on this site, never elsewhere.

A ``next`` parameter comes from a link anyone can craft. Browsers are lenient with what a
``Location`` header says: they drop tabs and newlines, read a backslash as a slash, skip leading
spaces and control characters, and take ``//host`` as another origin. So the check is not "does
it start with one slash" but: the value is plain printable ASCII with no backslash, parses with
no scheme and no host, and the path, rebuilt with repeated slashes collapsed and dot segments
resolved, still starts with exactly one slash. Anything else gives the default page.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit, urlunsplit

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_SLASHES = re.compile(r"/{2,}")
MAX_LENGTH = 2048


def same_origin_path(target: str | None) -> str | None:
    """``target`` as a same-origin path (with its query string), or None if it could lead elsewhere."""
    if not target or len(target) > MAX_LENGTH or not _PRINTABLE_ASCII.fullmatch(target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    path = _SLASHES.sub("/", parts.path)
    normalised = posixpath.normpath(path)
    if path.endswith("/") and normalised != "/":
        normalised += "/"
    if not normalised.startswith("/") or normalised.startswith("//"):
        return None
    return urlunsplit(("", "", normalised, parts.query, ""))
