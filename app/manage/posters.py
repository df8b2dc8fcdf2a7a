"""An event's poster: checked, resized, stored, then named on the event (README, "Event images")."""

from __future__ import annotations

from typing import Any

from app.audit import log as audit
from app.extensions import settings
from app.images import processing
from app.images.routes import storage
from app.manage import access
from app.manage.access import Actor
from app.unit_of_work import UnitOfWork


def set_poster(uow: UnitOfWork, actor: Actor, event_id: int, raw: bytes) -> dict[str, Any]:
    """Replaces the poster of an event the actor's organisation owns. The event is checked before
    the image is decoded (another organisation's event costs no decoding), the renditions are
    stored before the event names them (a page never links a rendition that is not there yet), and
    a refused image changes nothing. Renditions of an earlier poster stay where they are: their
    names are content hashes, and a cached page may still link them for a moment."""
    access.event(uow, actor, event_id)
    config = settings()
    digest, renditions = processing.read_poster(
        raw, max_bytes=config.poster_max_bytes, max_pixels=config.poster_max_pixels
    )
    store = storage()
    for rendition in renditions:
        store.put(rendition.name, rendition.data, rendition.content_type)
    uow.execute("UPDATE events SET poster = :p WHERE id = :id", {"p": digest, "id": event_id})
    audit.record(uow, audit.manager(actor), "event.poster_set", "event", event_id, details={"poster": digest})
    uow.commit()
    return {
        "eventId": str(event_id),
        "poster": digest,
        "images": {
            name: {"url": store.url(r.name), "width": r.width, "height": r.height, "contentType": r.content_type}
            for name, r in zip(processing.RENDITIONS, renditions, strict=True)
        },
    }
