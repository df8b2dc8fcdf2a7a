"""The edge shares an anonymous visitor's pages and never anyone else's: it must know the very
cookies that make a page personal in the app (app/site/shared_pages.py, ``is_anonymous``)."""

from __future__ import annotations

import re
from pathlib import Path

from app import admission
from app.api.http import SESSION_COOKIE

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "seatline.conf.template"


def test_the_edge_passes_pages_with_a_session_admission_or_authorization_straight_through():
    config = TEMPLATE.read_text()
    personal = re.search(r'map "([^"]+)" \$edge_personal \{', config)
    assert personal is not None
    assert set(re.findall(r"\$(\w+)", personal.group(1))) == {
        f"cookie_{SESSION_COOKIE}",
        f"cookie_{admission.COOKIE}",
        "http_authorization",
    }
    # Both pages go by it, and the cache server neither answers nor stores a personal request.
    assert config.count("proxy_pass http://$page_upstream;") == 2
    assert config.count("proxy_cache_bypass $edge_personal;") == config.count("proxy_no_cache $edge_personal;") == 2
