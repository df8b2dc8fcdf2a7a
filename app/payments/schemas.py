"""Payment intents and the gateway's webhook, as the API takes and answers them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.contract import Currency, Money, ResponseBody


class PaymentIntent(ResponseBody):
    paymentIntentId: str = Field(
        min_length=1, description="The gateway's intent id (`pi_…`); send it to `POST /holds/{holdId}/confirm`."
    )
    clientSecret: str | None = Field(
        description=(
            "The intent's client secret, for paying it with the gateway's client library (Stripe.js). "
            "Null if the gateway gave none."
        )
    )
    amount: Money = Field(description="The hold's `amount`, in minor units of `currency`.")
    currency: Currency
    status: str = Field(
        description=(
            "The intent's status at the gateway, as the gateway spells it (Stripe's lower-case names). "
            "A new intent is `requires_payment_method`; then `requires_confirmation`, "
            "`requires_action`, `processing`, and finally `succeeded` or `canceled`."
        ),
        examples=["requires_payment_method", "processing", "succeeded", "canceled"],
    )


class GatewayEventData(BaseModel):
    object: dict = Field(
        description=(
            "The payment intent (for `charge.refunded` the charge, for `checkout.session.*` the Checkout "
            "Session) the event is about."
        )
    )


class GatewayEvent(BaseModel):
    """A Stripe event object, signed by the gateway. Only `id`, `type` and `data.object` are used."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="The event's id (`evt_…`); an event is acted on once per id.")
    type: str = Field(
        examples=[
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "payment_intent.canceled",
            "charge.refunded",
            "checkout.session.completed",
            "checkout.session.expired",
        ]
    )
    data: GatewayEventData


class WebhookReceipt(ResponseBody):
    received: Literal[True]
    duplicate: bool = Field(description="The event had been received before; nothing was done this time.")
