"""The waiting list's SQL: the line, its entries and the seats it may offer. Seats change only in
``app/inventory/seat_state.py`` (``offer_seats``); this module reads them and keeps the entries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.inventory.seat_state import SEAT_IS_FREE_TO_PUBLIC, seat_is_free
from app.unit_of_work import UnitOfWork

# An entry as the fan sees it: its place among the WAITING entries of its show (1 is next), and an
# OFFERED entry's state read from its hold, so a paid offer reads CLAIMED and a lapsed or released
# one MISSED before the offer job has tidied the row (a GET never writes: rule 7).
ENTRY_VIEW = """
    SELECT w.id, w.show_id, w.user_id, w.quantity, w.tier, w.created_at, w.offered_at, w.hold_id,
           CASE WHEN w.status <> 'OFFERED' THEN w.status
                WHEN h.status = 'CONFIRMED' THEN 'CLAIMED'
                WHEN h.status IN ('EXPIRED', 'RELEASED')
                  OR (h.expires_at <= now() AND h.payment_started_at IS NULL) THEN 'MISSED'
                ELSE 'OFFERED' END AS status,
           CASE WHEN w.status = 'WAITING' THEN
                (SELECT count(*) FROM waitlist_entries a
                  WHERE a.show_id = w.show_id AND a.status = 'WAITING' AND a.seq <= w.seq) END AS position,
           h.expires_at AS offer_expires_at, h.seat_ids AS offer_seat_ids, h.amount AS offer_amount,
           h.currency AS offer_currency, e.title, s.starts_at, s.status AS show_status, c.timezone
    FROM waitlist_entries w
    JOIN shows s ON s.id = w.show_id JOIN events e ON e.id = s.event_id
    JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id
    LEFT JOIN holds h ON h.id = w.hold_id
"""


def show_for_joining(uow: UnitOfWork, show_id: int) -> Row[Any] | None:
    """The show's sale state and tiers, read with the database's clock (None: no such show)."""
    return uow.execute(
        """
        SELECT s.status, s.sale_opens_at, s.sale_closes_at, now() AS db_now,
               ARRAY(SELECT tier FROM show_prices WHERE show_id = s.id ORDER BY tier) AS tiers
        FROM shows s WHERE s.id = :id
        """,
        {"id": show_id},
    ).first()


def lock_user_line(uow: UnitOfWork, user_id: int, show_id: int) -> None:
    """Serialises one fan's joins and leaves on one show (transaction-scoped advisory lock)."""
    uow.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('waitlist-fan:' || :show || ':' || :user, 0))",
        {"show": str(show_id), "user": str(user_id)},
    )


def lock_line(uow: UnitOfWork, show_id: int) -> None:
    """Serialises the offer makers of one show, across workers (transaction-scoped advisory lock)."""
    uow.execute("SELECT pg_advisory_xact_lock(hashtextextended('waitlist-line:' || :show, 0))", {"show": str(show_id)})


def active_entry(uow: UnitOfWork, user_id: int, show_id: int) -> Row[Any] | None:
    return uow.execute(
        f"{ENTRY_VIEW} WHERE w.user_id = :user AND w.show_id = :show AND w.status IN ('WAITING', 'OFFERED')",
        {"user": user_id, "show": show_id},
    ).first()


def free_to_public(uow: UnitOfWork, show_id: int, tier: str | None) -> int:
    """How many seats of the show (of ``tier``, or of any tier) a fan could hold now."""
    return int(
        uow.execute(
            f"""
            SELECT count(*) FROM show_seats JOIN venue_seats vs
              ON vs.venue_id = show_seats.venue_id AND vs.seat_id = show_seats.seat_id
            WHERE show_seats.show_id = :show_id AND (CAST(:tier AS text) IS NULL OR vs.tier = :tier)
              AND {SEAT_IS_FREE_TO_PUBLIC}
            """,
            {"show_id": show_id, "tier": tier},
        ).scalar_one()
    )


def insert_entry(uow: UnitOfWork, entry_id: uuid.UUID, user_id: int, show_id: int, quantity: int, tier: str | None):
    uow.execute(
        """
        INSERT INTO waitlist_entries (id, show_id, user_id, quantity, tier) VALUES (:id, :show, :user, :q, :tier)
        """,
        {"id": entry_id, "show": show_id, "user": user_id, "q": quantity, "tier": tier},
    )


def entry(uow: UnitOfWork, entry_id: uuid.UUID) -> Row[Any] | None:
    return uow.execute(f"{ENTRY_VIEW} WHERE w.id = :id", {"id": entry_id}).first()


def entries_of(uow: UnitOfWork, user_id: int, limit: int = 100) -> Sequence[Row[Any]]:
    """The fan's entries, the newest first."""
    return uow.execute(
        f"{ENTRY_VIEW} WHERE w.user_id = :user ORDER BY w.seq DESC LIMIT :limit",
        {
            "user": user_id,
            "limit": limit,
        },
    ).all()


def leave(uow: UnitOfWork, entry_id: uuid.UUID, user_id: int) -> Row[Any] | None:
    """Ends the fan's active entry as LEFT; returns its show_id and the hold of an open offer (else
    None), or None if the entry was not active."""
    return uow.execute(
        """
        WITH mine AS (
            SELECT w.id, w.show_id, w.hold_id FROM waitlist_entries w
            WHERE w.id = :id AND w.user_id = :user AND w.status IN ('WAITING', 'OFFERED')
              -- a paid offer is CLAIMED (the offer job records it): there is nothing left to leave
              AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.id = w.hold_id AND h.status = 'CONFIRMED')
            FOR UPDATE OF w
        )
        UPDATE waitlist_entries w SET status = 'LEFT', ended_at = now(), hold_id = NULL
        FROM mine WHERE w.id = mine.id
        RETURNING mine.show_id, mine.hold_id
        """,
        {"id": entry_id, "user": user_id},
    ).first()


def settle_offers(uow: UnitOfWork, show_id: int) -> Sequence[Row[Any]]:
    """Offers whose hold was paid end CLAIMED; those whose hold lapsed unpaid, or ended otherwise,
    MISSED: their seats pass down the line. A hold whose payment started is left to the saga (rule 4)."""
    return uow.execute(
        """
        UPDATE waitlist_entries w
        SET status = CASE WHEN h.status = 'CONFIRMED' THEN 'CLAIMED' ELSE 'MISSED' END, ended_at = now()
        FROM holds h
        WHERE w.show_id = :show AND w.status = 'OFFERED' AND h.id = w.hold_id
          AND (h.status IN ('CONFIRMED', 'EXPIRED', 'RELEASED')
               OR (h.expires_at <= now() AND h.payment_started_at IS NULL))
        RETURNING w.id, w.status
        """,
        {"show": show_id},
    ).all()


def on_sale(uow: UnitOfWork, show_id: int) -> bool:
    return bool(
        uow.execute(
            "SELECT EXISTS (SELECT 1 FROM shows WHERE id = :id AND status = 'SCHEDULED' AND now() < sale_closes_at)",
            {"id": show_id},
        ).scalar_one()
    )


def waiting_line(uow: UnitOfWork, show_id: int, limit: int) -> Sequence[Row[Any]]:
    """The WAITING entries of the show in line order, locked (an entry being left waits for the offer)."""
    return uow.execute(
        """
        SELECT id, user_id, quantity, tier FROM waitlist_entries
        WHERE show_id = :show AND status = 'WAITING' ORDER BY seq LIMIT :limit FOR UPDATE
        """,
        {"show": show_id, "limit": limit},
    ).all()


def free_seats(uow: UnitOfWork, show_id: int) -> Sequence[Row[Any]]:
    """The show's free seats (those kept for the line included) with their tier, in the layout's
    order by section, row and position."""
    return uow.execute(
        f"""
        SELECT ss.seat_id, vs.section, vs.row AS row_label, vs.tier FROM show_seats ss
        JOIN venue_seats vs ON vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id
        WHERE ss.show_id = :show AND {seat_is_free("ss")}
        ORDER BY vs.section, vs.row, vs.x, ss.seat_id
        """,
        {"show": show_id},
    ).all()


def end_offer(uow: UnitOfWork, entry_id: uuid.UUID, status: str) -> None:
    """Records an OFFERED entry's end as read from its hold (``ENTRY_VIEW``): CLAIMED or MISSED."""
    uow.execute(
        "UPDATE waitlist_entries SET status = :status, ended_at = now() WHERE id = :id AND status = 'OFFERED'",
        {"id": entry_id, "status": status},
    )


def mark_offered(uow: UnitOfWork, entry_id: uuid.UUID, hold_id: uuid.UUID) -> None:
    uow.execute(
        "UPDATE waitlist_entries SET status = 'OFFERED', hold_id = :hold, offered_at = now() WHERE id = :id",
        {"id": entry_id, "hold": hold_id},
    )


def offer_context(uow: UnitOfWork, show_id: int) -> Row[Any]:
    return uow.execute(
        """
        SELECT e.title, s.starts_at, v.name AS venue, c.timezone FROM shows s JOIN events e ON e.id = s.event_id
        JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id WHERE s.id = :id
        """,
        {"id": show_id},
    ).one()


def shows_with_lines(
    uow: UnitOfWork, show_ids: Sequence[int] | None = None, statuses: Sequence[str] = ("WAITING", "OFFERED")
) -> list[int]:
    """Of ``show_ids`` (every show, if None), those with an entry in one of ``statuses``."""
    only = "" if show_ids is None else "AND show_id = ANY(:ids)"
    return list(
        uow.execute(
            f"SELECT DISTINCT show_id FROM waitlist_entries WHERE status = ANY(:statuses) {only}",
            {"ids": list(show_ids or ()), "statuses": list(statuses)},
        ).scalars()
    )


def shows_to_sweep(uow: UnitOfWork) -> list[int]:
    """Shows on sale with a WAITING entry, and any show with an open offer (to settle it)."""
    return list(
        uow.execute(
            """
            SELECT DISTINCT w.show_id FROM waitlist_entries w JOIN shows s ON s.id = w.show_id
            WHERE w.status = 'OFFERED'
               OR (w.status = 'WAITING' AND s.status = 'SCHEDULED' AND now() < s.sale_closes_at)
            """
        ).scalars()
    )


def close_ended_lines(uow: UnitOfWork, batch: int) -> Sequence[Row[Any]]:
    """Ends CLOSED up to ``batch`` WAITING entries of shows cancelled or whose sale has ended, with what
    the message to each fan needs. An entry being offered seats at the same time is locked by the offer
    job; this statement then sees it OFFERED and leaves it (its hold ends as any other)."""
    return uow.execute(
        """
        WITH ended AS (
            SELECT w.id FROM waitlist_entries w JOIN shows s ON s.id = w.show_id
            WHERE w.status = 'WAITING' AND (s.status = 'CANCELLED' OR s.sale_closes_at <= now())
            ORDER BY w.show_id, w.seq LIMIT :batch FOR UPDATE OF w SKIP LOCKED
        )
        UPDATE waitlist_entries w SET status = 'CLOSED', ended_at = now()
        FROM ended, shows s, events e, venues v, cities c
        WHERE w.id = ended.id AND s.id = w.show_id AND e.id = s.event_id AND v.id = s.venue_id AND c.id = v.city_id
        RETURNING w.id, w.user_id, w.show_id, s.status = 'CANCELLED' AS cancelled, e.title, v.name AS venue,
                  s.starts_at, c.timezone
        """,
        {"batch": batch},
    ).all()
