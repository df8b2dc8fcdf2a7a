"""HTTP layer: the Stripe-compatible ``/v1`` routes and the ``/_sim`` control API."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, request

from . import checkout
from .core import Simulator, StripeError, new_id, parse_params

log = logging.getLogger("gateway_simulator")

MAX_IDEMPOTENCY_KEY = 255


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body, indent=2) + "\n", status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _api_key() -> str:
    auth = request.headers.get("Authorization", "")
    key = ""
    if auth.startswith("Bearer "):
        key = auth[len("Bearer ") :].strip()
    elif auth.startswith("Basic "):
        try:
            key = base64.b64decode(auth[len("Basic ") :]).decode("utf-8").split(":", 1)[0]
        except Exception:
            key = ""
    if not key:
        raise StripeError(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            store=False,
        )
    if not key.startswith("sk_test_") or len(key) <= len("sk_test_"):
        shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "***"
        raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}", store=False)
    return key


def _fault_response(fault: dict[str, Any], request_id: str) -> Response:
    if fault["status"] == 429:  # Stripe's rate limit (stripe.RateLimitError), which it does not retry by itself
        err = StripeError(429, "invalid_request_error", fault["message"], code="rate_limit", store=False)
    else:
        err = StripeError(fault["status"], "api_error", fault["message"], store=False)
    headers = {"Request-Id": request_id}
    if fault.get("should_retry") is not None:
        headers["Stripe-Should-Retry"] = "true" if fault["should_retry"] else "false"
    return _json(err.body(), fault["status"], headers)


def make_api_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("stripe_api", __name__)

    def run(handler: Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict]]) -> Response:
        request_id = new_id("req_", 14)
        base_headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("Stripe-Version") or sim.config.api_version,
        }
        method, path = request.method, request.path
        try:
            api_key = _api_key()
            items = list((request.form if method == "POST" else request.args).items(multi=True))
            params = parse_params(items)
        except StripeError as err:
            return _json(err.body(), err.status, base_headers)

        error_fault, delay_fault = sim.take_api_faults(method, path)
        if error_fault and not error_fault["after"]:
            log.info("fault api_error on %s %s", method, path)
            return _fault_response(error_fault, request_id)

        idem_key = request.headers.get("Idempotency-Key") if method == "POST" else None
        if idem_key is not None:
            idem_key = idem_key.strip()
            if not idem_key or len(idem_key) > MAX_IDEMPOTENCY_KEY:
                refusal = StripeError(
                    400,
                    "invalid_request_error",
                    f"Invalid Idempotency-Key: it must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
                    store=False,
                )
                return _json(refusal.body(), refusal.status, base_headers)
            base_headers["Idempotency-Key"] = idem_key
            try:
                state, rec = sim.idem_begin(api_key, idem_key, method, path, params)
            except StripeError as err:
                return _json(err.body(), err.status, base_headers)
            if state == "replay":
                headers = dict(base_headers, **{"Idempotent-Replayed": "true", "Original-Request": rec["request_id"]})
                if error_fault:  # an "after" fault also hits replays
                    return _fault_response(error_fault, request_id)
                return _json(rec["body"], rec["status"], headers)

        result: tuple[int, dict, str] | None = None
        headers = dict(base_headers)
        try:
            if delay_fault:
                log.info(
                    "fault api_delay %.2fs on %s %s%s",
                    delay_fault["seconds"],
                    method,
                    path,
                    " (dropped)" if delay_fault["drop"] else "",
                )
                time.sleep(delay_fault["seconds"])
                if delay_fault["drop"]:
                    return _fault_response(
                        {
                            "status": 500,
                            "message": "The request was dropped by the simulator (api_delay drop).",
                            "should_retry": None,
                        },
                        request_id,
                    )
            ctx = {"request_id": request_id, "idempotency_key": idem_key}
            try:
                status, body = handler(params, ctx)
                store = True
            except StripeError as err:
                status, body, store = err.status, err.body(), err.store
                headers.update(err.headers)
            except Exception:
                log.exception("simulator bug on %s %s", method, path)
                bug = StripeError(500, "api_error", "An unknown error occurred in the simulator.")
                status, body, store = bug.status, bug.body(), False
            if store:
                result = (status, body, request_id)
        finally:
            if idem_key is not None:
                sim.idem_finish(api_key, idem_key, result)
        if error_fault:  # "after": the request took effect, but the caller sees a 500
            log.info("fault api_error (after effect) on %s %s", method, path)
            return _fault_response(error_fault, request_id)
        return _json(body, status, headers)

    @bp.post("/v1/payment_intents")
    def create_payment_intent():
        return run(sim.create_payment_intent)

    @bp.get("/v1/payment_intents/<pi_id>")
    def retrieve_payment_intent(pi_id: str):
        return run(lambda p, c: sim.retrieve_payment_intent(pi_id, p, c))

    @bp.post("/v1/payment_intents/<pi_id>/confirm")
    def confirm_payment_intent(pi_id: str):
        return run(lambda p, c: sim.confirm_payment_intent(pi_id, p, c))

    @bp.post("/v1/payment_intents/<pi_id>/cancel")
    def cancel_payment_intent(pi_id: str):
        return run(lambda p, c: sim.cancel_payment_intent(pi_id, p, c))

    @bp.post("/v1/checkout/sessions")
    def create_checkout_session():
        base_url = request.host_url
        return run(lambda p, c: checkout.create_session(sim, p, c, base_url))

    @bp.get("/v1/checkout/sessions/<cs_id>")
    def retrieve_checkout_session(cs_id: str):
        return run(lambda p, c: checkout.retrieve_session(sim, cs_id, p, c))

    @bp.post("/v1/checkout/sessions/<cs_id>/expire")
    def expire_checkout_session(cs_id: str):
        return run(lambda p, c: checkout.expire_session(sim, cs_id, p, c))

    @bp.post("/v1/refunds")
    def create_refund():
        return run(sim.create_refund)

    @bp.get("/v1/refunds")
    def list_refunds():
        return run(sim.list_refunds)

    @bp.get("/v1/refunds/<re_id>")
    def retrieve_refund(re_id: str):
        return run(lambda p, c: sim.retrieve_refund(re_id, p, c))

    @bp.get("/v1/charges/<ch_id>")
    def retrieve_charge(ch_id: str):
        return run(lambda p, c: sim.retrieve_charge(ch_id, p, c))

    @bp.get("/v1/events/<evt_id>")
    def retrieve_event(evt_id: str):
        return run(lambda p, c: sim.retrieve_event(evt_id, p, c))

    return bp


def make_control_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("sim_control", __name__, url_prefix="/_sim")

    def body() -> Any:
        if not request.get_data():
            return {}
        data = request.get_json(silent=True)
        if data is None:
            raise ValueError("the body must be JSON")
        return data

    def bad(message: str, status: int = 400) -> Response:
        return _json({"error": {"type": "invalid_request_error", "message": message}}, status)

    @bp.get("/health")
    def health():
        return _json({"ok": True, "webhook_thread": sim.deliverer.running})

    @bp.post("/reset")
    def reset():
        sim.reset()
        return _json({"ok": True})

    @bp.get("/config")
    def get_config():
        return _json(sim.config.as_dict())

    @bp.post("/config")
    def set_config():
        try:
            data = body()
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            with sim.lock:
                trial = type(sim.config)(**sim.config.as_dict())
                for key, value in data.items():
                    trial.set(key, value)
                for key, value in trial.as_dict().items():
                    setattr(sim.config, key, value)
        except ValueError as exc:
            return bad(str(exc))
        return _json(sim.config.as_dict())

    @bp.get("/payment_intents")
    def intents():
        rows = sim.sim_intents(request.args.get("status"))
        return _json({"object": "list", "data": rows, "count": len(rows)})

    @bp.get("/payment_intents/<pi_id>")
    def intent(pi_id: str):
        try:
            return _json(sim.sim_intent(pi_id))
        except StripeError as err:
            return _json(err.body(), err.status)

    def settle(pi_id: str, outcome: str) -> Response:
        try:
            data = body()
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            return _json(sim.sim_settle(pi_id, outcome, data))
        except ValueError as exc:
            return bad(str(exc))
        except StripeError as err:
            return _json(err.body(), err.status)

    @bp.post("/payment_intents/<pi_id>/succeed")
    def succeed(pi_id: str):
        return settle(pi_id, "succeed")

    @bp.post("/payment_intents/<pi_id>/fail")
    def fail(pi_id: str):
        return settle(pi_id, "fail")

    @bp.post("/payment_intents/<pi_id>/processing")
    def processing(pi_id: str):
        return settle(pi_id, "processing")

    @bp.get("/checkout/sessions")
    def sessions():
        with sim.lock:
            rows = [dict(r["session"]) for r in sim.sessions.values()]
        return _json({"object": "list", "data": rows, "count": len(rows)})

    @bp.post("/checkout/sessions/<cs_id>/lapse")
    def lapse_session(cs_id: str):
        """Makes an open session due now: the expiry thread expires it (as it would at expires_at)."""
        with sim.lock:
            rec = sim.sessions.get(cs_id)
            if rec is None:
                return bad(f"no checkout session {cs_id}", 404)
            rec["session"]["expires_at"] = min(rec["session"]["expires_at"], int(time.time()))
            sim.cond.notify_all()
            return _json(dict(rec["session"]))

    @bp.get("/refunds")
    def refunds():
        rows = sim.sim_refunds()
        return _json({"object": "list", "data": rows, "count": len(rows)})

    @bp.get("/events")
    def events():
        rows = sim.sim_events(request.args.get("type"), request.args.get("object_id"))
        return _json({"object": "list", "data": rows, "count": len(rows), "held": sim.deliverer.held_count()})

    @bp.post("/webhooks/release")
    def release():
        data = body() if request.get_data() else {}
        released = sim.deliverer.release()
        if not (isinstance(data, dict) and data.get("keep")):
            with sim.lock:
                sim.faults = [f for f in sim.faults if f["kind"] != "webhook_reorder"]
        return _json({"released": released})

    @bp.get("/faults")
    def list_faults():
        rows = sim.list_faults()
        return _json({"object": "list", "data": rows, "count": len(rows)})

    @bp.post("/faults")
    def add_faults():
        try:
            data = body()
            if isinstance(data, dict) and "faults" in data:
                data = data["faults"]
            if isinstance(data, dict):
                data = [data]
            if not isinstance(data, list) or not data:
                raise ValueError('send a fault object, a list of faults, or {"faults": [...]}')
            added = sim.add_faults(data)
        except ValueError as exc:
            return bad(str(exc))
        return _json({"object": "list", "data": added, "count": len(added)}, 201)

    @bp.delete("/faults")
    def clear_faults():
        return _json({"cleared": sim.clear_faults()})

    @bp.delete("/faults/<fault_id>")
    def clear_fault(fault_id: str):
        n = sim.clear_faults(fault_id)
        if not n:
            return bad(f"no active fault {fault_id}", 404)
        return _json({"cleared": n})

    return bp


def register_error_handlers(app: Flask) -> None:
    def handler(exc):
        code = getattr(exc, "code", 500) or 500
        if request.path.startswith("/_sim"):
            return _json({"error": {"type": "invalid_request_error", "message": str(exc)}}, code)
        if code in (404, 405):
            err = StripeError(
                404,
                "invalid_request_error",
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            )
        elif code < 500:
            err = StripeError(code, "invalid_request_error", str(exc))
        else:
            err = StripeError(500, "api_error", "An unknown error occurred in the simulator.")
        return _json(err.body(), err.status)

    from werkzeug.exceptions import HTTPException

    app.register_error_handler(HTTPException, handler)
