"""The one place Seatline talks to the payment gateway, through the official ``stripe`` package.

Pointed at the local simulator in development and tests and at Stripe in
production: the difference is configuration (``GATEWAY_API_BASE``,
``GATEWAY_API_KEY``, ``WEBHOOK_SECRET``), not code.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pybreaker
import requests
import stripe

from app.circuit import breaker
from app.config import Settings


class GatewayUnavailable(Exception):
    """The gateway timed out, failed or could not be reached; the outcome of the call is unknown."""


class GatewayRateLimited(GatewayUnavailable):
    """The gateway answered 429: too many requests from Seatline's key just now. It is up, so this is
    no outage for the breaker; the caller answers 503 with ``retry_after`` and tries again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GatewayRejected(Exception):
    """The gateway understood the request and refused it (e.g. the intent is in the wrong state)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ChargeRefused(GatewayRejected):
    """The gateway refused to create an intent for this amount or currency (below its minimum
    charge, above its maximum, a currency it does not take): no intent exists, and asking again
    gets the same answer."""

    def __init__(self, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message, code)
        self.param = param


class InvalidWebhook(Exception):
    pass


@dataclass(frozen=True)
class Intent:
    id: str
    status: str  # requires_payment_method | requires_confirmation | processing | succeeded | canceled | ...
    amount: int
    amount_received: int
    currency: str  # upper-case ISO 4217, as Seatline stores it
    client_secret: str | None
    metadata: dict[str, str]

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    status: str
    amount: int


@dataclass(frozen=True)
class CheckoutSession:
    """A Checkout Session: the gateway's hosted payment page for one hold (README "Hosted checkout")."""

    id: str
    status: str  # open | complete | expired
    url: str | None  # the hosted page while the session is open
    payment_intent: str | None  # the intent the page made, once the fan tried a card
    expires_at: int
    metadata: dict[str, str]


def _session(stripe_object: Any) -> CheckoutSession:
    obj = stripe_object.to_dict()
    pi = obj.get("payment_intent")
    return CheckoutSession(
        id=obj["id"],
        status=obj["status"],
        url=obj.get("url"),
        payment_intent=pi["id"] if isinstance(pi, dict) else pi,
        expires_at=int(obj["expires_at"]),
        metadata=dict(obj.get("metadata") or {}),
    )


def _intent(stripe_object: Any) -> Intent:
    obj = stripe_object.to_dict()
    return Intent(
        id=obj["id"],
        status=obj["status"],
        amount=int(obj["amount"]),
        amount_received=int(obj.get("amount_received") or 0),
        currency=str(obj["currency"]).upper(),
        client_secret=obj.get("client_secret"),
        metadata=dict(obj.get("metadata") or {}),
    )


class PaymentGateway:
    def __init__(self, settings: Settings) -> None:
        self._client = stripe.StripeClient(
            settings.gateway_api_key,
            base_addresses={"api": settings.gateway_api_base},
            http_client=stripe.RequestsClient(
                timeout=settings.gateway_timeout_seconds,
                session=_http_session(),
                proxy=_proxy_for(settings.gateway_api_base),
            ),
            # The client retries network errors and 5xx itself, reusing the idempotency key.
            max_network_retries=settings.gateway_max_retries,
        )
        self._webhook_secret = settings.webhook_secret
        # After a run of timeouts and 5xx, calls fail fast (GatewayUnavailable, as if the gateway had
        # not answered) instead of each one waiting for its timeout and retries. A 429 is the gateway
        # answering: it does not count, or one looping client would close payments for every fan.
        self.breaker = breaker("gateway", settings, _outage)
        self._recent = _RecentIntents(settings.gateway_intent_cache_seconds)

    def create_intent(self, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str) -> Intent:
        """Raises ChargeRefused when the gateway will not charge this amount in this currency."""

        def create() -> Any:
            try:
                return self._client.v1.payment_intents.create(
                    params={
                        "amount": amount,
                        "currency": currency.lower(),
                        "metadata": metadata,
                    },
                    options={"idempotency_key": idempotency_key},
                )
            except stripe.IdempotencyError:
                raise  # an intent may exist under this key: not a refusal of the charge
            except stripe.InvalidRequestError as exc:
                if exc.param in ("amount", "currency"):
                    raise ChargeRefused(exc.user_message or str(exc), exc.code, exc.param) from exc
                raise

        return self._call(create)

    def retrieve_intent(self, intent_id: str) -> Intent:
        """The intent as the gateway says it is now: what settling a payment acts on."""
        return self._call(lambda: self._client.v1.payment_intents.retrieve(intent_id))

    def recent_intent(self, intent_id: str) -> Intent:
        """The intent as this process last heard of it, if that was within GATEWAY_INTENT_CACHE_SECONDS,
        else fetched. Only for answering a client (its amount, client secret, status): nothing is ever
        settled on it, so a copy a few seconds old can only make an answer that old."""
        cached = self._recent.get(intent_id)
        return cached if cached is not None else self.retrieve_intent(intent_id)

    def confirm_intent(self, intent_id: str, payment_method: str) -> Intent:
        """Pays an intent with a payment method (what Stripe.js does in the browser); a decline
        raises GatewayRejected with code ``card_declined``."""
        return self._call(
            lambda: self._client.v1.payment_intents.confirm(intent_id, params={"payment_method": payment_method})
        )

    def cancel_intent(self, intent_id: str) -> Intent:
        """Cancels an unsettled intent; if it already succeeded or was cancelled, returns it as it is."""
        try:
            return self._call(lambda: self._client.v1.payment_intents.cancel(intent_id))
        except GatewayRejected:
            return self.retrieve_intent(intent_id)

    def refund(self, intent_id: str, amount: int, idempotency_key: str) -> GatewayRefund:
        refund = self._guarded(
            lambda: self._client.v1.refunds.create(
                params={"payment_intent": intent_id, "amount": amount}, options={"idempotency_key": idempotency_key}
            )
        )
        return GatewayRefund(id=refund.id, status=refund.status, amount=int(refund.amount))

    def create_checkout_session(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        success_url: str,
        cancel_url: str,
        expires_at: int,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted payment page for ``amount``; the intent it makes carries ``metadata`` too, so the
        saga finds the hold from the intent alone. Raises ChargeRefused like ``create_intent``."""

        def create() -> Any:
            try:
                return self._client.v1.checkout.sessions.create(
                    params={
                        "mode": "payment",
                        "line_items": [
                            {
                                "price_data": {
                                    "currency": currency.lower(),
                                    "unit_amount": amount,
                                    "product_data": {"name": description},
                                },
                                "quantity": 1,
                            }
                        ],
                        "success_url": success_url,
                        "cancel_url": cancel_url,
                        "client_reference_id": metadata.get("hold_id", ""),
                        "metadata": metadata,
                        "payment_intent_data": {"metadata": metadata},
                        "expires_at": expires_at,
                    },
                    options={"idempotency_key": idempotency_key},
                )
            except stripe.IdempotencyError:
                raise
            except stripe.InvalidRequestError as exc:
                if exc.param and ("amount" in exc.param or "currency" in exc.param):
                    param = "currency" if "currency" in exc.param else "amount"
                    raise ChargeRefused(exc.user_message or str(exc), exc.code, param) from exc
                raise

        return _session(self._guarded(create))

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        return _session(self._guarded(lambda: self._client.v1.checkout.sessions.retrieve(session_id)))

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        """Closes an open session so nobody can pay on it any more; a session that is no longer open
        (paid, or expired already) is returned as it is."""
        try:
            return _session(self._guarded(lambda: self._client.v1.checkout.sessions.expire(session_id)))
        except GatewayRejected:
            return self.retrieve_checkout_session(session_id)

    def parse_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Verifies Stripe's signature scheme (with its 5-minute replay window) and returns the event."""
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret)
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise InvalidWebhook(str(exc)) from exc
        return event.to_dict()

    def _call(self, request) -> Intent:
        intent = _intent(self._guarded(request))
        self._recent.put(intent)
        return intent

    def _guarded(self, request) -> Any:
        """One call to the gateway through its breaker, its errors translated."""
        try:
            return self.breaker.call(_translated, request)
        except pybreaker.CircuitBreakerError as exc:
            raise GatewayUnavailable("the payment gateway failed repeatedly; not calling it for a moment") from exc


def _http_session() -> requests.Session:
    """One HTTP session for the process's gateway calls: its kept-alive connections are shared by every
    thread (urllib3's pool is thread-safe). It does not look at the environment on each call
    (``trust_env``): requests would otherwise read every environment variable twice per call to find
    proxy settings, a fifth of a gateway call's CPU. The proxy is worked out once (``_proxy_for``);
    stripe passes its own CA bundle and Authorization header, so nothing else from the environment
    (CA variables, ~/.netrc) applied anyway."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _proxy_for(base: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, ALL_PROXY, NO_PROXY, ...) names for the gateway, read at start."""
    return requests.utils.select_proxy(base, requests.utils.get_environ_proxies(base))


def _outage(exc: BaseException) -> bool:
    """What the breaker counts: no answer, or a failing one; not a 429 (the gateway answered)."""
    return isinstance(exc, GatewayUnavailable) and not isinstance(exc, GatewayRateLimited)


class _RecentIntents:
    """Intents this process fetched in the last few seconds, by id (at most ``SIZE``, oldest dropped)."""

    SIZE = 10_000

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._items: OrderedDict[str, tuple[float, Intent]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, intent: Intent) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            self._items[intent.id] = (time.monotonic() + self._seconds, intent)
            self._items.move_to_end(intent.id)
            while len(self._items) > self.SIZE:
                self._items.popitem(last=False)

    def get(self, intent_id: str) -> Intent | None:
        with self._lock:
            found = self._items.get(intent_id)
            if found is None or found[0] <= time.monotonic():
                return None
            return found[1]


def _retry_after(exc: stripe.StripeError) -> int:
    """The gateway's Retry-After, if it sent a sensible one; else 2 s (Stripe's limits are per second)."""
    try:
        seconds = int((exc.headers or {}).get("Retry-After", ""))
    except (TypeError, ValueError):
        return 2
    return min(max(seconds, 1), 60)


def _translated(request) -> Any:
    try:
        return request()
    except stripe.RateLimitError as exc:
        raise GatewayRateLimited(str(exc), _retry_after(exc)) from exc
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        raise GatewayUnavailable(str(exc)) from exc
    except stripe.StripeError as exc:
        raise GatewayRejected(str(exc), getattr(exc, "code", None)) from exc
