"""In-memory gateway state: payment intents, charges, refunds, events, idempotency
keys and injected faults, all guarded by one lock (``Simulator.lock``).

Every public method that reads or changes state takes the lock itself, so the HTTP
layer can call them from any gunicorn thread.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import string
import threading
import time
from typing import Any, Literal, overload

from . import currencies
from .config import SimConfig

log = logging.getLogger("gateway_simulator")

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def now() -> int:
    return int(time.time())


# --------------------------------------------------------------------------- errors


class StripeError(Exception):
    """An error answered in Stripe's shape: ``{"error": {"type", "code", "message", "param"}}``.

    ``store`` says whether an idempotent request that ended in this error is remembered
    under its key. Like Stripe, a request that fails parameter validation before the
    endpoint starts executing is not stored, so the same key may be used again.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        store: bool = True,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra or {}
        self.store = store
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        return {"error": err}


def invalid(message: str, code: str | None = None, param: str | None = None, store: bool = False) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param, store=store)


def missing(kind: str, ident: str, param: str | None = "id") -> StripeError:
    return StripeError(404, "invalid_request_error", f"No such {kind}: '{ident}'", code="resource_missing", param=param)


def unexpected_state(message: str, intent: dict[str, Any]) -> StripeError:
    return StripeError(
        400,
        "invalid_request_error",
        message,
        code="payment_intent_unexpected_state",
        extra={"payment_intent": copy.deepcopy(intent)},
    )


# --------------------------------------------------------------------- form params

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_LIST_PARAMS = {"expand", "payment_method_types"}


def parse_params(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's form encoding (``metadata[k]=v``, ``expand[0]=x``) into nested dicts."""
    result: dict[str, Any] = {}
    for raw_key, value in items:
        m = _KEY_RE.match(raw_key)
        if not m:
            raise invalid(f"Invalid parameter name: {raw_key}", code="parameter_unknown", param=raw_key)
        parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        node = result
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif child == "":
                # `metadata=` followed by `metadata[k]=v`: the empty value means "unset all"
                child = node[part] = {}
            elif not isinstance(child, dict):
                name = parts[0] + "".join(f"[{p}]" for p in parts[1 : i + 1])
                raise invalid(f"Invalid hash: {name}", code="parameter_invalid_hash", param=name)
            node = child
        last = parts[-1]
        if last == "":
            last = str(len(node))
        if isinstance(node.get(last), dict):
            raise invalid(f"Invalid value for {raw_key}", code="parameter_invalid_string", param=raw_key)
        node[last] = value
    for name in _LIST_PARAMS:
        val = result.get(name)
        if isinstance(val, dict):
            try:
                result[name] = [val[k] for k in sorted(val, key=int)]
            except ValueError:
                raise invalid(f"Invalid array: {name}", code="parameter_invalid_array", param=name) from None
        elif isinstance(val, str):
            result[name] = [val] if val else []
    return result


def fingerprint(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _check_known(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed:
            raise invalid(f"Received unknown parameter: {key}", code="parameter_unknown", param=key)


@overload
def _int_param(params: dict[str, Any], name: str, required: Literal[True], minimum: int = 1) -> int: ...
@overload
def _int_param(params: dict[str, Any], name: str, required: bool, minimum: int = 1) -> int | None: ...
def _int_param(params: dict[str, Any], name: str, required: bool, minimum: int = 1) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw.strip()):
        raise invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name)
    value = int(raw)
    if value < minimum:
        raise invalid(
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=name,
        )
    if value > 99_999_999:
        raise invalid("Amount must be no more than 99999999", code="amount_too_large", param=name)
    return value


def _check_charge(amount: int, currency: str) -> None:
    """Stripe's per-currency rules for a charge (``currencies.py``)."""
    if currency not in currencies.MINIMUM_CHARGE:
        raise invalid(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            f"{', '.join(sorted(currencies.MINIMUM_CHARGE))}",
            param="currency",
        )
    minimum = currencies.MINIMUM_CHARGE[currency]
    if amount < minimum:
        raise invalid(
            f"Amount must be at least {currencies.show(minimum, currency)}", code="amount_too_small", param="amount"
        )
    if amount > currencies.MAX_AMOUNT:
        raise invalid(
            f"Amount must be no more than {currencies.show(currencies.MAX_AMOUNT, currency)}",
            code="amount_too_large",
            param="amount",
        )
    if currency in currencies.THREE_DECIMAL and amount % 10:
        raise invalid(
            f"Amounts in {currency} must be a multiple of 10 (the last digit must be 0).",
            code="parameter_invalid_integer",
            param="amount",
        )


def _bool_param(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    if raw in ("true", "false"):
        return raw == "true"
    raise invalid(f"Invalid boolean: {raw}", code="parameter_invalid_boolean", param=name)


def _str_param(params: dict[str, Any], name: str, choices: set[str] | None = None) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise invalid(f"Invalid string: {name}", code="parameter_invalid_string", param=name)
    if choices is not None and raw not in choices:
        raise invalid(
            f"Invalid {name}: must be one of {', '.join(sorted(choices))}",
            code="parameter_invalid_string",
            param=name,
        )
    return raw


def _metadata(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    md = dict(current or {})
    raw = params.get("metadata")
    if raw is None:
        return md
    if raw == "":
        return {}
    if not isinstance(raw, dict):
        raise invalid("Invalid hash: metadata", code="parameter_invalid_hash", param="metadata")
    for key, value in raw.items():
        if isinstance(value, dict):
            raise invalid(
                f"Invalid metadata value for {key}", code="parameter_invalid_string", param=f"metadata[{key}]"
            )
        if len(key) > 40:
            raise invalid("Metadata keys can be at most 40 characters", param=f"metadata[{key}]")
        if len(value) > 500:
            raise invalid("Metadata values can be at most 500 characters", param=f"metadata[{key}]")
        if value == "":
            md.pop(key, None)
        else:
            md[key] = value
    if len(md) > 50:
        raise invalid("Metadata can have at most 50 keys", param="metadata")
    return md


# ------------------------------------------------------------------ test cards

SUCCESS_CARDS = {
    "pm_card_visa": ("visa", "4242"),
    "pm_card_visa_debit": ("visa", "5556"),
    "pm_card_mastercard": ("mastercard", "4444"),
    "pm_card_mastercard_debit": ("mastercard", "8210"),
    "pm_card_amex": ("amex", "8431"),
    "pm_card_discover": ("discover", "1117"),
    "pm_card_jcb": ("jcb", "0505"),
    "pm_card_unionpay": ("unionpay", "0005"),
}
# payment method -> (code, decline_code, message)
DECLINE_CARDS = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_visa_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_visa_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedLostCard": ("card_declined", "lost_card", "Your card was declined."),
    "pm_card_chargeDeclinedStolenCard": ("card_declined", "stolen_card", "Your card was declined."),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}
ACTION_CARDS = {"pm_card_authenticationRequired", "pm_card_threeDSecure2Required"}


def _pm_object(pm: str) -> dict[str, Any]:
    brand, last4 = SUCCESS_CARDS.get(pm, ("visa", "0002"))
    return {
        "id": pm,
        "object": "payment_method",
        "type": "card",
        "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034, "country": "US"},
        "livemode": False,
    }


def _check_pm(pm: str) -> None:
    if pm not in SUCCESS_CARDS and pm not in DECLINE_CARDS and pm not in ACTION_CARDS:
        raise invalid(f"No such PaymentMethod: '{pm}'", code="resource_missing", param="payment_method")


# ------------------------------------------------------------------------- faults

API_FAULTS = {"api_error", "api_delay"}
WEBHOOK_FAULTS = {"webhook_delay", "webhook_duplicate", "webhook_drop", "webhook_reorder"}
FAULT_KINDS = API_FAULTS | WEBHOOK_FAULTS
_FAULT_FIELDS = {
    "kind",
    "path",
    "method",
    "count",
    "seconds",
    "drop",
    "after",
    "status",
    "should_retry",
    "copies",
    "event_type",
    "message",
}


def validate_fault(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValueError("each fault must be a JSON object")
    unknown = set(spec) - _FAULT_FIELDS
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(sorted(FAULT_KINDS))}")
    fault: dict[str, Any] = {"id": new_id("flt_", 12), "kind": kind, "used": 0, "created": time.time()}
    count = spec.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError("count must be a positive integer (omit it for a fault that lasts until cleared)")
    fault["count"] = count
    if kind in API_FAULTS:
        path = spec.get("path", "/v1/")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must be a string starting with '/'")
        fault["path"] = path
        method = spec.get("method")
        if method is not None:
            if not isinstance(method, str) or method.upper() not in ("GET", "POST"):
                raise ValueError("method must be GET or POST")
            method = method.upper()
        fault["method"] = method
    elif "path" in spec or "method" in spec:
        raise ValueError("path/method apply to api_* faults only; webhook faults filter by event_type")
    if kind in WEBHOOK_FAULTS:
        et = spec.get("event_type")
        if et is not None and not isinstance(et, str):
            raise ValueError("event_type must be a string")
        fault["event_type"] = et
    elif "event_type" in spec:
        raise ValueError("event_type applies to webhook_* faults only")
    if kind in ("api_delay", "webhook_delay"):
        seconds = spec.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 600:
            raise ValueError("seconds must be a number between 0 and 600")
        fault["seconds"] = float(seconds)
    if kind == "api_delay":
        fault["drop"] = bool(spec.get("drop", False))
    if kind == "api_error":
        status = spec.get("status", 500)
        if not isinstance(status, int) or isinstance(status, bool) or not (status == 429 or 500 <= status <= 599):
            raise ValueError("status must be 429 or a 5xx integer")
        fault["status"] = status
        fault["after"] = bool(spec.get("after", False))
        fault["should_retry"] = spec.get("should_retry")
        if fault["should_retry"] is not None and not isinstance(fault["should_retry"], bool):
            raise ValueError("should_retry must be true or false")
        fault["message"] = str(spec.get("message") or "An unknown error occurred (injected by the simulator).")
    if kind == "webhook_duplicate":
        copies = spec.get("copies", 2)
        if not isinstance(copies, int) or not 2 <= copies <= 10:
            raise ValueError("copies must be an integer between 2 and 10")
        fault["copies"] = copies
    return fault


# ----------------------------------------------------------------------- the store

INTENT_PARAMS = {
    "amount",
    "currency",
    "metadata",
    "payment_method",
    "confirm",
    "description",
    "receipt_email",
    "capture_method",
    "automatic_payment_methods",
    "payment_method_types",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "return_url",
    "customer",
    "setup_future_usage",
    "off_session",
    "error_on_requires_action",
    "use_stripe_sdk",
    "expand",
}
CONFIRM_PARAMS = {
    "payment_method",
    "return_url",
    "receipt_email",
    "expand",
    "off_session",
    "error_on_requires_action",
    "use_stripe_sdk",
    "setup_future_usage",
    "payment_method_types",
}
CANCEL_PARAMS = {"cancellation_reason", "expand"}
REFUND_PARAMS = {"payment_intent", "charge", "amount", "reason", "metadata", "expand"}
CANCEL_REASONS = {"duplicate", "fraudulent", "requested_by_customer", "abandoned"}
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
CANCELABLE = {"requires_payment_method", "requires_confirmation", "requires_action", "processing"}
CONFIRMABLE = {"requires_payment_method", "requires_confirmation", "requires_action"}


class Simulator:
    def __init__(self, config: SimConfig):
        self.config = config
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.generation = 0  # bumped by reset; in-flight work from an older generation is discarded
        self._clear()
        from .webhooks import Deliverer  # local import: webhooks imports this module

        self.deliverer = Deliverer(self)
        self.expiry_thread: threading.Thread | None = None  # checkout.py's session expiry, per process
        self.expiry_pid: int | None = None

    # ---------------------------------------------------------------- lifecycle

    def _clear(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}  # checkout session id -> record (see checkout.py)
        self.events: dict[str, dict[str, Any]] = {}  # event id -> record (see webhooks.py)
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self.faults: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self._clear()
            self.deliverer.clear()

    # ---------------------------------------------------------------- faults

    def add_faults(self, specs: list[Any]) -> list[dict[str, Any]]:
        faults = [validate_fault(s) for s in specs]  # all or nothing
        with self.lock:
            self.faults.extend(faults)
            return copy.deepcopy(faults)

    def list_faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.faults)

    def clear_faults(self, fault_id: str | None = None) -> int:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if fault_id is not None and f["id"] != fault_id]
            return before - len(self.faults)

    def _use(self, fault: dict[str, Any]) -> None:
        fault["used"] += 1
        if fault["count"] is not None:
            fault["count"] -= 1
            if fault["count"] <= 0:
                self.faults.remove(fault)

    def take_api_faults(self, method: str, path: str) -> tuple[dict | None, dict | None]:
        """The first matching api_error and api_delay faults, each used once."""
        found: dict[str, dict[str, Any]] = {}
        with self.lock:
            for fault in list(self.faults):
                kind = fault["kind"]
                if kind not in API_FAULTS or kind in found:
                    continue
                if not path.startswith(fault["path"]):
                    continue
                if fault["method"] and fault["method"] != method:
                    continue
                found[kind] = copy.deepcopy(fault)
                self._use(fault)
        return found.get("api_error"), found.get("api_delay")

    def take_webhook_faults(self, event_type: str) -> dict[str, dict[str, Any]]:
        """Called with the lock held when an event is generated. A drop wins over the rest."""
        found: dict[str, dict[str, Any]] = {}
        for fault in list(self.faults):
            kind = fault["kind"]
            if kind not in WEBHOOK_FAULTS or kind in found:
                continue
            if fault["event_type"] and fault["event_type"] != event_type:
                continue
            found[kind] = fault
        if "webhook_drop" in found:
            found = {"webhook_drop": found["webhook_drop"]}
        for fault in found.values():
            self._use(fault)
        return {k: copy.deepcopy(v) for k, v in found.items()}

    # ----------------------------------------------------------- idempotency

    def idem_begin(self, api_key: str, key: str, method: str, path: str, params: dict[str, Any]):
        """Returns ("new", None) after marking the key in flight, or ("replay", record).
        Raises StripeError for a key reused with other parameters or still in flight."""
        fp = fingerprint(params)
        with self.lock:
            rec = self.idempotency.get((api_key, key))
            if rec is None:
                self.idempotency[(api_key, key)] = {
                    "state": "in_flight",
                    "method": method,
                    "path": path,
                    "fingerprint": fp,
                    "generation": self.generation,
                }
                return "new", None
            if rec["method"] != method or rec["path"] != path:
                raise StripeError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used for the same endpoint they were first used for "
                    f"('{rec['method']} {rec['path']}' vs '{method} {path}'). Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    store=False,
                )
            if rec["fingerprint"] != fp:
                raise StripeError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                    store=False,
                )
            if rec["state"] == "in_flight":
                raise StripeError(
                    409,
                    "invalid_request_error",
                    "There is currently another in-progress request using this Stripe-Idempotency-Key. "
                    "Please try again later.",
                    code="idempotency_key_in_use",
                    store=False,
                )
            return "replay", copy.deepcopy(rec)

    def idem_finish(self, api_key: str, key: str, result: tuple[int, dict, str] | None) -> None:
        """Store (status, body, request_id) under the key, or forget the key when result is None."""
        with self.lock:
            rec = self.idempotency.get((api_key, key))
            if rec is None or rec["state"] != "in_flight":
                return  # reset meanwhile
            if result is None:
                del self.idempotency[(api_key, key)]
            else:
                rec.update(state="done", status=result[0], body=result[1], request_id=result[2], stored_at=time.time())

    # ------------------------------------------------------------ events

    def _emit(self, type_: str, obj: dict[str, Any], ctx: dict[str, Any] | None) -> None:
        """Record an event and hand it to the deliverer. Called with the lock held."""
        event = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": self.config.api_version,
            "created": now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.config.webhook_url else 0,
            "request": {
                "id": (ctx or {}).get("request_id"),
                "idempotency_key": (ctx or {}).get("idempotency_key"),
            },
            "type": type_,
        }
        self.deliverer.submit(event)

    # ------------------------------------------------------------ views

    def _intent_view(self, pi: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
        out = copy.deepcopy(pi)
        if expand and "latest_charge" in expand and out.get("latest_charge"):
            out["latest_charge"] = copy.deepcopy(self.charges[out["latest_charge"]])
        if expand and "payment_method" in expand and out.get("payment_method"):
            out["payment_method"] = _pm_object(out["payment_method"])
        return out

    def _get_intent(self, pi_id: str) -> dict[str, Any]:
        pi = self.intents.get(pi_id)
        if pi is None:
            raise missing("payment_intent", pi_id, param="intent")
        return pi

    # ------------------------------------------------------------ payment intents

    def create_payment_intent(self, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, INTENT_PARAMS)
        amount = _int_param(params, "amount", required=True)
        currency = params.get("currency")
        if not currency:
            raise invalid("Missing required param: currency.", code="parameter_missing", param="currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise invalid(f"Invalid currency: {currency}", code="parameter_invalid_string", param="currency")
        _check_charge(amount, currency.lower())
        metadata = _metadata(params)
        confirm = _bool_param(params, "confirm")
        pm = _str_param(params, "payment_method")
        capture = _str_param(params, "capture_method", {"automatic", "automatic_async"}) or "automatic_async"
        if pm:
            _check_pm(pm)
        if confirm and not pm:
            raise invalid(
                "You must provide a payment_method when confirm=true.", code="parameter_missing", param="payment_method"
            )
        types = params.get("payment_method_types") or ["card"]
        pi_id = new_id("pi_")
        pi = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture,
            "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": now(),
            "currency": currency.lower(),
            "customer": _str_param(params, "customer"),
            "description": _str_param(params, "description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": pm,
            "payment_method_types": types,
            "receipt_email": _str_param(params, "receipt_email"),
            "status": "requires_confirmation" if pm else "requires_payment_method",
        }
        if isinstance(params.get("automatic_payment_methods"), dict):
            pi["automatic_payment_methods"] = {"enabled": params["automatic_payment_methods"].get("enabled") == "true"}
        with self.lock:
            self.intents[pi_id] = pi
            if confirm and pm:  # confirm without a payment method was refused above
                self._confirm(pi, pm, ctx)
            return 200, self._intent_view(pi, params.get("expand"))

    def retrieve_payment_intent(self, pi_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, {"expand", "client_secret"})
        with self.lock:
            return 200, self._intent_view(self._get_intent(pi_id), params.get("expand"))

    def confirm_payment_intent(self, pi_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, CONFIRM_PARAMS)
        pm = _str_param(params, "payment_method")
        with self.lock:
            pi = self._get_intent(pi_id)
            if pi["status"] not in CONFIRMABLE:
                raise unexpected_state(
                    f"This PaymentIntent's payment_method could not be updated because it has a status of "
                    f"{pi['status']}. You may only update the payment_method of a PaymentIntent with one of the "
                    f"following statuses: {', '.join(sorted(CONFIRMABLE))}.",
                    pi,
                )
            if pm:
                _check_pm(pm)
            pm = pm or pi["payment_method"]
            if not pm:
                raise unexpected_state(
                    "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm "
                    "the PaymentIntent with a payment method, pass payment_method.",
                    pi,
                )
            self._confirm(pi, pm, ctx)
            return 200, self._intent_view(pi, params.get("expand"))

    def _confirm(self, pi: dict[str, Any], pm: str, ctx: dict[str, Any] | None) -> None:
        """Run a confirmation attempt with the lock held; raises CardError on a decline."""
        pi["payment_method"] = pm
        if pm in ACTION_CARDS:
            pi["status"] = "requires_action"
            pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
            pi["last_payment_error"] = None
            return
        if pm in DECLINE_CARDS:
            code, decline_code, message = DECLINE_CARDS[pm]
            charge = self._fail(pi, pm, code, decline_code, message, ctx)
            raise StripeError(
                402,
                "card_error",
                message,
                code=code,
                extra={
                    "decline_code": decline_code,
                    "charge": charge["id"],
                    "payment_intent": copy.deepcopy(pi),
                    "payment_method": _pm_object(pm),
                },
            )
        self._succeed(pi, pm, ctx)

    def _new_charge(self, pi: dict[str, Any], pm: str, ok: bool, code=None, decline_code=None, message=None):
        ch = {
            "id": new_id("ch_"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": pi["amount"] if ok else 0,
            "amount_refunded": 0,
            "balance_transaction": None,
            "captured": ok,
            "created": now(),
            "currency": pi["currency"],
            "description": pi["description"],
            "failure_code": None if ok else code,
            "failure_message": None if ok else message,
            "livemode": False,
            "metadata": copy.deepcopy(pi["metadata"]),
            "outcome": {
                "network_status": "approved_by_network" if ok else "declined_by_network",
                "reason": None if ok else decline_code,
                "seller_message": "Payment complete."
                if ok
                else "The bank did not return any further details with this decline.",
                "type": "authorized" if ok else "issuer_declined",
            },
            "paid": ok,
            "payment_intent": pi["id"],
            "payment_method": pm,
            "refunded": False,
            "status": "succeeded" if ok else "failed",
        }
        self.charges[ch["id"]] = ch
        pi["latest_charge"] = ch["id"]
        return ch

    def _succeed(self, pi: dict[str, Any], pm: str, ctx: dict[str, Any] | None) -> None:
        self._new_charge(pi, pm, ok=True)
        pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None, next_action=None)
        self._emit("payment_intent.succeeded", pi, ctx)

    def _fail(self, pi, pm, code, decline_code, message, ctx) -> dict[str, Any]:
        ch = self._new_charge(pi, pm, ok=False, code=code, decline_code=decline_code, message=message)
        pi.update(
            status="requires_payment_method",
            payment_method=None,
            next_action=None,
            last_payment_error={
                "charge": ch["id"],
                "code": code,
                "decline_code": decline_code,
                "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                "message": message,
                "payment_method": _pm_object(pm),
                "type": "card_error",
            },
        )
        self._emit("payment_intent.payment_failed", pi, ctx)
        return ch

    def cancel_payment_intent(self, pi_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, CANCEL_PARAMS)
        reason = _str_param(params, "cancellation_reason", CANCEL_REASONS)
        with self.lock:
            pi = self._get_intent(pi_id)
            if pi["status"] not in CANCELABLE:
                raise unexpected_state(
                    f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                    "PaymentIntent with one of the following statuses may be canceled: "
                    f"{', '.join(sorted(CANCELABLE))}.",
                    pi,
                )
            pi.update(status="canceled", canceled_at=now(), cancellation_reason=reason, next_action=None)
            self._emit("payment_intent.canceled", pi, ctx)
            return 200, self._intent_view(pi, params.get("expand"))

    # ------------------------------------------------------------ test helpers (/_sim)

    def sim_settle(self, pi_id: str, outcome: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            pi = self._get_intent(pi_id)
            if pi["status"] in ("succeeded", "canceled"):
                raise unexpected_state(f"PaymentIntent {pi_id} is already {pi['status']}.", pi)
            if outcome == "succeed":
                self._succeed(pi, body.get("payment_method") or pi["payment_method"] or "pm_card_visa", None)
            elif outcome == "processing":
                pi.update(
                    status="processing",
                    next_action=None,
                    payment_method=pi["payment_method"] or body.get("payment_method") or "pm_card_visa",
                )
            else:
                code = body.get("code") or "card_declined"
                decline_code = body.get("decline_code") or "generic_decline"
                message = body.get("message") or "Your card was declined."
                self._fail(pi, pi["payment_method"] or "pm_card_chargeDeclined", code, decline_code, message, None)
            return copy.deepcopy(pi)

    # ------------------------------------------------------------ refunds

    def create_refund(self, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, REFUND_PARAMS)
        amount = _int_param(params, "amount", required=False)
        reason = _str_param(params, "reason", REFUND_REASONS)
        metadata = _metadata(params)
        pi_id = _str_param(params, "payment_intent")
        ch_id = _str_param(params, "charge")
        if not pi_id and not ch_id:
            raise invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
            )
        with self.lock:
            if pi_id:
                pi = self.intents.get(pi_id)
                if pi is None:
                    raise missing("payment_intent", pi_id, param="payment_intent")
                if ch_id and pi["latest_charge"] != ch_id:
                    raise invalid(
                        f"Charge {ch_id} does not belong to PaymentIntent {pi_id}.", param="charge", store=True
                    )
            else:
                assert ch_id is not None  # one of the two is required above
                ch = self.charges.get(ch_id)
                if ch is None:
                    raise missing("charge", ch_id, param="charge")
                pi = self.intents[ch["payment_intent"]]
            if pi["status"] != "succeeded":
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund "
                    f"(its status is {pi['status']}).",
                    code="payment_intent_unexpected_state",
                    param="payment_intent",
                )
            ch = self.charges[pi["latest_charge"]]
            remaining = ch["amount_captured"] - ch["amount_refunded"]
            if remaining <= 0:
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"Charge {ch['id']} has already been refunded.",
                    code="charge_already_refunded",
                    param="payment_intent",
                )
            if amount is None:
                amount = remaining
            if amount > remaining:
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"Refund amount ({amount} {ch['currency']}) is greater than unrefunded amount on charge "
                    f"({remaining} {ch['currency']})",
                    code="amount_too_large",
                    param="amount",
                )
            refund = {
                "id": new_id("re_"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": None,
                "charge": ch["id"],
                "created": now(),
                "currency": ch["currency"],
                "metadata": metadata,
                "payment_intent": pi["id"],
                "reason": reason,
                "receipt_number": None,
                "status": "succeeded",
            }
            self.refunds[refund["id"]] = refund
            ch["amount_refunded"] += amount
            ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]
            self._emit("charge.refunded", ch, ctx)
            return 200, copy.deepcopy(refund)

    def retrieve_refund(self, re_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, {"expand"})
        with self.lock:
            refund = self.refunds.get(re_id)
            if refund is None:
                raise missing("refund", re_id)
            return 200, copy.deepcopy(refund)

    def list_refunds(self, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, {"payment_intent", "charge", "limit", "expand", "starting_after", "ending_before"})
        limit = _int_param(params, "limit", required=False) or 10
        with self.lock:
            rows = [
                copy.deepcopy(r)
                for r in sorted(self.refunds.values(), key=lambda r: r["created"], reverse=True)
                if (not params.get("payment_intent") or r["payment_intent"] == params["payment_intent"])
                and (not params.get("charge") or r["charge"] == params["charge"])
            ]
        return 200, {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit, "url": "/v1/refunds"}

    def retrieve_charge(self, ch_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, {"expand"})
        with self.lock:
            ch = self.charges.get(ch_id)
            if ch is None:
                raise missing("charge", ch_id)
            return 200, copy.deepcopy(ch)

    def retrieve_event(self, evt_id: str, params: dict[str, Any], ctx: dict[str, Any]) -> tuple[int, dict]:
        _check_known(params, {"expand"})
        with self.lock:
            rec = self.events.get(evt_id)
            if rec is None:
                raise missing("event", evt_id)
            return 200, copy.deepcopy(rec["event"])

    # ------------------------------------------------------------ control-API views

    def sim_intents(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            out = []
            for pi in self.intents.values():
                if status and pi["status"] != status:
                    continue
                charge = self.charges.get(pi["latest_charge"]) if pi["latest_charge"] else None
                refunds = [copy.deepcopy(r) for r in self.refunds.values() if r["payment_intent"] == pi["id"]]
                view = copy.deepcopy(pi)
                view["amount_refunded"] = sum(r["amount"] for r in refunds)
                view["charge_status"] = charge["status"] if charge else None
                view["charges"] = [c["id"] for c in self.charges.values() if c["payment_intent"] == pi["id"]]
                view["refunds"] = refunds
                out.append(view)
            return out

    def sim_intent(self, pi_id: str) -> dict[str, Any]:
        with self.lock:
            self._get_intent(pi_id)
            return next(i for i in self.sim_intents() if i["id"] == pi_id)

    def sim_refunds(self) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for r in self.refunds.values()]

    def sim_events(self, type_: str | None = None, object_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                self.deliverer.public_record(rec)
                for rec in self.events.values()
                if (not type_ or rec["event"]["type"] == type_)
                and (not object_id or rec["event"]["data"]["object"].get("id") == object_id)
            ]
