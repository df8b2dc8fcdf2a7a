"""Booking seats the way a fan does, through the public API and the gateway simulator."""

from __future__ import annotations

from typing import Any


def book(client: Any, gateway: Any, fan: Any, show_id: int | str, seats: list[str]) -> str:
    """Hold, pay at the gateway, confirm: returns the booking id."""
    r = client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    hold_id = r.get_json()["holdId"]
    r = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    intent_id = r.get_json()["paymentIntentId"]
    gateway.succeed(intent_id)
    r = client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent_id}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["bookingId"]
