"""Demo posters, drawn with Pillow when the demo data is loaded (no image is downloaded): a
gradient in the event's category colours, a few shapes and the title. Each goes through the same
checks, renditions and storage as a manager's upload (app/images/)."""

from __future__ import annotations

import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

from app.images import processing
from app.images.storage import Storage
from app.unit_of_work import UnitOfWork

SIZE = (1600, 1000)  # the cards' 16:10
COLOURS = {
    "movie": ((11, 40, 110), (214, 90, 49)),
    "concert": ((60, 16, 96), (233, 170, 60)),
    "sport": ((8, 70, 40), (120, 200, 90)),
    "theatre": ((110, 20, 30), (240, 200, 150)),
    "comedy": ((122, 31, 162), (255, 210, 60)),
    "other": ((40, 44, 52), (150, 160, 175)),
}


def draw_poster(title: str, category: str, seed: int) -> bytes:
    """A PNG poster for ``title``; the same title always draws the same picture."""
    top, bottom = COLOURS.get(category, COLOURS["other"])
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        t = y / (SIZE[1] - 1)
        draw.line([(0, y), (SIZE[0], y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    rng = random.Random(seed)
    for _ in range(9):
        r = rng.randint(60, 320)
        x, y = rng.randint(-100, SIZE[0]), rng.randint(-100, SIZE[1] * 2 // 3)
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255), width=rng.randint(3, 14))
    font = ImageFont.load_default(size=110)
    small = ImageFont.load_default(size=56)
    lines = textwrap.wrap(title, 22)
    y = SIZE[1] - 130 - 125 * len(lines)
    draw.rectangle([0, y - 60, SIZE[0], SIZE[1]], fill=(0, 0, 0))
    for line in lines:
        draw.text((70, y), line, font=font, fill=(255, 255, 255))
        y += 125
    draw.text((70, y + 20), category.upper(), font=small, fill=bottom)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_posters(uow: UnitOfWork, store: Storage, organisation: str) -> int:
    """Draws a poster for each of the organisation's events that has none; how many it drew."""
    events = uow.execute(
        """
        SELECT e.id, e.title, e.category FROM events e JOIN organisations o ON o.id = e.organisation_id
        WHERE o.name = :org AND e.poster IS NULL ORDER BY e.id
        """,
        {"org": organisation},
    ).all()
    for event in events:
        raw = draw_poster(event.title, event.category, event.id)
        digest, renditions = processing.read_poster(raw, max_bytes=len(raw), max_pixels=SIZE[0] * SIZE[1])
        for rendition in renditions:
            store.put(rendition.name, rendition.data, rendition.content_type)
        uow.execute("UPDATE events SET poster = :p WHERE id = :id", {"p": digest, "id": event.id})
    uow.commit()
    return len(events)
