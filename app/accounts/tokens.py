"""Signed, expiring bearer tokens that any Seatline process verifies without a database call.

Each token names its user, role, a random ``jti`` and the user's session epoch when it was
issued (``ep``); whether it has been revoked since is a separate check
(``app/accounts/revocation.py``), made by ``current_user()`` on every request.

A token's signature and claims are checked once per process: the same token string always
carries the same claims, so ``verify_token`` keeps what it found for the last ``VERIFIED_TOKENS``
tokens it accepted and only checks their expiry again on the next request (a fan's token is sent
with every request of a sale; a full PyJWT decode was a sixth of a hold's CPU, bench/RESULTS.md).
Refused tokens are never kept. Revocation is not part of this: it is checked on every request.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import jwt

# The roles a token may name (app/accounts/models.py ``ROLES``; the database's role is what counts).
ROLES = ("fan", "manager", "admin", "door")

ALGORITHM = "HS256"
AUDIENCE = "seatline-api"
# Tolerate small clock differences between the processes that sign and verify.
LEEWAY_SECONDS = 30
# Accepted tokens whose signature and claims each process remembers (a few hundred bytes each).
VERIFIED_TOKENS = 8192


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    role: str
    # The token's own id, the epoch it was issued under and its expiry (for revocation).
    jti: str = field(default="", compare=False)
    epoch: int = field(default=0, compare=False)
    expires_at: int = field(default=0, compare=False)

    @property
    def user_id(self) -> str:
        return str(self.id)


class TokenError(Exception):
    pass


def issue_token(
    secret: str,
    user_id: int,
    role: str,
    ttl_seconds: int,
    now: float | None = None,
    epoch: int = 0,
    jti: str | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": str(user_id),
        "role": role,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": jti or uuid.uuid4().hex,
        "ep": epoch,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, now: float | None = None) -> AuthenticatedUser:
    """The token's user if it is signed with ``secret`` and unexpired (at ``now``, by default the
    current time); revocation is not checked here."""
    user = _signed_claims(secret, token)
    # PyJWT's own expiry test, made again on every use of a remembered token.
    if user.expires_at <= (time.time() if now is None else now) - LEEWAY_SECONDS:
        raise TokenError("Signature has expired")
    return user


@lru_cache(maxsize=VERIFIED_TOKENS)
def _signed_claims(secret: str, token: str) -> AuthenticatedUser:
    """The user a token signed with ``secret`` names, once its signature and claims have been checked
    (and it was unexpired then). Remembered per process for the tokens it accepts; an exception is
    never remembered, so a refused token is checked in full every time."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat", "aud", "jti", "ep"]},
        )
        sub, role, jti, epoch = claims["sub"], claims.get("role"), claims["jti"], claims["ep"]
        if not isinstance(sub, str) or not sub.isdigit() or role not in ROLES:
            raise TokenError("token claims are malformed")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 64 or not isinstance(epoch, int) or isinstance(epoch, bool):
            raise TokenError("token claims are malformed")
        return AuthenticatedUser(id=int(sub), role=role, jti=jti, epoch=epoch, expires_at=int(claims["exp"]))
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
