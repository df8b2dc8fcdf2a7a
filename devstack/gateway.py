"""The gateway simulator (`gateway_simulator/`) as a process of its own, and its control API
(`/_sim/…`) for whoever started it."""

from __future__ import annotations

import os
import subprocess

import requests

from devstack import commands
from devstack.processes import ROOT, free_port, wait_until_up


class Simulator:
    def __init__(self, base: str) -> None:
        self.base = base

    def reset(self) -> None:
        requests.post(f"{self.base}/_sim/reset", timeout=5).raise_for_status()

    def configure(self, **config) -> None:
        requests.post(f"{self.base}/_sim/config", json=config, timeout=5).raise_for_status()

    def fault(self, **fault) -> None:
        requests.post(f"{self.base}/_sim/faults", json=fault, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base}/_sim/faults", timeout=5).raise_for_status()

    def succeed(self, intent_id: str) -> dict:
        r = requests.post(f"{self.base}/_sim/payment_intents/{intent_id}/succeed", json={}, timeout=5)
        r.raise_for_status()
        return r.json()

    def fail(self, intent_id: str) -> dict:
        r = requests.post(f"{self.base}/_sim/payment_intents/{intent_id}/fail", json={}, timeout=5)
        r.raise_for_status()
        return r.json()

    def intents(self) -> list[dict]:
        data = requests.get(f"{self.base}/_sim/payment_intents", timeout=5).json()["data"]
        return [{**i, "refund_count": len(i.get("refunds") or [])} for i in data]

    def intent(self, intent_id: str) -> dict:
        return next(i for i in self.intents() if i["id"] == intent_id)

    def events(self, **params) -> list[dict]:
        return requests.get(f"{self.base}/_sim/events", params=params, timeout=5).json()["data"]

    def release_held_webhooks(self) -> list[str]:
        return requests.post(f"{self.base}/_sim/webhooks/release", json={}, timeout=5).json()["released"]


def start_simulator(
    webhook_url: str, webhook_secret: str, port: int | None = None
) -> tuple[subprocess.Popen, Simulator]:
    """The simulator on ``port`` (a free one by default), signing its webhooks to ``webhook_url`` with
    ``webhook_secret`` and retrying them quickly; returns once it answers."""
    port = port or free_port()
    env = {
        **os.environ,
        "ENV": "test",  # never production's rules by default (README "Security")
        "SIM_WEBHOOK_URL": webhook_url,
        "SIM_WEBHOOK_SECRET": webhook_secret,
        "SIM_RETRY_BASE_SECONDS": "0.2",
        "SIM_RETRY_MAX_SECONDS": "2",
    }
    proc = subprocess.Popen(
        commands.gateway_simulator(f"127.0.0.1:{port}", 8, "--log-level", "warning"), cwd=ROOT, env=env
    )
    sim = Simulator(f"http://127.0.0.1:{port}")
    try:
        wait_until_up(f"{sim.base}/_sim/health", proc, timeout=30, name="gateway simulator")
    except RuntimeError:
        proc.kill()
        raise
    return proc, sim
