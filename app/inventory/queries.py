"""Reads and locks of the hold path, and ending a hold. Seats change only in
``app/inventory/seat_state.py``, which also holds the hold hot path (one statement).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row

from app.audit import log as audit
from app.inventory import seat_state
from app.ops.metrics import HOLDS_EXPIRED, HOLDS_RELEASED
from app.unit_of_work import UnitOfWork

# The first statement of a hold, whole (the benchmark builds its pgbench script from this text).
# The hold statement that follows (``seat_state.HOLD_FREE_SEATS``) has ten CTEs: planning it took
# longer than running it (about 1 ms against 0.6-0.8 ms unloaded, 4-7 ms under load), and
# PostgreSQL's plan cache kept choosing a fresh plan for every call because the generic plan's
# estimate looked dearer. Its parameters are ids and a short seat list, so the generic plan is the
# same plan (bench/RESULTS.md "Hold SQL, planned once"); ``set_config(..., true)`` asks for it for
# the rest of this transaction only, and only statements psycopg has prepared use it.
LOCK_USER_SHOW = """
    SELECT event_id, queue_required, EXISTS (SELECT 1 FROM users WHERE id = :user_id) AS user_exists,
           pg_advisory_xact_lock(CAST(:show_key AS int), CAST(:user_key AS int)),
           set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode
    FROM shows WHERE id = :show_id
"""


def lock_user_show(uow: UnitOfWork, user_id: int, show_id: int) -> Row[Any] | None:
    """Serialises one user's holds on one show, so that the per-user seat cap holds under
    concurrency, and reads which waiting room guards the show (None: no such show) and whether the
    token's user still exists (a signed token outlives a deleted account)."""
    return uow.execute(
        LOCK_USER_SHOW,
        {"show_id": show_id, "user_id": user_id, "show_key": show_id % 2**31, "user_key": user_id % 2**31},
    ).first()


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
               payment_intent_id, payment_started_at, discount,
               (SELECT c.code FROM access_codes c WHERE c.id = h.access_code_id) AS access_code,
               CASE WHEN status = 'ACTIVE' AND expires_at <= now() AND payment_started_at IS NULL THEN 'EXPIRED'
                    ELSE status END AS status,
               -- A standing-room hold (README "General admission (standing)"): every place of one standing section.
               (SELECT CASE WHEN count(*) = cardinality(h.seat_ids) AND bool_and(vs.standing)
                                 AND count(DISTINCT vs.section) = 1 THEN min(vs.section) END
                  FROM shows s JOIN venue_seats vs ON vs.venue_id = s.venue_id
                 WHERE s.id = h.show_id AND vs.seat_id = ANY(h.seat_ids)) AS ga_section
        FROM holds h WHERE id = :id
        """,
        {"id": hold_id},
    ).first()


def release_hold(uow: UnitOfWork, hold_id: uuid.UUID, user_id: int) -> list[str] | None:
    """Ends the user's hold and frees the seats it still holds; None if it was paid for or is not theirs.

    A lapsed hold may still have seats nobody took over: releasing it frees those too. The hold's
    end (RELEASED, or EXPIRED if its time had run out) is audited once, when it happens: releasing
    a hold that had already ended writes no row; the end is counted (``HOLDS_RELEASED`` or
    ``HOLDS_EXPIRED``) once the transaction commits.
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
        SELECT t.show_id, (SELECT status FROM ended) AS ended_as FROM target t
        """,
        {"hold_id": hold_id, "user_id": user_id},
    ).first()
    if ended is None:
        return None
    if ended.ended_as is not None:
        uow.after_commit((HOLDS_EXPIRED if ended.ended_as == "EXPIRED" else HOLDS_RELEASED).inc)
    return seat_state.free_hold_seats(uow, hold_id, ended.show_id)
