"""Ticket codes: what a ticket's QR code says, signed so that a scanner can check it offline.

A code is one binary record, Ed25519-signed, written in RFC 4648 base32 without padding (upper-case
letters and digits: QR codes store those in their compact alphanumeric mode, about 150 characters
for a ticket):

    format (1 byte, 1) | kid (4 bytes) | booking id (16 bytes, a UUID) | show id (varint)
    | version (varint) | seat id length (1 byte) | seat id (UTF-8) | signature (64 bytes)

The signature covers every byte before it, the key id included. ``kid`` names the organisation's
key (app/tickets/keys.py) whose public half verifies it. A code whose version is below its booking's
``ticket_version`` has been replaced (README "Tickets and transfer"); the revoked ones are listed in
``revoked_tickets``. Nothing here reads the database: a scanner with the public keys runs ``verify``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = 1
SIGNATURE_BYTES = 64
MAX_SEAT_BYTES = 64


class TicketCodeInvalid(Exception):
    """Not a code Seatline signed with a key the verifier knows (malformed, tampered with, unknown key)."""


@dataclass(frozen=True)
class Ticket:
    kid: str
    booking_id: uuid.UUID
    show_id: int
    seat_id: str
    version: int


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise TicketCodeInvalid("truncated number")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _payload(ticket: Ticket) -> bytes:
    seat = ticket.seat_id.encode()
    if len(seat) > MAX_SEAT_BYTES:
        raise ValueError(f"seat id {ticket.seat_id!r} is too long for a ticket code")
    return (
        bytes([FORMAT])
        + bytes.fromhex(ticket.kid)
        + ticket.booking_id.bytes
        + _varint(ticket.show_id)
        + _varint(ticket.version)
        + bytes([len(seat)])
        + seat
    )


def sign(ticket: Ticket, private_key: Ed25519PrivateKey) -> str:
    """The code for ``ticket``: exactly the text its QR code holds."""
    payload = _payload(ticket)
    return base64.b32encode(payload + private_key.sign(payload)).decode().rstrip("=")


def read(code: str) -> tuple[Ticket, bytes, bytes]:
    """The ticket a code names, its signed bytes and its signature; nothing is verified yet."""
    text = code.strip().upper()
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as exc:
        raise TicketCodeInvalid("not a ticket code") from exc
    # The last character can carry unused bits that decoding ignores: only the one way Seatline writes
    # the bytes is a code, so a ticket has exactly one code text per version.
    if base64.b32encode(raw).decode().rstrip("=") != text:
        raise TicketCodeInvalid("not a ticket code")
    if len(raw) < 1 + 4 + 16 + 1 + 1 + 1 + SIGNATURE_BYTES or raw[0] != FORMAT:
        raise TicketCodeInvalid("not a ticket code of a known format")
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    kid, booking = payload[1:5].hex(), uuid.UUID(bytes=payload[5:21])
    show_id, at = _read_varint(payload, 21)
    version, at = _read_varint(payload, at)
    if at >= len(payload) or at + 1 + payload[at] != len(payload):
        raise TicketCodeInvalid("malformed seat")
    try:
        seat = payload[at + 1 :].decode()
    except UnicodeDecodeError as exc:
        raise TicketCodeInvalid("malformed seat") from exc
    return Ticket(kid, booking, show_id, seat, version), payload, signature


def verify(code: str, public_key_for: Callable[[str], Ed25519PublicKey | None]) -> Ticket:
    """The ticket a code names, if one of the keys ``public_key_for(kid)`` returns signed it; raises
    ``TicketCodeInvalid`` otherwise. Whether the ticket is still valid (not revoked, for this show) is
    for the caller to check."""
    ticket, payload, signature = read(code)
    key = public_key_for(ticket.kid)
    if key is None:
        raise TicketCodeInvalid(f"unknown key {ticket.kid}")
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise TicketCodeInvalid("bad signature") from exc
    return ticket
