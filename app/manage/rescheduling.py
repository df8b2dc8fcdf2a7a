"""Moving a show's start after fans booked it (README "Rescheduling a show").

``reschedule`` runs inside the show update (``shows.update_show``), under the show's row lock and in
its transaction: the new start, the full-refund window, the audit row and one message per confirmed
booking commit together or not at all. Each move has a number (``shows.reschedule_count``) that names
its messages, so a move writes each fan's message once (``notifications.dedupe_key``), and a second
move writes new ones with its own times. A request that repeats the start the show already has moves
nothing and writes nothing.

A fan's cancel reads the show under a share lock (``app/booking/services.py``), so it comes wholly
before a move (refund policy) or wholly after it (full refund while the window is open, for a booking
made before the move): one refund either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.audit import log as audit
from app.background.dispatch import Followups
from app.manage.access import Actor
from app.notifications.outbox import queue_for_bookings
from app.unit_of_work import UnitOfWork

DEFAULT_REFUND_DAYS = 14


def refund_window_end(now: datetime, new_start: datetime, days: int) -> datetime:
    """Fans may cancel for a full refund for ``days`` days, or until the new start if that is sooner."""
    return min(now + timedelta(days=days), new_start)


def reschedule(uow: UnitOfWork, actor: Actor, show: Any, new_start: datetime, refund_days: int) -> None:
    """Records that the locked ``show`` (a row of ``access.show``, read before the update) moved to
    ``new_start`` (which the caller's update of the show sets) and writes the fans' messages; the caller
    commits. Nothing happens when the start does not change."""
    if new_start == show.starts_at:
        return
    until = refund_window_end(show.db_now, new_start, refund_days)
    moved = uow.execute(
        """
        UPDATE shows SET rescheduled_at = now(), rescheduled_from = :before,
                         full_refund_until = :until, reschedule_count = reschedule_count + 1
        WHERE id = :id RETURNING reschedule_count
        """,
        {"before": show.starts_at, "until": until, "id": show.id},
    ).scalar_one()
    context = {
        "show_id": show.id,
        "timezone": show.timezone,
        "old_starts_at": show.starts_at.isoformat(),
        "starts_at": new_start.isoformat(),
        "refund_until_at": until.isoformat(),
        "refund_window": until > show.db_now,
    }
    told = queue_for_bookings(uow, "show_rescheduled", show.id, str(moved), context)
    told_bookings = uow.execute(
        "SELECT count(*) FROM bookings WHERE show_id = :s AND status = 'CONFIRMED'", {"s": show.id}
    ).scalar_one()
    audit.record(
        uow,
        audit.manager(actor),
        "show.rescheduled",
        "show",
        show.id,
        show_id=show.id,
        details={
            "from": show.starts_at,
            "to": new_start,
            "fullRefundUntil": until,
            "refundDays": refund_days,
            "reschedule": moved,
            "bookingsTold": told_bookings,
            "messagesWritten": len(told),
        },
    )
    uow.after_commit(Followups(notifications=told).run)
