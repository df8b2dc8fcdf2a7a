"""Serving poster renditions kept on local disk, and the pages' way to link any rendition."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app

from app.config import Settings
from app.images import processing
from app.images.storage import CACHE_CONTROL, LocalStorage, Storage, from_settings

bp = Blueprint("media", __name__)
EXTENSION = "seatline.media"


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = from_settings(settings)
    app.add_template_filter(poster_url, "poster_url")


def storage() -> Storage:
    return current_app.extensions[EXTENSION]


def poster_url(digest: str | None, rendition: str = "card") -> str:
    """The address of an event's poster rendition, or "" for an event without one."""
    return storage().url(processing.poster_name(digest, rendition)) if digest else ""


@bp.get("/media/<path:name>")
def media(name: str):
    """A stored rendition, when they are kept on this machine's disk. Its name carries its content's
    hash: the answer may be kept for a year by the browser and any cache on the way."""
    store = storage()
    if not isinstance(store, LocalStorage):
        abort(404)
    try:
        data = store.get(name)
    except ValueError:
        abort(404)
    if data is None:
        abort(404)
    return Response(
        data,
        mimetype="image/webp" if name.endswith(".webp") else "application/octet-stream",
        headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
    )
