"""Hostile input over the whole /api/v1 surface: oversized and malformed bodies, absurd ids and
numbers, injection strings. Each gets a clear 4xx in the contract's error shape and stores nothing;
text that is valid however nasty is stored verbatim and comes out escaped in the pages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_manage_authz import sign_in
from tests.support.contract import spec, template_for
from tests.support.db import Fan, fetch
from tests.support.snapshot import differences, snapshot

LIMIT = 64 * 1024
LAYOUT_LIMIT = 8 * 1024 * 1024

SQL_INJECTION = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "admin'--",
    "%' AND 1=1 --",
    "$$; DROP TABLE events; $$",
    "\\'; TRUNCATE holds; --",
]
HTML_INJECTION = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "{{7*7}} ${7*7} <%= 7*7 %>",
]
NASTY = SQL_INJECTION + HTML_INJECTION
# Text that cannot be stored at all: PostgreSQL text has no NUL, and a lone surrogate is not UTF-8.
NO_BOOKING = "0b5e8a36-3c8f-4d0a-9a53-1f9f0a7c2d11"
UNSTORABLE = ['"Ada\\u0000Lovelace"', '"\\ud800"', '"Ada\\udfff"']


@dataclass
class Scene:
    fan: Fan
    manager: Fan
    show_id: int
    city_id: int
    hold_id: str
    code_id: int


@pytest.fixture
def scene(client, make) -> Scene:
    show = make.show()
    fan, manager = make.fan(), make.fan(role="manager")
    r = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers)
    assert r.status_code == 201
    code = client.post(
        f"/api/v1/manage/shows/{show.show_id}/access-codes",
        json={"code": "HOSTILE", "kind": "VOUCHER", "percentOff": 5, "maxUses": 3},
        headers=manager.headers,
    )
    assert code.status_code == 201
    return Scene(fan, manager, show.show_id, show.city_id, r.get_json()["holdId"], int(code.get_json()["accessCodeId"]))


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The contract's error shape, with the given status (and code)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def _event_and_venue(app, s: Scene) -> tuple[int, int]:
    row = fetch(app, "SELECT event_id, venue_id FROM shows WHERE id = :s", s=s.show_id)[0]
    return row.event_id, row.venue_id


def json_operations(app, s: Scene) -> list[tuple[str, str, dict[str, str]]]:
    """Every /api/v1 operation that reads a JSON body, on the scene's real ids: (method, path, headers)."""
    fan, mgr = s.fan.headers, s.manager.headers
    event_id, venue_id = _event_and_venue(app, s)
    return [
        ("POST", "/api/v1/auth/register", {}),
        ("POST", "/api/v1/auth/token", {}),
        ("POST", "/api/v1/auth/password", fan),
        ("POST", "/api/v1/auth/password-reset", {}),
        ("POST", "/api/v1/auth/password-reset/confirm", {}),
        ("POST", "/api/v1/auth/verify-email", {}),
        ("PATCH", "/api/v1/me", fan),
        ("POST", f"/api/v1/shows/{s.show_id}/holds", fan),
        ("POST", f"/api/v1/holds/{s.hold_id}/confirm", fan),
        # Bodies are read before the booking is looked up: no booking is needed to try them.
        ("POST", f"/api/v1/bookings/{NO_BOOKING}/transfer", fan),
        ("POST", f"/api/v1/shows/{s.show_id}/waitlist", fan),
        ("POST", "/api/v1/manage/venues", mgr),
        ("POST", "/api/v1/manage/events", mgr),
        ("POST", "/api/v1/manage/shows", mgr),
        ("PATCH", f"/api/v1/manage/shows/{s.show_id}", mgr),
        ("POST", f"/api/v1/manage/shows/{s.show_id}/seats/block", mgr),
        ("POST", f"/api/v1/manage/shows/{s.show_id}/seats/unblock", mgr),
        ("POST", f"/api/v1/manage/shows/{s.show_id}/cancel", mgr),
        ("PUT", f"/api/v1/manage/events/{event_id}/queue", mgr),
        ("PATCH", f"/api/v1/manage/events/{event_id}", mgr),
        ("PUT", f"/api/v1/manage/venues/{venue_id}/layout", mgr),
        ("POST", f"/api/v1/manage/venues/{venue_id}/layout/blocks", mgr),
        ("POST", f"/api/v1/manage/venues/{venue_id}/layout/standing", mgr),
        ("PUT", f"/api/v1/manage/venues/{venue_id}/layout/standing", mgr),
        ("PATCH", f"/api/v1/manage/venues/{venue_id}/layout/seats", mgr),
        ("POST", f"/api/v1/manage/shows/{s.show_id}/checkins", mgr),
        ("POST", f"/api/v1/manage/shows/{s.show_id}/checkins/batch", mgr),
        ("PUT", f"/api/v1/manage/shows/{s.show_id}/checkin-window", mgr),
        ("POST", "/api/v1/manage/door-staff", mgr),
        ("POST", f"/api/v1/manage/shows/{s.show_id}/access-codes", mgr),
        ("POST", f"/api/v1/manage/events/{event_id}/access-codes", mgr),
        ("PATCH", f"/api/v1/manage/access-codes/{s.code_id}", mgr),
    ]


def test_the_body_operations_are_every_json_body_of_the_document(app, scene):
    """The gateway's webhook aside (signed; see test_gateway_failures.py), so that an operation added
    later is tried here too."""
    documented = {
        (method.upper(), path)
        for path, ops in spec()["paths"].items()
        for method, op in ops.items()
        if method != "parameters" and "application/json" in op.get("requestBody", {}).get("content", {})
    }
    listed = {(method, template_for(path)) for method, path, _ in json_operations(app, scene)}
    assert listed == documented - {("POST", "/payments/webhook")}


# ---------------------------------------------------------------- bodies


def test_bodies_over_the_limit_are_413_and_store_nothing(app, client, scene):
    before = snapshot(app)
    padding = b" " * LIMIT
    for method, path, headers in json_operations(app, scene):
        big = LAYOUT_LIMIT if path.endswith("/layout") else LIMIT
        body = b'{"name": "' + b"x" * big + b'"}'
        assert_error(
            client.open(path, method=method, data=body, content_type="application/json", headers=headers),
            413,
            "PAYLOAD_TOO_LARGE",
        )
        # Whitespace counts too: the limit is on the bytes sent, not on what they parse to.
        if big == LIMIT:
            assert_error(
                client.open(
                    path, method=method, data=b"{}" + padding, content_type="application/json", headers=headers
                ),
                413,
                "PAYLOAD_TOO_LARGE",
            )
    csv = b"section,row,number,tier\n" + b"Main,A,1,gold\n" * (LAYOUT_LIMIT // 14 + 1)
    _, venue_id = _event_and_venue(app, scene)
    assert_error(
        client.post(
            f"/api/v1/manage/venues/{venue_id}/layout/import",
            data=csv,
            content_type="text/csv",
            headers=scene.manager.headers,
        ),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    after = snapshot(app)
    assert after == before, differences(before, after)


def test_the_limit_is_exactly_64_kib(app, client, scene):
    """A body of exactly the limit is read (and judged on its content); one byte more is refused unread."""
    base = b'{"seatIds": ["A2"]}'
    exact = base + b" " * (LIMIT - len(base))
    path = f"/api/v1/shows/{scene.show_id}/holds"
    ok = client.post(path, data=exact, content_type="application/json", headers=scene.fan.headers)
    assert ok.status_code == 201, ok.get_json()
    assert_error(
        client.post(path, data=exact + b" ", content_type="application/json", headers=scene.fan.headers),
        413,
        "PAYLOAD_TOO_LARGE",
    )


MALFORMED = {
    "nested arrays, 10,000 deep": b'{"seatIds": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "nested objects, 10,000 deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "invalid UTF-8": b'{"seatIds": ["A\xff\xfe1"], "name": "\xc3\x28"}',
    "overlong UTF-8 encoding of '/'": b'{"name": "\xc0\xaf"}',
    "UTF-16 with a BOM": '{"seatIds": ["A1"]}'.encode("utf-16"),
    "truncated": b'{"seatIds": ["A1"',
    "trailing garbage": b'{"seatIds": ["A1"]} x',
    "two documents": b'{"seatIds": ["A1"]}{"seatIds": ["A2"]}',
    "single quotes": b"{'seatIds': ['A1']}",
    "NaN": b'{"seatIds": NaN}',
    "duplicate keys": b'{"seatIds": ["A1"], "seatIds": 5}',
    "a JSON array": b'[{"seatIds": ["A1"]}]',
    "a JSON string": b'"seatIds"',
    "a JSON number": b"12",
    "JSON null": b"null",
    "JSON true": b"true",
    "empty": b"",
    "only whitespace": b"  \n\t ",
    "form encoded": b"seatIds=A1&seatIds=A2",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_bodies_are_400_and_store_nothing(app, client, scene, case):
    before = snapshot(app)
    for method, path, headers in json_operations(app, scene):
        if case in ("empty", "only whitespace") and path.endswith("/cancel"):
            continue  # cancelling a show needs no body: an empty one is a cancellation, not an error
        response = client.open(
            path, method=method, data=MALFORMED[case], content_type="application/json", headers=headers
        )
        assert_error(response, 400, "VALIDATION_FAILED")
    after = snapshot(app)
    assert after == before, differences(before, after)


def test_a_ten_thousand_seat_list_is_refused_before_any_work(app, client, scene):
    def base36(n: int) -> str:
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        return digits[n // 1296] + digits[n // 36 % 36] + digits[n % 36]

    before = snapshot(app)
    short_ids = [base36(i) for i in range(10_000)]
    path = f"/api/v1/shows/{scene.show_id}/holds"
    error = assert_error(
        client.post(path, json={"seatIds": short_ids}, headers=scene.fan.headers), 400, "VALIDATION_FAILED"
    )
    assert error["fields"][0]["field"] == "seatIds"
    long_ids = [f"SEAT-{i:05d}" for i in range(10_000)]  # about 140 KB: over the body limit
    assert_error(client.post(path, json={"seatIds": long_ids}, headers=scene.fan.headers), 413, "PAYLOAD_TOO_LARGE")
    same = ["A1"] * 10_000
    assert_error(client.post(path, json={"seatIds": same}, headers=scene.fan.headers), 400, "VALIDATION_FAILED")
    box_office = f"/api/v1/manage/shows/{scene.show_id}/seats/block"
    assert_error(
        client.post(box_office, json={"seatIds": short_ids}, headers=scene.manager.headers), 400, "VALIDATION_FAILED"
    )
    _, venue_id = _event_and_venue(app, scene)
    mark = client.patch(
        f"/api/v1/manage/venues/{venue_id}/layout/seats",
        json={"seatIds": short_ids, "accessible": True},
        headers=scene.manager.headers,
    )
    error = assert_error(mark, 400, "VALIDATION_FAILED")
    assert len(error["seatIds"]) <= 20  # names a few unknown seats, not ten thousand
    after = snapshot(app)
    assert after == before, differences(before, after)


# ---------------------------------------------------------------- ids and numbers

BAD_NUMERIC_IDS = [
    "-1",
    "0",
    "99999999999999999999",
    "9223372036854775808",
    "1e3",
    "0x1f",
    "1.5",
    "+1",
    " 1",
    "%201",
    "1%00",
    "%EF%BC%91",
    "١",
    "not-a-number",
    "1;DROP TABLE shows",
    "..%2F..%2Fetc",
]
BAD_UUIDS = [
    "not-a-uuid",
    "-1",
    "0",
    "99999999999999999999",
    "00000000-0000-0000-0000-000000000000",
    "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
    "%00",
    "' OR '1'='1",
    str(uuid.uuid4()).upper(),
]


def test_absurd_ids_in_paths_name_nothing(app, client, scene):
    before = snapshot(app)
    fan, mgr = scene.fan.headers, scene.manager.headers
    numeric = [
        ("GET", "/api/v1/shows/{}", {}, "SHOW_NOT_FOUND"),
        ("GET", "/api/v1/shows/{}/seatmap", {}, "SHOW_NOT_FOUND"),
        ("GET", "/api/v1/shows/{}/seatmap/sections", {}, "SHOW_NOT_FOUND"),
        ("GET", "/api/v1/cities/{}/shows", {}, "CITY_NOT_FOUND"),
        ("POST", "/api/v1/shows/{}/holds", fan, "SHOW_NOT_FOUND"),
        ("GET", "/api/v1/manage/venues/{}", mgr, "VENUE_NOT_FOUND"),
        ("GET", "/api/v1/manage/shows/{}", mgr, "SHOW_NOT_FOUND"),
        ("POST", "/api/v1/manage/shows/{}/cancel", mgr, "SHOW_NOT_FOUND"),
        ("PATCH", "/api/v1/manage/events/{}", mgr, "EVENT_NOT_FOUND"),
        ("GET", "/api/v1/manage/events/{}/queue", mgr, "EVENT_NOT_FOUND"),
    ]
    uuids = [
        ("GET", "/api/v1/holds/{}", "HOLD_NOT_FOUND"),
        ("DELETE", "/api/v1/holds/{}", "HOLD_NOT_FOUND"),
        ("POST", "/api/v1/holds/{}/payment-intents", "HOLD_NOT_FOUND"),
        ("POST", "/api/v1/holds/{}/confirm", "HOLD_NOT_FOUND"),
        ("GET", "/api/v1/bookings/{}", "BOOKING_NOT_FOUND"),
        ("POST", "/api/v1/bookings/{}/cancel", "BOOKING_NOT_FOUND"),
    ]
    for raw in BAD_NUMERIC_IDS:
        for method, template, headers, code in numeric:
            kwargs = {"json": {"seatIds": ["A1"]}} if method == "POST" and "holds" in template else {}
            if method == "PATCH":
                kwargs = {"json": {"title": "Renamed"}}
            response = client.open(template.format(raw), method=method, headers=headers, **kwargs)
            error = assert_error(response, 404)
            # An encoded slash makes the URL another one, which names no route at all.
            assert error["code"] == code or ("%2F" in raw and error["code"] == "NOT_FOUND"), (raw, template, error)
    for raw in BAD_UUIDS:
        for method, template, code in uuids:
            kwargs = {"json": {"paymentIntentId": "pi_x"}} if template.endswith("/confirm") else {}
            response = client.open(template.format(raw), method=method, headers=fan, **kwargs)
            assert_error(response, 404, code)
    after = snapshot(app)
    assert after == before, differences(before, after)


def _show_body(app, scene: Scene, **changes) -> dict:
    event_id, venue_id = _event_and_venue(app, scene)
    body = {
        "eventId": str(event_id),
        "venueId": str(venue_id),
        "startTime": "2030-03-01T19:30",
        "saleOpensAt": "2030-02-01T10:00",
        "currency": "INR",
        "prices": {"gold": 100, "silver": 50},
    }
    return {**body, **changes}


RAW_NUMBERS = [
    b"-1",
    b"0",
    b"1e400",
    b"-1e400",
    b"1.5",
    b"18446744073709551616",
    b"9" * 400,
    b"NaN",
    b"Infinity",
    b"-0",
    b"1e-400",
    b'"100"',
    b"true",
    b"null",
    b"[]",
    b"{}",
]


def test_absurd_numbers_in_bodies_are_400_and_store_nothing(app, client, scene):
    """Every number field of the API given numbers that are negative, zero, enormous, not integers or not numbers."""
    event_id, venue_id = _event_and_venue(app, scene)
    mgr = scene.manager.headers
    # (path, method, a JSON body with NUMBER where the number goes, which raw values the field accepts)
    fields = [
        ("/api/v1/manage/events", "POST", b'{"title": "T", "category": "concert", "durationMinutes": NUMBER}', ()),
        (f"/api/v1/manage/events/{event_id}", "PATCH", b'{"durationMinutes": NUMBER}', ()),
        (
            f"/api/v1/manage/venues/{venue_id}/layout/blocks",
            "POST",
            b'{"section": "S", "rows": "A", "seatsPerRow": NUMBER, "tier": "gold"}',
            (),
        ),
        (
            f"/api/v1/manage/venues/{venue_id}/layout/blocks",
            "POST",
            b'{"section": "S", "rows": "A", "seatsPerRow": 2, "tier": "gold", "firstNumber": NUMBER}',
            (),
        ),
        (f"/api/v1/manage/shows/{scene.show_id}", "PATCH", b'{"prices": {"gold": NUMBER}}', (b"0", b"-0")),
        (
            f"/api/v1/manage/shows/{scene.show_id}",
            "PATCH",
            b'{"refundPolicy": {"rules": [{"hoursBefore": 24, "refundPercent": NUMBER}]}}',
            (b"0", b"-0"),
        ),
        (
            f"/api/v1/manage/shows/{scene.show_id}",
            "PATCH",
            b'{"refundPolicy": {"rules": [{"hoursBefore": NUMBER, "refundPercent": 50}]}}',
            (b"0", b"-0"),
        ),
        (
            f"/api/v1/manage/shows/{scene.show_id}",
            "PATCH",
            b'{"refundPolicy": {"rules": [], "feeMinor": NUMBER}}',
            (b"0", b"-0"),
        ),
        (f"/api/v1/manage/events/{event_id}/queue", "PUT", b'{"batchSize": NUMBER}', ()),
        (f"/api/v1/manage/events/{event_id}/queue", "PUT", b'{"admissionIntervalSeconds": NUMBER}', (b"1.5",)),
        (f"/api/v1/manage/events/{event_id}/queue", "PUT", b'{"maxActive": NUMBER}', ()),
        (f"/api/v1/manage/events/{event_id}/queue", "PUT", b'{"sessionSeconds": NUMBER}', ()),
        (f"/api/v1/shows/{scene.show_id}/holds", "POST", b'{"seatIds": [NUMBER]}', ()),
        (
            f"/api/v1/manage/venues/{venue_id}/layout/standing",
            "POST",
            b'{"section": "Pit", "tier": "gold", "capacity": NUMBER}',
            (),
        ),
        (f"/api/v1/manage/venues/{venue_id}/layout/standing", "PUT", b'{"section": "Floor", "capacity": NUMBER}', ()),
        (f"/api/v1/holds/{scene.hold_id}/confirm", "POST", b'{"paymentIntentId": NUMBER}', ()),
    ]
    before = snapshot(app)
    checked = 0
    for path, method, template, accepted in fields:
        for raw in RAW_NUMBERS:
            if raw in accepted:
                continue
            headers = scene.fan.headers if "/manage/" not in path else mgr
            response = client.open(
                path,
                method=method,
                data=template.replace(b"NUMBER", raw),
                content_type="application/json",
                headers=headers,
            )
            expected = 413 if len(raw) > LIMIT else 400
            assert_error(response, expected)
            checked += 1
    assert checked > 200
    # Enormous amounts in a new show's prices, and times out of any range.
    for prices in (
        {"gold": -1, "silver": 50},
        {"gold": 10**9, "silver": 50},
        {"gold": 2**63, "silver": 50},
        {"gold": 1.5, "silver": 50},
        {"gold": "100", "silver": 50},
        {"gold": None, "silver": 50},
    ):
        assert_error(client.post("/api/v1/manage/shows", json=_show_body(app, scene, prices=prices), headers=mgr), 400)
    for when in (
        "0001-01-01T00:00",
        "9999-12-31T23:59",
        "2030-02-30T10:00",
        "2030-03-01T25:00",
        "yesterday",
        "2030-03-01T19:30+99:00",
        "1" * 40,
        "",
        "0000001900000000",
        "1900000000000.00",
    ):
        assert_error(client.post("/api/v1/manage/shows", json=_show_body(app, scene, startTime=when), headers=mgr), 400)
    after = snapshot(app)
    assert after == before, differences(before, after)


# ---------------------------------------------------------------- injection strings


def test_injection_strings_register_and_log_in_verbatim_or_are_refused(app, client):
    for i, nasty in enumerate(NASTY):
        r = client.post(
            "/api/v1/auth/register",
            json={"email": f"fan{i}@example.com", "password": f"pw-{nasty}-long", "name": nasty},
        )
        assert r.status_code == 201, (nasty, r.get_json())
        user_id = int(r.get_json()["userId"])
        assert fetch(app, "SELECT name FROM users WHERE id = :u", u=user_id)[0].name == nasty
        login = client.post("/api/v1/auth/token", json={"email": f"FAN{i}@example.com", "password": f"pw-{nasty}-long"})
        assert login.status_code == 200 and login.get_json()["userId"] == str(user_id)

    # As an email address, some of these are valid (a quote and dashes may stand before the @):
    # stored as sent, in lower case; the others are refused and store nothing.
    accepted = 0
    for nasty in NASTY:
        for email in (nasty, f"{nasty}@example.com", f"a@{nasty}.com"):
            before = snapshot(app)
            r = client.post("/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "A"})
            if r.status_code == 201:
                stored = fetch(app, "SELECT email FROM users WHERE id = :u", u=int(r.get_json()["userId"]))[0].email
                assert stored == email.lower(), (email, stored)
                accepted += 1
            else:
                assert_error(r, 400, "VALIDATION_FAILED")
                assert snapshot(app) == before, email
    assert 0 < accepted < 3 * len(NASTY)

    users = snapshot(app)
    for i, nasty in enumerate(NASTY):
        assert_error(
            client.post("/api/v1/auth/token", json={"email": nasty, "password": nasty}), 401, "INVALID_CREDENTIALS"
        )
        # A real email with an injected password, and an injected email with that user's password.
        # (One failure per email: failed logins are rate limited per email.)
        assert_error(
            client.post("/api/v1/auth/token", json={"email": f"fan{i}@example.com", "password": nasty}),
            401,
            "INVALID_CREDENTIALS",
        )
        assert_error(
            client.post(
                "/api/v1/auth/token", json={"email": f"fan{i}@example.com{nasty}", "password": f"pw-{nasty}-long"}
            ),
            401,
        )
    after = snapshot(app)
    assert after == users, differences(users, after)
    # A quote is valid in an email address: stored as sent (in lower case), and it signs in.
    r = client.post(
        "/api/v1/auth/register", json={"email": "O'Brien+x@Example.com", "password": "correct horse", "name": "O'Brien"}
    )
    assert r.status_code == 201
    assert (
        fetch(app, "SELECT email FROM users WHERE id = :u", u=int(r.get_json()["userId"]))[0].email
        == "o'brien+x@example.com"
    )
    assert (
        client.post(
            "/api/v1/auth/token", json={"email": "o'brien+x@example.com", "password": "correct horse"}
        ).status_code
        == 200
    )
    assert fetch(app, "SELECT count(*) AS n FROM users")[0].n == len(NASTY) + accepted + 1


@pytest.mark.parametrize("raw", UNSTORABLE)
def test_text_postgres_cannot_store_is_400_everywhere(app, client, scene, raw):
    """A NUL character or a lone surrogate in any text field is refused, never a 500."""
    raw_b = raw.encode()
    event_id, venue_id = _event_and_venue(app, scene)
    mgr, fan = scene.manager.headers, scene.fan.headers
    bodies = [
        ("POST", "/api/v1/auth/register", {}, b'{"email": "nul@example.com", "password": "correct horse", "name": X}'),
        ("POST", "/api/v1/auth/register", {}, b'{"email": "nul@example.com", "password": X, "name": "Ada"}'),
        ("POST", "/api/v1/auth/register", {}, b'{"email": X, "password": "correct horse", "name": "Ada"}'),
        ("POST", "/api/v1/auth/token", {}, b'{"email": X, "password": "correct horse"}'),
        ("POST", "/api/v1/auth/token", {}, b'{"email": "a@example.com", "password": X}'),
        ("POST", f"/api/v1/shows/{scene.show_id}/holds", fan, b'{"seatIds": [X]}'),
        ("POST", f"/api/v1/shows/{scene.show_id}/holds", fan, b'{"seatIds": ["A2"], "userId": X}'),
        ("POST", f"/api/v1/shows/{scene.show_id}/holds", fan, b'{"gaSection": X, "quantity": 1}'),
        (
            "POST",
            f"/api/v1/manage/venues/{venue_id}/layout/standing",
            mgr,
            b'{"section": X, "tier": "gold", "capacity": 5}',
        ),
        ("POST", f"/api/v1/holds/{scene.hold_id}/confirm", fan, b'{"paymentIntentId": X}'),
        ("POST", "/api/v1/manage/venues", mgr, b'{"cityId": "1", "name": X, "kind": "theatre"}'),
        ("POST", "/api/v1/manage/venues", mgr, b'{"cityId": "1", "name": "Hall", "kind": "theatre", "address": X}'),
        ("POST", "/api/v1/manage/events", mgr, b'{"title": X, "category": "concert", "durationMinutes": 60}'),
        (
            "POST",
            "/api/v1/manage/events",
            mgr,
            b'{"title": "T", "category": "concert", "durationMinutes": 60, "description": X}',
        ),
        ("PATCH", f"/api/v1/manage/events/{event_id}", mgr, b'{"title": X}'),
        ("PATCH", f"/api/v1/manage/events/{event_id}", mgr, b'{"description": X}'),
        (
            "POST",
            f"/api/v1/manage/venues/{venue_id}/layout/blocks",
            mgr,
            b'{"section": X, "rows": "A", "seatsPerRow": 2, "tier": "gold"}',
        ),
        (
            "POST",
            f"/api/v1/manage/venues/{venue_id}/layout/blocks",
            mgr,
            b'{"section": "S", "rows": X, "seatsPerRow": 2, "tier": "gold"}',
        ),
        (
            "POST",
            f"/api/v1/manage/venues/{venue_id}/layout/blocks",
            mgr,
            b'{"section": "S", "rows": "A", "seatsPerRow": 2, "tier": "gold", "accessible": [X]}',
        ),
        ("PATCH", f"/api/v1/manage/venues/{venue_id}/layout/seats", mgr, b'{"seatIds": [X], "accessible": true}'),
        ("POST", f"/api/v1/manage/shows/{scene.show_id}/seats/block", mgr, b'{"seatIds": [X]}'),
        ("POST", f"/api/v1/manage/shows/{scene.show_id}/seats/unblock", mgr, b'{"seatIds": [X]}'),
        ("POST", f"/api/v1/manage/shows/{scene.show_id}/cancel", mgr, b'{"reason": X}'),
    ]
    before = snapshot(app)
    for method, path, headers, template in bodies:
        response = client.open(
            path, method=method, data=template.replace(b"X", raw_b), content_type="application/json", headers=headers
        )
        assert_error(response, 400, "VALIDATION_FAILED")
    # ... and in query strings and path segments.
    text = raw.strip('"').replace("\\u0000", "%00").replace("\\ud800", "%ED%A0%80").replace("\\udfff", "%ED%BF%BF")
    for method, path, headers in (
        ("GET", f"/api/v1/shows/{scene.show_id}/seatmap?section={text}", {}),
        ("GET", f"/api/v1/cities/{scene.city_id}/shows?date={text}", {}),
        ("GET", f"/api/v1/manage/shows/{scene.show_id}/seats?section={text}", mgr),
        ("DELETE", f"/api/v1/manage/venues/{venue_id}/layout/sections/{text}", mgr),
        ("GET", f"/api/v1/holds/{text}", fan),
    ):
        response = client.open(path, method=method, headers=headers)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.get_data()[:300])
        assert_error(response, response.status_code)
    after = snapshot(app)
    assert after == before, differences(before, after)


def test_injection_strings_in_manager_text_are_stored_verbatim_or_refused(app, client, scene):
    mgr = scene.manager.headers
    city = str(scene.city_id)
    for i, nasty in enumerate(NASTY):
        venue = client.post(
            "/api/v1/manage/venues",
            json={"cityId": city, "name": f"{nasty} {i}", "kind": "theatre", "address": nasty},
            headers=mgr,
        )
        assert venue.status_code == 201, (nasty, venue.get_json())
        assert venue.get_json()["name"] == f"{nasty} {i}" and venue.get_json()["address"] == nasty
        event = client.post(
            "/api/v1/manage/events",
            json={"title": f"{nasty} {i}", "category": "concert", "description": nasty, "durationMinutes": 60},
            headers=mgr,
        )
        assert event.status_code == 201, (nasty, event.get_json())
        stored = fetch(app, "SELECT title, description FROM events WHERE id = :e", e=int(event.get_json()["eventId"]))[
            0
        ]
        assert (stored.title, stored.description) == (f"{nasty} {i}", nasty)
    before = snapshot(app)
    for nasty in NASTY:
        for body in (
            {"cityId": nasty, "name": "Hall", "kind": "theatre"},
            {"cityId": city, "name": "Hall", "kind": nasty},
            {"cityId": city, "name": "Hall", "kind": "theatre", "organisationId": nasty},
        ):
            assert_error(client.post("/api/v1/manage/venues", json=body, headers=mgr), 400, "VALIDATION_FAILED")
        for body in (
            {"title": "T", "category": nasty, "durationMinutes": 60},
            {"title": "T", "category": "concert", "durationMinutes": nasty},
            {"title": "T", "category": "concert", "durationMinutes": 60, "organisationId": nasty},
        ):
            assert_error(client.post("/api/v1/manage/events", json=body, headers=mgr), 400, "VALIDATION_FAILED")
        assert_error(client.post("/api/v1/manage/shows", json=_show_body(app, scene, currency=nasty), headers=mgr), 400)
        assert_error(
            client.post("/api/v1/manage/shows", json=_show_body(app, scene, prices={nasty: 100}), headers=mgr), 400
        )
    after = snapshot(app)
    assert after == before, differences(before, after)
    # Every table is still there and whole.
    assert fetch(app, "SELECT count(*) AS n FROM events")[0].n == len(NASTY) + 1
    assert fetch(app, "SELECT count(*) AS n FROM users")[0].n == 2


def test_html_stored_through_the_api_comes_out_escaped_in_every_page(app, client, scene):
    mgr = scene.manager
    title, venue_name = "<script>alert('title')</script>", '<img src=x onerror="alert(1)"> Hall'
    description = "</p><iframe src=javascript:alert(2)></iframe>"
    venue = client.post(
        "/api/v1/manage/venues",
        json={"cityId": str(scene.city_id), "name": venue_name, "kind": "theatre", "address": "<b>bold</b> street"},
        headers=mgr.headers,
    )
    assert venue.status_code == 201
    venue_id = venue.get_json()["venueId"]
    block = client.post(
        f"/api/v1/manage/venues/{venue_id}/layout/blocks",
        json={"section": "<i>Stalls</i>", "rows": "A", "seatsPerRow": 4, "tier": "gold"},
        headers=mgr.headers,
    )
    assert block.status_code == 201, block.get_json()
    event = client.post(
        "/api/v1/manage/events",
        json={"title": title, "category": "concert", "description": description, "durationMinutes": 90},
        headers=mgr.headers,
    )
    assert event.status_code == 201
    event_id = event.get_json()["eventId"]
    local = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(
        hour=19, minute=30, second=0, microsecond=0
    )
    opens = datetime.now(ZoneInfo("Asia/Kolkata")) - timedelta(days=1)
    show = client.post(
        "/api/v1/manage/shows",
        json={
            "eventId": event_id,
            "venueId": venue_id,
            "startTime": local.strftime("%Y-%m-%dT%H:%M"),
            "saleOpensAt": opens.strftime("%Y-%m-%dT%H:%M"),
            "currency": "INR",
            "prices": {"gold": 1000},
        },
        headers=mgr.headers,
    )
    assert show.status_code == 201, show.get_json()
    show_id = show.get_json()["showId"]
    # The API gives the text back as it was sent.
    detail = client.get(f"/api/v1/shows/{show_id}").get_json()
    assert (detail["title"], detail["description"], detail["venue"]["name"]) == (title, description, venue_name)

    raw = [title, "<img src=x", "<iframe", "<b>bold</b>", "<i>Stalls</i>"]
    escaped_title = "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;"

    def check(page, *must_contain: str) -> None:
        assert page.status_code == 200, page.status_code
        html = page.get_data(as_text=True)
        for fragment in raw:
            assert fragment not in html, (page.request.path, fragment)
        for fragment in must_contain:
            assert fragment in html, (page.request.path, fragment)

    check(client.get("/", query_string={"city": str(scene.city_id), "date": local.date().isoformat()}), escaped_title)
    check(client.get(f"/shows/{show_id}"), escaped_title, "&lt;img src=x onerror=")
    sign_in(client, mgr)
    check(client.get("/manage"), escaped_title)
    check(client.get(f"/manage/shows/{show_id}"), escaped_title)
    check(client.get(f"/manage/venues/{venue_id}"), "&lt;img src=x onerror=")
    check(client.get(f"/manage/events/{event_id}/edit"), escaped_title)
    # A fan who holds a seat sees the title on the hold page too.
    fan_client = app.test_client()
    sign_in(fan_client, scene.fan)
    seat = client.get(f"/api/v1/shows/{show_id}/seatmap").get_json()["seats"][0]["seatId"]
    held = fan_client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": [seat]}, headers=scene.fan.headers)
    assert held.status_code == 201
    check(fan_client.get(f"/holds/{held.get_json()['holdId']}"), escaped_title)


# ---------------------------------------------------------------- the same through the pages' forms


def test_forms_refuse_text_postgres_cannot_store_and_numbers_out_of_range(app, client, scene):
    """The pages read forms, not JSON: a NUL character in any field, or an amount that is not a
    finite number, is a 4xx page and stores nothing."""
    from tests.integration.test_site import token_of

    before = snapshot(app)
    page = client.get("/signup")
    r = client.post(
        "/signup",
        data={"csrf_token": token_of(page), "name": "A\x00da", "email": "nul@example.com", "password": "correct horse"},
    )
    assert r.status_code == 400 and r.mimetype == "text/html"
    page = client.get("/login")
    r = client.post("/login", data={"csrf_token": token_of(page), "email": "a\x00@example.com", "password": "x" * 8})
    assert r.status_code in (400, 422) and r.mimetype == "text/html"

    event_id, venue_id = _event_and_venue(app, scene)
    show_form = {
        "eventId": str(event_id),
        "venueId": str(venue_id),
        "currency": "INR",
        "startTime": "2030-01-01T19:30",
        "saleOpensAt": "2029-12-01T10:00",
        "price-gold": "10",
        "price-silver": "5",
    }
    token = sign_in(client, scene.manager)
    for path, form in (
        ("/manage/events/new", {"title": "T\x00", "category": "concert", "durationMinutes": "60", "description": ""}),
        ("/manage/venues/new", {"cityId": str(scene.city_id), "name": "V\x00", "kind": "theatre", "address": ""}),
        (f"/manage/venues/{venue_id}/blocks", {"section": "S\x00", "rows": "A", "seatsPerRow": "2", "tier": "gold"}),
        (f"/manage/venues/{venue_id}/seats", {"seatIds": "A1\x00", "mark": "accessible"}),
        (f"/manage/shows/{scene.show_id}/seats", {"seat": ["A2\x00"], "action": "HOUSE"}),
        ("/manage/shows/new", {**show_form, "price-gold": "inf"}),
        ("/manage/shows/new", {**show_form, "price-gold": "nan"}),
        ("/manage/shows/new", {**show_form, "price-gold": "1e400"}),
        ("/manage/shows/new", {**show_form, "refundFee": "1e308"}),
        ("/manage/shows/new", {**show_form, "refundFee": "-inf"}),
        (f"/manage/shows/{scene.show_id}/edit", {"startTime": "", "price-gold": "inf"}),
        (f"/manage/shows/{scene.show_id}/edit", {"startTime": "", "refundFee": "nan"}),
    ):
        r = client.post(path, data={**form, "csrf_token": token})
        assert r.status_code in (400, 422), (path, form, r.status_code)
        assert r.mimetype == "text/html"
    token = sign_in(client, scene.fan)
    r = client.post(f"/shows/{scene.show_id}/hold", data={"seat": ["A2\x00"], "csrf_token": token})
    assert r.status_code == 400, r.status_code
    after = snapshot(app)
    assert after == before, differences(before, after)


def test_layout_labels_and_formats_are_checked_whole(app, client, scene):
    """Control characters inside quoted CSV values (a newline, a tab, an escape) are refused, and an
    unknown layout format is a 400."""
    _, venue_id = _event_and_venue(app, scene)
    mgr = scene.manager.headers
    before = snapshot(app)
    for csv in (
        'section,row,number,tier\nMain,A,1,"go\nld"\n',
        'section,row,number,tier\n"Ma\nin",A,1,gold\n',
        'section,row,number,tier\nMain,"A\x1b[31m",1,gold\n',
        'section,row,number,tier,seat_id\nMain,A,1,gold,"A\t1"\n',
    ):
        r = client.post(
            f"/api/v1/manage/venues/{venue_id}/layout/import", data=csv.encode(), content_type="text/csv", headers=mgr
        )
        assert_error(r, 400, "VALIDATION_FAILED")
    for fmt in ("xml", "CSV", "", "csv\n"):
        r = client.get(f"/api/v1/manage/venues/{venue_id}/layout", query_string={"format": fmt}, headers=mgr)
        assert_error(r, 400, "VALIDATION_FAILED")
    assert client.get(f"/api/v1/manage/venues/{venue_id}/layout?format=json", headers=mgr).status_code == 200
    after = snapshot(app)
    assert after == before, differences(before, after)
