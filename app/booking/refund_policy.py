"""A show's refund policy: how much of a booking comes back when the fan cancels.

Policy document (``shows.refund_policy``)::

    {"rules": [{"hoursBefore": 48, "refundPercent": 100}, {"hoursBefore": 24, "refundPercent": 50}],
     "feeMinor": 0}

The first rule (most hours first) whose ``hoursBefore`` the cancellation is at
least that far ahead of the show applies; the fee is then taken off. No rule
applying, or a show that has started, means cancellation is not allowed.
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
