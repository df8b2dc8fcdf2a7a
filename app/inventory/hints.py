"""The per-show "likely taken" hint in Redis.

A sorted set per show maps seat id -> the time (epoch seconds) until which the
seat is believed taken. It lets an obviously doomed hold fail fast without
touching Postgres. It is written only after a commit, it can only ever
*reject*, and losing it (flush, restart, outage) just sends every request to
Postgres, which decides.

A hold's look-up is made before the hold's database work, in the request's one round trip of
checks (``HintRead``, queued by the limiter beside the token's revocation check and the rate
limits, ``app/api/rate_limits.py``); the writes come after the commit, a round trip of their own
(shared with the jobs the commit queues, ``Followups.run`` in ``app/background/dispatch.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)

# How long a seat that Postgres reported taken (without telling us until when)
# is assumed to stay taken.
SEEN_TAKEN_SECONDS = 5.0
KEY_TTL_SECONDS = 7 * 24 * 3600
# Booked seats are hinted for a while, not forever: a hint that outlived its truth (a
# database restored or recreated under a live Redis) must heal by itself.
BOOKED_HINT_SECONDS = 600.0


def key(show_id: int) -> str:
    """A show's hints; the show is its hash tag (ARCHITECTURE.md "Redis by role")."""
    return f"seat-hints:{{{show_id}}}"


@dataclass
class HintRead:
    """A hold's look-up of its seats' hints, made ahead in the request's first round trip."""

    show_id: int
    seat_ids: tuple[str, ...]
    answered: bool = False
    scores: list[Any] | None = None  # None once answered: Redis did not answer

    def queue(self, pipe: Any) -> None:
        pipe.zmscore(key(self.show_id), list(self.seat_ids))

    def take(self, replies: list[Any] | None) -> None:
        self.answered = True
        reply = replies[0] if replies else None
        self.scores = None if reply is None or isinstance(reply, Exception) else list(reply)

    def covers(self, show_id: int, seat_ids: Sequence[str]) -> bool:
        return self.answered and self.show_id == show_id and self.seat_ids == tuple(seat_ids)


class SeatHints:
    def __init__(self, client: redis.Redis, read: HintRead | None = None) -> None:
        self._client = client
        self._read = read if isinstance(read, HintRead) else None

    def likely_taken(self, show_id: int, seat_ids: Sequence[str], now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        read = self._read
        if read is not None and read.covers(show_id, seat_ids):
            if read.scores is None:
                log.warning("seat hints unavailable, asking Postgres")
                return []
            scores = read.scores
        else:
            try:
                scores = self._client.zmscore(key(show_id), list(seat_ids))
            except redis.RedisError as exc:
                log.warning("seat hints unavailable, asking Postgres: %s", exc)
                return []
        return [seat for seat, until in zip(seat_ids, scores) if until is not None and until > now]

    def mark_taken(self, show_id: int, seat_ids: Sequence[str], until: float) -> None:
        self._write(show_id, {seat: until for seat in seat_ids}, only_extend=False)

    def mark_booked(self, show_id: int, seat_ids: Sequence[str]) -> None:
        self._write(show_id, {seat: time.time() + BOOKED_HINT_SECONDS for seat in seat_ids}, only_extend=False)

    @staticmethod
    def queue_booked(pipe: Any, show_id: int, seat_ids: Sequence[str]) -> None:
        """``mark_booked``'s commands, added to ``pipe`` for its owner to send with the rest."""
        _queue_write(pipe, show_id, {seat: time.time() + BOOKED_HINT_SECONDS for seat in seat_ids}, only_extend=False)

    @staticmethod
    def queue_clear(pipe: Any, show_id: int, seat_ids: Sequence[str]) -> None:
        """``clear``'s command, added to ``pipe`` for its owner to send with the rest."""
        if seat_ids:
            pipe.zrem(key(show_id), *seat_ids)

    def mark_seen_taken(self, show_id: int, seat_ids: Sequence[str], now: float | None = None) -> None:
        until = (time.time() if now is None else now) + SEEN_TAKEN_SECONDS
        self._write(show_id, {seat: until for seat in seat_ids}, only_extend=True)

    def clear(self, show_id: int, seat_ids: Sequence[str]) -> None:
        if not seat_ids:
            return
        try:
            self._client.zrem(key(show_id), *seat_ids)
        except redis.RedisError as exc:
            log.warning("could not clear seat hints for show %s: %s", show_id, exc)

    def _write(self, show_id: int, scores: dict[str, float], only_extend: bool) -> None:
        if not scores:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            _queue_write(pipe, show_id, scores, only_extend)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not update seat hints for show %s: %s", show_id, exc)


def _queue_write(pipe: Any, show_id: int, scores: dict[str, float], only_extend: bool) -> None:
    name = key(show_id)
    pipe.zadd(name, scores, gt=only_extend)
    # Drop entries that have lapsed so the set stays the size of what is taken.
    pipe.zremrangebyscore(name, "-inf", time.time())
    pipe.expire(name, KEY_TTL_SECONDS)
