"""Checkout Sessions: Stripe's hosted payment page, as the simulator serves it.

``POST /v1/checkout/sessions`` makes a session (``cs_test_...``) whose ``url`` is the hosted page
``/c/pay/{id}`` on the simulator itself. The fan types a test card there, so the card number reaches
only the gateway:

- ``4242 4242 4242 4242`` pays: the session's payment intent (created on the first attempt, with
  ``payment_intent_data[metadata]``) succeeds, events ``payment_intent.succeeded`` then
  ``checkout.session.completed`` are sent, and the browser goes to ``success_url`` (its
  ``{CHECKOUT_SESSION_ID}`` replaced by the session's id);
- ``4000 0000 0000 0002`` is declined: the page shows the decline and the fan may try again
  (event ``payment_intent.payment_failed``);
- ``4000 0025 0000 3155`` asks for 3-D Secure: a second page (``/c/3ds/{id}``) with "Complete" and
  "Fail" buttons, like Stripe's test authentication page;
- any other number is refused on the page ("Your card number is incorrect"), nothing is recorded.

A session lives until ``expires_at`` (30 minutes to 24 hours after creation, 24 hours by default),
or until ``POST /v1/checkout/sessions/{id}/expire``; then it is ``expired``, its unpaid intent is
cancelled and event ``checkout.session.expired`` is sent. A background thread expires sessions on
time. Webhook faults (delay, duplicate, drop, reorder) apply to these events like to any other.
"""

from __future__ import annotations

import copy
import html
import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .core import (
    StripeError,
    _check_charge,
    _check_known,
    _int_param,
    _metadata,
    _str_param,
    invalid,
    missing,
    new_id,
    now,
)
from .currencies import show

if TYPE_CHECKING:
    from .core import Simulator

SESSION_PARAMS = {
    "mode",
    "line_items",
    "currency",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "metadata",
    "expires_at",
    "payment_intent_data",
    "customer_email",
    "payment_method_types",
    "locale",
    "submit_type",
    "expand",
}
PAYMENT_INTENT_DATA = {"metadata", "description", "receipt_email", "capture_method", "statement_descriptor"}
MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 60 * 60

# Card numbers typed on the hosted page -> the test payment methods of core.py.
HOSTED_CARDS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000002500003155": "pm_card_authenticationRequired",
}


def _line_items(params: dict[str, Any]) -> tuple[int, str]:
    """The total and currency of ``line_items[n][price_data][...]`` and ``[quantity]``."""
    raw = params.get("line_items")
    if not raw:
        raise invalid("Missing required param: line_items.", code="parameter_missing", param="line_items")
    if not isinstance(raw, dict):
        raise invalid("Invalid array: line_items", code="parameter_invalid_array", param="line_items")
    total, currency = 0, None
    try:
        keys = sorted(raw, key=int)
    except ValueError:
        raise invalid("Invalid array: line_items", code="parameter_invalid_array", param="line_items") from None
    for k in keys:
        item = raw[k]
        name = f"line_items[{k}]"
        if not isinstance(item, dict):
            raise invalid(f"Invalid hash: {name}", code="parameter_invalid_hash", param=name)
        _check_known(item, {"price_data", "quantity", "price"})
        if "price" in item:
            raise missing("price", str(item["price"]), param=f"{name}[price]")
        price = item.get("price_data")
        if not isinstance(price, dict):
            raise invalid(
                f"Missing required param: {name}[price_data].", code="parameter_missing", param=f"{name}[price_data]"
            )
        _check_known(price, {"currency", "unit_amount", "product_data", "product"})
        unit = _int_param(price, "unit_amount", required=True, minimum=0)
        qty = _int_param(item, "quantity", required=True)
        cur = price.get("currency")
        if not isinstance(cur, str) or not re.fullmatch(r"[A-Za-z]{3}", cur):
            raise invalid(
                f"Missing required param: {name}[price_data][currency].",
                code="parameter_missing",
                param=f"{name}[price_data][currency]",
            )
        if currency is not None and cur.lower() != currency:
            raise invalid("All line items must use the same currency.", param=f"{name}[price_data][currency]")
        currency = cur.lower()
        total += unit * qty
    assert currency is not None
    return total, currency


def create_session(sim: Simulator, params: dict[str, Any], ctx: dict[str, Any], base_url: str) -> tuple[int, dict]:
    _check_known(params, SESSION_PARAMS)
    mode = _str_param(params, "mode", {"payment", "setup", "subscription"})
    if mode is None:
        raise invalid("Missing required param: mode.", code="parameter_missing", param="mode")
    if mode != "payment":
        raise invalid("The simulator only supports mode=payment.", param="mode")
    success_url = _str_param(params, "success_url")
    if not success_url:
        raise invalid("Missing required param: success_url.", code="parameter_missing", param="success_url")
    for name in ("success_url", "cancel_url"):
        url = params.get(name)
        if url and not re.match(r"^https?://", str(url)):
            raise invalid(f"Not a valid URL: {name}", code="url_invalid", param=name)
    amount, currency = _line_items(params)
    if params.get("currency") and str(params["currency"]).lower() != currency:
        raise invalid("currency must match the line items' currency.", param="currency")
    _check_charge(amount, currency)
    created = now()
    raw_expiry = params.get("expires_at")
    if raw_expiry in (None, ""):
        expires_at = None
    elif isinstance(raw_expiry, str) and re.fullmatch(r"\d{1,12}", raw_expiry.strip()):
        expires_at = int(raw_expiry)
    else:
        raise invalid(f"Invalid integer: {raw_expiry}", code="parameter_invalid_integer", param="expires_at")
    if expires_at is None:
        expires_at = created + MAX_LIFETIME
    elif expires_at - created < MIN_LIFETIME:
        raise invalid(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            param="expires_at",
        )
    elif expires_at - created > MAX_LIFETIME:
        raise invalid(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            param="expires_at",
        )
    pi_data = params.get("payment_intent_data") or {}
    if not isinstance(pi_data, dict):
        raise invalid("Invalid hash: payment_intent_data", code="parameter_invalid_hash", param="payment_intent_data")
    _check_known(pi_data, PAYMENT_INTENT_DATA)
    pi_metadata = _metadata(pi_data)
    cs_id = new_id("cs_test_", 58)
    session = {
        "id": cs_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount,
        "amount_total": amount,
        "billing_address_collection": None,
        "cancel_url": _str_param(params, "cancel_url"),
        "client_reference_id": _str_param(params, "client_reference_id"),
        "client_secret": None,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_email": _str_param(params, "customer_email"),
        "expires_at": expires_at,
        "livemode": False,
        "locale": _str_param(params, "locale"),
        "metadata": _metadata(params),
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "submit_type": _str_param(params, "submit_type"),
        "success_url": success_url,
        "ui_mode": "hosted",
        "url": f"{base_url.rstrip('/')}/c/pay/{cs_id}",
    }
    with sim.lock:
        sim.sessions[cs_id] = {
            "session": session,
            "pi_data": {
                "metadata": pi_metadata,
                "description": _str_param(pi_data, "description"),
                "receipt_email": _str_param(pi_data, "receipt_email"),
            },
        }
        sim.cond.notify_all()
    ensure_expiry_thread(sim)
    return 200, copy.deepcopy(session)


def _get(sim: Simulator, cs_id: str) -> dict[str, Any]:
    rec = sim.sessions.get(cs_id)
    if rec is None:
        raise missing("checkout.session", cs_id, param="session")
    return rec


def _view(sim: Simulator, rec: dict[str, Any], expand: list[str] | None) -> dict[str, Any]:
    out = copy.deepcopy(rec["session"])
    if expand and "payment_intent" in expand and out["payment_intent"]:
        out["payment_intent"] = sim._intent_view(sim.intents[out["payment_intent"]])
    return out


def retrieve_session(sim: Simulator, cs_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
    _check_known(params, {"expand"})
    with sim.lock:
        rec = _get(sim, cs_id)
        _expire_if_due(sim, rec)
        return 200, _view(sim, rec, params.get("expand"))


def expire_session(sim: Simulator, cs_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
    _check_known(params, {"expand"})
    with sim.lock:
        rec = _get(sim, cs_id)
        _expire_if_due(sim, rec)
        if rec["session"]["status"] != "open":
            raise StripeError(
                400,
                "invalid_request_error",
                f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a '
                f'status of "{rec["session"]["status"]}".',
            )
        _expire(sim, rec, ctx)
        return 200, _view(sim, rec, params.get("expand"))


def _expire(sim: Simulator, rec: dict[str, Any], ctx: dict[str, Any] | None) -> None:
    """Lock held. An open session ends unpaid; its intent, if a card was tried, is cancelled."""
    session = rec["session"]
    session["status"] = "expired"
    session["url"] = None
    pi = sim.intents.get(session["payment_intent"] or "")
    if pi is not None and pi["status"] not in ("succeeded", "canceled"):
        pi.update(status="canceled", canceled_at=now(), cancellation_reason="abandoned", next_action=None)
        sim._emit("payment_intent.canceled", pi, ctx)
    sim._emit("checkout.session.expired", session, ctx)


def _expire_if_due(sim: Simulator, rec: dict[str, Any]) -> None:
    if rec["session"]["status"] == "open" and rec["session"]["expires_at"] <= time.time():
        _expire(sim, rec, None)


def expire_due(sim: Simulator) -> float:
    """Expires every open session past its ``expires_at``; returns seconds until the next one is due."""
    with sim.lock:
        next_due = 60.0
        for rec in list(sim.sessions.values()):
            _expire_if_due(sim, rec)
            if rec["session"]["status"] == "open":
                next_due = min(next_due, rec["session"]["expires_at"] - time.time())
        return max(next_due, 0.2)


_expiry_lock = threading.Lock()


def ensure_expiry_thread(sim: Simulator) -> None:
    """One daemon thread per serving process expires sessions on time (even if nobody asks about them)."""
    with _expiry_lock:
        thread, pid = sim.expiry_thread, sim.expiry_pid
        if thread is not None and thread.is_alive() and pid == os.getpid():
            return

        def run() -> None:
            while True:
                wait = expire_due(sim)
                with sim.cond:
                    sim.cond.wait(min(wait, 5.0))

        thread = threading.Thread(target=run, name="sim-session-expiry", daemon=True)
        sim.expiry_thread, sim.expiry_pid = thread, os.getpid()
        thread.start()


# ------------------------------------------------------------------ paying on the hosted page


def _session_intent(sim: Simulator, rec: dict[str, Any]) -> dict[str, Any]:
    """Lock held. The session's payment intent, made on the first card attempt."""
    session = rec["session"]
    if session["payment_intent"]:
        return sim.intents[session["payment_intent"]]
    pi_id = new_id("pi_")
    pi = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": session["currency"],
        "customer": None,
        "description": rec["pi_data"]["description"],
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": copy.deepcopy(rec["pi_data"]["metadata"]),
        "next_action": None,
        "payment_method": None,
        "payment_method_types": ["card"],
        "receipt_email": rec["pi_data"]["receipt_email"],
        "status": "requires_payment_method",
    }
    sim.intents[pi_id] = pi
    session["payment_intent"] = pi_id
    return pi


def _complete(sim: Simulator, rec: dict[str, Any]) -> None:
    """Lock held: the intent succeeded, so the session is complete."""
    session = rec["session"]
    session.update(status="complete", payment_status="paid", url=None)
    sim._emit("checkout.session.completed", session, None)


def pay(sim: Simulator, cs_id: str, card: str) -> tuple[str, str | None]:
    """One card attempt on the hosted page: ("paid", None), ("declined", message), ("3ds", None),
    ("refused", message) for a number that is not a test card, or ("closed", status)."""
    number = re.sub(r"\D", "", card)
    with sim.lock:
        rec = _get(sim, cs_id)
        _expire_if_due(sim, rec)
        if rec["session"]["status"] != "open":
            return "closed", rec["session"]["status"]
        pm = HOSTED_CARDS.get(number)
        if pm is None:
            return "refused", "Your card number is incorrect."
        pi = _session_intent(sim, rec)
        if pi["status"] == "succeeded":
            _complete(sim, rec)
            return "paid", None
        try:
            sim._confirm(pi, pm, None)
        except StripeError as err:
            return "declined", err.message
        if pi["status"] == "requires_action":
            return "3ds", None
        _complete(sim, rec)
        return "paid", None


def authenticate(sim: Simulator, cs_id: str, ok: bool) -> tuple[str, str | None]:
    """The 3-D Secure page's answer: "Complete" pays, "Fail" fails the attempt (the fan may try again)."""
    with sim.lock:
        rec = _get(sim, cs_id)
        _expire_if_due(sim, rec)
        session = rec["session"]
        if session["status"] != "open":
            return "closed", session["status"]
        pi = sim.intents.get(session["payment_intent"] or "")
        if pi is None or pi["status"] != "requires_action":
            return "declined", "Start again: this payment is not waiting for authentication."
        if ok:
            sim._succeed(pi, pi["payment_method"], None)
            _complete(sim, rec)
            return "paid", None
        message = "We are unable to authenticate your payment method. Please choose a different payment method."
        sim._fail(pi, pi["payment_method"], "payment_intent_authentication_failure", None, message, None)
        return "declined", message


def success_redirect(session: dict[str, Any]) -> str:
    return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])


# ------------------------------------------------------------------ pages

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
label{display:block;margin:.8rem 0 .2rem}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box}
button{font-size:1.1rem;padding:.5rem 1rem;margin:.8rem .5rem 0 0}.error{color:#8a1010;font-weight:bold}
.muted{color:#555;font-size:.9rem}
"""


def redirect(location: str, code: int = 303) -> Response:
    return Response("", status=code, headers={"Location": location, "Cache-Control": "no-store"})


def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(doc, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _amount(session: dict[str, Any]) -> str:
    return show(session["amount_total"], session["currency"])


def _pay_form(session: dict[str, Any], error: str | None, status: int = 200) -> Response:
    esc = html.escape
    parts = [f"<h1>Pay {esc(_amount(session))}</h1>"]
    if error:
        parts.append(f'<p class="error" role="alert" data-testid="decline">{esc(error)}</p>')
    parts.append(
        f'<form method="post" action="/c/pay/{esc(session["id"])}">'
        '<label for="cardnumber">Card number</label>'
        '<input id="cardnumber" name="cardnumber" inputmode="numeric" autocomplete="cc-number" required>'
        '<label for="exp">Expiry (MM / YY)</label>'
        '<input id="exp" name="exp" autocomplete="cc-exp" placeholder="12 / 34">'
        '<label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc">'
        f'<button type="submit">Pay {esc(_amount(session))}</button></form>'
        '<p class="muted">Test mode: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, '
        "4000 0025 0000 3155 asks for authentication.</p>"
    )
    if session["cancel_url"]:
        parts.append(f'<p><a href="{esc(session["cancel_url"])}">Cancel and go back</a></p>')
    return _page("Pay · Checkout (test mode)", "".join(parts), status)


def _closed(session: dict[str, Any]) -> Response:
    esc = html.escape
    if session["status"] == "complete":
        return _page(
            "Paid",
            f'<h1>Paid</h1><p>This payment is complete.</p><p><a href="{esc(success_redirect(session))}">Continue</a></p>',
        )
    back = f'<p><a href="{esc(session["cancel_url"])}">Go back</a></p>' if session["cancel_url"] else ""
    return _page("Expired", f"<h1>This checkout session has expired</h1>{back}", 410)


def make_hosted_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("hosted_checkout", __name__)

    def session_or_404(cs_id: str) -> dict[str, Any] | None:
        with sim.lock:
            rec = sim.sessions.get(cs_id)
            if rec is None:
                return None
            _expire_if_due(sim, rec)
            return copy.deepcopy(rec["session"])

    @bp.get("/c/pay/<cs_id>")
    def pay_page(cs_id: str):
        session = session_or_404(cs_id)
        if session is None:
            return _page("Not found", "<h1>Something went wrong</h1><p>No such checkout session.</p>", 404)
        if session["status"] != "open":
            return _closed(session)
        pi = sim.intents.get(session["payment_intent"] or "")
        if pi is not None and pi["status"] == "requires_action":
            return redirect(f"/c/3ds/{cs_id}", code=303)
        return _pay_form(session, None)

    @bp.post("/c/pay/<cs_id>")
    def pay_submit(cs_id: str):
        session = session_or_404(cs_id)
        if session is None:
            return _page("Not found", "<h1>Something went wrong</h1><p>No such checkout session.</p>", 404)
        outcome, message = pay(sim, cs_id, request.form.get("cardnumber", ""))
        return _after(cs_id, outcome, message)

    @bp.get("/c/3ds/<cs_id>")
    def three_ds_page(cs_id: str):
        session = session_or_404(cs_id)
        if session is None:
            return _page("Not found", "<h1>Something went wrong</h1><p>No such checkout session.</p>", 404)
        if session["status"] != "open":
            return _closed(session)
        return _page(
            "Authenticate your payment",
            "<h1>3D Secure test payment page</h1>"
            f"<p>This is a test authentication of a payment of {html.escape(_amount(session))}.</p>"
            f'<form method="post" action="/c/3ds/{html.escape(cs_id)}">'
            '<button type="submit" name="result" value="complete">Complete</button>'
            '<button type="submit" name="result" value="fail">Fail</button></form>',
        )

    @bp.post("/c/3ds/<cs_id>")
    def three_ds_submit(cs_id: str):
        session = session_or_404(cs_id)
        if session is None:
            return _page("Not found", "<h1>Something went wrong</h1><p>No such checkout session.</p>", 404)
        outcome, message = authenticate(sim, cs_id, request.form.get("result") == "complete")
        return _after(cs_id, outcome, message)

    def _after(cs_id: str, outcome: str, message: str | None) -> Response:
        session = session_or_404(cs_id)
        assert session is not None
        if outcome == "paid":
            return redirect(success_redirect(session), code=303)
        if outcome == "3ds":
            return redirect(f"/c/3ds/{cs_id}", code=303)
        if outcome == "closed":
            return _closed(session)
        return _pay_form(session, message, 402)

    return bp
