"""Organisations' ticket signing keys (Ed25519), kept in ``ticket_keys``.

Like the gate's admission-token keys (queue_gate/keys.py) each key has a short ``kid`` and only its
public half leaves Seatline; unlike them, there is one key per organisation, made the first time one
of its tickets is signed, so they live in the database. The private half is stored sealed: AES-256-GCM
under a key derived (HKDF-SHA256) from TICKET_KEYS_SECRET, with the kid as associated data, so a copy
of the table (a backup, a replica) signs nothing without the secret, and a sealed key cannot be moved
to another kid. A scanner fetches ``public_keys`` (later: the check-in bundle) and verifies codes offline
(app/tickets/codes.py).
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.unit_of_work import UnitOfWork, execute_alone

NONCE_BYTES = 12
_RAW = serialization.Encoding.Raw


class KeySealBroken(Exception):
    """A sealed private key that TICKET_KEYS_SECRET does not open (the secret changed, or the row did)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


def _sealing_key(secret: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"seatline ticket signing keys").derive(
        secret.encode()
    )
    return AESGCM(derived)


def seal(secret: str, kid: str, private_key: Ed25519PrivateKey) -> bytes:
    raw = private_key.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _sealing_key(secret).encrypt(nonce, raw, kid.encode())


def unseal(secret: str, kid: str, sealed: bytes) -> Ed25519PrivateKey:
    try:
        raw = _sealing_key(secret).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], kid.encode())
    except InvalidTag as exc:
        raise KeySealBroken(f"ticket key {kid} does not open with TICKET_KEYS_SECRET") from exc
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(_RAW, serialization.PublicFormat.Raw)


ADD_KEY = """
    INSERT INTO ticket_keys (kid, organisation_id, public_key, private_key_sealed)
    VALUES (:kid, :org, :public, :sealed)
    ON CONFLICT (organisation_id) WHERE retired_at IS NULL DO NOTHING
"""
KEY_IN_USE = "SELECT kid, private_key_sealed FROM ticket_keys WHERE organisation_id = :org AND retired_at IS NULL"


def signing_key(uow: UnitOfWork, secret: str, organisation_id: int) -> SigningKey:
    """The organisation's key in use, made if it has none yet, in a transaction of its own (committed
    whatever becomes of ``uow``'s, which may hold row locks it must keep, like a notification's
    being sent). Two requests making one at once both end with the same key: the second insert does
    nothing (one key in use per organisation, ``ix_ticket_keys_one_in_use``) and both read the
    winner's, which READ COMMITTED shows to ``uow``'s next statement."""
    row = uow.execute(KEY_IN_USE, {"org": organisation_id}).first()
    if row is None:
        kid = secrets.token_hex(4)
        private_key = Ed25519PrivateKey.generate()
        execute_alone(
            ADD_KEY,
            {
                "kid": kid,
                "org": organisation_id,
                "public": public_bytes(private_key.public_key()),
                "sealed": seal(secret, kid, private_key),
            },
        )
        row = uow.execute(KEY_IN_USE, {"org": organisation_id}).one()
    return SigningKey(row.kid, unseal(secret, row.kid, row.private_key_sealed))


def public_keys(uow: UnitOfWork, organisation_id: int) -> list[dict[str, str]]:
    """Every key of the organisation, retired ones too (their codes may still be out there), as
    JWKs (RFC 8037: ``kty`` OKP, ``crv`` Ed25519, ``x`` the raw public key in base64url)."""
    rows = uow.execute(
        "SELECT kid, public_key FROM ticket_keys WHERE organisation_id = :org ORDER BY created_at",
        {"org": organisation_id},
    )
    return [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": row.kid,
            "x": base64.urlsafe_b64encode(bytes(row.public_key)).decode().rstrip("="),
            "use": "sig",
            "alg": "EdDSA",
        }
        for row in rows
    ]


def public_key_from_jwk(jwk: dict[str, str]) -> Ed25519PublicKey:
    x = jwk["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
