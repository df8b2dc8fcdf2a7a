"""Every authenticated call refuses missing, malformed, forged and expired tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from app.accounts.tokens import issue_token

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def _calls(show_id: int):
    hold = "00000000-0000-0000-0000-000000000000"
    return [
        ("post", f"/api/v1/shows/{show_id}/holds", {"seatIds": ["A1"]}),
        ("get", f"/api/v1/holds/{hold}", None),
        ("delete", f"/api/v1/holds/{hold}", None),
    ]


def _bad_headers(user_id: int):
    now = time.time()
    return {
        "missing": ({}, "AUTH_REQUIRED"),
        "not bearer": ({"Authorization": "Basic abc"}, "INVALID_TOKEN"),
        "empty bearer": ({"Authorization": "Bearer "}, "INVALID_TOKEN"),
        "garbage": ({"Authorization": "Bearer not.a.jwt"}, "INVALID_TOKEN"),
        "wrong key": (
            {"Authorization": f"Bearer {issue_token('another-secret-' * 4, user_id, 'fan', 60)}"},
            "INVALID_TOKEN",
        ),
        "expired": (
            {"Authorization": f"Bearer {issue_token(SECRET, user_id, 'fan', 60, now=now - 3600)}"},
            "INVALID_TOKEN",
        ),
        "alg none": (
            {"Authorization": "Bearer " + jwt.encode({"sub": str(user_id), "role": "fan"}, None, algorithm="none")},
            "INVALID_TOKEN",
        ),
        "tampered": ({"Authorization": "Bearer " + _tamper(issue_token(SECRET, user_id, "fan", 60))}, "INVALID_TOKEN"),
    }


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = jwt.utils.base64url_decode(payload).replace(b'"fan"', b'"admin"')
    return ".".join([header, jwt.utils.base64url_encode(claims).decode(), signature])


@pytest.mark.parametrize("case", list(_bad_headers(1)))
def test_authenticated_calls_refuse_bad_tokens(app, client, make, case):
    show = make.show()
    fan = make.fan()
    headers, code = _bad_headers(fan.user_id)[case]
    for method, path, body in _calls(show.show_id):
        response = getattr(client, method)(path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.get_json()["error"]["code"] == code
    from tests.support.db import fetch

    assert fetch(app, "SELECT id FROM holds") == []


def test_user_id_in_body_must_match_the_token(client, make):
    show = make.show()
    fan, other = make.fan(), make.fan()
    response = client.post(
        f"/api/v1/shows/{show.show_id}/holds",
        json={"seatIds": ["A1"], "userId": str(other.user_id)},
        headers=fan.headers,
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    ok = client.post(
        f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"], "userId": str(fan.user_id)}, headers=fan.headers
    )
    assert ok.status_code == 201
