"""Poster uploads read with Pillow: only JPEG, PNG and WebP by their bytes, bounded in size and
pixels, turned upright, stripped of metadata, resized into the card and hero renditions."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.errors import PayloadTooLarge, ValidationFailed
from app.images import processing
from tests.support.images import GPS_IFD, ORIENTATION, image_bytes, png_claiming

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_each_accepted_type_gives_a_card_and_a_hero_in_webp(fmt):
    digest, renditions = processing.read_poster(image_bytes(fmt, (2400, 1500)), **LIMITS)
    by_name = {r.name: r for r in renditions}
    assert set(by_name) == {f"posters/{digest}-card.webp", f"posters/{digest}-hero.webp"}
    card, hero = by_name[f"posters/{digest}-card.webp"], by_name[f"posters/{digest}-hero.webp"]
    assert (card.width, card.height) == (640, 400) and (hero.width, hero.height) == (1600, 1000)
    for rendition in renditions:
        image = opened(rendition.data)
        assert image.format == "WEBP" and image.size == (rendition.width, rendition.height)
        assert rendition.content_type == "image/webp"


def test_a_small_image_is_never_enlarged():
    _, renditions = processing.read_poster(image_bytes("PNG", (300, 200)), **LIMITS)
    assert {(r.width, r.height) for r in renditions} == {(300, 200)}


def test_exif_orientation_is_honoured_and_no_metadata_survives():
    raw = image_bytes("JPEG", (800, 500), orientation=6)  # "rotate 90° clockwise to view"
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD), "the upload carries a GPS position"
    _, renditions = processing.read_poster(raw, **LIMITS)
    for rendition in renditions:
        image = opened(rendition.data)
        assert image.size in ((500, 800), (400, 640)), "stood upright"
        # Red was the left half; turned clockwise it is the top half.
        w, h = image.size
        top, bottom = (
            image.convert("RGB").getpixel((w // 2, h // 8)),
            image.convert("RGB").getpixel((w // 2, h * 7 // 8)),
        )
        assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]
        exif = image.getexif()
        assert ORIENTATION not in exif and not exif.get_ifd(GPS_IFD) and "exif" not in image.info
        assert "icc_profile" not in image.info


def test_transparency_is_kept():
    _, renditions = processing.read_poster(image_bytes("PNG", (400, 400), mode="RGBA"), **LIMITS)
    image = opened(renditions[0].data)
    assert image.mode == "RGBA" and image.getpixel((300, 10))[3] < 255


def test_the_same_upload_gets_the_same_names_and_another_gets_others():
    raw = image_bytes("PNG")
    assert processing.read_poster(raw, **LIMITS)[0] == processing.read_poster(raw, **LIMITS)[0]
    assert (
        processing.read_poster(raw, **LIMITS)[0] != processing.read_poster(image_bytes("PNG", (801, 500)), **LIMITS)[0]
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"just some text, named poster.jpg",
        b"%PDF-1.4 not an image",
        image_bytes("GIF"),
        image_bytes("BMP"),
        image_bytes("TIFF"),
        image_bytes("PNG")[:200],  # truncated
    ],
    ids=["empty", "text", "pdf", "gif", "bmp", "tiff", "truncated-png"],
)
def test_anything_but_a_whole_jpeg_png_or_webp_is_refused(raw):
    with pytest.raises(ValidationFailed) as refused:
        processing.read_poster(raw, **LIMITS)
    assert refused.value.details["fields"][0]["field"] == "file"


def test_too_many_bytes_is_payload_too_large():
    with pytest.raises(PayloadTooLarge):
        processing.read_poster(image_bytes("PNG"), max_bytes=100, max_pixels=LIMITS["max_pixels"])


@pytest.mark.parametrize("size", [(8000, 6000), (30000, 30000), (100000, 100000)])
def test_too_many_pixels_is_refused_before_decoding(size):
    """A few hundred bytes claiming up to 10 billion pixels: refused from the header alone."""
    raw = png_claiming(*size)
    assert len(raw) < 1000
    with pytest.raises(ValidationFailed) as refused:
        processing.read_poster(raw, **LIMITS)
    assert "pixels" in refused.value.message


def test_the_pixel_limit_is_the_configured_one():
    raw = image_bytes("PNG", (200, 100))
    processing.read_poster(raw, max_bytes=LIMITS["max_bytes"], max_pixels=20_000)
    with pytest.raises(ValidationFailed):
        processing.read_poster(raw, max_bytes=LIMITS["max_bytes"], max_pixels=19_999)
