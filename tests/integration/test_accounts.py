from __future__ import annotations

import jwt
import pytest

from tests.support.db import fetch

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"


def register(client, email="ada@example.com", password="correct horse", name="Ada"):
    return client.post(REGISTER, json={"email": email, "password": password, "name": name})


def test_register_returns_user_and_a_token_that_works(client, make):
    show = make.show()
    response = register(client)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"userId", "token"}
    assert isinstance(body["userId"], str)
    hold = client.post(
        f"/api/v1/shows/{show.show_id}/holds",
        json={"seatIds": ["B1"]},
        headers={"Authorization": f"Bearer {body['token']}"},
    )
    assert hold.status_code == 201


def test_password_is_stored_hashed(app, client):
    register(client, password="correct horse")
    (row,) = fetch(app, "SELECT password_hash FROM users")
    assert "correct horse" not in row.password_hash
    assert row.password_hash.startswith("$argon2id$")


def test_email_is_case_insensitive_and_taken_once(app, client):
    assert register(client, email="Ada@Example.com").status_code == 201
    again = register(client, email="ada@EXAMPLE.com")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "EMAIL_TAKEN"
    assert len(fetch(app, "SELECT id FROM users")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "ada@example.com", "password": "correct horse"},
        {"email": "not-an-email", "password": "correct horse", "name": "Ada"},
        {"email": "ada@example.com", "password": "short", "name": "Ada"},
        {"email": "ada@example.com", "password": "x" * 129, "name": "Ada"},
        {"email": "ada@example.com", "password": "correct horse", "name": ""},
        {"email": "ada@example.com", "password": "correct horse", "name": "   "},
        {"email": "ada@example.com", "password": "correct horse", "name": "A" * 101},
        {"email": 42, "password": "correct horse", "name": "Ada"},
        {"email": "ada@example.com", "password": 12345678, "name": "Ada"},
        {"email": ["ada@example.com"], "password": "correct horse", "name": "Ada"},
        {"email": "ada@example.com", "password": "correct horse", "name": "Ada", "role": "admin"},
        {"email": "a" * 250 + "@example.com", "password": "correct horse", "name": "Ada"},
    ],
)
def test_register_rejects_bad_input_and_stores_nothing(app, client, body):
    response = client.post(REGISTER, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert fetch(app, "SELECT id FROM users") == []


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"text"', b"null", b"\xff\xfe", b'{"a":' * 5000])
def test_register_rejects_malformed_bodies(app, client, raw):
    response = client.post(REGISTER, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert fetch(app, "SELECT id FROM users") == []


def test_token_for_right_credentials(client):
    user_id = register(client).get_json()["userId"]
    response = client.post(TOKEN, json={"email": "ADA@example.com", "password": "correct horse"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["userId"] == user_id
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == user_id and claims["role"] == "fan" and claims["exp"] > claims["iat"]


@pytest.mark.parametrize(
    "email,password", [("ada@example.com", "wrong password"), ("nobody@example.com", "correct horse")]
)
def test_token_refuses_wrong_credentials_alike(client, email, password):
    register(client)
    response = client.post(TOKEN, json={"email": email, "password": password})
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_CREDENTIALS"
    assert error["message"] == "email or password is wrong"


@pytest.mark.parametrize(
    "body", [{}, {"email": "ada@example.com"}, {"email": 1, "password": "x"}, {"password": "x" * 200, "email": "a"}]
)
def test_token_rejects_bad_input(client, body):
    response = client.post(TOKEN, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_FAILED"
