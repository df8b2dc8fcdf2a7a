"""Admission tokens from the queue gate: EdDSA JWTs, verified here with public keys only."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKSet

ALGORITHMS = ["EdDSA"]
LEEWAY_SECONDS = 30
HEADER = "X-Admission-Token"
COOKIE = "seatline_admission"


class AdmissionRefused(Exception):
    pass


@dataclass(frozen=True)
class Admission:
    user_id: str
    event_id: str
    expires_at: int


def issue(signing_key: Any, kid: str, user_id: int, event_id: int, ttl_seconds: int, now: float | None = None,
          jti: str | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": str(user_id), "evt": str(event_id), "iat": issued, "exp": issued + ttl_seconds,
              "jti": jti or uuid.uuid4().hex}
    return jwt.encode(claims, signing_key, algorithm="EdDSA", headers={"kid": kid})


class AdmissionVerifier:
    """Checks a token's signature against the gate's JWKS, then that it is for this user and event."""

    def __init__(self, jwks_json: str | None = None, jwks_url: str | None = None) -> None:
        if jwks_json:
            keys = PyJWKSet.from_dict(json.loads(jwks_json))
            self._key_for = lambda kid: next((k.key for k in keys.keys if k.key_id == kid), None)
        elif jwks_url:
            client = PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=2)
            self._key_for = lambda kid: _fetch(client, kid)
        else:
            raise ValueError("admission tokens need GATE_JWKS or GATE_JWKS_URL")

    def verify(self, token: str | None, user_id: int, event_id: int) -> Admission:
        admission = self.verify_for_event(token, event_id)
        if admission.user_id != str(user_id):
            raise AdmissionRefused("the admission token belongs to another fan")
        return admission

    def verify_for_event(self, token: str | None, event_id: int) -> Admission:
        """Signature, expiry and event only: for pages, which do not know the fan yet."""
        if not token:
            raise AdmissionRefused("no admission token")
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header.get("kid"))
            if key is None or header.get("alg") not in ALGORITHMS:
                raise AdmissionRefused("the admission token is not signed by the gate")
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, leeway=LEEWAY_SECONDS,
                                options={"require": ["sub", "evt", "iat", "exp", "jti"]})
        except jwt.PyJWTError as exc:
            raise AdmissionRefused(f"the admission token is invalid: {exc}") from exc
        if claims["evt"] != str(event_id):
            raise AdmissionRefused("the admission token is for another event")
        return Admission(claims["sub"], claims["evt"], claims["exp"])


def _fetch(client: PyJWKClient, kid: str | None):
    if not kid:
        return None
    try:
        return client.get_signing_key(kid).key
    except jwt.PyJWKClientError:
        return None
