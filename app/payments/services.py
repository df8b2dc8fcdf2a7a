"""Gateway events and refunds.

Counted here (``app/ops/metrics.py``), each once its transaction has committed: every webhook
delivery stored (``WEBHOOK_EVENTS`` ``received``) or found stored before (``duplicate``), every stored
event acted on (``processed``: a payment intent's event, settled, or a refund's, recorded), passed
over (``ignored``: a type Seatline does not act on) or whose processing raised (``failed``, retried by
its job and the sweeper); and every refund the gateway made (``REFUNDS`` ``succeeded``) or refused
(``failed``). A delivery refused before it is stored is counted where it is refused
(``app/payments/routes.py``)."""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any

import orjson

from app.audit import log as audit
from app.background import dispatch
from app.booking.checkout import record_session_status
from app.booking.saga import WEBHOOK, settle_intent
from app.ops.metrics import REFUNDS, WEBHOOK_EVENTS
from app.payments.gateway import GatewayRejected, PaymentGateway
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def record_webhook_event(uow: UnitOfWork, event: dict[str, Any]) -> bool:
    """Stores the event once by its gateway id and, once committed, queues its processing; False if it had
    been received before."""
    new = uow.execute(
        """
        INSERT INTO webhook_events (event_id, type, payload) VALUES (:id, :type, CAST(:payload AS jsonb))
        ON CONFLICT (event_id) DO NOTHING RETURNING event_id
        """,
        {"id": event["id"], "type": event["type"], "payload": orjson.dumps(event).decode()},
    ).first()
    if new is not None:
        # Acknowledged at once; a worker does the work (if Redis is down, the sweeper re-queues it).
        uow.after_commit(partial(dispatch.queue_webhook_event, event["id"]))
    uow.after_commit(WEBHOOK_EVENTS.labels(event["type"], "received" if new is not None else "duplicate").inc)
    uow.commit()
    return new is not None


def process_webhook_event(uow: UnitOfWork, gateway: PaymentGateway, event_id: str) -> None:
    """Acts on a stored event by asking the gateway for the intent's current state, so duplicate,
    late and out-of-order deliveries all end the same way."""
    event = uow.execute(
        "SELECT type, payload, processed_at FROM webhook_events WHERE event_id = :id", {"id": event_id}
    ).first()
    uow.rollback()
    if event is None or event.processed_at is not None:
        return
    try:
        acted = _act_on(uow, gateway, event)
        marked = uow.execute(
            "UPDATE webhook_events SET processed_at = now() WHERE event_id = :id AND processed_at IS NULL",
            {"id": event_id},
        )
        if marked.rowcount:  # a second job running the same event concurrently counts it once
            uow.after_commit(WEBHOOK_EVENTS.labels(event.type, "processed" if acted else "ignored").inc)
        uow.commit()
    except Exception:
        WEBHOOK_EVENTS.labels(event.type, "failed").inc()
        raise


def _act_on(uow: UnitOfWork, gateway: PaymentGateway, event: Any) -> bool:
    """Does what a stored event asks; False for an event Seatline does not act on."""
    obj = event.payload["data"]["object"]
    if event.type.startswith("payment_intent."):
        settle_intent(uow, gateway, gateway.retrieve_intent(obj["id"]), audit.GATEWAY, path=WEBHOOK)
        return True
    if event.type == "checkout.session.completed":
        # Paid on the hosted page (README "Hosted checkout"): its intent settles like any other.
        record_session_status(uow, obj["id"], "complete")
        intent_id = obj.get("payment_intent")
        if isinstance(intent_id, dict):
            intent_id = intent_id.get("id")
        if intent_id:
            settle_intent(uow, gateway, gateway.retrieve_intent(intent_id), audit.GATEWAY, path=WEBHOOK)
        return True
    if event.type == "checkout.session.expired":
        record_session_status(uow, obj["id"], "expired")
        return True
    if event.type == "charge.refunded" and obj.get("payment_intent"):
        uow.execute(
            "UPDATE payments SET refunded_amount = :r, updated_at = now() WHERE payment_intent_id = :pi",
            {"r": int(obj.get("amount_refunded") or 0), "pi": obj["payment_intent"]},
        )
        return True
    return False


def execute_refund(uow: UnitOfWork, gateway: PaymentGateway, refund_id: uuid.UUID) -> None:
    """Sends a pending refund to the gateway. The idempotency key is the refund's own id, so a
    retry after a timeout can never refund twice."""
    refund = uow.execute(
        "SELECT id, payment_intent_id, amount, status FROM refunds WHERE id = :id", {"id": refund_id}
    ).first()
    if refund is None or refund.status != "PENDING":
        uow.rollback()
        return
    uow.execute("UPDATE refunds SET attempts = attempts + 1 WHERE id = :id", {"id": refund_id})
    uow.commit()
    try:
        done = gateway.refund(refund.payment_intent_id, refund.amount, idempotency_key=f"seatline-refund-{refund.id}")
    except GatewayRejected as exc:
        log.error("gateway refused refund %s: %s", refund_id, exc)
        failed = uow.execute(
            f"""
            WITH r AS (
                UPDATE refunds SET status = 'FAILED' WHERE id = :id AND status = 'PENDING'
                RETURNING id, payment_intent_id, amount
            )
            INSERT INTO audit_log {audit.COLUMNS}
            SELECT CAST(NULL AS bigint), 'system', 'refund.failed', 'payment', r.payment_intent_id, h.show_id,
                   jsonb_build_object('refundId', r.id, 'amount', r.amount, 'error', CAST(:error AS text))
            FROM r LEFT JOIN payments p ON p.payment_intent_id = r.payment_intent_id
            LEFT JOIN holds h ON h.id = p.hold_id
            """,
            {"id": refund_id, "error": str(exc)[:500]},
        )
        if failed.rowcount:
            uow.after_commit(REFUNDS.labels("failed").inc)
        uow.commit()
        return
    succeeded = uow.execute(
        f"""
        WITH r AS (
            UPDATE refunds SET status = 'SUCCEEDED', gateway_refund_id = :gid, completed_at = now()
            WHERE id = :id AND status = 'PENDING'
            RETURNING id, payment_intent_id, amount, gateway_refund_id
        )
        INSERT INTO audit_log {audit.COLUMNS}
        SELECT CAST(NULL AS bigint), 'system', 'refund.succeeded', 'payment', r.payment_intent_id, h.show_id,
               jsonb_build_object('refundId', r.id, 'amount', r.amount, 'gatewayRefundId', r.gateway_refund_id)
        FROM r LEFT JOIN payments p ON p.payment_intent_id = r.payment_intent_id
        LEFT JOIN holds h ON h.id = p.hold_id
        """,
        {"gid": done.id, "id": refund_id},
    )
    if succeeded.rowcount:  # the refund's one change to SUCCEEDED, however many jobs ran it
        uow.after_commit(REFUNDS.labels("succeeded").inc)
    uow.execute(
        "UPDATE payments SET refunded_amount = refunded_amount + :a, updated_at = now() WHERE payment_intent_id = :pi "
        "AND refunded_amount + :a <= amount",
        {"a": refund.amount, "pi": refund.payment_intent_id},
    )
    uow.commit()
