from __future__ import annotations

from flask import Blueprint, current_app, request

from app.api.http import current_user, error_response, parse_uuid, reply
from app.booking import saga
from app.circuit import behind_breaker
from app.contract import (
    DEGRADED,
    GATEWAY_DEGRADED,
    HOLD_EXPIRED,
    HOLD_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_SIGNATURE,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    PAYMENT_REFUSED,
    RATE_LIMITED,
    UNAUTHORIZED,
    Answer,
    operation,
)
from app.errors import HoldNotFound, ValidationFailed
from app.ops.metrics import WEBHOOK_EVENTS
from app.payments import services
from app.payments.gateway import InvalidWebhook
from app.payments.schemas import GatewayEvent, PaymentIntent, WebhookReceipt
from app.rate_limit_rules import PAYMENT_INTENTS, rate_limited
from app.unit_of_work import unit_of_work

bp = Blueprint("payments_api", __name__, url_prefix="/api/v1")


@bp.post("/holds/<hold_id>/payment-intents")
@operation(
    "createPaymentIntent",
    "Start paying for a hold (create, or get again, its payment intent)",
    tags=("payments",),
    answers={
        201: Answer(
            "The hold's payment intent (the same one on every call). Never cached.",
            model=PaymentIntent,
            example={
                "paymentIntentId": "pi_3QhZ1f2eZvKYlo2C0a1b2c3d",
                "clientSecret": "pi_3QhZ1f2eZvKYlo2C0a1b2c3d_secret_x7Y8z9",
                "amount": 75000,
                "currency": "INR",
                "status": "requires_payment_method",
            },
            headers={"Cache-Control": NO_STORE},
        )
    },
    failures={
        401: UNAUTHORIZED,
        404: HOLD_NOT_FOUND,
        409: HOLD_EXPIRED,
        422: PAYMENT_REFUSED,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: GATEWAY_DEGRADED,
    },
)
@rate_limited(PAYMENT_INTENTS)
@behind_breaker
def create_payment_intent(hold_id: str):
    """Creates the hold's payment intent at the payment gateway for the hold's `amount` and
    `currency`, and returns what the client needs to pay it (`clientSecret`, for the
    gateway's client library). No request body is needed.

    From this call on the hold's seats are protected: they are not released while the
    payment may still succeed, even past `expiresAt` (the hold stays `ACTIVE`); they are
    released only once the intent has been cancelled at the gateway (when the hold lapses
    unpaid, or on `DELETE /holds/{holdId}`). The seats are protected *before* the gateway
    is asked, so money is never taken for seats that are not held.

    A hold has **one** intent: calling this again (also after a `503`) returns the same
    intent, again with `201`, with its status at the gateway (as fetched in the last few
    seconds, `GATEWAY_INTENT_CACHE_SECONDS`: repeating the call does not ask the gateway
    again each time; confirming always asks it afresh). This also holds
    once the hold has ended: the intent of a `CONFIRMED` hold reads `succeeded`, that of a
    hold whose payment was cancelled reads `canceled` (hold the seats again to pay anew).

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `404 HOLD_NOT_FOUND` (no such hold, a
    hold of another user, or a `holdId` that is not a UUID); `409 HOLD_EXPIRED` (the hold
    had no intent yet and is no longer active: it was released, it lapsed, or its seats
    were lost; `status` gives the hold's status when known); `429 RATE_LIMITED` (too many
    calls by the caller or from the client's IP; nothing was done); `500 INTERNAL_ERROR`;
    `503 DEGRADED` (the database is busy, or the payment gateway did not answer: the hold
    and its seats are kept; retry after `Retry-After` seconds); `422 PAYMENT_NOT_NEEDED`
    (the hold's `amount` is 0: confirm it without a payment); `422 PAYMENT_REFUSED` (the
    gateway refused to create an intent for this amount or currency: nothing exists at the
    gateway, the seats' protection is undone and the hold lapses at `expiresAt` as if no
    payment had started; `gatewayCode`, e.g. `amount_too_small`, `amount_too_large`, and
    `param`, `amount` or `currency`, say why).
    """
    user = current_user()
    with unit_of_work() as uow:
        hid = parse_uuid(hold_id, HoldNotFound, "hold")
        intent = saga.start_payment(uow, current_app.extensions["seatline.gateway"], user.id, hid)
    body = PaymentIntent(
        paymentIntentId=intent.id,
        clientSecret=intent.client_secret,
        amount=intent.amount,
        currency=intent.currency,
        status=intent.status,
    )
    return reply(body, 201, {"Cache-Control": "no-store"})


@bp.post("/payments/webhook")
@operation(
    "receiveGatewayWebhook",
    "Receive a signed event from the payment gateway",
    tags=("payments",),
    auth=False,
    body=GatewayEvent,
    parameters=(
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "description": "Stripe's webhook signature, `t=<unix seconds>,v1=<hex HMAC-SHA256>` (more `v1=` entries may follow).",
            "schema": {"type": "string"},
            "example": "t=1764319413,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        },
    ),
    answers={200: Answer("The event is received (and was stored now unless `duplicate`).", model=WebhookReceipt)},
    failures={400: INVALID_SIGNATURE, 413: PAYLOAD_TOO_LARGE, 500: INTERNAL_ERROR, 503: DEGRADED},
)
@behind_breaker
def gateway_webhook():
    """**For the payment gateway only.** The body is a Stripe event object (JSON), e.g.
    `payment_intent.succeeded`, `payment_intent.payment_failed`,
    `payment_intent.canceled`, `charge.refunded`, or `checkout.session.completed` /
    `checkout.session.expired` for a hold paid on the gateway's hosted page. It is authenticated by Stripe's
    signature scheme, not by a bearer token: the `Stripe-Signature` header carries a
    timestamp `t` and one or more `v1` signatures, each the hex HMAC-SHA256 of
    `"{t}.{raw body}"` under the webhook signing secret; it must match and `t` must be
    within 5 minutes of the server's clock.

    The event is stored once by its `id` and acknowledged at once; a worker then acts on
    it by asking the gateway for the intent's current state, so late, repeated and
    out-of-order events all end the same way. An event received before is acknowledged
    again with `duplicate: true` and changes nothing.

    Errors: `400 INVALID_SIGNATURE` (missing, malformed, wrong or expired signature, or a
    body that is not JSON; nothing is stored); `413 PAYLOAD_TOO_LARGE`;
    `500 INTERNAL_ERROR`; `503 DEGRADED` (the database is busy; the gateway retries).
    """
    gateway = current_app.extensions["seatline.gateway"]
    try:
        event = gateway.parse_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    except InvalidWebhook:
        # Its type is whatever an unverified body claims: not a label worth keeping.
        WEBHOOK_EVENTS.labels("unknown", "bad_signature").inc()
        return error_response(400, "INVALID_SIGNATURE", "the webhook signature does not verify")
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        WEBHOOK_EVENTS.labels("unknown", "invalid").inc()
        raise ValidationFailed("a webhook must be an event with an id and a type")
    with unit_of_work() as uow:
        new = services.record_webhook_event(uow, event)
    return reply(WebhookReceipt(received=True, duplicate=not new))
