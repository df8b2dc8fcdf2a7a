"""Images made with Pillow for the poster tests: real files of each kind, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

# EXIF tags: Orientation, and the GPS block's pointer.
ORIENTATION = 0x0112
GPS_IFD = 0x8825


def image_bytes(
    fmt: str, size: tuple[int, int] = (800, 500), mode: str = "RGB", orientation: int | None = None
) -> bytes:
    """A picture whose left half is red and right half blue, so a rotation shows in its pixels."""
    image = Image.new(mode, size, "red" if mode != "1" else 1)
    if mode in ("RGB", "RGBA"):
        image.paste("blue" if mode == "RGB" else (0, 0, 255, 128), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        exif.get_ifd(GPS_IFD)[2] = (51.0, 30.0, 0.0)  # a latitude: must not survive
        kwargs["exif"] = exif.tobytes()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb's shape):
    its one compressed row would take gigabytes if decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
