"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib)


class Passwords:
    def __init__(self, time_cost: int, memory_cost_kib: int) -> None:
        self._hasher = _hasher(time_cost, memory_cost_kib)
        # Verifying against this when the email is unknown keeps login time the
        # same whether or not an account exists.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False
