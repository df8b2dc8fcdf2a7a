"""The safety net: set-based statements that find work a lost or late job left behind."""

from __future__ import annotations

import uuid

from app.background.dispatch import Followups
from app.inventory import seat_state
from app.unit_of_work import UnitOfWork
from app.waitlist import services as waitlist


def release_expired_holds(uow: UnitOfWork, batch: int = 1000) -> int:
    """Expires up to ``batch`` lapsed holds that have no payment in flight and frees their seats,
    in one statement, with one ``hold.expired`` audit row per hold, and commits (the seats' hints are
    cleared after). Returns how many holds ended."""
    ended, freed = seat_state.expire_lapsed_holds(uow, batch)
    waitlist.seats_returned(uow, [show_id for show_id, _ in freed])
    uow.after_commit(Followups(freed_seats=_by_show(freed)).run)
    uow.commit()
    return ended


def free_orphaned_seats(uow: UnitOfWork, ended_within_seconds: int, batch: int = 5000) -> int:
    """Frees seats still marked HELD by a hold that ended in the last ``ended_within_seconds`` (it
    lapsed and lost only some seats), and commits (their hints are cleared after). Returns how many.
    The sweep gives it a window of several of its intervals, so a late sweep still finds them."""
    rows = seat_state.free_orphaned_seats(uow, batch, ended_within_seconds)
    waitlist.seats_returned(uow, [row.show_id for row in rows])
    uow.after_commit(Followups(freed_seats=_by_show(rows)).run)
    uow.commit()
    return len(rows)


def _by_show(pairs) -> dict[int, list[str]]:
    freed: dict[int, list[str]] = {}
    for show_id, seat_id in pairs:
        freed.setdefault(show_id, []).append(seat_id)
    return freed


def lapsed_paying_holds(uow: UnitOfWork, limit: int = 500) -> list[uuid.UUID]:
    """Lapsed holds whose payment may still succeed: the gateway must settle each one."""
    return list(
        uow.execute(
            """
            SELECT id FROM holds
            WHERE status = 'ACTIVE' AND expires_at <= now() AND payment_started_at IS NOT NULL
            ORDER BY expires_at LIMIT :limit
            """,
            {"limit": limit},
        ).scalars()
    )


def stale_open_payments(uow: UnitOfWork, older_than_seconds: int, limit: int = 500) -> list[str]:
    return list(
        uow.execute(
            """
            SELECT payment_intent_id FROM payments
            WHERE status IN ('REQUIRES_PAYMENT', 'PROCESSING', 'FAILED')
              AND updated_at <= now() - make_interval(secs => :age)
            ORDER BY updated_at LIMIT :limit
            """,
            {"age": older_than_seconds, "limit": limit},
        ).scalars()
    )


def unprocessed_events(uow: UnitOfWork, older_than_seconds: int, limit: int = 500) -> list[str]:
    return list(
        uow.execute(
            """
            SELECT event_id FROM webhook_events
            WHERE processed_at IS NULL AND received_at <= now() - make_interval(secs => :age)
            ORDER BY received_at LIMIT :limit
            """,
            {"age": older_than_seconds, "limit": limit},
        ).scalars()
    )


def pending_refunds(uow: UnitOfWork, older_than_seconds: int, limit: int = 500) -> list[uuid.UUID]:
    return list(
        uow.execute(
            """
            SELECT id FROM refunds WHERE status = 'PENDING' AND created_at <= now() - make_interval(secs => :age)
            ORDER BY created_at LIMIT :limit
            """,
            {"age": older_than_seconds, "limit": limit},
        ).scalars()
    )


def pending_notifications(
    uow: UnitOfWork, older_than_seconds: int, limit: int = 500, per_organisation: int = 50
) -> list[int]:
    """Pending messages to re-queue, shared fairly among organisations: each gets at most
    ``per_organisation`` of its oldest, taken in turns (every organisation's oldest first, then
    every one's second, ...), so one organisation's backlog of failing messages cannot crowd out
    another's. A failing message stays first in its organisation's line until it is sent or
    DEAD (``NOTIFICATION_MAX_ATTEMPTS``), so sweep after sweep pages through the backlog."""
    return list(
        uow.execute(
            """
            WITH due AS (
                SELECT id, created_at,
                       row_number() OVER (PARTITION BY organisation_id ORDER BY created_at, id) AS turn
                FROM notifications
                WHERE status = 'PENDING' AND created_at <= now() - make_interval(secs => :age)
            )
            SELECT id FROM due WHERE turn <= :per_org ORDER BY turn, created_at, id LIMIT :limit
            """,
            {"age": older_than_seconds, "limit": limit, "per_org": per_organisation},
        ).scalars()
    )


def open_sessions_of_ended_holds(uow: UnitOfWork, limit: int = 500) -> list[str]:
    """Checkout Sessions still open at the gateway for holds that have ended (lapsed or released):
    each is closed there (``checkout.close_session``), README "Hosted checkout"."""
    return list(
        uow.execute(
            """
            SELECT cs.session_id FROM checkout_sessions cs JOIN holds h ON h.id = cs.hold_id
            WHERE cs.status = 'open' AND cs.session_id IS NOT NULL AND h.status IN ('EXPIRED', 'RELEASED')
            ORDER BY cs.created_at LIMIT :limit
            """,
            {"limit": limit},
        ).scalars()
    )
