"""Spellings of ``next`` that a lenient browser might follow to another origin, and how a browser reads a Location."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

ORIGIN = "http://seatline.test/"

HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d/evil.example",
    "/%00/evil.example",
    "/%20/evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "HTTPS://evil.example",
    "//evil.example:443/x",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>x</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\x0b/evil.example",
    "/\x0c/evil.example",
    "/\x7f/evil.example",
    "/\x1f/evil.example",
    "/\u2215evil.example",
    "/\uff0fevil.example",
    "\u2215\u2215evil.example",
    "\uff0f\uff0fevil.example",
    "/\u3000/evil.example",
    "/\u00a0/evil.example",
    "/\u200b/evil.example",
    "/.//evil.example",
    "/./evil.example",
    "/..//evil.example",
    "/a/..//evil.example",
    "/%2e//evil.example",
    "/.\\evil.example",
    "/\\/evil.example",
    "@evil.example",
    "/@evil.example",
    "evil.example",
    "//user@evil.example",
    "//seatline.test@evil.example",
    "https://seatline.test.evil.example/",
    "?next=//evil.example",
    "#//evil.example",
]


def browser_target(location: str) -> str:
    """Where a lenient browser would go for this Location on ORIGIN: it strips leading/trailing C0
    controls and spaces, removes tabs and newlines anywhere, and reads backslashes as slashes."""
    cleaned = location.strip("".join(chr(c) for c in range(0x21)))
    cleaned = re.sub(r"[\t\n\r]", "", cleaned).replace("\\", "/")
    target = urljoin(ORIGIN, cleaned)
    parts = urlsplit(target)
    return target if parts.scheme == "http" and parts.netloc == "seatline.test" else f"OTHER ORIGIN: {target}"
