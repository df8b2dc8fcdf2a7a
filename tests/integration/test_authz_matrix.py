"""Every authenticated /api/v1 operation, against every kind of bad credential and every stranger.

`test_auth_guard.py` tries bad headers on made-up ids and `test_manage_authz.py` tries fans and rival
managers on the manager API; here the fan operations are tried on a fan's real holds, payment intent
and booking, with no token, expired tokens, tokens whose signature or payload was altered, tokens
signed with another key (another HMAC secret, the gate's Ed25519 key), and other users' valid tokens
(another fan, a manager, an admin). Every attempt must be refused as the contract says (401 for the
credential, 404 for someone else's id, 403 for someone else's `userId`), and none may change a row or
the payment at the gateway. The manager API gets the same bad credentials. The operations covered are
checked against the OpenAPI document, so an authenticated operation added later without a row here
fails this file.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest

from app.accounts.tokens import issue_token
from queue_gate.keys import load_keys
from tests.conftest import GATE_KEYS
from tests.integration.test_manage_authz import CREATES, World, api_calls, world  # noqa: F401  (fixture)
from tests.support.booking import book
from tests.support.contract import spec, template_for
from tests.support.db import Fan, fetch
from tests.support.polling import wait_for
from tests.support.snapshot import differences, snapshot

SECRET = "test-secret-key-that-is-long-enough-0123456789"
FREE_SEAT = "E10"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def flip_signature_byte(token: str) -> str:
    """The same header and payload with one bit of the signature changed."""
    header, payload, signature = token.split(".")
    raw = bytearray(_b64decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, _b64encode(bytes(raw))])


def with_claims(token: str, **changes) -> str:
    """The payload edited (e.g. another user's `sub`) while the original signature is kept."""
    header, payload, signature = token.split(".")
    claims = {**json.loads(_b64decode(payload)), **changes}
    return ".".join([header, _b64encode(json.dumps(claims, separators=(",", ":")).encode()), signature])


def gate_signed(user_id: int, role: str) -> str:
    """Claims a bearer token would carry, signed with the gate's admission key instead of the API's secret."""
    key = load_keys(GATE_KEYS)[0]
    now = int(time.time())
    claims = {"sub": str(user_id), "role": role, "aud": "seatline-api", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


def bad_credentials(victim: Fan, attacker: Fan, role: str) -> dict[str, tuple[dict[str, str], str]]:
    """Authorization headers that must all be refused with 401, and the error code each gets.

    The victim is the user whose resources the URLs name; the attacker holds a valid token of
    their own and tries to turn it into the victim's."""
    now = time.time()
    victim_id, _attacker_id = victim.user_id, attacker.user_id

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return {
        "no token": ({}, "AUTH_REQUIRED"),
        "expired an hour ago": (bearer(issue_token(SECRET, victim_id, role, 60, now=now - 3600)), "INVALID_TOKEN"),
        "expired past the leeway": (bearer(issue_token(SECRET, victim_id, role, 60, now=now - 120)), "INVALID_TOKEN"),
        "signature byte flipped": (bearer(flip_signature_byte(victim.token)), "INVALID_TOKEN"),
        "signature cut off": (bearer(victim.token.rsplit(".", 1)[0] + "."), "INVALID_TOKEN"),
        "sub changed, signature kept": (bearer(with_claims(attacker.token, sub=str(victim_id))), "INVALID_TOKEN"),
        "expiry extended, signature kept": (
            bearer(with_claims(issue_token(SECRET, victim_id, role, 60, now=now - 3600), exp=int(now) + 3600)),
            "INVALID_TOKEN",
        ),
        "another secret": (
            bearer(issue_token("another-secret-that-is-long-enough-9876543210", victim_id, role, 3600)),
            "INVALID_TOKEN",
        ),
        "the gate's admission key": (bearer(gate_signed(victim_id, role)), "INVALID_TOKEN"),
        "alg none": (
            bearer(
                jwt.encode(
                    {
                        "sub": str(victim_id),
                        "role": role,
                        "aud": "seatline-api",
                        "iat": int(now),
                        "exp": int(now) + 3600,
                    },
                    None,
                    algorithm="none",
                )
            ),
            "INVALID_TOKEN",
        ),
        "token in the wrong scheme": ({"Authorization": f"Token {victim.token}"}, "INVALID_TOKEN"),
    }


@dataclass
class FanWorld:
    owner: Fan
    stranger: Fan
    manager: Fan
    admin: Fan
    show_id: int
    hold_id: str  # ACTIVE, no payment yet
    paying_hold_id: str  # ACTIVE, its payment intent created and not paid
    paying_intent_id: str
    booked_hold_id: str  # CONFIRMED
    booked_intent_id: str
    booking_id: str
    stranger_hold_id: str  # the stranger's own hold


@pytest.fixture
def fan_world(app, client, make, gateway) -> FanWorld:
    show = make.show()
    owner, stranger = make.fan(), make.fan()
    manager, admin = make.fan(role="manager"), make.fan(role="admin")

    def hold(fan: Fan, seats: list[str]) -> str:
        r = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": seats}, headers=fan.headers)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["holdId"]

    hold_id = hold(owner, ["A1"])
    paying = hold(owner, ["A2"])
    r = client.post(f"/api/v1/holds/{paying}/payment-intents", headers=owner.headers)
    assert r.status_code == 201, r.get_json()
    paying_intent = r.get_json()["paymentIntentId"]
    booking_id = book(client, gateway, owner, show.show_id, ["A3"])
    booked = fetch(app, "SELECT hold_id, payment_intent_id FROM bookings WHERE id = :b", b=booking_id)[0]
    stranger_hold = hold(stranger, ["B1"])
    # The gateway's webhook for the paid intent reaches the app on its own: let it land first.
    wait_for(lambda: fetch(app, "SELECT 1 FROM webhook_events WHERE type = 'payment_intent.succeeded'"))
    return FanWorld(
        owner,
        stranger,
        manager,
        admin,
        show.show_id,
        hold_id,
        paying,
        paying_intent,
        str(booked.hold_id),
        booked.payment_intent_id,
        booking_id,
        stranger_hold,
    )


Call = tuple[str, str, dict]


def fan_calls(w: FanWorld) -> list[Call]:
    """Every authenticated fan operation, on the owner's real ids. For the owner each would succeed."""
    s = w.show_id
    return [
        ("POST", f"/api/v1/shows/{s}/holds", {"json": {"seatIds": [FREE_SEAT]}}),
        ("GET", f"/api/v1/holds/{w.hold_id}", {}),
        ("GET", f"/api/v1/holds/{w.paying_hold_id}", {}),
        ("GET", f"/api/v1/holds/{w.booked_hold_id}", {}),
        ("DELETE", f"/api/v1/holds/{w.hold_id}", {}),
        ("DELETE", f"/api/v1/holds/{w.paying_hold_id}", {}),
        ("POST", f"/api/v1/holds/{w.hold_id}/payment-intents", {}),
        ("POST", f"/api/v1/holds/{w.paying_hold_id}/payment-intents", {}),
        ("POST", f"/api/v1/holds/{w.hold_id}/checkout-session", {}),
        ("POST", f"/api/v1/holds/{w.paying_hold_id}/confirm", {"json": {"paymentIntentId": w.paying_intent_id}}),
        ("POST", f"/api/v1/holds/{w.booked_hold_id}/confirm", {"json": {"paymentIntentId": w.booked_intent_id}}),
        ("GET", "/api/v1/bookings", {}),
        ("GET", f"/api/v1/bookings/{w.booking_id}", {}),
        ("POST", f"/api/v1/bookings/{w.booking_id}/cancel", {}),
        ("POST", f"/api/v1/bookings/{w.booking_id}/transfer", {"json": {"email": "someone@example.com"}}),
        ("GET", f"/api/v1/bookings/{w.booking_id}/tickets.pdf", {}),
    ]


# Operations on the caller's own account: they name no id, so there is nobody else's to try; only
# bad credentials, each refused before anything changes.
OWN_ACCOUNT_CALLS: list[Call] = [
    ("POST", "/api/v1/auth/logout", {}),
    ("POST", "/api/v1/auth/logout-all", {}),
    ("POST", "/api/v1/auth/password", {"json": {"currentPassword": "x", "newPassword": "a new password"}}),
    ("POST", "/api/v1/auth/verify-email/resend", {}),
    ("GET", "/api/v1/me", {}),
    ("PATCH", "/api/v1/me", {"json": {"name": "Someone Else", "phone": "+442079460958"}}),
]


def secured_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, ops in spec()["paths"].items()
        for method, op in ops.items()
        if method != "parameters" and op.get("security", spec().get("security")) != []
    }


def covered(calls: list[Call]) -> set[tuple[str, str]]:
    return {(method, template_for(path.split("?")[0])) for method, path, _ in calls}


class Checks:
    """Counts the refusals checked, so the size of the matrix is visible in the test output."""

    def __init__(self) -> None:
        self.count = 0

    def refused(self, response, status: int, code: str | Callable[[str], bool], what: str) -> None:
        body = response.get_json(silent=True) or {}
        error = body.get("error", {})
        assert response.status_code == status, (what, response.status_code, body)
        assert set(error) >= {"code", "message"}, (what, body)
        assert code(error["code"]) if callable(code) else error["code"] == code, (what, body)
        self.count += 1


def test_own_account_operations_refuse_bad_credentials(app, client, fan_world):
    w = fan_world
    checks = Checks()
    before = snapshot(app)
    for case, (headers, code) in bad_credentials(w.owner, w.stranger, "fan").items():
        for method, path, kwargs in OWN_ACCOUNT_CALLS:
            response = client.open(path, method=method, headers=headers, **kwargs)
            checks.refused(response, 401, code, (case, method, path))
    after = snapshot(app)
    assert after == before, differences(before, after)
    assert client.get("/api/v1/bookings", headers=w.owner.headers).status_code == 200  # nothing was revoked


def waitlist_calls(show_id: int, entry_id: str) -> list[Call]:
    """The waiting list's operations: joining names a show anyone may queue for; the list is the
    caller's own; leaving names the owner's entry."""
    return [
        ("POST", f"/api/v1/shows/{show_id}/waitlist", {"json": {"quantity": 1}}),
        ("GET", "/api/v1/waitlist", {}),
        ("DELETE", f"/api/v1/waitlist/{entry_id}", {}),
    ]


def test_waitlist_operations_refuse_bad_credentials_and_other_users(app, client, make):
    show, owner, stranger = make.show(rows=1, per_row=1), make.fan(), make.fan()
    manager, admin = make.fan(role="manager"), make.fan(role="admin")
    sold = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=stranger.headers)
    assert sold.status_code == 201
    joined = client.post(f"/api/v1/shows/{show.show_id}/waitlist", json={"quantity": 1}, headers=owner.headers)
    assert joined.status_code == 201
    entry_id = joined.get_json()["waitlistId"]
    calls = waitlist_calls(show.show_id, entry_id)
    checks = Checks()
    before = fetch(app, "SELECT id, user_id, status FROM waitlist_entries ORDER BY id")
    for case, (headers, code) in bad_credentials(owner, stranger, "fan").items():
        for method, path, kwargs in calls:
            checks.refused(client.open(path, method=method, headers=headers, **kwargs), 401, code, (case, method, path))
    for name, other in (("another fan", stranger), ("a manager", manager), ("an admin", admin)):
        mine = client.get("/api/v1/waitlist", headers=other.headers)
        assert mine.status_code == 200 and mine.get_json() == {"entries": []}, name  # only their own: none
        gone = client.delete(f"/api/v1/waitlist/{entry_id}", headers=other.headers)
        checks.refused(gone, 404, "WAITLIST_NOT_FOUND", (name, "DELETE", entry_id))
    assert fetch(app, "SELECT id, user_id, status FROM waitlist_entries ORDER BY id") == before


def intent_status(gateway, intent_id: str) -> str:
    return gateway.intent(intent_id)["status"]


def test_fan_operations_refuse_bad_credentials_and_other_users(app, client, gateway, fan_world, capsys):
    w = fan_world
    calls = fan_calls(w)
    checks = Checks()
    before = snapshot(app)
    intent_before = intent_status(gateway, w.paying_intent_id)

    for case, (headers, code) in bad_credentials(w.owner, w.stranger, "fan").items():
        for method, path, kwargs in calls:
            response = client.open(path, method=method, headers=headers, **kwargs)
            checks.refused(response, 401, code, (case, method, path))

    not_found = {"holds": "HOLD_NOT_FOUND", "bookings": "BOOKING_NOT_FOUND"}
    for name, other in (("another fan", w.stranger), ("a manager", w.manager), ("an admin", w.admin)):
        for method, path, kwargs in calls:
            what = (name, method, path)
            if path.endswith("/holds") and method == "POST":
                # Holding in someone else's name: the body's userId must be the token's user.
                response = client.post(
                    path, json={"seatIds": [FREE_SEAT], "userId": str(w.owner.user_id)}, headers=other.headers
                )
                checks.refused(response, 403, "FORBIDDEN", what)
                continue
            response = client.open(path, method=method, headers=other.headers, **kwargs)
            if path == "/api/v1/bookings":
                assert response.status_code == 200, what
                assert response.get_json() == {"bookings": []}, what  # only their own, and they have none
                checks.count += 1
            else:
                checks.refused(response, 404, not_found[path.split("/")[3]], what)

    # The stranger's own hold with the owner's payment intent: not that hold's intent.
    response = client.post(
        f"/api/v1/holds/{w.stranger_hold_id}/confirm",
        json={"paymentIntentId": w.paying_intent_id},
        headers=w.stranger.headers,
    )
    checks.refused(response, 400, "VALIDATION_FAILED", "the stranger confirming with the owner's intent")
    response = client.post(
        f"/api/v1/holds/{w.stranger_hold_id}/confirm",
        json={"paymentIntentId": w.booked_intent_id},
        headers=w.stranger.headers,
    )
    checks.refused(response, 400, "VALIDATION_FAILED", "the stranger confirming with the owner's paid intent")

    after = snapshot(app)
    assert after == before, differences(before, after)
    assert intent_status(gateway, w.paying_intent_id) == intent_before  # nobody cancelled the owner's payment

    # The ids were real: the owner gets each of them.
    assert client.get(f"/api/v1/holds/{w.hold_id}", headers=w.owner.headers).status_code == 200
    assert client.get(f"/api/v1/bookings/{w.booking_id}", headers=w.owner.headers).status_code == 200
    again = client.post(
        f"/api/v1/holds/{w.booked_hold_id}/confirm",
        json={"paymentIntentId": w.booked_intent_id},
        headers=w.owner.headers,
    )
    assert again.status_code == 200 and again.get_json() == {"bookingId": w.booking_id}
    paying = client.post(f"/api/v1/holds/{w.paying_hold_id}/payment-intents", headers=w.owner.headers)
    assert paying.status_code == 201 and paying.get_json()["paymentIntentId"] == w.paying_intent_id
    assert [b["bookingId"] for b in client.get("/api/v1/bookings", headers=w.owner.headers).get_json()["bookings"]] == [
        w.booking_id
    ]

    with capsys.disabled():
        print(f"\nfan operations: {checks.count} authorisation checks")
    assert checks.count == len(bad_credentials(w.owner, w.stranger, "fan")) * len(calls) + 3 * len(calls) + 2


def test_manager_operations_refuse_bad_credentials(app, client, world, capsys):  # noqa: F811
    wait_for(lambda: fetch(app, "SELECT 1 FROM webhook_events WHERE type = 'payment_intent.succeeded'"))
    city = str(fetch(app, "SELECT id FROM cities ORDER BY id LIMIT 1")[0].id)
    calls: list[Call] = [(m, p, k) for m, p, k, _ in api_calls(world)]
    calls += [("POST", path, {"json": body(city)}) for path, body in CREATES]
    calls.append(
        (
            "POST",
            "/api/v1/manage/shows",
            {
                "json": {
                    "eventId": world.event_id,
                    "venueId": world.venue_id,
                    "startTime": "2030-01-01T19:30",
                    "saleOpensAt": "2029-12-01T10:00",
                    "currency": "INR",
                    "prices": {"gold": 100, "silver": 50},
                }
            },
        )
    )
    checks = Checks()
    before = snapshot(app)
    for case, (headers, code) in bad_credentials(world.owner, world.other, "manager").items():
        for method, path, kwargs in calls:
            response = client.open(path, method=method, headers=headers, **kwargs)
            checks.refused(response, 401, code, (case, method, path))
    # An admin's token, forged from a manager's by editing its claims, is no admin's token.
    forged_admin = with_claims(world.other.token, sub=str(world.admin.user_id), role="admin")
    for method, path, kwargs in calls:
        response = client.open(path, method=method, headers={"Authorization": f"Bearer {forged_admin}"}, **kwargs)
        checks.refused(response, 401, "INVALID_TOKEN", ("forged admin", method, path))
    after = snapshot(app)
    assert after == before, differences(before, after)
    with capsys.disabled():
        print(f"\nmanager operations: {checks.count} authorisation checks")


def test_the_matrix_covers_every_authenticated_operation():
    """An authenticated operation added to the document without a row in these matrices fails here."""
    uuid0 = "00000000-0000-0000-0000-000000000000"
    fans = FanWorld(*(Fan(1, "t"),) * 4, 1, uuid0, uuid0, "pi_x", uuid0, "pi_y", uuid0, uuid0)
    managers = World(*(Fan(1, "t"),) * 4, "1", "1", "1", "1")
    calls = fan_calls(fans) + OWN_ACCOUNT_CALLS + [(m, p, k) for m, p, k, _ in api_calls(managers)]
    calls += waitlist_calls(1, uuid0)
    calls += [("POST", path, {}) for path, _ in CREATES] + [("POST", "/api/v1/manage/shows", {})]
    missing = secured_operations() - covered(calls)
    assert not missing, f"authenticated operations without a row in the matrix: {sorted(missing)}"
