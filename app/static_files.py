"""Static URLs that change whenever the file does.

``url_for('static', filename=...)`` adds ``?v=`` and the first 12 hex digits of the file's
SHA-256, so the edge can let browsers keep static files for a year (``immutable``): a changed
file gets a new URL instead of a stale copy. Each file is hashed once per process.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from flask import Flask
from werkzeug.security import safe_join


def init_app(app: Flask) -> None:
    folder = app.static_folder
    if folder is None:  # no static files, no URLs to version
        return

    @app.url_defaults
    def _versioned_static_url(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = content_version(safe_join(folder, values["filename"]))
            if version:
                values["v"] = version


@cache
def content_version(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()[:12]
    except OSError:
        return None
