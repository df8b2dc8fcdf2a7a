"""Single fans the scenarios aim a fault at, driving the API directly, and the gateway simulator's
fault controls with the ids of the faults they add."""

from __future__ import annotations

import requests

from tests.chaos.sale import GATEWAY_AUTH


def add_fault(sc, **fault) -> str:
    r = requests.post(f"{sc.sim.base}/_sim/faults", json=fault, timeout=5)
    r.raise_for_status()
    return r.json()["data"][0]["id"]


def fault_used(sc, fault_id: str) -> bool:
    faults = requests.get(f"{sc.sim.base}/_sim/faults", timeout=5).json()["data"]
    return any(f["id"] == fault_id and f["used"] >= 1 for f in faults)


def clear_fault(sc, fault_id: str) -> None:
    requests.delete(f"{sc.sim.base}/_sim/faults/{fault_id}", timeout=5)


class Victim:
    """A fan after one seat of ``show``, driving the API directly."""

    def __init__(self, sc, show, seat: str) -> None:
        self.sc, self.show, self.seat = sc, show, seat
        self.fan = sc.make.fan()
        self.http = requests.Session()
        self.http.headers.update(self.fan.headers)
        self.hold_id = self.intent = None

    def hold(self) -> str:
        r = self.http.post(
            f"{self.sc.web}/api/v1/shows/{self.show.show_id}/holds", json={"seatIds": [self.seat]}, timeout=10
        )
        assert r.status_code == 201, r.text
        self.hold_id = r.json()["holdId"]
        return self.hold_id

    def start_payment(self) -> str:
        r = self.http.post(f"{self.sc.web}/api/v1/holds/{self.hold_id}/payment-intents", timeout=10)
        assert r.status_code == 201, r.text
        self.intent = r.json()["paymentIntentId"]
        return self.intent

    def pay_at_gateway(self) -> None:
        r = requests.post(
            f"{self.sc.sim.base}/v1/payment_intents/{self.intent}/confirm",
            data={"payment_method": "pm_card_visa"},
            auth=GATEWAY_AUTH,
            timeout=10,
        )
        assert r.status_code == 200, r.text

    def confirm(self) -> int:
        return self.http.post(
            f"{self.sc.web}/api/v1/holds/{self.hold_id}/confirm", json={"paymentIntentId": self.intent}, timeout=30
        ).status_code

    def booking(self) -> list[tuple]:
        return self.sc.query("SELECT id, status FROM bookings WHERE hold_id = %s", self.hold_id)

    def hold_status(self) -> str:
        return self.sc.query("SELECT status FROM holds WHERE id = %s", self.hold_id)[0][0]

    def seat_status(self) -> str:
        return self.sc.query(
            "SELECT status FROM show_seats WHERE show_id = %s AND seat_id = %s", self.show.show_id, self.seat
        )[0][0]
