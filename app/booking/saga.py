"""From hold to booking (or refund): every path that settles a payment goes through here.

- ``start_payment``: protects the hold's seats (rule 4), then creates one intent per hold
  at the gateway with an idempotency key derived from the hold.
- ``settle_intent``: asks the gateway what became of an intent and acts on it. Confirm
  calls, webhooks, reconciliation and hold expiry all end here, in any order and any
  number of times: the hold row lock serialises them and the unique payment intent id
  on bookings makes a second booking impossible.
- ``expire_hold``: a lapsed hold is released; if its payment may still succeed, the
  intent is cancelled at the gateway first and whatever the gateway answers decides.
  A hold whose intent the gateway refused to create (``ChargeRefused``) has no payment:
  its seats are freed at once.
- ``confirm_free``: a hold that costs nothing becomes a booking without any payment.

Side effects outside Postgres (jobs, hints) are registered as ``Followups`` on the unit of
work, which runs them once the transaction commits; anything they carry is also recorded in
Postgres, so a lost job is found again by the sweeper.

What each call ended in is counted here (``app/ops/metrics.py``): payment intent requests
(``PAYMENT_INTENTS``), confirm calls (``CONFIRMS``) and bookings made, by the path that settled them
(``BOOKINGS_CONFIRMED``: one of ``PATHS``), each once its transaction has committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.audit import log as audit
from app.audit.log import AuditActor
from app.background.dispatch import Followups, schedule_hold_expiry
from app.booking import queries
from app.errors import (
    Degraded,
    DomainError,
    HoldExpired,
    HoldNotFound,
    PaymentNotCompleted,
    PaymentNotNeeded,
    PaymentRefused,
    SaleClosed,
    ValidationFailed,
)
from app.inventory import seat_state
from app.notifications.outbox import message_money, queue_message
from app.ops.metrics import BOOKINGS_CONFIRMED, CONFIRMS, PAYMENT_INTENTS
from app.payments.gateway import ChargeRefused, GatewayUnavailable, Intent, PaymentGateway
from app.unit_of_work import UnitOfWork
from app.waitlist import services as waitlist

log = logging.getLogger(__name__)

# How a payment came to be settled (``settle_intent``'s ``path``, ``BOOKINGS_CONFIRMED``'s label): the
# fan's confirm call, the gateway's webhook, the sweeper's reconciliation of a payment left open, the
# job that ends a hold at its expiry, the fan releasing a paying hold, a show's cancellation. A hold
# that costs nothing is booked by the confirm call without a payment: ``FREE``.
CONFIRM, WEBHOOK, RECONCILE, EXPIRY, RELEASE, SHOW_CANCELLATION = (
    "confirm",
    "webhook",
    "reconcile",
    "expiry",
    "release",
    "show_cancellation",
)
FREE = "free"
PATHS = (CONFIRM, WEBHOOK, RECONCILE, EXPIRY, RELEASE, SHOW_CANCELLATION, FREE)


@dataclass(frozen=True)
class Settlement:
    """What became of a payment: a booking (new or found), a refund, or nothing yet."""

    outcome: str  # BOOKED | REFUNDED | PENDING | CANCELED
    booking_id: uuid.UUID | None = None
    created: bool = False
    payment_status: str | None = None


def intent_idempotency_key(hold_id: uuid.UUID) -> str:
    return f"seatline-hold-{hold_id}-intent"


def _intent_metadata(hold: Any) -> dict[str, str]:
    return {"hold_id": str(hold.id), "user_id": str(hold.user_id), "show_id": str(hold.show_id)}


# ---------------------------------------------------------------- starting a payment


def start_payment(uow: UnitOfWork, gateway: PaymentGateway, user_id: int, hold_id: uuid.UUID) -> Intent:
    """The hold's one intent, created if need be. The call that starts the payment also queues, once
    the intent is recorded, the job that ends the hold at its expiry (rule 5).

    Counted (``PAYMENT_INTENTS``): ``created`` (recorded now), ``reused`` (the hold had its intent),
    ``refused`` (the gateway will not take the payment: ``PAYMENT_REFUSED``), ``gateway_error`` (the
    gateway did not answer: ``DEGRADED``), ``not_payable`` (no such hold of the fan's, a hold no longer
    active, or one that costs nothing)."""
    try:
        intent, outcome = _start_payment(uow, gateway, user_id, hold_id)
    except PaymentRefused:
        PAYMENT_INTENTS.labels("refused").inc()
        raise
    except Degraded:
        PAYMENT_INTENTS.labels("gateway_error").inc()
        raise
    except DomainError:
        PAYMENT_INTENTS.labels("not_payable").inc()
        raise
    PAYMENT_INTENTS.labels(outcome).inc()
    return intent


def _start_payment(uow: UnitOfWork, gateway: PaymentGateway, user_id: int, hold_id: uuid.UUID) -> tuple[Intent, str]:
    hold = queries.lock_hold(uow, hold_id)
    if hold is None or hold.user_id != user_id:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    if hold.payment_intent_id is not None:
        uow.rollback()
        # Only an answer (the same intent again): a copy fetched in the last few seconds will do.
        return _gateway(lambda: gateway.recent_intent(hold.payment_intent_id)), "reused"
    if hold.status != "ACTIVE" or (not hold.live and hold.payment_started_at is None):
        raise HoldExpired("this hold has run out; hold the seats again", status=hold.status)
    if hold.amount == 0:
        raise PaymentNotNeeded(
            "these seats are free: confirm the hold without a payment", amount=0, currency=hold.currency
        )
    starting = hold.payment_started_at is None
    if starting:
        protected = queries.protect_seats_while_paying(uow, hold.id, hold.show_id)
        if protected != len(hold.seat_ids):
            raise HoldExpired("this hold has run out; hold the seats again")
    uow.commit()  # seats are protected before the gateway can possibly take money

    try:
        intent = _gateway(
            lambda: gateway.create_intent(
                hold.amount, hold.currency, _intent_metadata(hold), intent_idempotency_key(hold.id)
            )
        )
    except ChargeRefused as exc:
        # No intent exists, so no payment can succeed: the seats go back to an ordinary hold that lapses.
        queries.unprotect_seats(uow, hold_id, hold.show_id)
        uow.commit()
        log.warning("gateway refused a payment of %s %s for hold %s: %s", hold.amount, hold.currency, hold_id, exc)
        raise PaymentRefused(
            f"the payment service will not take this payment: {exc}",
            gatewayCode=exc.code,
            param=exc.param,
            amount=hold.amount,
            currency=hold.currency,
        ) from exc
    hold = queries.lock_hold(uow, hold_id)
    assert hold is not None  # holds are never deleted, and this one was read above
    queries.record_intent(uow, hold, intent.id)
    if starting:  # from now on only the gateway can say whether it was paid: a job asks it at the expiry
        uow.after_commit(partial(schedule_hold_expiry, str(hold.id), hold.expires_at))
    uow.commit()
    return intent, "created"


def _gateway(call):
    try:
        return call()
    except GatewayUnavailable as exc:
        log.warning("payment gateway unavailable: %s", exc)
        raise Degraded(
            "the payment service is not answering; your seats stay held, try again in a moment",
            retryAfter=getattr(exc, "retry_after", 5),
        ) from exc


# ---------------------------------------------------------------- confirming


def confirm_free(uow: UnitOfWork, user_id: int, hold_id: uuid.UUID) -> Settlement:
    """Books a hold that costs nothing (free seats): no payment, no gateway. Idempotent: a repeat
    finds the booking. Counted as a confirm call (``CONFIRMS``) and a booking by the ``FREE`` path."""
    return _counted_confirm(lambda: _confirm_free(uow, user_id, hold_id))


def _confirm_free(uow: UnitOfWork, user_id: int, hold_id: uuid.UUID) -> Settlement:
    hold = queries.lock_hold(uow, hold_id)
    if hold is None or hold.user_id != user_id:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    if hold.amount != 0:
        raise ValidationFailed(
            "this hold has to be paid for: confirm it with its paymentIntentId",
            fields=[{"field": "paymentIntentId", "message": "required for a hold that costs money"}],
        )
    existing = queries.booking_for_hold(uow, hold.id)
    if existing is not None:
        uow.rollback()
        return Settlement("BOOKED", booking_id=existing, created=False)
    if hold.status != "ACTIVE" or not hold.live:
        raise HoldExpired("this hold has run out; hold the seats again", status=hold.status)
    if queries.show_cancelled(uow, hold.show_id):
        raise SaleClosed("this show has been cancelled", saleStatus="CANCELLED")
    booking_id = uuid.uuid4()
    if not seat_state.book_hold(uow, booking_id, hold, None, audit.fan(user_id)):
        uow.rollback()  # cannot happen to a live hold; never book part of one
        raise HoldExpired("this hold has run out; hold the seats again")
    followups = Followups(booked_seats={hold.show_id: list(hold.seat_ids)})
    followups.notifications += queue_message(
        uow, hold.user_id, "booking_confirmed", str(booking_id), {"show_id": hold.show_id}, booking=booking_id
    )
    uow.after_commit(followups.run)
    uow.after_commit(BOOKINGS_CONFIRMED.labels(FREE).inc)
    uow.commit()
    return Settlement("BOOKED", booking_id=booking_id, created=True)


# A confirm's first statement, outside its transaction (the benchmark builds its pgbench script of a
# confirm from this text and the statements ``settle_intent`` runs: bench/suite.py ``confirm_sql_script``).
CONFIRM_LOOKUP = """
    SELECT h.user_id, h.payment_intent_id, b.id AS booking_id
    FROM holds h LEFT JOIN bookings b ON b.payment_intent_id = h.payment_intent_id
    WHERE h.id = :id
"""


def confirm(uow: UnitOfWork, gateway: PaymentGateway, user_id: int, hold_id: uuid.UUID, intent_id: str) -> Settlement:
    """Settles the hold's intent; the caller then calls ``raise_unless_booked``. Counted (``CONFIRMS``)
    by what the fan is told (``_counted_confirm``)."""
    return _counted_confirm(lambda: _confirm(uow, gateway, user_id, hold_id, intent_id))


def _counted_confirm(call: Callable[[], Settlement]) -> Settlement:
    """Runs a confirm call and counts its outcome: ``confirmed`` (booked now), ``already_confirmed``
    (booked before), ``not_paid`` (``PAYMENT_NOT_COMPLETED``), ``refunded`` (paid too late: ``HOLD_EXPIRED``
    with a refund), ``gateway_error`` (``DEGRADED``) or ``refused`` (any other error answered)."""
    try:
        settlement = call()
    except Degraded:
        CONFIRMS.labels("gateway_error").inc()
        raise
    except DomainError:
        CONFIRMS.labels("refused").inc()
        raise
    if settlement.outcome == "BOOKED":
        outcome = "confirmed" if settlement.created else "already_confirmed"
    else:
        outcome = "refunded" if settlement.outcome == "REFUNDED" else "not_paid"
    CONFIRMS.labels(outcome).inc()
    return settlement


def _confirm(uow: UnitOfWork, gateway: PaymentGateway, user_id: int, hold_id: uuid.UUID, intent_id: str) -> Settlement:
    found = uow.read_alone(CONFIRM_LOOKUP, {"id": hold_id})
    hold = found[0] if found else None
    if hold is None or hold.user_id != user_id:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    if hold.payment_intent_id != intent_id:
        raise ValidationFailed(
            "paymentIntentId is not this hold's payment",
            fields=[{"field": "paymentIntentId", "message": "not this hold's"}],
        )
    if hold.booking_id is not None:
        return Settlement("BOOKED", booking_id=hold.booking_id, created=False)
    intent = _gateway(lambda: gateway.retrieve_intent(intent_id))
    # The intent is this hold's (checked above, and a hold's intent never changes once recorded).
    return settle_intent(uow, gateway, intent, audit.fan(user_id), hold_id=hold_id, path=CONFIRM)


def raise_unless_booked(settlement: Settlement) -> None:
    """What a fan's confirm call is told when the payment did not end in a booking."""
    if settlement.outcome == "REFUNDED":
        raise HoldExpired(
            "your hold ran out and its seats were taken before the payment arrived; the payment is being refunded",
            refund=True,
        )
    if settlement.outcome != "BOOKED":
        raise PaymentNotCompleted(
            "the payment has not been completed at the gateway", paymentStatus=settlement.payment_status
        )


# ---------------------------------------------------------------- settling


def settle_intent(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    intent: Intent,
    who: AuditActor = audit.SYSTEM,
    hold_id: uuid.UUID | None = None,
    *,
    path: str,
) -> Settlement:
    """Brings Postgres in line with the gateway's view of one intent. Idempotent.

    ``who`` asked: the fan's confirm call, the gateway's webhook, or the system (reconciliation,
    expiry, a show's cancellation); the audit rows of whatever this changes name them. ``hold_id``:
    the intent's hold, if the caller knows it already (else it is looked up). ``path``: which of
    ``PATHS`` this is, the label a booking made here is counted under (``BOOKINGS_CONFIRMED``)."""
    hold_id = hold_id if hold_id is not None else _hold_of(uow, intent)
    if hold_id is None:
        log.error("intent %s names no hold of ours; leaving it alone", intent.id)
        return Settlement("PENDING", payment_status=intent.status)
    hold = queries.lock_hold(uow, hold_id)
    if hold is None:
        return Settlement("PENDING", payment_status=intent.status)
    if hold.payment_intent_id != intent.id:
        # Its payment row is written with the hold's intent id, in one transaction (``record_intent``):
        # a hold that has its intent id has its payment row.
        queries.record_intent(uow, hold, intent.id)

    if intent.succeeded:
        settlement = _settle_success(uow, hold, intent, who, path)
    elif intent.status == "canceled":
        settlement = _settle_cancellation(uow, hold, intent, who)
    else:
        status = "FAILED" if intent.status == "requires_payment_method" else "PROCESSING"
        queries.set_payment_status(uow, intent.id, status)
        settlement = Settlement("PENDING", payment_status=intent.status)
    uow.commit()
    return settlement


def _hold_of(uow: UnitOfWork, intent: Intent) -> uuid.UUID | None:
    known = uow.execute("SELECT hold_id FROM payments WHERE payment_intent_id = :pi", {"pi": intent.id}).scalar()
    if known is not None:
        return known
    try:
        return uuid.UUID(intent.metadata.get("hold_id", ""))
    except ValueError:
        return None


def _settle_success(uow: UnitOfWork, hold: Any, intent: Intent, who: AuditActor, path: str) -> Settlement:
    paid = queries.record_success(uow, intent.id, hold.show_id)
    if paid.booking_id is not None:
        return Settlement("BOOKED", booking_id=paid.booking_id)
    if paid.refunded:
        return Settlement("REFUNDED")
    if intent.amount_received != hold.amount or intent.currency != hold.currency:
        log.error(
            "intent %s paid %s %s for a hold of %s %s; refunding",
            intent.id,
            intent.amount_received,
            intent.currency,
            hold.amount,
            hold.currency,
        )
        return _refund_instead(uow, hold, intent, "AMOUNT_MISMATCH", who)

    if paid.show_cancelled:
        return _refund_instead(uow, hold, intent, "SHOW_CANCELLED", who)

    booking_id = uuid.uuid4()
    if not seat_state.book_hold(uow, booking_id, hold, intent.id, who):
        return _refund_instead(uow, hold, intent, "HOLD_LAPSED", who)
    followups = Followups(booked_seats={hold.show_id: list(hold.seat_ids)})
    followups.notifications += queue_message(
        uow, hold.user_id, "booking_confirmed", str(booking_id), {"show_id": hold.show_id}, booking=booking_id
    )
    uow.after_commit(followups.run)
    uow.after_commit(BOOKINGS_CONFIRMED.labels(path).inc)
    return Settlement("BOOKED", booking_id=booking_id, created=True)


def _refund_instead(uow: UnitOfWork, hold: Any, intent: Intent, reason: str, who: AuditActor) -> Settlement:
    """The money came but the seats cannot be had: release what the hold still has and refund in full."""
    freed = seat_state.free_hold_seats(uow, hold.id, hold.show_id)
    waitlist.seats_returned(uow, [hold.show_id])
    if hold.status == "ACTIVE":
        queries.end_hold(uow, hold.id, "EXPIRED", who, reason)
    followups = Followups(freed_seats={hold.show_id: freed})
    refund_id = queries.insert_refund(uow, intent.id, intent.amount_received, reason, None, who)
    if refund_id is not None:
        followups.refunds.append(refund_id)
        title = uow.execute(
            "SELECT e.title FROM shows s JOIN events e ON e.id = s.event_id WHERE s.id = :id", {"id": hold.show_id}
        ).scalar_one()
        followups.notifications += queue_message(
            uow,
            hold.user_id,
            "payment_refunded",
            intent.id,
            {
                "title": title,
                "show_id": hold.show_id,
                "seats": ", ".join(hold.seat_ids),
                "reason": reason,
                "amount": message_money(intent.amount_received, intent.currency),
                "amount_minor": intent.amount_received,  # worded for the fan's language (outbox.localised)
                "currency": intent.currency,
            },
        )
    uow.after_commit(followups.run)
    return Settlement("REFUNDED")


def _settle_cancellation(uow: UnitOfWork, hold: Any, intent: Intent, who: AuditActor) -> Settlement:
    """The intent was cancelled at the gateway: it can no longer succeed, so its seats go back on sale."""
    queries.set_payment_status(uow, intent.id, "CANCELED")
    if hold.status == "ACTIVE" and hold.payment_intent_id == intent.id:
        freed = seat_state.free_hold_seats(uow, hold.id, hold.show_id)
        waitlist.seats_returned(uow, [hold.show_id])
        queries.end_hold(uow, hold.id, "EXPIRED" if not hold.live else "RELEASED", who, "PAYMENT_CANCELED")
        uow.after_commit(Followups(freed_seats={hold.show_id: freed}).run)
    return Settlement("CANCELED", payment_status="canceled")


# ---------------------------------------------------------------- expiry


def expire_hold(uow: UnitOfWork, gateway: PaymentGateway, hold_id: uuid.UUID) -> Settlement | None:
    """Ends one lapsed hold. Without a payment: its seats are freed. With one: the gateway decides."""
    hold = queries.lock_hold(uow, hold_id)
    if hold is None or hold.status != "ACTIVE" or hold.live:
        uow.rollback()
        return None
    if hold.payment_started_at is None:
        freed = seat_state.free_hold_seats(uow, hold.id, hold.show_id)
        waitlist.seats_returned(uow, [hold.show_id])
        queries.end_hold(uow, hold.id, "EXPIRED", audit.SYSTEM, "LAPSED")
        uow.after_commit(Followups(freed_seats={hold.show_id: freed}).run)
        uow.commit()
        return Settlement("CANCELED")
    uow.rollback()  # never hold a row lock across a gateway call
    try:
        intent = _current_intent(gateway, hold)
    except ChargeRefused:
        return end_unpayable_hold(uow, hold_id, audit.SYSTEM)
    if not intent.succeeded and intent.status != "canceled":
        intent = gateway.cancel_intent(intent.id)
    return settle_intent(uow, gateway, intent, audit.SYSTEM, path=EXPIRY)


def release_paying_hold(uow: UnitOfWork, gateway: PaymentGateway, user_id: int, hold_id: uuid.UUID) -> Settlement:
    """The fan lets go of a hold whose payment has started: cancel the intent at the gateway first;
    if the payment got through meanwhile, the fan has a booking instead."""
    hold = queries.lock_hold(uow, hold_id)
    uow.rollback()
    if hold is None or hold.user_id != user_id:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    return _gateway(lambda: end_paying_hold(uow, gateway, hold_id, audit.fan(user_id), path=RELEASE))


def end_paying_hold(
    uow: UnitOfWork, gateway: PaymentGateway, hold_id: uuid.UUID, who: AuditActor = audit.SYSTEM, *, path: str
) -> Settlement:
    """Cancels the hold's intent at the gateway unless it already succeeded, then settles on the answer
    (``path``: ``settle_intent``'s). Raises GatewayUnavailable if the gateway does not answer (the caller
    retries)."""
    hold = queries.lock_hold(uow, hold_id)
    uow.rollback()  # never hold a row lock across a gateway call
    if hold is None:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    try:
        intent = _current_intent(gateway, hold)
    except ChargeRefused:
        return end_unpayable_hold(uow, hold_id, who)
    if not intent.succeeded and intent.status != "canceled":
        intent = gateway.cancel_intent(intent.id)
    return settle_intent(uow, gateway, intent, who, path=path)


def end_unpayable_hold(uow: UnitOfWork, hold_id: uuid.UUID, who: AuditActor = audit.SYSTEM) -> Settlement:
    """The gateway refused to create the hold's intent: no payment exists or ever can, so the hold
    ends like one nobody paid for and its seats are free again (no retry: the answer would not change)."""
    hold = queries.lock_hold(uow, hold_id)
    if hold is None or hold.status != "ACTIVE" or hold.payment_intent_id is not None:
        uow.rollback()
        return Settlement("PENDING")
    freed = seat_state.free_hold_seats(uow, hold.id, hold.show_id)
    waitlist.seats_returned(uow, [hold.show_id])
    queries.end_hold(uow, hold.id, "RELEASED" if hold.live else "EXPIRED", who, "PAYMENT_REFUSED")
    uow.after_commit(Followups(freed_seats={hold.show_id: freed}).run)
    uow.commit()
    return Settlement("CANCELED")


def _current_intent(gateway: PaymentGateway, hold: Any) -> Intent:
    # Without a recorded intent id the create call's answer was lost: the same idempotency
    # key returns the intent if it exists (and creates it if not), so it can be cancelled.
    if hold.payment_intent_id is None:
        return gateway.create_intent(
            hold.amount, hold.currency, _intent_metadata(hold), intent_idempotency_key(hold.id)
        )
    return gateway.retrieve_intent(hold.payment_intent_id)
