"""What one client can make Seatline ask of the payment gateway: confirms, releases and the checkout
page are rate limited per fan and per address, a repeated question about an intent is answered from
the copy fetched a moment ago, the gateway's own 429s do not open its breaker for everyone, and
looking at the checkout page starts nothing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from app import create_app
from app.extensions import db
from tests.support.contract import ContractClient
from tests.support.snapshot import differences, snapshot

LIMITS = dict(rate_limit_gateway_calls="5/minute", rate_limit_gateway_calls_per_ip="8/minute")


@pytest.fixture
def limited(app) -> Iterator[Flask]:
    """The web app with small limits on gateway calls, and its own gateway adapter (breaker, recent intents)."""
    settings = dataclasses.replace(app.extensions["seatline.settings"], **LIMITS)
    application = create_app(settings)
    application.test_client_class = ContractClient
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def gateway_calls(limited, monkeypatch) -> list[str]:
    """Every call the app makes to the gateway (they all go through ``_guarded``), by caller."""
    adapter = limited.extensions["seatline.gateway"]
    real, seen = adapter._guarded, []

    def counted(request):
        seen.append(request.__qualname__)
        return real(request)

    monkeypatch.setattr(adapter, "_guarded", counted)
    return seen


def from_ip(application: Flask, ip: str):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def paying_hold(client, fan, show, seats: list[str]) -> tuple[str, str]:
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": seats}, headers=fan.headers)
    assert held.status_code == 201, held.get_json()
    hold_id = held.get_json()["holdId"]
    started = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)
    assert started.status_code == 201, started.get_json()
    return hold_id, started.get_json()["paymentIntentId"]


def assert_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "RATE_LIMITED" and error["retryAfter"] == int(response.headers["Retry-After"]) >= 1


def test_a_loop_of_confirms_is_cut_off_and_asks_the_gateway_a_bounded_number_of_times(
    limited, gateway_calls, make, gateway
):
    fan, show = make.fan(), make.show()
    client = from_ip(limited, "10.9.0.1")
    hold_id, intent = paying_hold(client, fan, show, ["A1"])
    gateway_calls.clear()
    answers = [
        client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=fan.headers)
        for _ in range(40)
    ]
    assert [a.status_code for a in answers[:5]] == [402] * 5  # not paid yet: each asked the gateway
    for refused in answers[5:]:
        assert_limited(refused)
    assert len(gateway_calls) == 5, gateway_calls

    # The fan's releases count in the same limit: refused before the gateway is asked to cancel.
    assert_limited(client.delete(f"/api/v1/holds/{hold_id}", headers=fan.headers))
    assert len(gateway_calls) == 5
    assert client.get(f"/api/v1/holds/{hold_id}", headers=fan.headers).get_json()["status"] == "ACTIVE"

    # Per address: other fans behind the same address share its count (8 a minute).
    others = [make.fan() for _ in range(4)]
    neighbours = from_ip(limited, "10.9.0.2")
    statuses = [
        neighbours.post(
            f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=other.headers
        ).status_code
        for other in others
        for _ in range(3)
    ]
    assert statuses.count(404) == 8 and statuses[8:] == [429] * 4, statuses


def test_asking_for_the_same_intent_again_is_answered_from_the_copy_just_fetched(limited, gateway_calls, make, gateway):
    fan, show = make.fan(), make.show()
    client = limited.test_client()
    hold_id, intent = paying_hold(client, fan, show, ["A1", "A2"])
    assert len(gateway_calls) == 1  # created
    again = [client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers) for _ in range(5)]
    assert {a.status_code for a in again} == {201} and {a.get_json()["paymentIntentId"] for a in again} == {intent}
    assert len(gateway_calls) == 1, gateway_calls
    # Settling never uses the copy: paid at the gateway, the next confirm asks it afresh and books.
    gateway.succeed(intent)
    booked = client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=fan.headers)
    assert booked.status_code == 201, booked.get_json()
    assert len(gateway_calls) == 2


def test_the_gateways_429s_do_not_open_its_breaker_for_every_fan(limited, make, gateway):
    breaker = limited.extensions["seatline.gateway"].breaker
    looping, patient, show = make.fan(), make.fan(), make.show()
    client = limited.test_client()
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=looping.headers)
    hold_id = held.get_json()["holdId"]
    gateway.fault(kind="api_error", status=429, path="/v1/payment_intents", count=3 * breaker.fail_max)
    for _ in range(3 * breaker.fail_max):
        busy = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=looping.headers)
        assert busy.status_code == 503 and busy.get_json()["error"]["code"] == "DEGRADED"
        assert int(busy.headers["Retry-After"]) >= 1
    assert breaker.current_state == "closed"
    # Another fan pays at once: the breaker did not take the gateway's busy second for an outage.
    hold_id, intent = paying_hold(client, patient, show, ["B1"])
    gateway.succeed(intent)
    booked = client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=patient.headers)
    assert booked.status_code == 201, booked.get_json()

    # Real outages still open it.
    fan = make.fan()
    other = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["C1"]}, headers=fan.headers)
    gateway.fault(kind="api_error", status=500, path="/v1/payment_intents", should_retry=False, count=breaker.fail_max)
    for _ in range(breaker.fail_max):
        failed = client.post(f"/api/v1/holds/{other.get_json()['holdId']}/payment-intents", headers=fan.headers)
        assert failed.status_code == 503
    assert breaker.current_state == "open"


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_looking_at_the_checkout_page_changes_nothing_and_paying_is_limited(limited, gateway_calls, app, make, gateway):
    show = make.show()
    browser = limited.test_client()
    browser.post(
        "/api/v1/auth/register", json={"email": "looker@example.com", "password": "correct horse", "name": "Looker"}
    )
    login = browser.get("/login").get_data(as_text=True)
    browser.post(
        "/login", data={"csrf_token": csrf_token(login), "email": "looker@example.com", "password": "correct horse"}
    )
    page = browser.get(f"/shows/{show.show_id}").get_data(as_text=True)
    held = browser.post(f"/shows/{show.show_id}/hold", data={"csrf_token": csrf_token(page), "seat": ["A1"]})
    checkout_url = f"{held.headers['Location']}/checkout"

    before = snapshot(app)
    looks = [browser.get(checkout_url) for _ in range(2)]
    assert [look.status_code for look in looks] == [200, 200]
    assert 'data-testid="hosted-pay"' in looks[1].get_data(as_text=True)
    assert snapshot(app) == before, differences(before, snapshot(app))
    assert gateway.intents() == [] and gateway_calls == []
    sessions = f"{gateway.base}/_sim/checkout/sessions"
    assert requests.get(sessions, timeout=5).json()["data"] == []

    # Paying is the POST (to the gateway's hosted page), and it counts against the fan's limit of gateway calls.
    token = csrf_token(looks[1].get_data(as_text=True))
    sent = [browser.post(checkout_url, data={"csrf_token": token}) for _ in range(5)]
    assert {s.status_code for s in sent} == {303}
    assert len({s.headers["Location"] for s in sent}) == 1  # one session, however often the fan clicks
    refused = browser.post(checkout_url, data={"csrf_token": token})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert len(requests.get(sessions, timeout=5).json()["data"]) == 1
    assert gateway.intents() == [], "no card reached Seatline, so Seatline made no intent"
