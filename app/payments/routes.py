from __future__ import annotations

from flask import Blueprint, current_app, request

from app.api.http import current_user, error_response, parse_uuid
from app.background import queues
from app.booking import saga
from app.circuit import behind_breaker
from app.errors import HoldNotFound, ValidationFailed
from app.payments import services
from app.payments.gateway import InvalidWebhook
from app.rate_limit_rules import PAYMENT_INTENTS, rate_limited
from app.unit_of_work import unit_of_work

bp = Blueprint("payments_api", __name__, url_prefix="/api/v1")


@bp.post("/holds/<hold_id>/payment-intents")
@rate_limited(PAYMENT_INTENTS)
@behind_breaker
def create_payment_intent(hold_id: str):
    user = current_user()
    with unit_of_work() as uow:
        hid = parse_uuid(hold_id, HoldNotFound, "hold")
        intent = saga.start_payment(uow, current_app.extensions["seatline.gateway"], user.id, hid)
    body = {
        "paymentIntentId": intent.id,
        "clientSecret": intent.client_secret,
        "amount": intent.amount,
        "currency": intent.currency,
        "status": intent.status,
    }
    return body, 201, {"Cache-Control": "no-store"}


@bp.post("/payments/webhook")
@behind_breaker
def gateway_webhook():
    gateway = current_app.extensions["seatline.gateway"]
    try:
        event = gateway.parse_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    except InvalidWebhook:
        return error_response(400, "INVALID_SIGNATURE", "the webhook signature does not verify")
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise ValidationFailed("a webhook must be an event with an id and a type")
    with unit_of_work() as uow:
        new = services.record_webhook_event(uow, event)
    if new:
        # Acknowledge quickly; a worker does the work. If Redis is down the sweeper re-queues it.
        queues.enqueue(
            current_app.extensions["seatline.redis"], queues.WEBHOOKS, "workers.jobs.process_webhook_event",
            event["id"], job_id=f"webhook-{event['id']}",
        )
    return {"received": True, "duplicate": not new}, 200
