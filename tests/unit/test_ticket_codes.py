"""Ticket codes without a database: what they carry, and that any change to one is caught."""

from __future__ import annotations

import base64
import uuid

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.tickets import codes, keys

KEY = Ed25519PrivateKey.generate()
TICKET = codes.Ticket("0a1b2c3d", uuid.UUID("0b5e8a36-3c8f-4d0a-9a53-1f9f0a7c2d11"), 123456789, "BALC-R12-07", 300)


def verify(code: str) -> codes.Ticket:
    return codes.verify(code, lambda kid: KEY.public_key() if kid == TICKET.kid else None)


@pytest.mark.parametrize("show_id, version, seat", [(1, 1, "A1"), (2**40, 2**20, "x" * 64), (127, 128, "Ä1")])
def test_a_code_carries_booking_show_seat_and_version(show_id, version, seat):
    ticket = codes.Ticket(TICKET.kid, TICKET.booking_id, show_id, seat, version)
    assert verify(codes.sign(ticket, KEY)) == ticket


def test_a_code_is_short_upper_case_and_fits_a_small_qr_code():
    code = codes.sign(TICKET, KEY)
    assert code == code.upper() and code.isalnum() and len(code) < 180  # an 11-character seat id, a 9-digit show
    assert segno.make(code, error="m").mode == "alphanumeric"
    assert segno.make(code, error="m").version <= 8
    assert verify(code.lower()) == TICKET  # scanners may hand the text back in either case


def test_every_changed_character_is_caught():
    code = codes.sign(TICKET, KEY)
    for i in range(len(code)):
        changed = code[:i] + ("B" if code[i] != "B" else "C") + code[i + 1 :]
        with pytest.raises(codes.TicketCodeInvalid):
            verify(changed)


@pytest.mark.parametrize("text", ["", "AAAA", "not base32!", "seatline:abc:A1", "A" * 400])
def test_text_that_is_no_code_is_refused(text):
    with pytest.raises(codes.TicketCodeInvalid):
        verify(text)


def test_another_key_or_an_unknown_kid_does_not_verify():
    forged = codes.sign(TICKET, Ed25519PrivateKey.generate())
    with pytest.raises(codes.TicketCodeInvalid):
        verify(forged)
    other_kid = codes.sign(codes.Ticket("ffffffff", TICKET.booking_id, 1, "A1", 1), KEY)
    with pytest.raises(codes.TicketCodeInvalid, match="unknown key"):
        verify(other_kid)


def test_a_sealed_key_opens_only_with_its_secret_and_kid():
    sealed = keys.seal("the secret", TICKET.kid, KEY)
    opened = keys.unseal("the secret", TICKET.kid, sealed)
    assert keys.public_bytes(opened.public_key()) == keys.public_bytes(KEY.public_key())
    for secret, kid in (("another secret", TICKET.kid), ("the secret", "ffffffff")):
        with pytest.raises(keys.KeySealBroken):
            keys.unseal(secret, kid, sealed)
    raw = keys.public_bytes(KEY.public_key())
    jwk = {"kty": "OKP", "crv": "Ed25519", "kid": TICKET.kid, "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    assert keys.public_bytes(keys.public_key_from_jwk(jwk)) == raw
