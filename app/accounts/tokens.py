"""Signed, expiring bearer tokens that any Seatline process verifies without a database call."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
AUDIENCE = "seatline-api"
# Tolerate small clock differences between the processes that sign and verify.
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class AuthenticatedUser:
    id: int
    role: str

    @property
    def user_id(self) -> str:
        return str(self.id)


class TokenError(Exception):
    pass


def issue_token(secret: str, user_id: int, role: str, ttl_seconds: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": str(user_id), "role": role, "aud": AUDIENCE, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> AuthenticatedUser:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat", "aud"]},
        )
        sub = claims["sub"]
        role = claims.get("role")
        if not isinstance(sub, str) or not sub.isdigit() or role not in ("fan", "manager", "admin"):
            raise TokenError("token claims are malformed")
        return AuthenticatedUser(id=int(sub), role=role)
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
