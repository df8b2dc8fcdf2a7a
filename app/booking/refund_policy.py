"""A show's refund policy: how much of a booking comes back when the fan cancels.

Policy document (``shows.refund_policy``)::

    {"rules": [{"hoursBefore": 48, "refundPercent": 100}, {"hoursBefore": 24, "refundPercent": 50}],
     "feeMinor": 0}

The first rule (most hours first) whose ``hoursBefore`` the cancellation is at
least that far ahead of the show applies; the fee is then taken off. No rule
applying, or a show that has started, means cancellation is not allowed.

A show whose start moved (README "Rescheduling a show") refunds in full, whatever its policy, a
booking made before the move and cancelled before ``shows.full_refund_until``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def refund_for(policy: dict[str, Any], amount: int, show_starts: datetime, now: datetime) -> int | None:
    """The refund in minor units, or None when the policy does not allow cancelling now."""
    if now >= show_starts:
        return None
    rules = sorted(policy.get("rules") or [], key=lambda r: r["hoursBefore"], reverse=True)
    ahead = show_starts - now
    for rule in rules:
        if ahead >= timedelta(hours=rule["hoursBefore"]):
            refund = amount * int(rule["refundPercent"]) // 100 - int(policy.get("feeMinor") or 0)
            return max(0, min(amount, refund))
    return None


def refund_window(row: Any) -> dict[str, Any] | None:
    """A booking's ``rescheduled`` detail: the move it was made before, and until when it refunds in full.
    ``row`` has the show's ``rescheduled_at``, ``rescheduled_from``, ``full_refund_until``, ``starts_at``,
    ``timezone`` and the booking's ``created_at``. None for a booking made after the last move."""
    if row.rescheduled_at is None or row.created_at >= row.rescheduled_at:
        return None
    return {"from": row.rescheduled_from, "to": row.starts_at, "fullRefundUntil": row.full_refund_until}


def full_refund_applies(row: Any) -> bool:
    """A booking made before the show's last move may be cancelled for all of its money until the window
    closes (``row`` as for ``refund_window`` plus ``db_now``)."""
    return refund_window(row) is not None and row.db_now < row.full_refund_until
