"""Rotating ticket codes (README "Rotating codes"): what a phone shows at a show that requires them,
and how a door (online or offline) checks it.

Each such show has a random 32-byte rotation key, sealed in ``shows.rotation_key_sealed`` like the
organisations' signing keys (app/tickets/keys.py): AES-256-GCM under a key derived from
TICKET_KEYS_SECRET, bound to the show's id. A ticket's secret is

    HMAC-SHA256(show key, "seatline rotating v1|" booking id "|" seat id "|" version)

so a transfer, which bumps the booking's version, gives the ticket a new secret; the fan's phone gets
its tickets' secrets, never the show key. The QR code's text is the ticket's signed static code
(app/tickets/codes.py), ``:`` (a character of QR codes' alphanumeric mode, never in base32), and an
8-digit one-time value: RFC 6238 TOTP with HMAC-SHA256, 15-second steps counted from the Unix epoch,
truncated as RFC 4226 section 5.3 says.

The door accepts the step of its own clock and the one before, so a code shown at some moment stops
working at most 30 s later (a screenshot dies with it), plus the next step during its first
``EARLY_SECONDS``: the phone follows the server's clock (the live page measures its offset from the
time in its data), so only small differences remain (the offset's measurement, a scanner's clock
drifting since its bundle), and accepting a code early never makes one last longer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

STEP_SECONDS = 15
DIGITS = 8
PREVIOUS_STEPS = 1
EARLY_SECONDS = 5
SEPARATOR = ":"
KEY_BYTES = 32
NONCE_BYTES = 12
SECRET_LABEL = b"seatline rotating v1"


class RotationKeyBroken(Exception):
    """A sealed rotation key that TICKET_KEYS_SECRET does not open."""


def _sealing_key(secret: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"seatline show rotation keys").derive(
        secret.encode()
    )
    return AESGCM(derived)


def new_show_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def seal(secret: str, show_id: int, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _sealing_key(secret).encrypt(nonce, key, f"show:{show_id}".encode())


def unseal(secret: str, show_id: int, sealed: bytes) -> bytes:
    try:
        return _sealing_key(secret).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], f"show:{show_id}".encode())
    except InvalidTag as exc:
        raise RotationKeyBroken(f"the rotation key of show {show_id} does not open with TICKET_KEYS_SECRET") from exc


def ticket_secret(show_key: bytes, booking_id: uuid.UUID, seat_id: str, version: int) -> bytes:
    message = b"|".join((SECRET_LABEL, str(booking_id).encode(), seat_id.encode(), str(version).encode()))
    return hmac.new(show_key, message, hashlib.sha256).digest()


def step(unix_seconds: float) -> int:
    return int(unix_seconds // STEP_SECONDS)


def totp(ticket_secret_: bytes, step_: int) -> str:
    """The one-time value of a step: HMAC-SHA256 of the 8-byte big-endian step, dynamically truncated."""
    mac = hmac.new(ticket_secret_, struct.pack(">Q", step_), hashlib.sha256).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def accepted_steps(unix_seconds: float) -> list[int]:
    """The steps whose values a door accepts at this moment: its own, the one before, and the next
    during the first ``EARLY_SECONDS`` before it begins."""
    now = step(unix_seconds)
    steps = [now - back for back in range(PREVIOUS_STEPS + 1)]
    if step(unix_seconds + EARLY_SECONDS) > now:
        steps.append(now + 1)
    return steps


def totp_ok(ticket_secret_: bytes, value: str, unix_seconds: float) -> bool:
    if len(value) != DIGITS or not value.isascii() or not value.isdigit():
        return False
    return any(hmac.compare_digest(totp(ticket_secret_, s), value) for s in accepted_steps(unix_seconds))


def split(text: str) -> tuple[str, str | None]:
    """A scanned text's static code and its one-time value (None for a bare static code)."""
    code, sep, value = text.strip().partition(SEPARATOR)
    return code, (value if sep else None)


def rotating_text(static_code: str, ticket_secret_: bytes, unix_seconds: float) -> str:
    """What the live ticket shows at this moment (the browser computes the same: app/static/js/rotating-codes.js)."""
    return f"{static_code}{SEPARATOR}{totp(ticket_secret_, step(unix_seconds))}"
