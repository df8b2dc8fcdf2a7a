"""A local Stripe-compatible payment gateway simulator.

It stands in for Stripe in development and tests. The app talks to it only through
the official ``stripe`` package pointed at its address::

    client = stripe.StripeClient(
        "sk_test_anything",
        base_addresses={"api": "http://127.0.0.1:12111"},
        http_client=stripe.RequestsClient(timeout=5),
        max_network_retries=2,
    )
    pi = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "inr", "metadata": {"hold_id": "h1"}},
        options={"idempotency_key": "pi-for-hold-h1"},
    )

Run it (one worker: all state lives in memory in one process; threads are fine)::

    SIM_WEBHOOK_URL=http://127.0.0.1:8000/api/v1/payments/webhook \\
    gunicorn -w 1 --threads 8 -b 127.0.0.1:12111 gateway_simulator.wsgi:app

or, for a quick try, ``python -m gateway_simulator --port 12111``.

Configuration (environment, or the ``config`` dict of :func:`create_app`, whose keys may
be the variable names or the lower-case field names, e.g. ``{"webhook_url": ...}``):

=============================== ==================== ===========================================
``SIM_WEBHOOK_URL``             ``""``               where events are POSTed; empty = no delivery
                                                     (events are still recorded)
``SIM_WEBHOOK_SECRET``          ``whsec_dev_secret`` signing secret for ``Stripe-Signature``
``SIM_RETRY_BASE_SECONDS``      ``1``                first retry delay; doubles each attempt
``SIM_RETRY_MAX_SECONDS``       ``60``               cap on the retry delay
``SIM_MAX_ATTEMPTS``            ``10``               attempts per delivery before it is "failed"
``SIM_WEBHOOK_TIMEOUT_SECONDS`` ``10``               per-attempt HTTP timeout
``SIM_API_VERSION``             ``2026-10-28.endive`` ``api_version`` written into events
=============================== ==================== ===========================================

Stripe API subset (form-encoded bodies, ``Authorization: Bearer sk_test_...``; any key
that starts with ``sk_test_`` is accepted, anything else is a 401):

- ``POST /v1/payment_intents`` -- ``amount`` (integer >= 1, in the currency's smallest unit),
  ``currency`` (3 letters; Stripe's per-currency rules in ``currencies.py``: a currency not
  listed there is 400 ``invalid_request_error`` with param ``currency``, an amount below its
  minimum charge 400 ``amount_too_small``, above 99,999,999 ``amount_too_large``),
  ``metadata[...]``, optional ``payment_method`` and ``confirm=true``, plus a few
  harmless Stripe params (``description``, ``receipt_email``, ``automatic_payment_methods``,
  ``payment_method_types``, ``capture_method=automatic|automatic_async``, ``expand``...).
  Unknown params are rejected with 400 ``parameter_unknown``, as Stripe does.
- ``GET /v1/payment_intents/{id}`` (``expand[]=latest_charge`` supported).
- ``POST /v1/payment_intents/{id}/confirm`` -- test payment methods:
  ``pm_card_visa`` (and ``pm_card_mastercard``, ``pm_card_amex``...) succeed: status
  ``succeeded``, ``amount_received = amount``, a ``ch_...`` in ``latest_charge``, event
  ``payment_intent.succeeded``. ``pm_card_chargeDeclined`` (also
  ``...InsufficientFunds``, ``...ExpiredCard``, ``...IncorrectCvc``, ``...ProcessingError``,
  ``...LostCard``, ``...StolenCard``, ``...Fraudulent``) answers 402 ``card_error``
  (``code`` ``card_declined``, ``decline_code``, ``payment_intent`` in the error); the
  intent goes back to ``requires_payment_method`` with ``last_payment_error``; event
  ``payment_intent.payment_failed``. ``pm_card_authenticationRequired`` leaves the intent
  in ``requires_action`` (settle it with the ``/_sim`` helpers). Confirming a succeeded,
  canceled or processing intent: 400 ``payment_intent_unexpected_state``.
- ``POST /v1/payment_intents/{id}/cancel`` -- unless succeeded/canceled; sets
  ``canceled``, ``canceled_at``, ``cancellation_reason``; event ``payment_intent.canceled``.
- ``POST /v1/refunds`` -- ``payment_intent`` (or ``charge``), optional ``amount``
  (default: the unrefunded rest), ``reason``, ``metadata``. Only for succeeded intents
  (400 ``payment_intent_unexpected_state``); never more than ``amount_received`` in total
  (400 ``amount_too_large``; 400 ``charge_already_refunded`` when nothing is left).
  Creates ``re_...`` with status ``succeeded``; the charge's ``amount_refunded`` and
  ``refunded`` follow; event ``charge.refunded`` (``data.object`` is the charge).
- ``POST /v1/checkout/sessions`` -- Stripe Checkout (``mode=payment``, ``line_items[n][price_data]
  [currency|unit_amount|product_data]`` and ``[quantity]``, ``success_url`` with the
  ``{CHECKOUT_SESSION_ID}`` placeholder, ``cancel_url``, ``client_reference_id``, ``metadata``,
  ``expires_at`` 30 minutes to 24 hours ahead, ``payment_intent_data[metadata]``...);
  ``GET /v1/checkout/sessions/{id}`` (``expand[]=payment_intent``), ``POST
  /v1/checkout/sessions/{id}/expire``. The session's ``url`` is the hosted page ``/c/pay/{id}``
  on the simulator (test cards 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined,
  4000 0025 0000 3155 asks for 3-D Secure on ``/c/3ds/{id}``); paying sends
  ``payment_intent.succeeded`` and ``checkout.session.completed`` and redirects to ``success_url``;
  an expired session sends ``checkout.session.expired``. See ``checkout.py``.
- ``GET /v1/refunds/{id}``, ``GET /v1/refunds?payment_intent=pi_...``,
  ``GET /v1/charges/{id}``, ``GET /v1/events/{id}``.
- Errors: ``{"error": {"type", "code", "message", "param"?}}`` with 400
  ``invalid_request_error``, 401, 402 ``card_error``, 404 ``resource_missing``, 409
  (idempotency key in use), 500 ``api_error``.

Idempotency (``Idempotency-Key`` header on POST; stripe-python sends one on every POST,
a random one unless you pass ``options={"idempotency_key": ...}``): keys are scoped per
API key. The same key with the same method, path and parameters replays the first answer
(status and body) with ``Idempotent-Replayed: true`` and ``Original-Request: req_...``; a
different endpoint or different parameters -> 400 ``idempotency_error``
(``stripe.IdempotencyError``); a second request while the first is still running -> 409
``idempotency_key_in_use`` (stripe-python retries 409s). Answers from requests that
failed parameter validation, or that were hit by an injected fault, are not stored, so a
retry with the same key runs for real. Keys never expire (until ``/_sim/reset``).

Webhooks: every state change makes an event ``evt_...`` (``object: "event"``, ``type``,
``created``, ``data.object`` = snapshot, ``api_version``, ``livemode: false``,
``request: {id, idempotency_key}``) for ``payment_intent.succeeded``,
``payment_intent.payment_failed``, ``payment_intent.canceled`` and ``charge.refunded``.
A background thread in the serving process POSTs it as JSON to ``SIM_WEBHOOK_URL`` with
``Stripe-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`` (verify with
``stripe.Webhook.construct_event(body, header, secret)``). Anything but a 2xx (including
timeouts, connection errors and redirects) is retried after
``min(base * 2**(attempt-1), max)`` seconds, up to ``SIM_MAX_ATTEMPTS`` attempts. One
thread delivers in order of due time, so without faults events arrive in the order they
happened.

Control API (JSON, no auth), for tests. It hands out the webhook secret and can settle any
payment, so it answers only clients on the loopback interface (127.0.0.0/8, ::1), and never
when ``ENV=production``: anyone else gets a plain 404, as if it did not exist.

- ``GET  /_sim/health`` -> ``{"ok": true, "webhook_thread": bool}``.
- ``POST /_sim/reset`` -- forget all intents, charges, refunds, events, idempotency keys,
  faults and pending/held deliveries (the configuration stays).
- ``GET  /_sim/config``, ``POST /_sim/config`` ``{"webhook_url": ..., "webhook_secret": ...,
  "retry_base_seconds": ..., "retry_max_seconds": ..., "max_attempts": ...,
  "webhook_timeout_seconds": ...}`` -- read or change settings at run time.
- ``GET  /_sim/payment_intents[?status=succeeded]`` -> ``{"data": [intent + "amount_refunded",
  "refunds" (refund objects), "charges" (ids), "charge_status"]}`` -- the gateway's view
  for invariant checkers. ``GET /_sim/payment_intents/{id}`` for one.
- ``POST /_sim/payment_intents/{id}/succeed`` ``{"payment_method"?}`` -- settle as paid
  (event ``payment_intent.succeeded``); ``/fail`` ``{"code"?, "decline_code"?, "message"?}``
  -- settle as declined (``requires_payment_method``, event
  ``payment_intent.payment_failed``); ``/processing`` -- put it in ``processing``
  (a payment in flight). 400 ``payment_intent_unexpected_state`` on succeeded/canceled.
- ``GET  /_sim/refunds`` -> ``{"data": [refund, ...]}``.
- ``GET  /_sim/checkout/sessions`` -> ``{"data": [session, ...]}``; ``POST
  /_sim/checkout/sessions/{id}/lapse`` makes an open session due now (the expiry thread expires it).
- ``GET  /_sim/events[?type=...&object_id=...]`` -> ``{"data": [{"id", "type", "created",
  "object_id", "status": pending|delivered|failed|held|dropped|no_endpoint, "faults",
  "attempt_count", "delivered_count", "deliveries": [{"n", "status", "attempts": [{"attempt",
  "at", "status_code", "error", "ok", "duration_ms"}], "next_attempt_at"}], "event"}],
  "held": n}`` in creation order.
- ``POST /_sim/webhooks/release`` -- deliver all events held by ``webhook_reorder``, newest
  first, and remove the ``webhook_reorder`` faults (send ``{"keep": true}`` to keep them).
  Answers ``{"released": [evt ids in delivery order]}``.
- ``GET /_sim/faults``, ``POST /_sim/faults`` (one fault, a list, or ``{"faults": [...]}``;
  201 with the created faults and their ids), ``DELETE /_sim/faults`` (all),
  ``DELETE /_sim/faults/{id}``.

Fault kinds (``count`` = number of uses before the fault expires; omit it for a fault
that lasts until cleared):

- ``{"kind": "api_error", "path": "/v1/refunds", "method"?: "POST", "count": 2,
  "status"?: 500, "after"?: false, "should_retry"?: null, "message"?: ...}`` -- answer
  with a 5xx ``api_error`` (``stripe.APIError``) before doing anything (``"status": 429``:
  Stripe's rate limit, ``code`` ``rate_limit``, ``stripe.RateLimitError``); the key is not
  stored, so a retry with the same key runs for real. ``"after": true`` runs the request
  first (and stores its real answer under the idempotency key) and only then answers 500:
  "it happened but the response was lost"; a retry with the same key then replays the
  real answer. ``should_retry`` sets the ``Stripe-Should-Retry`` header, which
  stripe-python obeys (``false`` = no automatic retry).
- ``{"kind": "api_delay", "path": "/v1/payment_intents", "seconds": 6, "count": 1,
  "drop"?: false}`` -- sleep before handling (so the client times out:
  ``stripe.APIConnectionError``); the request still takes effect after the sleep, like a
  slow real gateway, unless ``"drop": true`` (then nothing happens and a 500 is answered,
  not stored). While the delayed request holds its idempotency key, a retry with that
  key gets 409 ``idempotency_key_in_use``; after it finished, the retry replays it.
- ``path`` is a prefix of the request path (default ``/v1/``, i.e. every API call, GETs
  included; add ``"method"`` to narrow it). One api_error and one api_delay fault may
  apply to the same request.
- ``{"kind": "webhook_delay", "seconds": 3, "count"?: n, "event_type"?: ...}`` -- the first
  delivery attempt of matching events waits that long.
- ``{"kind": "webhook_duplicate", "count": 1, "copies"?: 2}`` -- deliver the event twice
  (same id and body, two independent deliveries, each retried on its own).
- ``{"kind": "webhook_drop", "count": 1}`` -- never deliver the event (status
  ``dropped``). A matching drop wins over other webhook faults.
- ``{"kind": "webhook_reorder", "count"?: n}`` -- hold matching events (status ``held``)
  until ``POST /_sim/webhooks/release``, which delivers them newest first.
- ``"event_type"`` (e.g. ``"payment_intent.succeeded"``) limits any webhook fault to one
  event type; webhook faults are applied when the event is created.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, request

from .config import SimConfig
from .core import Simulator

__all__ = ["create_app", "Simulator", "SimConfig"]

EXTENSION = "gateway_simulator"


def _setup_logging() -> None:
    logger = logging.getLogger("gateway_simulator")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s [sim %(process)d] %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("SIM_LOG_LEVEL", "INFO").upper())
        logger.propagate = False


def is_loopback(address: str | None) -> bool:
    """Whether a client address is this machine's loopback (an IPv4 one mapped into IPv6 too)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the simulator's Flask app. ``config`` overrides the ``SIM_*`` environment.

    The webhook thread is started lazily by the first request (or the first event) in
    the process that serves, so building the app in a gunicorn master is harmless; it is
    stopped at interpreter exit, or by ``app.extensions["gateway_simulator"].deliverer.shutdown()``.
    """
    from .api import make_api_blueprint, make_control_blueprint, register_error_handlers
    from .checkout import make_hosted_blueprint

    _setup_logging()
    sim = Simulator(SimConfig.load(config))
    app = Flask(__name__)
    app.extensions[EXTENSION] = sim
    app.register_blueprint(make_api_blueprint(sim))
    app.register_blueprint(make_control_blueprint(sim))
    app.register_blueprint(make_hosted_blueprint(sim))
    register_error_handlers(app)
    production = os.environ.get("ENV", "").strip().lower() == "production"

    @app.before_request
    def _control_api_is_local_only() -> None:
        if request.path.startswith("/_sim") and (production or not is_loopback(request.remote_addr)):
            abort(404)

    @app.before_request
    def _start_delivery_thread() -> None:
        sim.deliverer.ensure_started()

    atexit.register(sim.deliverer.shutdown, 2.0)
    return app
