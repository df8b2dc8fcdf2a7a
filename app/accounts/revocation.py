"""Revoked bearer tokens and site sessions: written to PostgreSQL, mirrored in Redis, checked on every request.

What is revoked, per user (README "Security"):

- ``auth_epoch``: "log out everywhere" and a password change raise it; a token or site session
  made under an older epoch is dead, except ``auth_kept_jti``, the one token a password change
  was made with (the caller keeps working).
- ``revoked_tokens``: tokens logged out one at a time, until they would have expired anyway.

PostgreSQL is the record: a revocation is committed there first. Redis holds a copy per user (a
hash: version, epoch, kept token, one field per revoked token), written after the commit and
read with one ``HMGET`` per request. A copy is replaced only by a newer version (a Lua script
compares ``auth_version``), so a request that read PostgreSQL just before a revocation can never
put the older record back over the newer one.

A revocation made by a process that cannot reach Redis (while others can, and still read the
old copy) is listed in ``revocation_copies_pending``; ``workers.jobs.copy_revocations`` copies
it every few seconds once Redis answers (and every copy expires after ``MIRROR_TTL_SECONDS``).

The check fails closed, never open: with no copy in Redis it reads PostgreSQL (and leaves a
copy for the next request); when Redis does not answer it reads PostgreSQL, so a revoked token
is still refused and a valid one still accepted (the booking path keeps working without
Redis); when neither answers the request fails (503), it is never let through unchecked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, current_app, g

from app.extensions import redis_roles
from app.unit_of_work import UnitOfWork, execute_alone

log = logging.getLogger(__name__)

EXTENSION = "seatline.revocations"
# A copy lives this long in Redis, then is read again from PostgreSQL: the longest that a copy a
# revocation could not reach (Redis unreachable at that moment, then back with its old data)
# can outlive it.
MIRROR_TTL_SECONDS = 300
# Tokens are accepted up to this long past their expiry (clock-skew leeway); a revoked one is kept
# on the record at least as long.
KEEP_AFTER_EXPIRY = "interval '60 seconds'"

_PUBLISH_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', ARGV[2], 'k', ARGV[3])
for i = 5, #ARGV do
  redis.call('HSET', KEYS[1], 'r:' .. ARGV[i], '1')
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


@dataclass(frozen=True)
class AuthRecord:
    version: int
    epoch: int
    kept_jti: str | None
    revoked: frozenset[str]

    def accepts(self, jti: str | None, epoch: int) -> bool:
        """Whether a token (``jti``) or a session (no jti) made under ``epoch`` still works."""
        if jti and jti in self.revoked:
            return False
        return epoch == self.epoch or bool(jti and jti == self.kept_jti)


def _key(user_id: int) -> str:
    return f"seatline:auth:{user_id}"


# ------------------------------------------------------------------------------ the record in PostgreSQL

_RECORD_SQL = f"""
    SELECT u.auth_version, u.auth_epoch, u.auth_kept_jti,
           COALESCE((SELECT array_agg(r.jti) FROM revoked_tokens r
                     WHERE r.user_id = u.id AND r.expires_at > now() - {KEEP_AFTER_EXPIRY}), '{{}}') AS revoked
    FROM users u WHERE u.id = :user_id
"""


def load(user_id: int) -> AuthRecord | None:
    """The user's record, or None if there is no such user (whose tokens then work nowhere). On a
    connection of its own (a check may run while the request has a transaction open), one statement
    in autocommit: a fan's first request (or first in MIRROR_TTL_SECONDS) makes it."""
    rows = execute_alone(_RECORD_SQL, {"user_id": user_id})
    if not rows:
        return None
    version, epoch, kept_jti, revoked = rows[0]
    return AuthRecord(version, epoch, kept_jti, frozenset(revoked))


def revoke_token(uow: UnitOfWork, user_id: int, jti: str, expires_at: int) -> None:
    """One token, logged out; tokens of this user that expired a while ago leave the record."""
    uow.execute(
        f"DELETE FROM revoked_tokens WHERE user_id = :u AND expires_at < now() - {KEEP_AFTER_EXPIRY}", {"u": user_id}
    )
    inserted = uow.execute(
        """
        INSERT INTO revoked_tokens (jti, user_id, expires_at)
        SELECT :jti, id, :exp FROM users WHERE id = :u  -- a deleted user's tokens work nowhere anyway
        ON CONFLICT (jti) DO NOTHING RETURNING jti
        """,
        {"jti": jti, "u": user_id, "exp": datetime.fromtimestamp(expires_at, tz=UTC)},
    ).first()
    if inserted is not None:
        uow.execute("UPDATE users SET auth_version = auth_version + 1 WHERE id = :u", {"u": user_id})


def revoke_all(uow: UnitOfWork, user_id: int, keep_jti: str | None = None) -> int:
    """Every token and session of the user, but ``keep_jti`` if given; returns the new epoch."""
    return uow.execute(
        """
        UPDATE users SET auth_epoch = auth_epoch + 1, auth_kept_jti = :keep, auth_version = auth_version + 1
        WHERE id = :u RETURNING auth_epoch
        """,
        {"u": user_id, "keep": keep_jti},
    ).scalar_one()


# ------------------------------------------------------------------------------ the check

_PREFETCHED = "seatline_revocation_copy"


def _fields(jti: str | None) -> tuple[str, ...]:
    return ("v", "e", "k", f"r:{jti or ''}")


class Revocations:
    """One app's view of the record: the check on every request and the copy in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._publish_script = client.register_script(_PUBLISH_IF_NEWER)

    def queue(self, pipe: redis.client.Pipeline, user_id: int, jti: str | None) -> None:
        """Adds the copy's ``HMGET`` to a request's round trip of checks (``app/api/rate_limits.py``);
        ``prefetched`` hands its reply (or None: Redis did not answer) to ``accepts``."""
        pipe.hmget(_key(user_id), *_fields(jti))

    def prefetched(self, user_id: int, jti: str | None, reply: list[Any] | None) -> None:
        g.setdefault(_PREFETCHED, {})[(user_id, jti or None)] = reply

    def accepts(self, user_id: int, jti: str | None, epoch: int) -> bool:
        copies = g.get(_PREFETCHED) or {}
        if (user_id, jti or None) in copies:
            reply = copies.pop((user_id, jti or None))
        else:
            try:
                reply = self.redis.hmget(_key(user_id), *_fields(jti))
            except redis.RedisError as exc:
                log.debug("revocation copy unreachable, asking PostgreSQL: %s", exc)
                reply = None
        if reply is None or isinstance(reply, Exception):  # Redis did not answer: the record decides
            record = self._from_database(user_id)
            return record is not None and record.accepts(jti, epoch)
        version, current_epoch, kept, revoked = reply
        if version is None:  # no copy (first request, evicted, or Redis restarted empty)
            record = self._from_database(user_id)
            if record is None:
                return False
            self.publish(user_id, record)
            return record.accepts(jti, epoch)
        if jti and revoked is not None:
            return False
        return int(current_epoch) == epoch or bool(jti and kept is not None and kept.decode() == jti)

    def _from_database(self, user_id: int) -> AuthRecord | None:
        return load(user_id)

    def publish(self, user_id: int, record: AuthRecord) -> bool:
        """Copy ``record`` to Redis unless a newer one is there; False if Redis could not be reached."""
        try:
            self._publish_script(
                keys=[_key(user_id)],
                args=[record.version, record.epoch, record.kept_jti or "", MIRROR_TTL_SECONDS, *sorted(record.revoked)],
            )
            return True
        except redis.RedisError as exc:
            log.warning("could not copy user %s's revocations to Redis: %s", user_id, exc)
            return False

    def publish_from_database(self, user_id: int) -> None:
        """After a revocation is committed: the copy in Redis follows at once. If Redis cannot be
        reached from here (it may still be from elsewhere, with the old copy), the user is put on
        the pending list, which ``copy_pending`` works through every few seconds."""
        record = self._from_database(user_id)
        if record is None or self.publish(user_id, record):
            return
        execute_alone(
            """
            INSERT INTO revocation_copies_pending (user_id) SELECT id FROM users WHERE id = :u
            ON CONFLICT (user_id) DO UPDATE SET since = now()
            """,
            {"u": user_id},
        )

    def copy_pending(self, limit: int = 500) -> int:
        """Copies the revocations that could not be copied when they were made; how many it copied."""
        pending = execute_alone(
            "SELECT user_id, since FROM revocation_copies_pending ORDER BY since LIMIT :n", {"n": limit}
        )
        copied = 0
        for user_id, since in pending:
            record = self._from_database(user_id)
            if record is not None and not self.publish(user_id, record):
                break  # Redis is still out of reach: next time
            # Not if another change failed to be copied meanwhile (it moved ``since``).
            execute_alone(
                "DELETE FROM revocation_copies_pending WHERE user_id = :u AND since = :since",
                {"u": user_id, "since": since},
            )
            copied += 1
        return copied


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Revocations(redis_roles(app).limits)


def revocations() -> Revocations:
    return current_app.extensions[EXTENSION]
