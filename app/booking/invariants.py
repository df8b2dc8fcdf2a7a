"""Money invariants, checked against the gateway's own record of every payment intent.

Used by tests and benchmarks after the workers have drained:
- every succeeded payment ended as exactly one booking or one full refund;
- no booking exists without a succeeded payment;
- nothing was refunded twice, or more than was paid, or other than what Seatline decided
  (a payment has one refund, and at most one top-up when its show was cancelled after the fan
  had cancelled for part of the money).
"""

from __future__ import annotations

from typing import Any

from app.inventory.invariants import seat_invariant_violations
from app.unit_of_work import UnitOfWork


def money_invariant_violations(uow: UnitOfWork, gateway_intents: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """``gateway_intents``: each intent as the gateway reports it, with ``id``, ``status``,
    ``amount_received``, ``amount_refunded``, ``refund_count`` and ``metadata``."""
    broken: dict[str, list[Any]] = seat_invariant_violations(uow)  # first: it opens the repeatable-read snapshot
    bookings = {
        r.payment_intent_id: r
        for r in uow.execute(
            "SELECT payment_intent_id, status, amount, refund_amount FROM bookings WHERE payment_intent_id IS NOT NULL"
        )
    }
    # A free booking (amount 0) has no payment to match at the gateway.
    for free in uow.execute("SELECT id FROM bookings WHERE payment_intent_id IS NULL AND amount <> 0"):
        broken.setdefault("a booking without a payment is free", []).append(str(free.id))
    refunds = {
        r.payment_intent_id: r
        for r in uow.execute(
            """
        SELECT payment_intent_id, sum(amount) AS amount, count(*) AS count,
               sum(amount) FILTER (WHERE status = 'SUCCEEDED') AS succeeded,
               (array_agg(reason ORDER BY top_up))[1] AS reason
        FROM refunds GROUP BY payment_intent_id
        """
        )
    }
    intents = {i["id"]: i for i in gateway_intents}

    def fail(rule: str, item: Any) -> None:
        broken.setdefault(rule, []).append(item)

    for intent in gateway_intents:
        if intent["status"] != "succeeded":
            if intent.get("amount_refunded"):
                fail("only succeeded payments are refunded", intent["id"])
            continue
        booking, refund = bookings.get(intent["id"]), refunds.get(intent["id"])
        # A payment without a booking is refunded because it could not be booked: its hold had lapsed,
        # the amount was wrong, or the show was cancelled before it arrived.
        if booking is None and (
            refund is None or refund.reason not in ("HOLD_LAPSED", "AMOUNT_MISMATCH", "SHOW_CANCELLED")
        ):
            fail("every succeeded payment is a booking or refunded", intent["id"])
        if booking is not None and refund is not None and refund.reason in ("HOLD_LAPSED", "AMOUNT_MISMATCH"):
            fail("a booked payment is not also refunded as unbookable", intent["id"])
        if intent.get("refund_count", 0) > (refund.count if refund is not None else 0):
            fail("no payment is refunded twice", intent["id"])
        if intent.get("amount_refunded", 0) > intent["amount_received"]:
            fail("no payment is refunded beyond what was paid", intent["id"])
        if refund is not None and refund.amount > intent["amount_received"]:
            fail("Seatline never decides to refund more than was paid", intent["id"])
        expected_refund = (refund.succeeded or 0) if refund is not None else 0
        if intent.get("amount_refunded", 0) != expected_refund:
            fail(
                "the gateway refunded exactly what Seatline decided",
                (intent["id"], intent.get("amount_refunded"), expected_refund),
            )
    for intent_id, booking in bookings.items():
        if booking.status == "CANCELLED" and booking.refund_amount != (
            refunds[intent_id].amount if intent_id in refunds else 0
        ):
            fail("a cancelled booking's refund is the one recorded", intent_id)
        paid = intents.get(intent_id)
        if paid is None or paid["status"] != "succeeded":
            fail("no booking without a succeeded payment", intent_id)
        elif paid["amount_received"] != booking.amount:
            fail("a booking's amount is what was paid", intent_id)
    return broken
