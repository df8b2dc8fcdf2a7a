"""A poster upload read, checked and resized with Pillow.

Its type is what its bytes are, not what its name or Content-Type say: Pillow opens it allowing only
JPEG, PNG and WebP. Its size is checked before the header is read, and its pixels before it is
decoded, so a small file that would decode to a huge image (a decompression bomb) costs nothing.
The renditions honour the EXIF orientation, then carry no metadata (no EXIF: a phone's GPS position
does not leave the upload), and are WebP only: every browser the site supports decodes it
(README, "Event images").
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from flask_babel import gettext
from PIL import Image, ImageOps

from app.errors import PayloadTooLarge, ValidationFailed

FORMATS = ("JPEG", "PNG", "WEBP")
# Name -> the box a rendition fits in (its aspect ratio kept): a home page card, a show page's hero.
RENDITIONS: dict[str, tuple[int, int]] = {"card": (640, 640), "hero": (1600, 1600)}
WEBP_QUALITY = 82
# Changes whenever the renditions would come out differently, so their names change with them.
RENDITION_VERSION = b"1"


@dataclass(frozen=True)
class Rendition:
    name: str  # the stored name, e.g. posters/<hash>-card.webp
    data: bytes
    width: int
    height: int
    content_type: str = "image/webp"


def poster_name(digest: str, rendition: str) -> str:
    return f"posters/{digest}-{rendition}.webp"


def read_poster(raw: bytes, *, max_bytes: int, max_pixels: int) -> tuple[str, list[Rendition]]:
    """``(digest, renditions)`` of an uploaded poster; ``digest`` names them (the hash of the
    upload and of how it is rendered). Raises PayloadTooLarge or ValidationFailed (nothing stored)."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(gettext("a poster is at most %(mib)s MiB", mib=max_bytes // (1024 * 1024)))
    if not raw:
        raise ValidationFailed(gettext("choose an image file"), fields=[_field(gettext("empty file"))])
    try:
        # Pillow refuses past twice its own global limit at open; ours, checked next, is lower.
        image = Image.open(io.BytesIO(raw), formats=FORMATS)
        width, height = image.size
        if width * height > max_pixels:
            raise ValidationFailed(
                gettext("that image is too large: at most %(n)s pixels", n=f"{max_pixels:,}"),
                fields=[_field(gettext("%(w)s × %(h)s pixels", w=width, h=height))],
            )
        image.load()
    except ValidationFailed:
        raise
    except Image.DecompressionBombError as exc:
        raise ValidationFailed(
            gettext("that image is too large: at most %(n)s pixels", n=f"{max_pixels:,}"),
            fields=[_field(gettext("too many pixels"))],
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise ValidationFailed(
            gettext("that file is not a JPEG, PNG or WebP image"), fields=[_field(gettext("not an image"))]
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:  # a truncated or corrupt image
        raise ValidationFailed(gettext("that image could not be read"), fields=[_field(gettext("unreadable"))]) from exc
    upright = ImageOps.exif_transpose(image)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    upright = upright.convert("RGBA" if has_alpha else "RGB")
    digest = hashlib.sha256(RENDITION_VERSION + raw).hexdigest()[:32]
    return digest, [_render(upright, digest, name, box) for name, box in RENDITIONS.items()]


def _render(image: Image.Image, digest: str, name: str, box: tuple[int, int]) -> Rendition:
    copy = image.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)  # only ever smaller, never enlarged
    out = io.BytesIO()
    # No exif=, no icc_profile=: the rendition carries pixels only.
    copy.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return Rendition(poster_name(digest, name), out.getvalue(), copy.width, copy.height)


def _field(message: str) -> dict[str, str]:
    return {"field": "file", "message": message}
