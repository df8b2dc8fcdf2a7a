"""Signed, expiring bearer tokens that any Seatline process verifies without a database call.

Each token names its user, role, a random ``jti`` and the user's session epoch when it was
issued (``ep``); whether it has been revoked since is a separate check
(``app/accounts/revocation.py``), made by ``current_user()`` on every request.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import jwt

ALGORITHM = "HS256"
AUDIENCE = "seatline-api"
# Tolerate small clock differences between the processes that sign and verify.
LEEWAY_SECONDS = 30


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


def verify_token(secret: str, token: str) -> AuthenticatedUser:
    """The token's user if it is signed with ``secret`` and unexpired; revocation is not checked here."""
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
        if not isinstance(sub, str) or not sub.isdigit() or role not in ("fan", "manager", "admin"):
            raise TokenError("token claims are malformed")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 64 or not isinstance(epoch, int) or isinstance(epoch, bool):
            raise TokenError("token claims are malformed")
        return AuthenticatedUser(id=int(sub), role=role, jti=jti, epoch=epoch, expires_at=int(claims["exp"]))
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
