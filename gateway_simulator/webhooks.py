"""Webhook delivery: one background thread POSTs signed events to the configured endpoint
and retries with exponential back-off until the endpoint answers 2xx.

An event record (``Simulator.events[evt_id]``) looks like::

    {"event": {...}, "payload": b"...", "seq": 7, "state": None | "dropped" | "no_endpoint",
     "faults": ["webhook_duplicate"], "delay": 0.0,
     "deliveries": [{"n": 1, "status": "pending" | "held" | "delivered" | "failed",
                     "attempts": [{"attempt": 1, "at": 1700000000.1, "status_code": 500,
                                   "error": None, "ok": False, "duration_ms": 3}],
                     "next_attempt_at": 1700000001.1 | None}]}

All of it is guarded by the simulator's lock; the thread holds the lock only while it
picks work and records outcomes, never while it talks to the endpoint.
"""

from __future__ import annotations

import copy
import heapq
import hmac
import itertools
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from hashlib import sha256
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Simulator

log = logging.getLogger("gateway_simulator.webhooks")

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + payload, sha256).hexdigest()
    return f"t={t},v1={mac}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Stripe does not follow redirects for webhooks: a 3xx counts as a failed attempt.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect())


class Deliverer:
    def __init__(self, sim: Simulator):
        self.sim = sim
        self.cond = sim.cond
        self._heap: list[tuple[float, int, int, str, int]] = []
        self._held: list[dict[str, Any]] = []
        self._seq = itertools.count()
        self._event_seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = False

    # ------------------------------------------------------------ thread lifecycle

    def ensure_started(self) -> None:
        """Start the delivery thread in *this* process (safe to call on every request:
        after a fork, e.g. gunicorn's master -> worker, a fresh thread is started)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self.cond:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._stop = False
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="sim-webhook-delivery", daemon=True)
            self._thread.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        with self.cond:
            self._stop = True
            self.cond.notify_all()
            thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    # ------------------------------------------------------------ scheduling (lock held)

    def clear(self) -> None:
        self._heap.clear()
        self._held.clear()
        self.cond.notify_all()

    def _schedule(self, rec: dict[str, Any], delivery: dict[str, Any], delay: float) -> None:
        delivery["status"] = "pending"
        delivery["next_attempt_at"] = time.time() + delay
        heapq.heappush(
            self._heap,
            (time.monotonic() + delay, next(self._seq), self.sim.generation, rec["event"]["id"], delivery["n"]),
        )
        self.cond.notify_all()

    def submit(self, event: dict[str, Any]) -> None:
        """Record a new event and plan its delivery, applying webhook faults. Lock held."""
        sim = self.sim
        rec: dict[str, Any] = {
            "event": event,
            "payload": json.dumps(event, indent=2).encode("utf-8"),
            "seq": next(self._event_seq),
            "state": None,
            "faults": [],
            "delay": 0.0,
            "deliveries": [],
        }
        sim.events[event["id"]] = rec
        if not sim.config.webhook_url:
            rec["state"] = "no_endpoint"
            return
        faults = sim.take_webhook_faults(event["type"])
        rec["faults"] = sorted(faults)
        if "webhook_drop" in faults:
            rec["state"] = "dropped"
            log.info("webhook %s %s dropped (fault)", event["id"], event["type"])
            return
        copies = faults["webhook_duplicate"]["copies"] if "webhook_duplicate" in faults else 1
        rec["delay"] = faults["webhook_delay"]["seconds"] if "webhook_delay" in faults else 0.0
        rec["deliveries"] = [{"n": n, "status": "held", "attempts": [], "next_attempt_at": None} for n in range(copies)]
        if "webhook_reorder" in faults:
            self._held.append(rec)
            return
        for delivery in rec["deliveries"]:
            self._schedule(rec, delivery, rec["delay"])
        self.ensure_started()

    def release(self) -> list[str]:
        """Deliver every held event, newest first. Returns their ids in delivery order."""
        with self.cond:
            held, self._held = self._held, []
            held.sort(key=lambda r: r["seq"], reverse=True)
            for rec in held:
                for delivery in rec["deliveries"]:
                    self._schedule(rec, delivery, rec["delay"])
            if held:
                self.ensure_started()
            return [r["event"]["id"] for r in held]

    def held_count(self) -> int:
        with self.cond:
            return len(self._held)

    # ------------------------------------------------------------ views

    @staticmethod
    def public_record(rec: dict[str, Any]) -> dict[str, Any]:
        deliveries = rec["deliveries"]
        statuses = [d["status"] for d in deliveries]
        if rec["state"]:
            status = rec["state"]
        elif "held" in statuses:
            status = "held"
        elif "pending" in statuses:
            status = "pending"
        elif "delivered" in statuses:
            status = "delivered"
        else:
            status = "failed"
        event = rec["event"]
        return {
            "id": event["id"],
            "type": event["type"],
            "created": event["created"],
            "object_id": event["data"]["object"].get("id"),
            "status": status,
            "faults": list(rec["faults"]),
            "attempt_count": sum(len(d["attempts"]) for d in deliveries),
            "delivered_count": statuses.count("delivered"),
            "deliveries": copy.deepcopy(deliveries),
            "event": copy.deepcopy(event),
        }

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            with self.cond:
                item = None
                while item is None:
                    if self._stop or self._pid != os.getpid():
                        log.debug("webhook delivery thread stopped")
                        return
                    if self._heap:
                        delta = self._heap[0][0] - time.monotonic()
                        if delta <= 0:
                            item = heapq.heappop(self._heap)
                            break
                        self.cond.wait(min(delta, 1.0))
                    else:
                        self.cond.wait(1.0)
                _, _, generation, event_id, n = item
                if generation != self.sim.generation:
                    continue
                rec = self.sim.events.get(event_id)
                if rec is None:
                    continue
                cfg = self.sim.config
                url, secret, timeout = cfg.webhook_url, cfg.webhook_secret, cfg.webhook_timeout_seconds
                payload = rec["payload"]
            try:
                result = self._post(url, payload, secret, timeout)
            except Exception as exc:  # never let the thread die
                log.exception("webhook delivery crashed")
                result = {"status_code": None, "error": f"{type(exc).__name__}: {exc}", "ok": False}
            with self.cond:
                if generation != self.sim.generation:
                    continue
                delivery = rec["deliveries"][n]
                attempt = len(delivery["attempts"]) + 1
                delivery["attempts"].append({"attempt": attempt, **result})
                event = rec["event"]
                if result["ok"]:
                    delivery["status"] = "delivered"
                    delivery["next_attempt_at"] = None
                    log.info("webhook %s %s delivered (attempt %d)", event["id"], event["type"], attempt)
                elif attempt >= cfg.max_attempts:
                    delivery["status"] = "failed"
                    delivery["next_attempt_at"] = None
                    log.warning(
                        "webhook %s %s failed for good after %d attempts: %s",
                        event["id"],
                        event["type"],
                        attempt,
                        result["error"] or result["status_code"],
                    )
                else:
                    backoff = min(cfg.retry_base_seconds * (2 ** (attempt - 1)), cfg.retry_max_seconds)
                    log.info(
                        "webhook %s %s attempt %d failed (%s); retrying in %.2fs",
                        event["id"],
                        event["type"],
                        attempt,
                        result["error"] or result["status_code"],
                        backoff,
                    )
                    self._schedule(rec, delivery, backoff)

    @staticmethod
    def _post(url: str, payload: bytes, secret: str, timeout: float) -> dict[str, Any]:
        started = time.time()
        out: dict[str, Any] = {"at": started, "status_code": None, "error": None, "ok": False}
        if not url:
            out["error"] = "no webhook URL configured"
            return out
        req = urllib.request.Request(
            url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, secret),
                "User-Agent": USER_AGENT,
                "Accept": "*/*; q=0.5, application/xml",
                "Cache-Control": "no-cache",
            },
        )
        try:
            with _opener.open(req, timeout=timeout) as resp:
                resp.read(65536)
                out["status_code"] = resp.status
        except urllib.error.HTTPError as exc:
            out["status_code"] = exc.code
            exc.close()
        except Exception as exc:  # URLError, timeouts, resets
            reason = getattr(exc, "reason", exc)
            out["error"] = f"{type(exc).__name__}: {reason}"
        out["ok"] = out["status_code"] is not None and 200 <= out["status_code"] < 300
        out["duration_ms"] = int((time.time() - started) * 1000)
        return out
