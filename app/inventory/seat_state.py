"""The one writer of seat state: every change to ``show_seats`` is a named operation here.

A show's seat is AVAILABLE; HELD by one hold until ``hold_expires_at`` (``'infinity'`` while the
hold's payment may still succeed); BOOKED by one booking; or BLOCKED by the box office
(``block_kind`` KILL, never sold, or HOUSE, kept for the house). The table's checks keep those
columns in step with the status.

Every change is a conditional update that names the state a seat must be in, so of two requests
for one seat at most one gets it. Rows are locked in seat-id order so that overlapping requests
queue behind each other instead of deadlocking. A seat whose hold has lapsed is free at once
(:data:`SEAT_IS_FREE`): correctness never waits for the sweeper, which only tidies up.

Statements that change holds in the same breath as seats (a new hold taking its seats, the box
office taking seats over from lapsed holds, the sweeper expiring holds, a cancelled show releasing
its unpaid holds) are here whole, so that each stays one statement and one round trip. The holds
such a statement ends are counted (``HOLDS_EXPIRED``, ``HOLDS_RELEASED`` in ``app/ops/metrics.py``)
on the unit of work, once it commits: from a figure the statement returns, no statement of its own.
``tests/unit/test_seat_state_writer.py`` fails if any other module writes ``show_seats``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row

from app.audit import log as audit
from app.ops.metrics import HOLDS_EXPIRED, HOLDS_RELEASED
from app.unit_of_work import UnitOfWork


def seat_hold_lapsed(seat: str = "") -> str:
    """SQL: the seat is HELD by a hold whose time has run out. ``seat``: the table's alias, if any."""
    c = f"{seat}." if seat else ""
    return f"({c}status = 'HELD' AND {c}hold_expires_at <= now())"


def seat_is_free(seat: str = "") -> str:
    """SQL: the seat may be taken: AVAILABLE, or HELD by a hold that has lapsed.
    ``seat``: the table's alias, where another joined table has a ``status`` too."""
    c = f"{seat}." if seat else ""
    return f"({c}status = 'AVAILABLE' OR {seat_hold_lapsed(seat)})"


SEAT_IS_FREE = seat_is_free()


def seat_kept_for_line(seat: str, show: str) -> str:
    """SQL: the free seat is the waiting line's (ARCHITECTURE.md rule 8): a WAITING entry of its show
    wants its tier (or any tier). ``seat``: the seats table's alias or name; ``show``: the show's id as
    an expression that does not depend on the row (a parameter), so that the first test, whether the
    show has a line at all, is evaluated once per statement: without a line, one probe of the partial
    index ``ix_waitlist_line`` and nothing per seat."""
    return f"""(EXISTS (SELECT 1 FROM waitlist_entries WHERE show_id = {show} AND status = 'WAITING')
        AND EXISTS (SELECT 1 FROM waitlist_entries w
                    WHERE w.show_id = {seat}.show_id AND w.status = 'WAITING'
                      AND (w.tier IS NULL OR w.tier = (SELECT vs.tier FROM venue_seats vs
                                                       WHERE vs.venue_id = {seat}.venue_id
                                                         AND vs.seat_id = {seat}.seat_id))))"""


# SQL: a seat of the show ``:show_id`` that the public may take (alias ``show_seats``, unaliased):
# free, and not kept for the show's waiting line.
SEAT_IS_FREE_TO_PUBLIC = f"({SEAT_IS_FREE} AND NOT {seat_kept_for_line('show_seats', 'CAST(:show_id AS bigint)')})"

# SQL: the hold (``holds``, unaliased) has not ended: ACTIVE, said the only way the statuses' check
# allows without naming ACTIVE. The statements that expire the holds whose lapsed seats they take
# over find those holds by id; a ``status = 'ACTIVE'`` there would also match the partial indexes
# on ACTIVE holds, and under statistics that saw few ACTIVE holds the planner reads the whole of one
# of them (857 buffers a hold on the bench's hot show, against ~70; bench/RESULTS.md "Hold SQL").
# Written like this, only the primary key can serve the lookup, whatever the statistics say.
HOLD_NOT_ENDED = "status NOT IN ('EXPIRED', 'RELEASED', 'CONFIRMED')"

# SQL: the seats the hold ``:hold_id`` of the show ``:show_id`` still holds (alias ``ss``), found
# through the hold's own seat list: primary-key lookups of ``show_seats``. No index on
# ``show_seats.hold_id`` exists: a hold's seat update changes that column, and with an index on it no
# such update could be HOT (bench/RESULTS.md "HOT seat updates").
_SEATS_OF_THE_HOLD = """
    holds h JOIN show_seats ss ON ss.show_id = h.show_id AND ss.seat_id = ANY(h.seat_ids)
    WHERE h.id = :hold_id AND h.show_id = :show_id AND ss.hold_id = h.id AND ss.status = 'HELD'
"""


def seats_held_by(holds: str, seat_condition: str = "ss.status = 'HELD'") -> str:
    """SQL: (show_id, seat_id, hold_id) of the seats that the rows of ``holds`` (a CTE with the
    holds' id, show_id and seat_ids) still hold and that meet ``seat_condition`` (alias ``ss``),
    read without locking. Each hold's seats are one primary-key probe through its seat list: the
    ``OFFSET 0`` keeps it a probe per hold, where a join could be planned as a scan of every HELD
    seat (a batch of 1,000 lapsed holds: 31 ms against 367 ms on 1.15 million seats). The statement
    locks them after, in seat order, checking ``seat_condition`` and the hold again
    (:func:`lock_seats_held_by`)."""
    return f"""
        SELECT s.show_id, s.seat_id, s.hold_id FROM {holds} h CROSS JOIN LATERAL (
            SELECT ss.show_id, ss.seat_id, ss.hold_id FROM show_seats ss
            WHERE ss.show_id = h.show_id AND ss.seat_id = ANY(h.seat_ids) AND ss.hold_id = h.id AND {seat_condition}
            OFFSET 0
        ) s
    """


def lock_seats_held_by(found: str, seat_condition: str = "ss.status = 'HELD'", limit: str = "") -> str:
    """SQL: locks, in seat order, the seats a CTE ``found`` of :func:`seats_held_by` named, keeping
    those still held by the same hold and meeting ``seat_condition`` once locked (a seat another
    transaction took meanwhile drops out); returns their (show_id, seat_id). With ``limit`` (a
    LIMIT's expression), at most that many, skipping seats another transaction has locked."""
    return f"""
        SELECT ss.show_id, ss.seat_id FROM {found} f
        JOIN show_seats ss ON ss.show_id = f.show_id AND ss.seat_id = f.seat_id
        WHERE ss.hold_id = f.hold_id AND {seat_condition}
        ORDER BY ss.show_id, ss.seat_id
        {f"LIMIT {limit} FOR UPDATE OF ss SKIP LOCKED" if limit else "FOR UPDATE OF ss"}
    """


# Frees the HELD seats a statement locked in its CTE ``held`` (show_id, seat_id), returning them.
_FREE_HELD = """
    UPDATE show_seats ss SET status = 'AVAILABLE', hold_id = NULL, hold_expires_at = NULL
    FROM held WHERE ss.show_id = held.show_id AND ss.seat_id = held.seat_id
    RETURNING ss.show_id, ss.seat_id
"""


# ---------------------------------------------------------------- holds take, protect and free seats


class HoldAttempt:
    """What :func:`hold_free_seats` did: whether the show is on sale and the request within the
    user's cap (``allowed``), the hold row (None unless it was made: allowed and every seat free),
    the seats of the show the user already had (held or booked), and those of the seats asked for
    that were free (all of them when the hold was made)."""

    __slots__ = ("allowed", "hold", "already_has", "taken")

    def __init__(self, allowed: bool, hold: Row[Any] | None, already_has: int, taken: list[str]) -> None:
        self.allowed, self.hold, self.already_has, self.taken = allowed, hold, already_has, taken


def _on_sale_within_the_cap(wanted: str) -> str:
    """The first two parts of a fan's hold statement (seats or standing places), the one place their
    rules live: ``mine``, the seats the fan holds (unlapsed or paying) and has booked for the show;
    ``sale``, the show, only while it is on sale to the fan (from the earlier of the public opening
    and ``:presale_from``, a presale code's, README "Presale codes and vouchers") and only if
    ``wanted`` more seats keep the fan within ``:max_seats``."""
    return f"""
    WITH mine AS (
        SELECT (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM holds
                 WHERE user_id = :user_id AND show_id = :show_id AND status = 'ACTIVE'
                   AND (expires_at > now() OR payment_started_at IS NOT NULL))
             + (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM bookings
                 WHERE user_id = :user_id AND show_id = :show_id AND status = 'CONFIRMED') AS held
    ), sale AS (
        SELECT s.id, s.venue_id, s.currency FROM shows s, mine
        WHERE s.id = :show_id AND s.status = 'SCHEDULED'
          AND now() >= LEAST(s.sale_opens_at, CAST(:presale_from AS timestamptz)) AND now() < s.sale_closes_at
          AND mine.held + {wanted} <= :max_seats
    )"""


# The hold statement, whole (the benchmark builds its pgbench script from this text, and commits
# when ``complete``, as the caller does): see :func:`hold_free_seats`.
#
# It writes only when it can hold every seat: ``free_now`` looks at the seats without locking
# them, and only when all are free are they locked (``candidates``, in seat order; a seat another
# transaction took meanwhile is re-checked after its lock and drops out) and the hold inserted, and
# only if every seat is still free once locked. On a hot show most attempts find a seat taken and
# end without a transaction id, a row lock, a dead hold row or a byte of WAL.
HOLD_FREE_SEATS = f"""{_on_sale_within_the_cap("cardinality(CAST(:seat_ids AS text[]))")}, free_now AS (
        SELECT seat_id FROM show_seats
        WHERE show_id = :show_id AND seat_id = ANY(:seat_ids) AND {SEAT_IS_FREE_TO_PUBLIC}
    ), candidates AS (
        SELECT show_id, seat_id, hold_id AS lapsed_hold_id
        FROM show_seats
        WHERE show_id = :show_id AND seat_id = ANY(:seat_ids) AND {SEAT_IS_FREE_TO_PUBLIC}
          AND EXISTS (SELECT 1 FROM sale)
          AND (SELECT count(*) FROM free_now) = cardinality(CAST(:seat_ids AS text[]))
        ORDER BY seat_id
        FOR UPDATE
    ), h AS (
        INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at)
        SELECT :hold_id, s.id, :user_id, :seat_ids,
               (SELECT coalesce(sum(p.price), 0)
                  FROM venue_seats vs JOIN show_prices p ON p.show_id = s.id AND p.tier = vs.tier
                 WHERE vs.venue_id = s.venue_id AND vs.seat_id = ANY(:seat_ids)),
               s.currency, now(), now() + make_interval(secs => :ttl)
        FROM sale s
        WHERE (SELECT count(*) FROM candidates) = cardinality(CAST(:seat_ids AS text[]))
        RETURNING created_at, expires_at, amount, currency
    ), taken AS (
        UPDATE show_seats ss
        SET status = 'HELD', hold_id = :hold_id, hold_expires_at = h.expires_at
        FROM candidates c, h
        WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
        RETURNING ss.seat_id, c.lapsed_hold_id
    ), lapsed AS (
        UPDATE holds SET status = 'EXPIRED', ended_at = now()
        WHERE id = ANY(ARRAY(SELECT lapsed_hold_id FROM taken WHERE lapsed_hold_id IS NOT NULL))
          AND {HOLD_NOT_ENDED} AND expires_at <= now()
        RETURNING id, show_id, user_id, seat_ids
    ), audit AS (
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT CAST(:user_id AS bigint), 'fan', 'hold.created', 'hold', CAST(:hold_id AS text),
               CAST(:show_id AS bigint),
               jsonb_build_object('seatIds', CAST(:seat_ids AS text[]), 'amount', h.amount,
                                  'currency', h.currency, 'expiresAt', h.expires_at)
        FROM h
        UNION ALL
        SELECT CAST(NULL AS bigint), 'system', 'hold.expired', 'hold', CAST(l.id AS text), l.show_id,
               jsonb_build_object('seatIds', l.seat_ids, 'userId', l.user_id, 'reason', 'LAPSED',
                                  'seatsTakenBy', CAST(:hold_id AS text))
        FROM lapsed l
    )
    SELECT mine.held, EXISTS (SELECT 1 FROM sale) AS allowed,
           h.created_at, h.expires_at, h.amount, h.currency,
           CASE WHEN (SELECT count(*) FROM free_now) = cardinality(CAST(:seat_ids AS text[]))
                THEN ARRAY(SELECT seat_id FROM candidates) ELSE ARRAY(SELECT seat_id FROM free_now) END AS free,
           h.expires_at IS NOT NULL AS complete,
           (SELECT count(*) FROM lapsed) AS lapsed
    FROM mine LEFT JOIN h ON true
"""


def hold_free_seats(
    uow: UnitOfWork,
    hold_id: uuid.UUID,
    user_id: int,
    show_id: int,
    seat_ids: list[str],
    ttl_seconds: int,
    max_seats: int,
    presale_from: datetime | None = None,
) -> HoldAttempt:
    """One statement: creates the hold, priced from the show's tiers, only while the show is on
    sale (from ``presale_from`` on, if earlier: a presale code's opening, README "Presale codes and
    vouchers"), the user stays within ``max_seats`` for it and every one of ``seat_ids`` is free to the
    public (free, and not kept for the show's waiting line: :data:`SEAT_IS_FREE_TO_PUBLIC`), and
    marks those seats HELD by it. Otherwise it changes nothing, and says which seats were free.

    The cap counts the seats the user holds (live holds, and paying holds whatever their expiry:
    their seats stay protected) plus the seats of their confirmed bookings for the show, so paying
    for seats does not make room for more. Run after ``inventory.queries.lock_user_show`` in the
    same transaction: this statement's snapshot then sees every hold and booking the user's earlier
    requests committed (a hold becomes a booking in one transaction, so a seat never counts twice
    or not at all). Holds whose seats are taken over after they lapsed are marked EXPIRED here too,
    so the holds table keeps agreeing with the seats.

    The audit rows are written here too: ``hold.created`` with the hold, and ``hold.expired`` for
    each lapsed hold that lost seats. Those holds are counted as expired once the caller commits
    (``lapsed``: the rows the statement's own ``lapsed`` step returned, counted in the same statement).
    """
    row = uow.execute(
        HOLD_FREE_SEATS,
        {
            "hold_id": hold_id,
            "user_id": user_id,
            "show_id": show_id,
            "seat_ids": seat_ids,
            "ttl": ttl_seconds,
            "max_seats": max_seats,
            "presale_from": presale_from,
        },
    ).one()
    if row.lapsed:
        uow.after_commit(partial(HOLDS_EXPIRED.inc, row.lapsed))
    return HoldAttempt(row.allowed, row if row.complete else None, row.held, list(row.free))


# A standing-room hold, whole (README "General admission (standing)"): see :func:`hold_standing_places`.
# Like :data:`HOLD_FREE_SEATS`, but the statement picks the places: the first ``:quantity`` places
# of the section, in place order, that are free to the public and that no other transaction has
# locked (``SKIP LOCKED``: concurrent fans take different places instead of queueing behind each
# other's locks; a place another transaction took meanwhile is re-checked once locked and drops
# out). The hold is made only when that is ``:quantity`` places, and ends up as the same hold row
# and the same HELD seats as a hold of picked seats, so everything after (expiry, payment, booking,
# cancellation) is the seats' own.
HOLD_STANDING_PLACES = f"""{_on_sale_within_the_cap(":quantity")}, places AS (
        SELECT vs.seat_id, vs.ordinal, vs.tier FROM shows s
        JOIN venue_seats vs ON vs.venue_id = s.venue_id
        WHERE s.id = :show_id AND vs.section = :section AND vs.standing
    ), picked AS (
        SELECT ss.show_id, ss.seat_id, ss.hold_id AS lapsed_hold_id, p.ordinal, p.tier
        FROM places p JOIN show_seats ss ON ss.show_id = :show_id AND ss.seat_id = p.seat_id
        WHERE EXISTS (SELECT 1 FROM sale) AND {seat_is_free("ss")}
          AND NOT {seat_kept_for_line("ss", "CAST(:show_id AS bigint)")}
        ORDER BY p.ordinal
        LIMIT :quantity
        FOR UPDATE OF ss SKIP LOCKED
    ), h AS (
        INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at)
        SELECT :hold_id, s.id, :user_id, ARRAY(SELECT seat_id FROM picked ORDER BY ordinal),
               (SELECT coalesce(sum(p.price), 0) FROM picked JOIN show_prices p
                  ON p.show_id = s.id AND p.tier = picked.tier),
               s.currency, now(), now() + make_interval(secs => :ttl)
        FROM sale s
        WHERE (SELECT count(*) FROM picked) = :quantity
        RETURNING seat_ids, created_at, expires_at, amount, currency
    ), taken AS (
        UPDATE show_seats ss
        SET status = 'HELD', hold_id = :hold_id, hold_expires_at = h.expires_at
        FROM picked c, h
        WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
        RETURNING ss.seat_id, c.lapsed_hold_id
    ), lapsed AS (
        UPDATE holds SET status = 'EXPIRED', ended_at = now()
        WHERE id = ANY(ARRAY(SELECT lapsed_hold_id FROM taken WHERE lapsed_hold_id IS NOT NULL))
          AND {HOLD_NOT_ENDED} AND expires_at <= now()
        RETURNING id, show_id, user_id, seat_ids
    ), audit AS (
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT CAST(:user_id AS bigint), 'fan', 'hold.created', 'hold', CAST(:hold_id AS text),
               CAST(:show_id AS bigint),
               jsonb_build_object('seatIds', h.seat_ids, 'gaSection', CAST(:section AS text),
                                  'quantity', CAST(:quantity AS int), 'amount', h.amount,
                                  'currency', h.currency, 'expiresAt', h.expires_at)
        FROM h
        UNION ALL
        SELECT CAST(NULL AS bigint), 'system', 'hold.expired', 'hold', CAST(l.id AS text), l.show_id,
               jsonb_build_object('seatIds', l.seat_ids, 'userId', l.user_id, 'reason', 'LAPSED',
                                  'seatsTakenBy', CAST(:hold_id AS text))
        FROM lapsed l
    )
    SELECT mine.held, EXISTS (SELECT 1 FROM sale) AS allowed,
           h.seat_ids, h.created_at, h.expires_at, h.amount, h.currency,
           h.expires_at IS NOT NULL AS complete,
           (SELECT count(*) FROM places) AS capacity,
           CASE WHEN h.expires_at IS NULL THEN
               (SELECT count(*) FROM places p JOIN show_seats ss ON ss.show_id = :show_id AND ss.seat_id = p.seat_id
                 WHERE {seat_is_free("ss")} AND NOT {seat_kept_for_line("ss", "CAST(:show_id AS bigint)")})
           END AS available,
           (SELECT count(*) FROM lapsed) AS lapsed
    FROM mine LEFT JOIN h ON true
"""

# The same, waiting for the places other transactions have locked instead of skipping them: the
# second try of a hold that fell short only because places it skipped were locked by requests that
# may yet fail (:func:`hold_standing_places`). Locks are taken in place order, as the first try's,
# so two such tries never deadlock.
HOLD_STANDING_PLACES_WAITING = HOLD_STANDING_PLACES.replace("FOR UPDATE OF ss SKIP LOCKED", "FOR UPDATE OF ss")
assert HOLD_STANDING_PLACES_WAITING != HOLD_STANDING_PLACES


class StandingAttempt:
    """What :func:`hold_standing_places` did: like :class:`HoldAttempt`, with the section's number
    of places in the show (``capacity``, 0: no such standing section) and, when no hold was made,
    how many of them were free to the public (``available``)."""

    __slots__ = ("allowed", "hold", "already_has", "capacity", "available")

    def __init__(
        self, allowed: bool, hold: Row[Any] | None, already_has: int, capacity: int, available: int | None
    ) -> None:
        self.allowed, self.hold, self.already_has = allowed, hold, already_has
        self.capacity, self.available = capacity, available


def hold_standing_places(
    uow: UnitOfWork,
    hold_id: uuid.UUID,
    user_id: int,
    show_id: int,
    section: str,
    quantity: int,
    ttl_seconds: int,
    max_seats: int,
    presale_from: datetime | None = None,
    *,
    wait: bool = False,
) -> StandingAttempt:
    """One statement: holds ``quantity`` free places of the standing section ``section``, the first
    in place order that no other transaction has locked, on the same terms as
    :func:`hold_free_seats` (on sale, within the cap, free to the public, audited, lapsed holds
    that lose places marked EXPIRED); or, when fewer are free, changes nothing. Run after
    ``inventory.queries.lock_user_show`` in the same transaction, as that one is. ``wait``: wait
    for places other transactions have locked instead of skipping them
    (:data:`HOLD_STANDING_PLACES_WAITING`). ``presale_from``: as for :func:`hold_free_seats`."""
    row = uow.execute(
        HOLD_STANDING_PLACES_WAITING if wait else HOLD_STANDING_PLACES,
        {
            "hold_id": hold_id,
            "user_id": user_id,
            "show_id": show_id,
            "section": section,
            "quantity": quantity,
            "ttl": ttl_seconds,
            "max_seats": max_seats,
            "presale_from": presale_from,
        },
    ).one()
    if row.lapsed:
        uow.after_commit(partial(HOLDS_EXPIRED.inc, row.lapsed))
    return StandingAttempt(row.allowed, row if row.complete else None, row.held, row.capacity, row.available)


# A waiting-list offer, whole: see :func:`offer_seats`. Like the hold statement, but for a fan the
# line chose: seats kept for the line are taken too (they are the line's to give), and neither the
# sale window nor the fan's cap is looked at (the caller checked the sale; the fan asked for at most
# 8 seats when joining).
OFFER_SEATS = f"""
    WITH candidates AS (
        SELECT show_id, seat_id, hold_id AS lapsed_hold_id
        FROM show_seats
        WHERE show_id = :show_id AND seat_id = ANY(:seat_ids) AND {SEAT_IS_FREE}
        ORDER BY seat_id
        FOR UPDATE
    ), h AS (
        INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at)
        SELECT :hold_id, s.id, :user_id, :seat_ids,
               (SELECT coalesce(sum(p.price), 0)
                  FROM venue_seats vs JOIN show_prices p ON p.show_id = s.id AND p.tier = vs.tier
                 WHERE vs.venue_id = s.venue_id AND vs.seat_id = ANY(:seat_ids)),
               s.currency, now(), now() + make_interval(secs => :ttl)
        FROM shows s
        WHERE s.id = :show_id AND (SELECT count(*) FROM candidates) = cardinality(CAST(:seat_ids AS text[]))
        RETURNING created_at, expires_at, amount, currency
    ), taken AS (
        UPDATE show_seats ss
        SET status = 'HELD', hold_id = :hold_id, hold_expires_at = h.expires_at
        FROM candidates c, h
        WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
        RETURNING ss.seat_id, c.lapsed_hold_id
    ), lapsed AS (
        UPDATE holds SET status = 'EXPIRED', ended_at = now()
        WHERE id = ANY(ARRAY(SELECT lapsed_hold_id FROM taken WHERE lapsed_hold_id IS NOT NULL))
          AND {HOLD_NOT_ENDED} AND expires_at <= now()
        RETURNING id, show_id, user_id, seat_ids
    ), audit AS (
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT CAST(NULL AS bigint), 'system', 'hold.created', 'hold', CAST(:hold_id AS text),
               CAST(:show_id AS bigint),
               jsonb_build_object('seatIds', CAST(:seat_ids AS text[]), 'amount', h.amount, 'userId', :user_id,
                                  'currency', h.currency, 'expiresAt', h.expires_at, 'waitlistOffer', true)
        FROM h
        UNION ALL
        SELECT CAST(NULL AS bigint), 'system', 'hold.expired', 'hold', CAST(l.id AS text), l.show_id,
               jsonb_build_object('seatIds', l.seat_ids, 'userId', l.user_id, 'reason', 'LAPSED',
                                  'seatsTakenBy', CAST(:hold_id AS text))
        FROM lapsed l
    )
    SELECT h.created_at, h.expires_at, h.amount, h.currency, (SELECT count(*) FROM lapsed) AS lapsed
    FROM (SELECT 1) one LEFT JOIN h ON true
"""


def offer_seats(
    uow: UnitOfWork, hold_id: uuid.UUID, user_id: int, show_id: int, seat_ids: list[str], ttl_seconds: int
) -> Row[Any] | None:
    """One statement: the hold ``hold_id`` of ``user_id`` on every one of ``seat_ids`` (free seats,
    those kept for the waiting line included), expiring in ``ttl_seconds``, audited; or nothing, if
    any seat is not free. Returns the hold (created_at, expires_at, amount, currency) or None. The
    seats are locked in seat order like every hold's, so the offer and a fan's hold never both get a
    seat (rule 1)."""
    row = uow.execute(
        OFFER_SEATS,
        {"hold_id": hold_id, "user_id": user_id, "show_id": show_id, "seat_ids": seat_ids, "ttl": ttl_seconds},
    ).one()
    if row.lapsed:
        uow.after_commit(partial(HOLDS_EXPIRED.inc, row.lapsed))
    return row if row.expires_at is not None else None


def protect_while_paying(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int) -> int:
    """Rule 4: while a payment may still succeed, the hold's seats cannot lapse. Returns how many."""
    return uow.execute(
        f"""
        WITH mine AS (
            SELECT ss.show_id, ss.seat_id FROM {_SEATS_OF_THE_HOLD}
            ORDER BY ss.seat_id FOR UPDATE OF ss
        )
        UPDATE show_seats ss SET hold_expires_at = 'infinity'
        FROM mine WHERE ss.show_id = mine.show_id AND ss.seat_id = mine.seat_id
        """,
        {"show_id": show_id, "hold_id": hold_id},
    ).rowcount


def unprotect(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int, expires_at: datetime) -> None:
    """Undoes :func:`protect_while_paying`: the hold's seats lapse at ``expires_at`` (the hold's) again."""
    uow.execute(
        f"""
        WITH mine AS (
            SELECT ss.show_id, ss.seat_id FROM {_SEATS_OF_THE_HOLD}
            ORDER BY ss.seat_id FOR UPDATE OF ss
        )
        UPDATE show_seats ss SET hold_expires_at = :expires_at
        FROM mine WHERE ss.show_id = mine.show_id AND ss.seat_id = mine.seat_id
        """,
        {"show_id": show_id, "hold_id": hold_id, "expires_at": expires_at},
    )


# Booking a hold, whole: see :func:`book_hold`. ``candidates`` locks, in seat order, those of the
# hold's seats that are still its own or free again after it lapsed; only when that is every seat
# are the booking and its audit row inserted, the seats marked BOOKED by it and the hold CONFIRMED.
# Otherwise nothing is written (the seats it did lock stay locked until the transaction ends).
BOOK_HOLD = f"""
    WITH candidates AS (
        SELECT show_id, seat_id FROM show_seats
        WHERE show_id = :show_id AND seat_id = ANY(:seat_ids)
          AND ((status = 'HELD' AND hold_id = :hold_id) OR {SEAT_IS_FREE})
        ORDER BY seat_id FOR UPDATE
    ), b AS (
        INSERT INTO bookings (id, hold_id, show_id, user_id, payment_intent_id, seat_ids, amount, currency)
        SELECT :id, :hold_id, :show_id, :user_id, :pi, :seat_ids, :amount, :currency
        WHERE (SELECT count(*) FROM candidates) = cardinality(CAST(:seat_ids AS text[]))
        RETURNING id, hold_id, show_id, user_id, payment_intent_id, seat_ids, amount, currency
    ), booked AS (
        UPDATE show_seats ss
        SET status = 'BOOKED', booking_id = b.id, hold_id = NULL, hold_expires_at = NULL
        FROM candidates c, b WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
        RETURNING ss.seat_id
    ), confirmed AS (
        UPDATE holds h SET status = 'CONFIRMED', ended_at = NULL FROM b WHERE h.id = b.hold_id
    ), audit AS (
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT {audit.ACTOR}, 'booking.confirmed', 'booking', CAST(b.id AS text), b.show_id,
               jsonb_build_object('holdId', b.hold_id, 'userId', b.user_id, 'paymentIntentId', b.payment_intent_id,
                                  'seatIds', b.seat_ids, 'amount', b.amount, 'currency', b.currency)
        FROM b
    )
    SELECT count(*) AS booked FROM booked
"""


def book_hold(uow: UnitOfWork, booking_id: uuid.UUID, hold: Any, intent_id: str | None, who: audit.AuditActor) -> bool:
    """One statement: books every seat of ``hold`` (those still its own, or free again after it
    lapsed) as the booking ``booking_id``, with its ``booking.confirmed`` audit row, and marks the
    hold CONFIRMED; or, if any seat is gone, writes nothing. True if it booked.

    A payment intent yields at most one booking (unique on bookings), so at most one such row,
    however many settlers race. A free hold's booking has no intent (``intent_id`` None; only an
    amount of 0 may have none)."""
    row = uow.execute(
        BOOK_HOLD,
        {
            "id": booking_id,
            "hold_id": hold.id,
            "show_id": hold.show_id,
            "user_id": hold.user_id,
            "pi": intent_id,
            "seat_ids": list(hold.seat_ids),
            "amount": hold.amount,
            "currency": hold.currency,
            **who.params,
        },
    ).one()
    return row.booked == len(hold.seat_ids)


def free_hold_seats(uow: UnitOfWork, hold_id: uuid.UUID, show_id: int) -> list[str]:
    """Frees the seats the hold still holds (a lapsed hold may have lost some); returns them."""
    rows = uow.execute(
        f"""
        WITH held AS (
            SELECT ss.show_id, ss.seat_id FROM {_SEATS_OF_THE_HOLD}
            ORDER BY ss.seat_id FOR UPDATE OF ss
        )
        {_FREE_HELD}
        """,
        {"show_id": show_id, "hold_id": hold_id},
    )
    return [r.seat_id for r in rows]


# The sweeper's statement, whole (benchmarks run its text by hand): expires up to :batch lapsed
# holds that have no payment in flight, frees their seats, one ``hold.expired`` audit row per hold.
EXPIRE_LAPSED_HOLDS = f"""
        WITH expired AS (
            SELECT id, show_id, seat_ids FROM holds
            WHERE status = 'ACTIVE' AND expires_at <= now() AND payment_started_at IS NULL
            ORDER BY expires_at
            LIMIT :batch
            FOR UPDATE SKIP LOCKED
        ), theirs AS ({seats_held_by("expired")}
        ), held AS ({lock_seats_held_by("theirs")}
        ), freed AS ({_FREE_HELD}), ended AS (
            UPDATE holds h SET status = 'EXPIRED', ended_at = now()
            FROM expired WHERE h.id = expired.id
            RETURNING h.id, h.show_id, h.user_id, h.seat_ids
        ), audit AS (
            INSERT INTO audit_log (actor_user_id, actor_kind, action, subject_type, subject_id, show_id, details)
            SELECT CAST(NULL AS bigint), 'system', 'hold.expired', 'hold', CAST(ended.id AS text), ended.show_id,
                   jsonb_build_object('seatIds', ended.seat_ids, 'userId', ended.user_id, 'reason', 'LAPSED')
            FROM ended
        )
        SELECT (SELECT count(*) FROM ended) AS ended,
               (SELECT coalesce(array_agg(show_id), '{{}}') FROM freed) AS show_ids,
               (SELECT coalesce(array_agg(seat_id), '{{}}') FROM freed) AS seat_ids
"""


def expire_lapsed_holds(uow: UnitOfWork, batch: int) -> tuple[int, list[tuple[int, str]]]:
    """Runs :data:`EXPIRE_LAPSED_HOLDS`; returns how many holds ended and the (show, seat) pairs freed."""
    row = uow.execute(EXPIRE_LAPSED_HOLDS, {"batch": batch}).one()
    if row.ended:
        uow.after_commit(partial(HOLDS_EXPIRED.inc, row.ended))
    return row.ended, list(zip(row.show_ids, row.seat_ids))


def free_orphaned_seats(uow: UnitOfWork, batch: int, ended_within_seconds: int) -> Sequence[Row[Any]]:
    """Frees up to ``batch`` seats still marked HELD by a hold that ended in the last
    ``ended_within_seconds`` (it lapsed and lost only some seats to a takeover); returns the
    (show_id, seat_id) rows.

    Driven from the holds side (``ix_holds_ended``, then the seats by primary key through each
    hold's seat list), as no index finds HELD seats. Such a seat already reads as free everywhere
    (:data:`SEAT_IS_FREE`): this only tidies it, so one the window missed (the sweeper was down for
    longer) stays harmless until a hold or the box office takes it."""
    return uow.execute(
        f"""
        WITH ended AS (
            SELECT id, show_id, seat_ids FROM holds WHERE ended_at > now() - make_interval(secs => :within)
        ), theirs AS ({seats_held_by("ended", seat_hold_lapsed("ss"))}
        ), held AS ({lock_seats_held_by("theirs", seat_hold_lapsed("ss"), limit=":batch")})
        {_FREE_HELD}
        """,
        {"batch": batch, "within": ended_within_seconds},
    ).all()


def release_unpaid_holds(uow: UnitOfWork, show_id: int) -> list[str]:
    """A cancelled show's holds with no payment started end RELEASED (audited) and free their seats,
    in one statement; returns the seats freed. Paying holds are settled through the gateway."""
    row = uow.execute(
        f"""
        WITH ended AS (
            UPDATE holds SET status = 'RELEASED', ended_at = now()
            WHERE show_id = :s AND status = 'ACTIVE' AND payment_started_at IS NULL
            RETURNING id, show_id, user_id, seat_ids
        ), audit AS (
            INSERT INTO audit_log {audit.COLUMNS}
            SELECT CAST(NULL AS bigint), 'system', 'hold.released', 'hold', CAST(ended.id AS text), CAST(:s AS bigint),
                   jsonb_build_object('seatIds', ended.seat_ids, 'userId', ended.user_id, 'reason', 'SHOW_CANCELLED')
            FROM ended
        ), theirs AS ({seats_held_by("ended")}
        ), held AS ({lock_seats_held_by("theirs")}
        ), freed AS ({_FREE_HELD})
        SELECT (SELECT count(*) FROM ended) AS ended,
               (SELECT coalesce(array_agg(seat_id), '{{}}') FROM freed) AS seat_ids
        """,
        {"s": show_id},
    ).one()
    if row.ended:
        uow.after_commit(partial(HOLDS_RELEASED.inc, row.ended))
    return list(row.seat_ids)


# ---------------------------------------------------------------- bookings free seats


def free_booking_seats(uow: UnitOfWork, show_id: int, booking_ids: Sequence[uuid.UUID]) -> list[str]:
    """The seats of cancelled bookings go back on sale; returns them."""
    rows = uow.execute(
        """
        WITH theirs AS (
            SELECT show_id, seat_id FROM show_seats WHERE show_id = :show_id AND booking_id = ANY(:booking_ids)
            ORDER BY seat_id FOR UPDATE
        )
        UPDATE show_seats ss SET status = 'AVAILABLE', booking_id = NULL
        FROM theirs WHERE ss.show_id = theirs.show_id AND ss.seat_id = theirs.seat_id
        RETURNING ss.seat_id
        """,
        {"show_id": show_id, "booking_ids": list(booking_ids)},
    )
    return [r.seat_id for r in rows]


# ---------------------------------------------------------------- the box office blocks and unblocks


def block_free_seats(uow: UnitOfWork, show_id: int, seat_ids: Sequence[str], kind: str) -> set[str]:
    """Takes those of ``seat_ids`` that are free (or already blocked) out of sale as ``kind``, with
    the same row locks in seat order as holds, so it never races a fan's hold into a double sale.
    Lapsed holds that lose seats end EXPIRED, audited, and counted once the caller commits. Returns
    the seats blocked: the caller rolls back unless it got all it asked for."""
    rows = uow.execute(
        f"""
        WITH candidates AS (
            SELECT show_id, seat_id, hold_id AS lapsed_hold_id FROM show_seats
            WHERE show_id = :show AND seat_id = ANY(:ids)
              AND ({SEAT_IS_FREE} OR status = 'BLOCKED')
            ORDER BY seat_id FOR UPDATE
        ), taken AS (
            UPDATE show_seats ss SET status = 'BLOCKED', block_kind = :kind, hold_id = NULL, hold_expires_at = NULL
            FROM candidates c WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
            RETURNING ss.seat_id, c.lapsed_hold_id
        ), lapsed AS (
            UPDATE holds SET status = 'EXPIRED', ended_at = now()
            WHERE id IN (SELECT lapsed_hold_id FROM taken) AND {HOLD_NOT_ENDED} AND expires_at <= now()
              AND payment_started_at IS NULL
            RETURNING id, show_id, user_id, seat_ids
        ), audit AS (
            INSERT INTO audit_log {audit.COLUMNS}
            SELECT CAST(NULL AS bigint), 'system', 'hold.expired', 'hold', CAST(l.id AS text), l.show_id,
                   jsonb_build_object('seatIds', l.seat_ids, 'userId', l.user_id, 'reason', 'LAPSED',
                                      'seatsTakenBy', 'box office')
            FROM lapsed l
        )
        SELECT seat_id, (SELECT count(*) FROM lapsed) AS lapsed FROM taken
        """,
        {"show": show_id, "ids": list(seat_ids), "kind": kind},
    ).all()
    if rows and rows[0].lapsed:
        uow.after_commit(partial(HOLDS_EXPIRED.inc, rows[0].lapsed))
    return {r.seat_id for r in rows}


def unblock(uow: UnitOfWork, show_id: int, seat_ids: Sequence[str]) -> list[str]:
    """Puts blocked seats back on sale, except those the venue's layout never sells; returns them."""
    return list(
        uow.execute(
            """
        WITH mine AS (
            SELECT ss.show_id, ss.seat_id FROM show_seats ss
            JOIN venue_seats vs ON vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id
            WHERE ss.show_id = :show AND ss.seat_id = ANY(:ids) AND ss.status = 'BLOCKED' AND vs.sellable
            ORDER BY ss.seat_id FOR UPDATE OF ss
        )
        UPDATE show_seats ss SET status = 'AVAILABLE', block_kind = NULL
        FROM mine WHERE ss.show_id = mine.show_id AND ss.seat_id = mine.seat_id
        RETURNING ss.seat_id
        """,
            {"show": show_id, "ids": list(seat_ids)},
        ).scalars()
    )


# ---------------------------------------------------------------- shows and layouts make seats


def create_show_seats(uow: UnitOfWork, show_id: int, venue_id: int) -> int:
    """Every seat of the venue's layout joins the show: AVAILABLE, or BLOCKED (a kill) if never sold."""
    return uow.execute(
        """
        INSERT INTO show_seats (show_id, seat_id, venue_id, status, block_kind)
        SELECT :show_id, seat_id, venue_id,
               CASE WHEN sellable THEN 'AVAILABLE' ELSE 'BLOCKED' END,
               CASE WHEN sellable THEN NULL ELSE 'KILL' END
        FROM venue_seats WHERE venue_id = :venue_id
        ON CONFLICT DO NOTHING
        """,
        {"show_id": show_id, "venue_id": venue_id},
    ).rowcount


def follow_layout(uow: UnitOfWork, venue_id: int) -> None:
    """Scheduled shows get the venue's new seats, and follow it when a seat stops or starts being sellable."""
    uow.execute(
        """
        INSERT INTO show_seats (show_id, seat_id, venue_id, status, block_kind)
        SELECT s.id, vs.seat_id, vs.venue_id,
               CASE WHEN vs.sellable THEN 'AVAILABLE' ELSE 'BLOCKED' END,
               CASE WHEN vs.sellable THEN NULL ELSE 'KILL' END
        FROM shows s JOIN venue_seats vs ON vs.venue_id = s.venue_id
        WHERE s.venue_id = :v AND s.status = 'SCHEDULED'
        ON CONFLICT DO NOTHING
        """,
        {"v": venue_id},
    )
    uow.execute(
        """
        UPDATE show_seats ss SET status = 'BLOCKED', block_kind = 'KILL'
        FROM venue_seats vs, shows s
        WHERE vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id AND s.id = ss.show_id
          AND ss.venue_id = :v AND s.status = 'SCHEDULED' AND NOT vs.sellable AND ss.status = 'AVAILABLE'
        """,
        {"v": venue_id},
    )
    uow.execute(
        """
        UPDATE show_seats ss SET status = 'AVAILABLE', block_kind = NULL
        FROM venue_seats vs, shows s
        WHERE vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id AND s.id = ss.show_id
          AND ss.venue_id = :v AND s.status = 'SCHEDULED' AND vs.sellable
          AND ss.status = 'BLOCKED' AND ss.block_kind = 'KILL'
        """,
        {"v": venue_id},
    )


def lock_removable_places(uow: UnitOfWork, venue_id: int, place_ids: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` of ``place_ids`` (standing places, README "General admission (standing)"),
    taken in the order given, that no show at the venue has sold, holds or keeps for the house:
    free (a lapsed hold's place is free) or a kill in every show. Their show rows are locked, in
    seat order, so no hold can take them before the caller removes them in the same transaction
    (:func:`remove_layout_seats`); a hold that picks places skips them (``SKIP LOCKED``)."""
    if count <= 0:
        return []
    locked = uow.execute(
        f"""
        SELECT ss.seat_id, ({SEAT_IS_FREE} OR (status = 'BLOCKED' AND block_kind = 'KILL')) AS removable
        FROM show_seats ss WHERE ss.venue_id = :v AND ss.seat_id = ANY(:ids)
        ORDER BY ss.show_id, ss.seat_id FOR UPDATE
        """,
        {"v": venue_id, "ids": list(place_ids)},
    ).all()
    kept = {r.seat_id for r in locked if not r.removable}
    return [p for p in place_ids if p not in kept][:count]


def remove_layout_seats(uow: UnitOfWork, venue_id: int, seat_ids: Sequence[str]) -> None:
    """Seats removed from the venue's layout leave every show there."""
    uow.execute(
        "DELETE FROM show_seats WHERE venue_id = :v AND seat_id = ANY(:ids)", {"v": venue_id, "ids": list(seat_ids)}
    )
