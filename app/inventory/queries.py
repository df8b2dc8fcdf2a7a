"""Every statement that reads or changes seat state. The hot paths are here, in plain SQL.

Seat state changes only through conditional updates: a seat is taken only if it
is AVAILABLE, or HELD by a hold whose time ran out (so correctness never waits
for a sweeper). Rows are locked in seat-id order so that overlapping requests
queue behind each other instead of deadlocking.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from app.audit import log as audit
from app.unit_of_work import UnitOfWork

# A seat is free to take if it is AVAILABLE or its hold has lapsed.
SEAT_IS_FREE = "(status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= now()))"


def lock_user_show(uow: UnitOfWork, user_id: int, show_id: int) -> Row[Any] | None:
    """Serialises one user's holds on one show, so that the per-user seat cap holds under
    concurrency, and reads which waiting room guards the show (None: no such show) and whether the
    token's user still exists (a signed token outlives a deleted account)."""
    return uow.execute(
        """
        SELECT event_id, queue_required, EXISTS (SELECT 1 FROM users WHERE id = :user_id) AS user_exists,
               pg_advisory_xact_lock(CAST(:show_key AS int), CAST(:user_key AS int))
        FROM shows WHERE id = :show_id
        """,
        {"show_id": show_id, "user_id": user_id, "show_key": show_id % 2**31, "user_key": user_id % 2**31},
    ).first()


class HoldAttempt:
    """What :func:`hold_free_seats` did: the hold row (None when the show is not on sale or the
    user is over the cap), the seats of the show the user already had (held or booked), and the
    seats it took."""

    __slots__ = ("hold", "already_has", "taken")

    def __init__(self, hold: Row[Any] | None, already_has: int, taken: list[str]) -> None:
        self.hold, self.already_has, self.taken = hold, already_has, taken


def hold_free_seats(
    uow: UnitOfWork, hold_id: uuid.UUID, user_id: int, show_id: int, seat_ids: list[str], ttl_seconds: int,
    max_seats: int,
) -> HoldAttempt:
    """One statement: creates the hold, priced from the show's tiers, only while the show is on
    sale and the user stays within ``max_seats`` for it, and marks those of ``seat_ids`` that are
    free as HELD by it. The caller keeps the hold only if every seat was taken.

    The cap counts the seats the user holds (live holds, and paying holds whatever their expiry:
    their seats stay protected) plus the seats of their confirmed bookings for the show, so paying
    for seats does not make room for more. Run after :func:`lock_user_show` in the same
    transaction: this statement's snapshot then sees every hold and booking the user's earlier
    requests committed (a hold becomes a booking in one transaction, so a seat never counts twice
    or not at all). Holds whose seats are taken over after they lapsed are marked EXPIRED here too,
    so the holds table keeps agreeing with the seats.

    The audit rows are written here too: ``hold.created`` only when every seat was taken (the
    caller rolls back otherwise, which would remove it anyway), and ``hold.expired`` for each
    lapsed hold that lost seats.
    """
    row = uow.execute(
        f"""
        WITH mine AS (
            SELECT (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM holds
                     WHERE user_id = :user_id AND show_id = :show_id AND status = 'ACTIVE'
                       AND (expires_at > now() OR payment_started_at IS NOT NULL))
                 + (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM bookings
                     WHERE user_id = :user_id AND show_id = :show_id AND status = 'CONFIRMED') AS held
        ), h AS (
            INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at)
            SELECT :hold_id, s.id, :user_id, :seat_ids,
                   (SELECT coalesce(sum(p.price), 0)
                      FROM venue_seats vs JOIN show_prices p ON p.show_id = s.id AND p.tier = vs.tier
                     WHERE vs.venue_id = s.venue_id AND vs.seat_id = ANY(:seat_ids)),
                   s.currency, now(), now() + make_interval(secs => :ttl)
            FROM shows s, mine
            WHERE s.id = :show_id AND s.status = 'SCHEDULED'
              AND now() >= s.sale_opens_at AND now() < s.sale_closes_at
              AND mine.held + cardinality(CAST(:seat_ids AS text[])) <= :max_seats
            RETURNING created_at, expires_at, amount, currency
        ), candidates AS (
            SELECT show_id, seat_id, hold_id AS lapsed_hold_id
            FROM show_seats
            WHERE show_id = :show_id AND seat_id = ANY(:seat_ids) AND {SEAT_IS_FREE}
              AND EXISTS (SELECT 1 FROM h)
            ORDER BY seat_id
            FOR UPDATE
        ), taken AS (
            UPDATE show_seats ss
            SET status = 'HELD', hold_id = :hold_id, hold_expires_at = (SELECT expires_at FROM h)
            FROM candidates c
            WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id
            RETURNING ss.seat_id, c.lapsed_hold_id
        ), lapsed AS (
            UPDATE holds SET status = 'EXPIRED', ended_at = now()
            WHERE id IN (SELECT lapsed_hold_id FROM taken) AND status = 'ACTIVE' AND expires_at <= now()
            RETURNING id, show_id, user_id, seat_ids
        ), audit AS (
            INSERT INTO audit_log {audit.COLUMNS}
            SELECT CAST(:user_id AS bigint), 'fan', 'hold.created', 'hold', CAST(:hold_id AS text),
                   CAST(:show_id AS bigint),
                   jsonb_build_object('seatIds', CAST(:seat_ids AS text[]), 'amount', h.amount,
                                      'currency', h.currency, 'expiresAt', h.expires_at)
            FROM h WHERE (SELECT count(*) FROM taken) = cardinality(CAST(:seat_ids AS text[]))
            UNION ALL
            SELECT CAST(NULL AS bigint), 'system', 'hold.expired', 'hold', CAST(l.id AS text), l.show_id,
                   jsonb_build_object('seatIds', l.seat_ids, 'userId', l.user_id, 'reason', 'LAPSED',
                                      'seatsTakenBy', CAST(:hold_id AS text))
            FROM lapsed l
        )
        SELECT mine.held, h.created_at, h.expires_at, h.amount, h.currency,
               ARRAY(SELECT seat_id FROM taken) AS taken
        FROM mine LEFT JOIN h ON true
        """,
        {"hold_id": hold_id, "user_id": user_id, "show_id": show_id, "seat_ids": seat_ids, "ttl": ttl_seconds,
         "max_seats": max_seats},
    ).one()
    return HoldAttempt(row if row.expires_at is not None else None, row.held, list(row.taken))


def existing_seat_ids(uow: UnitOfWork, show_id: int, seat_ids: list[str]) -> set[str]:
    return {
        r.seat_id
        for r in uow.execute(
            "SELECT seat_id FROM show_seats WHERE show_id = :show_id AND seat_id = ANY(:seat_ids)",
            {"show_id": show_id, "seat_ids": seat_ids},
        )
    }


def show_sale_window(uow: UnitOfWork, show_id: int) -> Row[Any] | None:
    return uow.execute(
        "SELECT status, sale_opens_at, sale_closes_at, now() AS db_now FROM shows WHERE id = :id", {"id": show_id}
    ).first()


def get_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> Row[Any] | None:
    return uow.execute(
        """
        SELECT id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at, ended_at,
               payment_intent_id, payment_started_at,
               CASE WHEN status = 'ACTIVE' AND expires_at <= now() AND payment_started_at IS NULL THEN 'EXPIRED'
                    ELSE status END AS status
        FROM holds WHERE id = :id
        """,
        {"id": hold_id},
    ).first()


def release_hold(uow: UnitOfWork, hold_id: uuid.UUID, user_id: int) -> list[str] | None:
    """Ends the user's hold and frees the seats it still holds; None if it was paid for or is not theirs.

    A lapsed hold may still have seats nobody took over: releasing it frees those too. The hold's
    end (RELEASED, or EXPIRED if its time had run out) is audited once, when it happens: releasing
    a hold that had already ended writes no row.
    """
    ended = uow.execute(
        f"""
        WITH target AS (
            SELECT id, show_id, status FROM holds
            WHERE id = :hold_id AND user_id = :user_id AND status IN ('ACTIVE', 'EXPIRED')
              AND (status = 'EXPIRED' OR payment_started_at IS NULL)  -- a paying hold ends through the gateway
            FOR UPDATE
        ), ended AS (
            UPDATE holds h
            SET status = CASE WHEN h.expires_at <= now() THEN 'EXPIRED' ELSE 'RELEASED' END, ended_at = now()
            FROM target t WHERE h.id = t.id AND t.status = 'ACTIVE'
            RETURNING h.id, h.show_id, h.status, h.seat_ids
        ), audit AS (
            INSERT INTO audit_log {audit.COLUMNS}
            SELECT CAST(:user_id AS bigint), 'fan',
                   CASE e.status WHEN 'EXPIRED' THEN 'hold.expired' ELSE 'hold.released' END,
                   'hold', CAST(e.id AS text), e.show_id, jsonb_build_object('seatIds', e.seat_ids)
            FROM ended e
        )
        SELECT show_id FROM target
        """,
        {"hold_id": hold_id, "user_id": user_id},
    ).first()
    if ended is None:
        return None
    rows = uow.execute(
        """
        WITH mine AS (
            SELECT show_id, seat_id FROM show_seats
            WHERE show_id = :show_id AND hold_id = :hold_id AND status = 'HELD'
            ORDER BY seat_id
            FOR UPDATE
        )
        UPDATE show_seats ss SET status = 'AVAILABLE', hold_id = NULL, hold_expires_at = NULL
        FROM mine WHERE ss.show_id = mine.show_id AND ss.seat_id = mine.seat_id
        RETURNING ss.seat_id
        """,
        {"show_id": ended.show_id, "hold_id": hold_id},
    )
    return [r.seat_id for r in rows]


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
