"""Admission tokens from the queue gate: EdDSA JWTs, verified here with public keys only."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKSet
from jwt.exceptions import PyJWKSetError

log = logging.getLogger(__name__)

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


def issue(
    signing_key: Any,
    kid: str,
    user_id: int,
    event_id: int,
    ttl_seconds: int,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": str(user_id),
        "evt": str(event_id),
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key, algorithm="EdDSA", headers={"kid": kid})


class GateKeys:
    """The gate's public keys, read from its JWKS URL and read again on a bounded interval, so a
    key the gate stops publishing (rotated out, or withdrawn after a leak) stops verifying here
    within ``refresh_seconds`` (plus however long a cache between the two keeps the document).

    - Every ``refresh_seconds`` the next token checked fetches the document again (one thread at
      a time; the others go on with the keys they have).
    - A token with a ``kid`` not in the set makes a fetch at once, for a key the gate has just
      added, but never more often than every ``min_refetch_seconds``: tokens with made-up kids
      cannot make the web app hammer the gate. Failed fetches are spaced the same way.
    - When the gate cannot be reached the last keys fetched stay in use, up to
      ``max_stale_seconds`` after the last good fetch; past that nothing verifies (closed, never
      open) until the gate answers again.
    """

    def __init__(
        self,
        url: str,
        refresh_seconds: float = 60,
        min_refetch_seconds: float = 10,
        max_stale_seconds: float = 900,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refresh_seconds = refresh_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.max_stale_seconds = max_stale_seconds
        self.timeout = timeout
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any:
        if not kid:
            return None
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self.refresh_seconds or kid not in self._keys:
            self._refresh(now)
        if self._fetched_at is None or self._clock() - self._fetched_at > self.max_stale_seconds:
            return None
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is fetching: use the keys we have
        try:
            if self._attempted_at is not None and now - self._attempted_at < self.min_refetch_seconds:
                return
            self._attempted_at = now
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                    document = json.loads(response.read())
                keys = {k.key_id: k.key for k in PyJWKSet.from_dict(document).keys if k.key_id}
            except PyJWKSetError:  # a document without a usable key: nothing verifies
                keys = {}
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                log.warning("could not fetch the gate's keys from %s: %s", self.url, exc)
                return
            self._keys, self._fetched_at = keys, self._clock()
        finally:
            self._lock.release()


class AdmissionVerifier:
    """Checks a token's signature against the gate's JWKS, then that it is for this user and event."""

    def __init__(
        self,
        jwks_json: str | None = None,
        jwks_url: str | None = None,
        refresh_seconds: float = 60,
        min_refetch_seconds: float = 10,
        max_stale_seconds: float = 900,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if jwks_json:
            keys = PyJWKSet.from_dict(json.loads(jwks_json))
            self._key_for = lambda kid: next((k.key for k in keys.keys if k.key_id == kid), None)
        elif jwks_url:
            self.gate_keys = GateKeys(jwks_url, refresh_seconds, min_refetch_seconds, max_stale_seconds, clock=clock)
            self._key_for = self.gate_keys.key_for
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
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "evt", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise AdmissionRefused(f"the admission token is invalid: {exc}") from exc
        if claims["evt"] != str(event_id):
            raise AdmissionRefused("the admission token is for another event")
        return Admission(claims["sub"], claims["evt"], claims["exp"])
