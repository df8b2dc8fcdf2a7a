"""The waiting room: Redis runs it, Postgres remembers it.

Per event, under ``gate:{<event id>}:`` (the braces make the event the keys' hash tag):
- ``meta``   hash: state, batch, interval, cap, session, opens_at, serving (admitted up to
             this position), next_admit_at, admitted_total, abandoned_total;
- ``users``  hash: user id -> ticket (one place per user);
- ``t:{ticket}`` hash: user, pre (joined before the sale opened), pos, claimed;
- ``pre``    list: pre-queue tickets in join order, until the lottery places them;
- ``order``  list: the queue; a ticket's position is its index + 1 (``~`` marks a place
             whose ticket was lost with Redis and is skipped);
- ``active`` sorted set: admitted tickets -> when they stop counting against the cap (an
             admitted fan who never collects the token is counted as abandoned);
- ``admits`` list: ``time:count`` of recent batches, for the measured admission rate.

Joining is one Lua script (atomic, idempotent per user); every join is also written to
``gate_tickets`` before it is answered, and every admission to ``gate_queues`` /
``gate_tickets`` before Redis hears of it, so a Redis flush is rebuilt from Postgres
without a position given twice or the cap exceeded (one caller rebuilds, under a lock, and
only if the queue is still missing once it holds it). Later writes change the ``meta`` hash
only while it is there (``UPDATE_META``), so a lost queue is rebuilt whole, never read from a
hash with some of its fields. Status checks read four Redis keys in one script and never
touch Postgres; most of a waiting fan's polls are answered from the process's own copy of what
that script last read (``_StatusCopy``), without Redis.

Abandonment is detected by time: an admitted fan has ``show_up_seconds`` to collect the
admission token, then counts against the cap until the token's session ends.

Places taken (``WAITING_ROOM_JOINS``) and fans admitted (``WAITING_ROOM_ADMITTED``) are counted
once Postgres has them (``app/ops/metrics.py``); a room's length and its admitted fans still counted
are read at scrape time (``queue_live_figures``, ``app/ops/state.py``).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from app.extensions import run_script
from app.ops.metrics import WAITING_ROOM_ADMITTED, WAITING_ROOM_JOINS
from app.unit_of_work import UnitOfWork, execute_alone

# How many times a join asks Redis for a place that Postgres can record (``WaitingRoom._record``).
RECORD_ATTEMPTS = 3
STATES = ("PREQUEUE", "DRAWING", "OPEN", "PAUSED", "DRAINING", "CLOSED")
PLACEHOLDER = "~"

JOIN = """
local meta, users, pre, order = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local user, ticket, now, prefix, email_checked = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local state = redis.call('HGET', meta, 'state')
if not state then return {'NOQUEUE'} end
if email_checked ~= '1' and redis.call('HGET', meta, 'verified') == '1' then return {'CHECK_EMAIL'} end
local existing = redis.call('HGET', users, user)
if existing then
  return {'EXISTING', existing, redis.call('HGET', prefix .. existing, 'pos') or ''}
end
if state == 'CLOSED' then return {'CLOSED'} end
redis.call('HSET', users, user, ticket)
if state == 'PREQUEUE' then
  redis.call('RPUSH', pre, ticket)
  redis.call('HSET', prefix .. ticket, 'user', user, 'pre', '1', 'joined', now)
  return {'NEW', ticket, ''}
end
local pos = redis.call('RPUSH', order, ticket)
redis.call('HSET', prefix .. ticket, 'user', user, 'pre', '0', 'pos', pos, 'joined', now)
return {'NEW', ticket, tostring(pos)}
"""

# Closes the pre-queue atomically: later joiners queue behind every pre-queue place.
BEGIN_DRAW = """
local meta, pre, order = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', meta, 'state') ~= 'PREQUEUE' then return nil end
local tickets = redis.call('LRANGE', pre, 0, -1)
for i = 1, #tickets do redis.call('RPUSH', order, '~') end
redis.call('HSET', meta, 'state', 'DRAWING')
redis.call('DEL', pre)
return tickets
"""


# A fan's status, read in one command: the ticket (user, place, whether and when its token was
# collected), the queue's figures the answer needs, whether the ticket's admission still counts
# (its score in ``active``) and the recent batches (for the estimate). KEYS: t:{ticket}, meta,
# active, admits; ARGV[1]: the ticket. Nothing (nil) for an unknown ticket.
STATUS = """
local t = redis.call('HMGET', KEYS[1], 'user', 'pos', 'claimed', 'token')
if not t[1] then return nil end
local m = redis.call('HMGET', KEYS[2], 'state', 'serving', 'batch', 'interval', 'opens_at', 'next_admit_at')
return {t[1], t[2], t[3], t[4], m[1], m[2], m[3], m[4], m[5], m[6],
        redis.call('ZSCORE', KEYS[3], ARGV[1]), redis.call('LRANGE', KEYS[4], 0, 9)}
"""

# Changes fields of a queue's meta hash only while the hash is there: after Redis lost the queue (a
# flush, a restart), a write of a few fields (HSET and HINCRBY create the hash they write) would
# leave a meta hash with a state but no cap, say, which a later admission read as the queue's.
# The queue is rebuilt whole from Postgres instead (``ensure_loaded``). ARGV: triples of ``set`` or
# ``incr``, a field and a value. Returns 0 if the hash was not there, else 1.
UPDATE_META = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 3 do
  if ARGV[i] == 'incr' then
    redis.call('HINCRBY', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  end
end
return 1
"""
# The fields a meta hash has whenever it is there (``_rebuild`` writes them all at once).
META_FIELDS = ("state", "batch", "interval", "cap", "session", "opens_at", "serving", "next_admit_at")

# Pausing or draining applies once the sale has opened; before it, a queue can only be closed.
TRANSITIONS = {
    "PREQUEUE": ("CLOSED",),
    "DRAWING": ("CLOSED",),
    "OPEN": ("PAUSED", "DRAINING", "CLOSED"),
    "PAUSED": ("OPEN", "DRAINING", "CLOSED"),
    "DRAINING": ("OPEN", "PAUSED", "CLOSED"),
    "CLOSED": (),
}


_registered: dict[int, tuple[Any, ...]] = {}


def _scripts(client: redis.Redis) -> tuple[Any, ...]:
    """Lua scripts, registered (and hashed) once per client instead of on every request."""
    scripts = _registered.get(id(client))
    if scripts is None:
        scripts = _registered[id(client)] = tuple(
            client.register_script(s) for s in (JOIN, BEGIN_DRAW, STATUS, UPDATE_META)
        )
    return scripts


# A queue's figures a status answer is computed from: state, serving, batch, interval, opens_at,
# next_admit_at, and the recent batches (``admits``).
Figures = tuple[str, int, int, float, float, float, list[bytes]]


class _StatusCopy:
    """Per process: what a waiting fan's status poll needs, so that most polls take no Redis round
    trip (ARCHITECTURE.md "The waiting room's status polls"). A ticket's owner and place never
    change once it has a place; a queue's figures are copied from the last poll that read Redis and
    trusted for ``STATUS_COPY_SECONDS``, and dropped at once when this process changes them. A poll
    that may be an admission (the copy puts the place among the served ones, or a batch is due)
    always reads Redis, so the copy only ever delays, by at most that long, the figures a still
    waiting fan sees."""

    def __init__(self, max_tickets: int) -> None:
        self.max_tickets = max_tickets
        self._lock = threading.Lock()
        self._tickets: OrderedDict[tuple[int, str, str], tuple[int, int]] = OrderedDict()
        self._figures: dict[tuple[int, str], tuple[float, Figures]] = {}

    def waiting(self, where: tuple[int, str], ticket: str, fresh_for: float) -> tuple[int, int, Figures] | None:
        with self._lock:
            placed = self._tickets.get((*where, ticket))
            copied = self._figures.get(where)
            if placed is None or copied is None or time.monotonic() - copied[0] > fresh_for:
                return None
            self._tickets.move_to_end((*where, ticket))
        return placed[0], placed[1], copied[1]

    def remember(self, where: tuple[int, str], ticket: str, user_id: int, position: int, figures: Figures) -> None:
        with self._lock:
            self._figures[where] = (time.monotonic(), figures)
            self._tickets[(*where, ticket)] = (user_id, position)
            self._tickets.move_to_end((*where, ticket))
            while len(self._tickets) > self.max_tickets:
                self._tickets.popitem(last=False)

    def forget(self, where: tuple[int, str]) -> None:
        with self._lock:
            self._figures.pop(where, None)


# How long a copied queue's figures answer polls, and how many tickets a process remembers (about
# 100 bytes each). 0 seconds: every poll reads Redis.
STATUS_COPY_SECONDS = 1.0
_status_copy = _StatusCopy(max_tickets=200_000)


def key_prefix(event_id: int) -> str:
    """The Redis keys of an event's room start with this (the module's docstring names them): the
    event is their hash tag, so that on a Redis Cluster they share one slot and the room's scripts
    and transactions may touch them together (ARCHITECTURE.md "Redis by role")."""
    return f"gate:{{{event_id}}}:"


class QueueNotFound(Exception):
    pass


class InvalidTransition(Exception):
    pass


class QueueClosed(Exception):
    pass


class UnverifiedEmail(Exception):
    """The room's settings ask for a verified email address, and the fan has not verified theirs."""


@dataclass(frozen=True)
class Place:
    ticket: str
    position: int | None
    state: str
    new: bool


@dataclass(frozen=True)
class Settings:
    batch_size: int = 1000
    admission_interval_seconds: float = 10.0
    max_active: int = 5000
    session_seconds: int = 600
    sale_opens_at: datetime | None = None
    verified_email_required: bool = False


class WaitingRoom:
    def __init__(self, client: redis.Redis, event_id: int, show_up_seconds: int) -> None:
        self.r = client
        self.event_id = event_id
        self.prefix = key_prefix(event_id)
        self.show_up_seconds = show_up_seconds
        self._join, self._begin_draw, self._status, self._update_meta = _scripts(client)
        self._where = (id(client), self.prefix)  # this queue's entries in the status copy

    def key(self, name: str) -> str:
        return self.prefix + name

    def _change_meta(self, *changes: tuple[str, str, Any], client: Any = None) -> None:
        """``("set" | "incr", field, value)`` changes to the meta hash, if it is there (``UPDATE_META``);
        with ``client`` a pipeline, queued on it."""
        args = [x for change in changes for x in change]
        run_script(self._update_meta, [self.key("meta")], args, pipe=client)
        _status_copy.forget(self._where)

    # ------------------------------------------------------------ set-up and controls

    def open(self, uow: UnitOfWork, settings: Settings) -> dict[str, Any]:
        opens_at = settings.sale_opens_at or datetime.now(UTC)
        state = "PREQUEUE" if opens_at > datetime.now(UTC) else "OPEN"
        uow.execute(
            """
            INSERT INTO gate_queues (event_id, state, batch_size, admission_interval_seconds, max_active,
                                     session_seconds, sale_opens_at, verified_email_required)
            VALUES (:e, :state, :batch, :interval, :cap, :session, :opens, :verified)
            ON CONFLICT (event_id) DO UPDATE SET batch_size = EXCLUDED.batch_size,
                admission_interval_seconds = EXCLUDED.admission_interval_seconds, max_active = EXCLUDED.max_active,
                session_seconds = EXCLUDED.session_seconds, sale_opens_at = EXCLUDED.sale_opens_at,
                verified_email_required = EXCLUDED.verified_email_required, updated_at = now()
            """,
            {
                "e": self.event_id,
                "state": state,
                "batch": settings.batch_size,
                "interval": settings.admission_interval_seconds,
                "cap": settings.max_active,
                "session": settings.session_seconds,
                "opens": opens_at,
                "verified": settings.verified_email_required,
            },
        )
        uow.commit()
        self.ensure_loaded(uow, force_settings=True)
        return self.figures()

    def set_state(self, uow: UnitOfWork, state: str) -> dict[str, Any]:
        self.ensure_loaded(uow)
        current = self._meta()["state"]
        if state not in TRANSITIONS.get(current, ()):
            raise InvalidTransition(current, state)
        uow.execute(
            "UPDATE gate_queues SET state = :s, updated_at = now() WHERE event_id = :e",
            {"s": state, "e": self.event_id},
        )
        uow.commit()
        self._change_meta(("set", "state", state), ("set", "next_admit_at", 0))
        return self.figures()

    # ------------------------------------------------------------ fans

    def _check_email(self, uow: UnitOfWork, user_id: int) -> None:
        """Refuses an unverified fan. Asked only when the join script answers ``CHECK_EMAIL``: the room
        asks for verified email addresses (its ``verified`` setting, in the meta hash like the others;
        absent in a room loaded before it existed: not asked), so a room without the setting costs a
        join nothing more."""
        verified = uow.execute("SELECT email_verified_at IS NOT NULL FROM users WHERE id = :u", {"u": user_id}).scalar()
        uow.rollback()
        if not verified:
            raise UnverifiedEmail(self.event_id)

    def join(self, uow: UnitOfWork, user_id: int) -> Place:
        ticket = f"tk_{secrets.token_urlsafe(18)}"
        keys = [self.key("meta"), self.key("users"), self.key("pre"), self.key("order")]
        email_checked = False

        def take_a_place() -> list[Any]:
            args = [user_id, ticket, time.time(), self.key("t:"), 1 if email_checked else 0]
            return [x.decode() if isinstance(x, bytes) else x for x in self._join(keys=keys, args=args)]

        for _attempt in range(RECORD_ATTEMPTS):
            result = take_a_place()
            if result[0] == "NOQUEUE":
                # Redis lost the queue (or never had it): rebuild it from Postgres, then try again.
                self.ensure_loaded(uow)
                result = take_a_place()
            if result[0] == "CHECK_EMAIL":
                # The room asks for a verified address (the script took no place): raises if it is not.
                self._check_email(uow, user_id)
                email_checked = True
                result = take_a_place()
            if result[0] == "NOQUEUE":
                raise QueueNotFound(self.event_id)
            if result[0] == "CLOSED":
                raise QueueClosed(self.event_id)
            ticket, position = result[1], int(result[2]) if result[2] else None
            if self._record(user_id, ticket, position):
                break
            # Redis answered with less than Postgres holds: a failover promoted a replica that had not
            # yet received the last joins (README "Configuration", ARCHITECTURE.md "Redis by role"),
            # so it gave a place Postgres has given already, or a new ticket to a fan who has one.
            # Nothing was recorded or answered: the room is rebuilt from Postgres and the fan asks again.
            self.resync(uow)
        else:
            raise redis.RedisError(f"waiting room {self.event_id} is being rebuilt from Postgres")
        if result[0] == "NEW":
            WAITING_ROOM_JOINS.labels(str(self.event_id)).inc()
        return Place(ticket, position, "WAITING", result[0] == "NEW")

    def _record(self, user_id: int, ticket: str, position: int | None) -> bool:
        """Records a place Redis gave before it is answered; False if Postgres holds another one for the
        fan, or has given this position to someone else (Redis is behind Postgres)."""
        # Recorded before it is answered: a Redis flush must not give this place to anyone else. The
        # commit does not wait for the disk (it is visible to every reader at once, so a rebuild after a
        # Redis flush finds it); only a Postgres crash in the same instant could lose the last joins,
        # which then live on in Redis. Joining is the waiting room's busiest write: one statement, a
        # transaction of its own (autocommit: one round trip, no BEGIN or COMMIT), which also sets
        # synchronous_commit for that transaction (set_config(..., true) is SET LOCAL).
        # The statement also says which ticket the fan already had, if any (the outer SELECT does not see
        # the row the INSERT adds): the place stands if it was added, or was the fan's already.
        row = execute_alone(
            """
            WITH added AS (
                INSERT INTO gate_tickets (event_id, user_id, ticket, prequeue, position)
                SELECT CAST(:e AS bigint), CAST(:u AS bigint), CAST(:t AS text), CAST(:pre AS boolean),
                       CAST(:pos AS integer)
                FROM (SELECT set_config('synchronous_commit', 'off', true)) AS local_setting
                ON CONFLICT DO NOTHING
                RETURNING ticket
            )
            SELECT (SELECT ticket FROM added) AS added,
                   (SELECT ticket FROM gate_tickets WHERE event_id = :e AND user_id = :u) AS kept
            """,
            {"e": self.event_id, "u": user_id, "t": ticket, "pre": position is None, "pos": position},
        )[0]
        return row.added is not None or row.kept == ticket

    def resync(self, uow: UnitOfWork) -> None:
        """Rebuilds the room from Postgres although Redis has one: Redis lost some of its last writes
        (a failover) and would otherwise give out places, or admit fans, Postgres has already."""
        if self._lock("rebuild"):
            try:
                self.r.delete(self.key("meta"))  # what ``_loaded`` reads: joins meanwhile wait or rebuild
            finally:
                self._unlock("rebuild")
        self.ensure_loaded(uow)

    def recover_ticket(self, uow: UnitOfWork, ticket: str) -> bool:
        """For a ticket Redis does not know: whether Postgres has it (then the room is rebuilt, and
        the ticket's place is back). Asked only for unknown tickets, never on a waiting fan's polls."""
        found = uow.execute(
            "SELECT 1 FROM gate_tickets WHERE event_id = :e AND ticket = :t", {"e": self.event_id, "t": ticket}
        ).first()
        uow.rollback()
        if found is None:
            return False
        self.resync(uow)
        return True

    def status(self, ticket: str, now: float | None = None) -> dict[str, Any] | None:
        """A waiting fan's place, from the process's copy when it is fresh (``_StatusCopy``), else
        O(1) in Redis, one command (``STATUS``). Returns None for an unknown ticket."""
        now = time.time() if now is None else now
        copied = _status_copy.waiting(self._where, ticket, STATUS_COPY_SECONDS) if STATUS_COPY_SECONDS > 0 else None
        if copied is not None:
            body = self._answer(copied[0], copied[1], copied[2], None, None, None, now)
            if body["state"] == "WAITING" and not body["admissionDue"]:
                return body
        found = self._status(
            keys=[self.key(f"t:{ticket}"), self.key("meta"), self.key("active"), self.key("admits")], args=[ticket]
        )
        if found is None:
            return None
        user, pos, claimed_at, token, state, serving, batch, interval, opens_at, next_admit_at, active_until, admits = (
            found
        )
        if state is None:
            return None
        figures: Figures = (
            state.decode(),
            int(serving or 0),
            int(batch or 1),
            float(interval or 1),
            float(opens_at or 0),
            float(next_admit_at or 0),
            admits,
        )
        position = int(pos) if pos is not None else None
        if position is not None:
            _status_copy.remember(self._where, ticket, int(user), position, figures)
        return self._answer(int(user), position, figures, claimed_at, token, active_until, now)

    def _answer(
        self,
        user_id: int,
        position: int | None,
        figures: Figures,
        claimed_at: bytes | None,
        token: bytes | None,
        active_until: bytes | None,
        now: float,
    ) -> dict[str, Any]:
        state, serving, batch, interval, opens_at, next_admit_at, admits = figures
        due = (state in ("OPEN", "DRAINING") and now >= next_admit_at) or (state == "PREQUEUE" and now >= opens_at)
        body: dict[str, Any] = {
            "userId": user_id,
            "queueState": state,
            "position": position,
            "admissionDue": due,
        }
        if position is not None and position <= serving:
            claimed = float(claimed_at or 0)
            if active_until is not None and float(active_until) > now:
                body.update(
                    state="ADMITTED",
                    aheadOfYou=0,
                    estimatedWaitSeconds=0,
                    claimed=claimed,
                    sessionEndsAt=float(active_until) if claimed else None,
                    token=token.decode() if token and claimed else None,
                )
            else:
                body.update(state="EXPIRED", aheadOfYou=0, estimatedWaitSeconds=0)
            return body
        ahead = None if position is None else position - serving - 1
        body.update(
            state="WAITING",
            aheadOfYou=ahead,
            estimatedWaitSeconds=self._estimate(
                position, serving, batch, interval, admits, now, opens_at, next_admit_at
            ),
        )
        return body

    def claim(self, ticket: str, session_seconds: int, now: float | None = None) -> float:
        """The admitted fan collects the token: the cap slot now lasts for the session."""
        now = time.time() if now is None else now
        key = self.key(f"t:{ticket}")
        claimed = self.r.hget(key, "claimed")
        if claimed:
            return float(claimed) + session_seconds
        self.r.hsetnx(key, "claimed", now)
        claimed_at = float(self.r.hget(key, "claimed"))
        self.r.zadd(self.key("active"), {ticket: claimed_at + session_seconds}, xx=True, gt=True)
        return claimed_at + session_seconds

    def remember_token(self, ticket: str, token: str) -> None:
        """Polling again returns the stored token instead of signing it again."""
        self.r.hset(self.key(f"t:{ticket}"), "token", token)

    def heartbeat(self, ticket: str) -> None:
        """A fan still on the waiting-room page (nothing to extend; kept for presence figures)."""
        self.r.hset(self.key(f"t:{ticket}"), "seen", time.time())

    def counter(self) -> dict[str, int]:
        serving, length = (
            self.r.pipeline(transaction=False).hget(self.key("meta"), "serving").llen(self.key("order")).execute()
        )
        pre = self.r.llen(self.key("pre"))
        return {"servingUpTo": int(serving or 0), "queueLength": int(length or 0) + int(pre or 0)}

    # ------------------------------------------------------------ admission

    def admit_due(self, uow: UnitOfWork, now: float | None = None) -> int:
        """Runs the lottery when the sale opens, then admits a batch if one is due. Safe to call
        from anywhere at any rate: a lock lets one caller act and the schedule decides."""
        now = time.time() if now is None else now
        self.ensure_loaded(uow)
        meta = self._meta()
        if meta.get("state") in ("PREQUEUE",) and now >= float(meta.get("opens_at", 0)):
            if self._lock("draw"):
                try:
                    self._draw(uow)
                finally:
                    self._unlock("draw")
            meta = self._meta()
        if meta.get("state") not in ("OPEN", "DRAINING") or now < float(meta.get("next_admit_at", 0)):
            return 0
        if not self._lock("admit"):
            return 0
        try:
            return self._admit(uow, self._meta(), now)
        finally:
            self._unlock("admit")

    def _admit(self, uow: UnitOfWork, meta: dict[str, str], now: float) -> int:
        if now < float(meta.get("next_admit_at", 0)):
            return 0
        expired = [t.decode() for t in self.r.zrangebyscore(self.key("active"), "-inf", now)]
        if expired:
            claimed = self.r.pipeline(transaction=False)
            for ticket in expired:
                claimed.hexists(self.key(f"t:{ticket}"), "claimed")
            never_came = sum(1 for came in claimed.execute() if not came)
            self.r.zrem(self.key("active"), *expired)
            self._change_meta(
                ("incr", "abandoned_total", never_came), ("incr", "ended_total", len(expired) - never_came)
            )
        active = self.r.zcard(self.key("active"))
        serving = int(meta.get("serving", 0))
        length = self.r.llen(self.key("order"))
        cap_room = int(meta["cap"]) - active
        waiting = length - serving
        batch = waiting if meta["state"] == "DRAINING" else int(meta["batch"])
        k = max(0, min(batch, cap_room, waiting))
        if k:
            tickets = [t.decode() for t in self.r.lrange(self.key("order"), serving, serving + k - 1)]
            moved = uow.execute(
                """
                UPDATE gate_queues SET serving_up_to = :upto, updated_at = now()
                WHERE event_id = :e AND serving_up_to = :serving
                """,
                {"upto": serving + k, "e": self.event_id, "serving": serving},
            ).rowcount
            if moved != 1:
                # Postgres has served further than Redis knows (a failover lost the last admission):
                # nobody is admitted on Redis's word; the room is rebuilt from Postgres first.
                uow.rollback()
                self.resync(uow)
                return 0
            uow.execute(
                """
                UPDATE gate_tickets SET admitted_at = to_timestamp(:now)
                WHERE event_id = :e AND position > :serving AND position <= :upto AND admitted_at IS NULL
                """,
                {"now": now, "e": self.event_id, "serving": serving, "upto": serving + k},
            )
            uow.commit()
            real = {t: now + self.show_up_seconds for t in tickets if t != PLACEHOLDER}
            # Places whose ticket Redis lost (``~``) admit nobody: only the fans are counted.
            WAITING_ROOM_ADMITTED.labels(str(self.event_id)).inc(len(real))
            pipe = self.r.pipeline(transaction=True)
            if real:
                pipe.zadd(self.key("active"), real)
            self._change_meta(("set", "serving", serving + k), ("incr", "admitted_total", len(real)), client=pipe)
            pipe.lpush(self.key("admits"), f"{now}:{len(real)}")
            pipe.ltrim(self.key("admits"), 0, 29)
            pipe.execute()
        self._change_meta(("set", "next_admit_at", now + float(meta["interval"])))
        return k

    def _draw(self, uow: UnitOfWork) -> None:
        """The lottery: pre-queue places in a random order, independent of when fans joined."""
        tickets = self._begin_draw(keys=[self.key("meta"), self.key("pre"), self.key("order")])
        if tickets is None:
            return
        tickets = [t.decode() for t in tickets]
        secrets.SystemRandom().shuffle(tickets)
        if tickets:
            uow.execute(
                """
                UPDATE gate_tickets g SET position = d.position
                FROM unnest(CAST(:tickets AS text[])) WITH ORDINALITY AS d(ticket, position)
                WHERE g.event_id = :e AND g.ticket = d.ticket
                """,
                {"tickets": tickets, "e": self.event_id},
            )
        uow.execute(
            "UPDATE gate_queues SET state = 'OPEN', updated_at = now() WHERE event_id = :e", {"e": self.event_id}
        )
        uow.commit()
        pipe = self.r.pipeline(transaction=True)
        for index, ticket in enumerate(tickets):
            pipe.lset(self.key("order"), index, ticket)
            pipe.hset(self.key(f"t:{ticket}"), "pos", index + 1)
        self._change_meta(("set", "state", "OPEN"), ("set", "next_admit_at", 0), client=pipe)
        pipe.execute()

    # ------------------------------------------------------------ figures

    def figures(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        meta = self._meta()
        if not meta:
            raise QueueNotFound(self.event_id)
        counter = self.counter()
        active = self.r.zcount(self.key("active"), now, "+inf")
        admitted = int(meta.get("admitted_total", 0))
        return {
            "eventId": str(self.event_id),
            "state": meta["state"],
            "batchSize": int(meta["batch"]),
            "admissionIntervalSeconds": float(meta["interval"]),
            "maxActive": int(meta["cap"]),
            "sessionSeconds": int(meta["session"]),
            "verifiedEmailRequired": meta.get("verified") == "1",
            "saleOpensAt": datetime.fromtimestamp(float(meta["opens_at"]), UTC).isoformat(),
            "queueLength": counter["queueLength"],
            "waiting": counter["queueLength"] - counter["servingUpTo"],
            "servingUpTo": counter["servingUpTo"],
            "admitted": admitted,
            "active": active,
            "abandoned": int(meta.get("abandoned_total", 0)),
            "sessionsEnded": int(meta.get("ended_total", 0)),
            "admissionRatePerMinute": round(self._rate(self.r.lrange(self.key("admits"), 0, 9), now) * 60, 1),
        }

    def _estimate(self, position, serving, batch, interval, admits, now, opens_at, next_admit_at) -> int | None:
        if position is None:
            # Still in the pre-queue: the draw happens at the opening.
            return max(0, math.ceil(opens_at - now))
        remaining = position - serving
        rate = self._rate(admits, now)
        if rate <= 0:
            rate = batch / interval
        # Count from the next scheduled batch, so the estimate only falls while the place does not move.
        wait = max(0.0, next_admit_at - now) + max(0.0, (remaining - batch) / rate)
        return math.ceil(wait)

    @staticmethod
    def _rate(admits: list[bytes], now: float) -> float:
        """Fans admitted per second across the recent batches. Measured between batches, not up to
        now, so that a pause does not make everyone's estimate creep up while nobody moves."""
        entries = [tuple(map(float, a.decode().split(":"))) for a in admits]
        if len(entries) < 2:
            return 0.0
        oldest, newest = min(t for t, _ in entries), max(t for t, _ in entries)
        return sum(n for t, n in entries if t > oldest) / max(newest - oldest, 1.0)

    # ------------------------------------------------------------ recovery

    def _meta(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.r.hgetall(self.key("meta")).items()}

    def ensure_loaded(self, uow: UnitOfWork, force_settings: bool = False) -> None:
        """Rebuilds this queue in Redis from Postgres when Redis has lost it, or holds only part of its
        meta hash (which no write leaves any more, ``UPDATE_META``, but an older one could have)."""
        if not force_settings and self._loaded():
            return
        row = uow.execute(
            """
            SELECT state, batch_size, admission_interval_seconds, max_active, session_seconds,
                   extract(epoch FROM sale_opens_at) AS opens_at, serving_up_to, verified_email_required
            FROM gate_queues WHERE event_id = :e
            """,
            {"e": self.event_id},
        ).first()
        uow.rollback()
        if row is None:
            raise QueueNotFound(self.event_id)
        settings = {
            "batch": row.batch_size,
            "interval": row.admission_interval_seconds,
            "cap": row.max_active,
            "session": row.session_seconds,
            "opens_at": float(row.opens_at),
            "verified": int(row.verified_email_required),
        }
        if not self._lock("rebuild"):
            # Another caller is rebuilding it: wait for that (a rebuild reads every ticket of the queue).
            deadline = time.monotonic() + 2.0
            while not self._loaded():
                if time.monotonic() > deadline:
                    raise QueueNotFound(self.event_id)
                time.sleep(0.05)
            return
        try:
            # Checked again under the lock: a caller that found the queue missing a moment ago may find
            # it rebuilt by another now, and must not rebuild it a second time. A second rebuild would
            # read Postgres without the joins made since the first (their rows still being written)
            # and give their places to others.
            if self._loaded():
                self._change_meta(*(("set", name, value) for name, value in settings.items()))
            else:
                self._rebuild(uow, row, settings)
        finally:
            self._unlock("rebuild")

    def _loaded(self) -> bool:
        """Whether Redis holds this queue: its meta hash, whole."""
        return None not in self.r.hmget(self.key("meta"), META_FIELDS)

    def _rebuild(self, uow: UnitOfWork, row: Any, settings: dict[str, Any]) -> None:
        tickets = uow.execute(
            """
            SELECT user_id, ticket, prequeue, position, extract(epoch FROM admitted_at) AS admitted_at
            FROM gate_tickets WHERE event_id = :e ORDER BY position NULLS LAST, joined_at
            """,
            {"e": self.event_id},
        ).all()
        uow.rollback()
        state = "OPEN" if row.state == "DRAWING" else row.state
        top = max((t.position or 0 for t in tickets), default=0)
        order = [PLACEHOLDER] * top
        pipe = self.r.pipeline(transaction=True)
        for key in [self.key(n) for n in ("users", "pre", "order", "active", "admits")]:
            pipe.delete(key)
        now = time.time()
        for t in tickets:
            fields = {"user": t.user_id, "pre": int(t.prequeue), "joined": now}
            if t.position is not None:
                order[t.position - 1] = t.ticket
                fields["pos"] = t.position
            elif state == "PREQUEUE":
                pipe.rpush(self.key("pre"), t.ticket)
            pipe.hset(self.key("users"), t.user_id, t.ticket)
            pipe.hset(self.key(f"t:{t.ticket}"), mapping=fields)
            if t.admitted_at is not None:
                # Until its session could have ended, an admission counts against the cap.
                until = float(t.admitted_at) + row.session_seconds
                if until > now:
                    pipe.zadd(self.key("active"), {t.ticket: until})
        if order:
            pipe.rpush(self.key("order"), *order)
        pipe.hset(
            self.key("meta"),
            mapping={
                **settings,
                "state": state,
                "serving": row.serving_up_to,
                "next_admit_at": 0,
                "admitted_total": row.serving_up_to,
            },
        )
        pipe.execute()
        _status_copy.forget(self._where)

    def _lock(self, name: str) -> bool:
        return bool(self.r.set(self.key(f"lock:{name}"), b"1", nx=True, px=5000))

    def _unlock(self, name: str) -> None:
        self.r.delete(self.key(f"lock:{name}"))


# ------------------------------------------------------------ figures read at scrape time


def queue_live_figures(pipe: Any, event_id: int, now: float) -> None:
    """Queues on ``pipe`` the reads of a room's live figures, four commands: how far it has served,
    the queue's and the pre-queue's lengths, and the admitted fans still counting against its cap.
    ``live_figures`` makes them into figures; ``WaitingRoom.figures`` computes the same ones."""
    prefix = key_prefix(event_id)
    pipe.hget(prefix + "meta", "serving")
    pipe.llen(prefix + "order")
    pipe.llen(prefix + "pre")
    pipe.zcount(prefix + "active", now, "+inf")


LIVE_FIGURE_REPLIES = 4


def live_figures(replies: list[Any]) -> tuple[int, int]:
    """``(waiting, active)`` from the replies to ``queue_live_figures``'s commands: fans with a place
    (or a pre-queue ticket) not yet admitted, and admitted fans still counted against the cap."""
    serving, length, pre, active = replies
    return int(length or 0) + int(pre or 0) - int(serving or 0), int(active or 0)
