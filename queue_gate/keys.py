"""Signing keys for admission tokens (Ed25519) and the JWKS document that publishes them.

A key set is a JSON list of ``{"kid": ..., "private_pem": ...}``, newest first: the first
key signs, all of them stay in the JWKS so that tokens signed before a rotation keep
verifying until they expire. ``flask gate-keys rotate`` adds a new key at the front.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def new_key_entry() -> dict[str, str]:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {"kid": f"gate-{secrets.token_hex(6)}", "private_pem": pem.decode()}


def load_keys(raw: str) -> list[SigningKey]:
    keys = []
    for entry in json.loads(raw):
        private = serialization.load_pem_private_key(entry["private_pem"].encode(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"key {entry['kid']} is not an Ed25519 key")
        keys.append(SigningKey(entry["kid"], private))
    if not keys:
        raise ValueError("the gate needs at least one signing key")
    return keys


def jwks(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def rotate_file(path: Path, keep: int = 3) -> dict[str, Any]:
    """Puts a new signing key first in the key file, keeping the newest ``keep`` old ones."""
    entries = json.loads(path.read_text()) if path.exists() else []
    entries = [new_key_entry(), *entries][: keep + 1]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(entries, indent=2))
    return jwks(load_keys(json.dumps(entries)))


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read, from the moment it exists: a new file is created with
    mode 0600 (never written first and restricted after), then renamed over ``path`` in one step."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
