"""Account recovery and the caller's own account: password resets, email verification, GET and
PATCH /me, and waiting rooms that admit only verified fans (README "Accounts")."""

from __future__ import annotations

import hashlib
import re
import threading

import pytest

from tests.integration.test_gate import event_with_show, open_queue
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"
ME = "/api/v1/me"
PASSWORD = "correct horse battery"


def register(client, email: str, name: str = "Ada") -> dict:
    r = client.post(REGISTER, json={"email": email, "password": PASSWORD, "name": name})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    return {"userId": body["userId"], "headers": {"Authorization": f"Bearer {body['token']}"}}


def link_token(app, mail, email: str, path: str) -> str:
    """The token of the last link to ``path`` emailed to ``email``, sent by the real worker and SMTP."""
    run_jobs(app)
    pattern = re.compile(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)")

    def found():
        tokens = [m for msg in mail.to(email) for m in pattern.findall(msg.get_payload(decode=True).decode())]
        return tokens[-1] if tokens else None

    return wait_for(found)


def password_hash(app, email: str) -> str:
    return fetch(app, "SELECT password_hash FROM users WHERE email = :e", e=email)[0].password_hash


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


# ------------------------------------------------------------------------------ password reset


def test_a_reset_is_accepted_alike_for_unknown_emails_and_only_the_owner_gets_a_link(app, client, mail):
    register(client, "ada@example.com")
    run_jobs(app)
    sent_before = fetch(app, "SELECT count(*) AS n FROM notifications")[0].n
    known = client.post(RESET, json={"email": "Ada@Example.com"})
    unknown = client.post(RESET, json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    assert known.headers.get("Content-Type") == unknown.headers.get("Content-Type")
    assert fetch(app, "SELECT count(*) AS n FROM notifications")[0].n == sent_before + 1
    assert fetch(app, "SELECT count(*) AS n FROM account_tokens WHERE purpose = 'password_reset'")[0].n == 1

    token = link_token(app, mail, "ada@example.com", "http://127.0.0.1:8000/account/reset")
    [message] = [m for m in mail.to("ada@example.com") if "password" in m["Subject"].lower()]
    assert "30 minutes" in message.get_payload(decode=True).decode()
    assert mail.to("nobody@example.com") == []
    # Only the token's hash is kept, and the sent message's row keeps neither the token nor the link.
    [kept] = fetch(app, "SELECT token_hash FROM account_tokens WHERE purpose = 'password_reset'")
    assert bytes(kept.token_hash) == hashlib.sha256(token.encode()).digest()
    [row] = fetch(app, "SELECT status, body, context::text AS context FROM notifications WHERE kind = 'password_reset'")
    assert row.status == "SENT" and token not in row.body and token not in row.context


def test_confirming_sets_the_password_spends_the_token_and_ends_every_session(app, client, mail):
    account = register(client, "grace@example.com", "Grace")
    other_login = client.post(TOKEN, json={"email": "grace@example.com", "password": PASSWORD}).get_json()["token"]
    assert client.post(RESET, json={"email": "grace@example.com"}).status_code == 202
    token = link_token(app, mail, "grace@example.com", "/account/reset")

    assert client.post(CONFIRM, json={"token": token, "newPassword": "a brand new secret"}).status_code == 204
    for headers in (account["headers"], {"Authorization": f"Bearer {other_login}"}):
        refused = client.get(ME, headers=headers)
        assert refused.status_code == 401 and error_code(refused) == "INVALID_TOKEN"
    assert client.post(TOKEN, json={"email": "grace@example.com", "password": PASSWORD}).status_code == 401
    fresh = client.post(TOKEN, json={"email": "grace@example.com", "password": "a brand new secret"})
    assert fresh.status_code == 200
    me = client.get(ME, headers={"Authorization": f"Bearer {fresh.get_json()['token']}"}).get_json()
    assert me["emailVerified"] is True  # the link reached the address

    again = client.post(CONFIRM, json={"token": token, "newPassword": "yet another secret"})
    assert again.status_code == 400 and error_code(again) == "RESET_TOKEN_INVALID"
    assert client.post(TOKEN, json={"email": "grace@example.com", "password": "a brand new secret"}).status_code == 200


def test_a_reset_token_works_once_under_concurrency(app, client, mail):
    register(client, "race@example.com")
    client.post(RESET, json={"email": "race@example.com"})
    token = link_token(app, mail, "race@example.com", "/account/reset")
    start_line = threading.Barrier(20)
    statuses: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        own = app.test_client()
        start_line.wait()
        r = own.post(CONFIRM, json={"token": token, "newPassword": f"new password {i:02d}"})
        with lock:
            statuses.append((r.status_code, None if r.status_code == 204 else error_code(r)))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses, key=str) == [(204, None)] + [(400, "RESET_TOKEN_INVALID")] * 19
    assert fetch(app, "SELECT count(*) AS n FROM account_tokens WHERE used_at IS NOT NULL")[0].n == 1


def test_an_expired_reset_token_is_refused_and_changes_nothing(app, client, mail):
    register(client, "late@example.com")
    client.post(RESET, json={"email": "late@example.com"})
    token = link_token(app, mail, "late@example.com", "/account/reset")
    run_sql(app, "UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'password_reset'")
    before = password_hash(app, "late@example.com")
    r = client.post(CONFIRM, json={"token": token, "newPassword": "a brand new secret"})
    assert r.status_code == 400 and error_code(r) == "RESET_TOKEN_INVALID"
    assert password_hash(app, "late@example.com") == before
    assert fetch(app, "SELECT used_at FROM account_tokens WHERE purpose = 'password_reset'")[0].used_at is None


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", "A" * 43, "A" * 1000, "é" * 43, "../../etc/passwd", "A" * 42 + "="],
)
def test_unknown_and_malformed_reset_tokens_are_refused(client, token):
    r = client.post(CONFIRM, json={"token": token, "newPassword": "a brand new secret"})
    assert r.status_code == 400 and error_code(r) == "RESET_TOKEN_INVALID"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": "TOKEN"},
        {"newPassword": "a brand new secret"},
        {"token": 42, "newPassword": "a brand new secret"},
        {"token": "TOKEN", "newPassword": "short"},
        {"token": "TOKEN", "newPassword": "x" * 129},
        {"token": "TOKEN", "newPassword": 12345678},
        {"token": "TOKEN", "newPassword": "a brand new secret", "userId": "1"},
    ],
)
def test_bad_confirm_bodies_are_refused_and_spend_nothing(app, client, mail, body):
    register(client, "careful@example.com")
    client.post(RESET, json={"email": "careful@example.com"})
    token = link_token(app, mail, "careful@example.com", "/account/reset")
    before = password_hash(app, "careful@example.com")
    r = client.post(CONFIRM, json={k: token if v == "TOKEN" else v for k, v in body.items()})
    assert r.status_code == 400 and error_code(r) == "VALIDATION_FAILED"
    assert password_hash(app, "careful@example.com") == before
    assert fetch(app, "SELECT used_at FROM account_tokens WHERE purpose = 'password_reset'")[0].used_at is None
    assert client.post(CONFIRM, json={"token": token, "newPassword": "a brand new secret"}).status_code == 204


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": 7}, {"email": "a@example.com", "extra": 1}, []])
def test_bad_reset_requests_are_refused_and_send_nothing(app, client, body):
    r = client.post(RESET, json=body)
    assert r.status_code == 400 and error_code(r) == "VALIDATION_FAILED"
    assert fetch(app, "SELECT count(*) AS n FROM account_tokens")[0].n == 0


def test_reset_requests_are_limited_per_email(app, client):
    register(client, "popular@example.com")
    answers = [client.post(RESET, json={"email": "popular@example.com"}).status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]
    # Other addresses are not held up, whether or not they have an account.
    assert client.post(RESET, json={"email": "someone-else@example.com"}).status_code == 202
    assert fetch(app, "SELECT count(*) AS n FROM account_tokens WHERE purpose = 'password_reset'")[0].n == 3


# ------------------------------------------------------------------------------ email verification


def test_registration_emails_a_verification_link_that_works_once(app, client, mail):
    account = register(client, "new@example.com", "Newt")
    assert client.get(ME, headers=account["headers"]).get_json()["emailVerified"] is False
    token = link_token(app, mail, "new@example.com", "http://127.0.0.1:8000/account/verify")
    [message] = mail.to("new@example.com")
    assert "Hello Newt" in message.get_payload(decode=True).decode() and "48 hours" in message.get_payload()
    [row] = fetch(app, "SELECT body, context::text AS context FROM notifications WHERE kind = 'email_verification'")
    assert token not in row.body and token not in row.context

    assert client.post(VERIFY, json={"token": token}).status_code == 204
    assert client.get(ME, headers=account["headers"]).get_json()["emailVerified"] is True
    again = client.post(VERIFY, json={"token": token})
    assert again.status_code == 400 and error_code(again) == "TOKEN_INVALID"


def test_a_reset_token_does_not_verify_and_a_verification_token_does_not_reset(app, client, mail):
    account = register(client, "mixed@example.com")
    verification = link_token(app, mail, "mixed@example.com", "/account/verify")
    client.post(RESET, json={"email": "mixed@example.com"})
    reset = link_token(app, mail, "mixed@example.com", "/account/reset")
    assert error_code(client.post(VERIFY, json={"token": reset})) == "TOKEN_INVALID"
    assert error_code(client.post(CONFIRM, json={"token": verification, "newPassword": "whatever123"})) == (
        "RESET_TOKEN_INVALID"
    )
    assert client.get(ME, headers=account["headers"]).get_json()["emailVerified"] is False


def test_an_expired_verification_token_is_refused(app, client, mail):
    account = register(client, "slow@example.com")
    token = link_token(app, mail, "slow@example.com", "/account/verify")
    run_sql(app, "UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    r = client.post(VERIFY, json={"token": token})
    assert r.status_code == 400 and error_code(r) == "TOKEN_INVALID"
    assert client.get(ME, headers=account["headers"]).get_json()["emailVerified"] is False


@pytest.mark.parametrize("body", [{}, {"token": None}, {"token": 5}, {"token": "x", "more": True}])
def test_bad_verification_bodies_are_refused(client, body):
    r = client.post(VERIFY, json=body)
    assert r.status_code == 400 and error_code(r) == "VALIDATION_FAILED"


def test_resending_sends_a_new_link_until_the_address_is_verified(app, client, mail):
    account = register(client, "again@example.com")
    first = link_token(app, mail, "again@example.com", "/account/verify")
    assert client.post(RESEND).status_code == 401
    resent = client.post(RESEND, headers=account["headers"])
    assert resent.status_code == 202 and set(resent.get_json()) == {"message"}
    second = wait_for(lambda: (t := link_token(app, mail, "again@example.com", "/account/verify")) != first and t)
    assert client.post(VERIFY, json={"token": second}).status_code == 204
    assert client.get(ME, headers=account["headers"]).get_json()["emailVerified"] is True
    count = fetch(app, "SELECT count(*) AS n FROM notifications WHERE kind = 'email_verification'")[0].n
    assert client.post(RESEND, headers=account["headers"]).status_code == 202
    assert fetch(app, "SELECT count(*) AS n FROM notifications WHERE kind = 'email_verification'")[0].n == count


# ------------------------------------------------------------------------------ GET and PATCH /me


def test_me_answers_the_callers_account(client):
    account = register(client, "Me@Example.com", "  Ada  ")
    r = client.get(ME, headers=account["headers"])
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json() == {
        "userId": account["userId"],
        "email": "me@example.com",
        "name": "Ada",
        "phone": None,
        "locale": None,
        "emailVerified": False,
    }
    assert client.get(ME).status_code == 401
    assert client.get(ME, headers={"Authorization": "Bearer nonsense"}).status_code == 401


@pytest.mark.parametrize(
    "given, stored",
    [
        ("+91 98765 43210", "+919876543210"),
        ("+919876543210", "+919876543210"),
        ("+91 22 2222 2222", "+912222222222"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 7911 123456", "+447911123456"),
        ("+44 (0)20 7946-0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_checked_and_kept_in_e164(app, client, given, stored):
    account = register(client, "phone@example.com")
    r = client.patch(ME, json={"phone": given}, headers=account["headers"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["phone"] == stored
    assert fetch(app, "SELECT phone FROM users WHERE email = 'phone@example.com'")[0].phone == stored
    assert client.get(ME, headers=account["headers"]).get_json()["phone"] == stored


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": "+91 12345"}, "phone"),
        ({"phone": "98765 43210"}, "phone"),
        ({"phone": "+44 20 7946 095"}, "phone"),
        ({"phone": "+919876543210x"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"phone": 919876543210}, "phone"),
        ({"locale": "fr"}, "locale"),
        ({"locale": "EN"}, "locale"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "A" * 101}, "name"),
        ({"name": None}, "name"),
        ({"email": "other@example.com"}, "email"),
        ({"role": "admin"}, "role"),
    ],
)
def test_bad_changes_to_me_name_the_field_and_change_nothing(app, client, body, field):
    account = register(client, "strict@example.com", "Strict")
    client.patch(ME, json={"phone": "+44 20 7946 0958", "locale": "en"}, headers=account["headers"])
    before = client.get(ME, headers=account["headers"]).get_json()
    r = client.patch(ME, json={**body, "locale": "hi"} if field != "locale" else body, headers=account["headers"])
    assert r.status_code == 400 and error_code(r) == "VALIDATION_FAILED"
    assert field in [f["field"] for f in r.get_json()["error"]["fields"]]
    assert client.get(ME, headers=account["headers"]).get_json() == before


def test_patch_me_changes_only_what_it_names(client):
    account = register(client, "partial@example.com", "Part")
    r = client.patch(ME, json={"locale": "hi", "phone": "+91 98765 43210"}, headers=account["headers"])
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json()["name"] == "Part" and r.get_json()["locale"] == "hi"
    r = client.patch(ME, json={"name": " Partridge "}, headers=account["headers"])
    assert (r.get_json()["name"], r.get_json()["phone"], r.get_json()["locale"]) == ("Partridge", "+919876543210", "hi")
    r = client.patch(ME, json={"phone": None, "locale": None}, headers=account["headers"])
    assert (r.get_json()["phone"], r.get_json()["locale"], r.get_json()["name"]) == (None, None, "Partridge")
    assert client.patch(ME, json={}, headers=account["headers"]).get_json() == r.get_json()
    assert client.patch(ME, json={"name": "X"}).status_code == 401


# ------------------------------------------------------------------------------ the waiting room


def test_a_room_that_asks_for_verified_emails_refuses_unverified_fans(app, gate, make, rds):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    figures = open_queue(gate, manager, event_id, verifiedEmailRequired=True)
    assert figures["verifiedEmailRequired"] is True
    fan = make.fan()
    refused = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
    assert refused.status_code == 403 and error_code(refused) == "EMAIL_NOT_VERIFIED"
    assert fetch(app, "SELECT count(*) AS n FROM gate_tickets")[0].n == 0
    assert rds.hget(f"gate:{{{event_id}}}:users", fan.user_id) is None  # the join script took no place either
    # Redis losing the room does not lose the setting: the rebuilt room still asks.
    rds.flushdb()
    assert gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers).status_code == 403
    run_sql(app, "UPDATE users SET email_verified_at = now() WHERE id = :u", u=fan.user_id)
    assert gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers).status_code == 201


def test_rooms_admit_unverified_fans_by_default(gate, make):
    _, event_id = event_with_show(make)
    figures = open_queue(gate, make.fan(role="manager"), event_id)
    assert figures["verifiedEmailRequired"] is False
    assert gate.post(f"/gate/v1/queues/{event_id}/join", headers=make.fan().headers).status_code == 201
