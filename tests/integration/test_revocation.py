"""Logging out, logging out everywhere and changing the password revoke bearer tokens and site
sessions at once, on the web app's API, the site and the gate, with Redis or without it."""

from __future__ import annotations

import base64
import re

import pytest

from app import create_app
from app.extensions import db
from tests.conftest import settings_for_tests
from tests.support.contract import ContractClient
from tests.support.db import fetch

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def web_without_redis(app):
    """The same web app and database, with a Redis nobody answers at."""
    cut_off = create_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0"))
    cut_off.test_client_class = ContractClient
    yield cut_off
    with cut_off.app_context():
        db.engine.dispose()


def register(client, email: str) -> str:
    response = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Fan"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def log_in(client, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def works_on_web(client, token: str) -> bool:
    response = client.get("/api/v1/bookings", headers=bearer(token))
    assert response.status_code in (200, 401), response.get_data(as_text=True)
    if response.status_code == 401:
        assert response.get_json()["error"]["code"] == "INVALID_TOKEN"
    return response.status_code == 200


def works_on_gate(gate, token: str) -> bool:
    # Joining the waiting room of an event that has none: a valid token gets as far as 404.
    response = gate.post("/gate/v1/queues/999999/join", headers=bearer(token))
    assert response.status_code in (404, 401), response.get_data(as_text=True)
    return response.status_code == 404


def csrf(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def site_sign_in(app, email: str, password: str = PASSWORD):
    browser = app.test_client()
    form = browser.get("/login")
    response = browser.post("/login", data={"csrf_token": csrf(form), "email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert signed_in(browser)
    return browser


def signed_in(browser) -> bool:
    return "Log in" not in browser.get("/").get_data(as_text=True)


def test_logout_revokes_only_the_calling_token_on_web_and_gate_at_once(client, gate_app):
    first = register(client, "logout@example.com")
    second = log_in(client, "logout@example.com")
    gate = gate_app.test_client()
    assert works_on_web(client, first) and works_on_gate(gate, first)

    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 204
    assert not works_on_web(client, first) and not works_on_gate(gate, first)
    hold = client.post("/api/v1/shows/1/holds", json={"seatIds": ["A1"]}, headers=bearer(first))
    assert hold.status_code == 401 and hold.get_json()["error"]["code"] == "INVALID_TOKEN"
    assert works_on_web(client, second) and works_on_gate(gate, second)
    # Idempotent: the revoked token may log out again.
    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 204
    assert client.post("/api/v1/auth/logout").status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer("not-a-token")).status_code == 401


def test_logout_all_revokes_every_token_and_site_session(app, client, gate_app):
    caller = register(client, "everywhere@example.com")
    other = log_in(client, "everywhere@example.com")
    browser = site_sign_in(app, "everywhere@example.com")
    gate = gate_app.test_client()

    assert client.post("/api/v1/auth/logout-all", headers=bearer(caller)).status_code == 204
    for token in (caller, other):
        assert not works_on_web(client, token) and not works_on_gate(gate, token)
    assert not signed_in(browser)
    # Idempotent, and a revoked token cannot end what came after it.
    fresh = log_in(client, "everywhere@example.com")
    later_browser = site_sign_in(app, "everywhere@example.com")
    assert client.post("/api/v1/auth/logout-all", headers=bearer(caller)).status_code == 204
    assert works_on_web(client, fresh) and works_on_gate(gate, fresh) and signed_in(later_browser)


def test_changing_the_password_keeps_the_caller_and_revokes_everything_else(app, client, gate_app):
    caller = register(client, "rotate@example.com")
    other = log_in(client, "rotate@example.com")
    browser = site_sign_in(app, "rotate@example.com")
    gate = gate_app.test_client()

    wrong = client.post(
        "/api/v1/auth/password",
        headers=bearer(caller),
        json={"currentPassword": "not it", "newPassword": "a new secret"},
    )
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "INVALID_CREDENTIALS"
    short = client.post(
        "/api/v1/auth/password", headers=bearer(caller), json={"currentPassword": PASSWORD, "newPassword": "short"}
    )
    assert short.status_code == 400 and short.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert works_on_web(client, other) and signed_in(browser)  # refused changes revoke nothing

    changed = client.post(
        "/api/v1/auth/password",
        headers=bearer(caller),
        json={"currentPassword": PASSWORD, "newPassword": "a new secret"},
    )
    assert changed.status_code == 204
    assert works_on_web(client, caller) and works_on_gate(gate, caller)
    assert not works_on_web(client, other) and not works_on_gate(gate, other)
    assert not signed_in(browser)
    assert (
        client.post("/api/v1/auth/token", json={"email": "rotate@example.com", "password": PASSWORD}).status_code == 401
    )
    assert works_on_web(client, log_in(client, "rotate@example.com", "a new secret"))
    # A later logout-all ends the kept token too.
    assert client.post("/api/v1/auth/logout-all", headers=bearer(caller)).status_code == 204
    assert not works_on_web(client, caller)


def test_without_redis_the_check_asks_postgres_refusing_revoked_tokens_and_accepting_valid_ones(
    client, rds, web_without_redis, make
):
    revoked = register(client, "no-redis@example.com")
    valid = log_in(client, "no-redis@example.com")
    everywhere = register(client, "no-redis-all@example.com")
    assert client.post("/api/v1/auth/logout", headers=bearer(revoked)).status_code == 204
    assert client.post("/api/v1/auth/logout-all", headers=bearer(everywhere)).status_code == 204
    assert rds.keys("seatline:auth:*")  # the copies the check normally reads

    cut_off = web_without_redis.test_client()
    assert not works_on_web(cut_off, revoked) and not works_on_web(cut_off, everywhere)
    assert works_on_web(cut_off, valid)
    show = make.show()
    held = cut_off.post(
        f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [show.seat_ids[0]]}, headers=bearer(valid)
    )
    assert held.status_code == 201, held.get_json()
    refused = cut_off.post(
        f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [show.seat_ids[1]]}, headers=bearer(revoked)
    )
    assert refused.status_code == 401
    # Revoking without Redis works too, at once where the check reads PostgreSQL...
    assert cut_off.post("/api/v1/auth/logout", headers=bearer(valid)).status_code == 204
    assert not works_on_web(cut_off, valid)


def test_a_revocation_made_out_of_reach_of_redis_reaches_its_copy(app, client, rds, web_without_redis):
    token = register(client, "partitioned@example.com")
    assert works_on_web(client, token)  # Redis now has a copy saying it is valid
    cut_off = web_without_redis.test_client()
    assert cut_off.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert fetch(app, "SELECT count(*) FROM revocation_copies_pending")[0][0] == 1
    # ...and where it reads the old copy in Redis once the periodic job has copied it.
    from workers.jobs import copy_revocations

    assert copy_revocations() == 1
    assert not works_on_web(client, token)
    assert fetch(app, "SELECT count(*) FROM revocation_copies_pending")[0][0] == 0


def test_redis_losing_its_copies_loses_no_revocation(client, rds):
    revoked = register(client, "flushed@example.com")
    valid = log_in(client, "flushed@example.com")
    assert client.post("/api/v1/auth/logout", headers=bearer(revoked)).status_code == 204
    rds.flushdb()  # Redis restarted empty
    assert not works_on_web(client, revoked) and works_on_web(client, valid)


def test_an_older_record_never_replaces_a_newer_copy(app, client, rds):
    from app.accounts.revocation import AuthRecord, revocations

    token = register(client, "ordered@example.com")
    user_id = fetch(app, "SELECT id FROM users WHERE email = 'ordered@example.com'")[0][0]
    assert client.post("/api/v1/auth/logout-all", headers=bearer(token)).status_code == 204
    with app.app_context():
        # A request that read PostgreSQL before the logout publishes what it read, late.
        revocations().publish(user_id, AuthRecord(version=0, epoch=0, kept_jti=None, revoked=frozenset()))
    assert not works_on_web(client, token)


def test_the_site_cookie_holds_only_a_session_id(app, rds):
    register(app.test_client(), "cookie@example.com")
    browser = site_sign_in(app, "cookie@example.com")
    cookie = browser.get_cookie("seatline_session")
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", cookie.value)
    assert cookie.http_only and cookie.same_site == "Lax"
    for part in cookie.value.split("."):  # nothing in it decodes to session data
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert b"user_id" not in decoded and b"cookie@example.com" not in decoded
    assert rds.exists(f"seatline:session:{cookie.value}")
    # Logging out deletes the session: the same cookie, replayed, signs nobody in.
    home = browser.get("/")
    assert browser.post("/logout", data={"csrf_token": csrf(home)}).status_code == 303
    assert not rds.exists(f"seatline:session:{cookie.value}")
    replay = app.test_client()
    replay.set_cookie("seatline_session", cookie.value)
    assert not signed_in(replay)


def test_signing_in_gives_a_new_session_id(app):
    register(app.test_client(), "fixation@example.com")
    browser = app.test_client()
    form = browser.get("/login")
    before = browser.get_cookie("seatline_session").value
    browser.post("/login", data={"csrf_token": csrf(form), "email": "fixation@example.com", "password": PASSWORD})
    assert signed_in(browser) and browser.get_cookie("seatline_session").value != before


def test_without_redis_the_site_signs_nobody_in(app, web_without_redis):
    register(app.test_client(), "site-no-redis@example.com")
    browser = site_sign_in(app, "site-no-redis@example.com")
    cut_off = web_without_redis.test_client()
    cut_off.set_cookie("seatline_session", browser.get_cookie("seatline_session").value)
    page = cut_off.get("/")
    assert page.status_code == 200 and "Log in" in page.get_data(as_text=True)


def test_the_account_page_changes_the_password_and_logs_out_everywhere(app, client):
    token = register(client, "account@example.com")
    browser = site_sign_in(app, "account@example.com")
    elsewhere = site_sign_in(app, "account@example.com")
    page = browser.get("/account")
    assert page.status_code == 200 and "account@example.com" in page.get_data(as_text=True)
    assert (
        browser.post(
            "/account/password", data={"current_password": PASSWORD, "new_password": "another secret"}
        ).status_code
        == 400
    )  # no CSRF
    wrong = browser.post(
        "/account/password",
        data={"csrf_token": csrf(page), "current_password": "nope", "new_password": "another secret"},
    )
    assert wrong.status_code == 422 and signed_in(elsewhere)
    changed = browser.post(
        "/account/password",
        data={"csrf_token": csrf(wrong), "current_password": PASSWORD, "new_password": "another secret"},
    )
    assert changed.status_code == 200 and 'data-testid="account-message"' in changed.get_data(as_text=True)
    assert signed_in(browser) and not signed_in(elsewhere) and not works_on_web(client, token)

    api_token = log_in(client, "account@example.com", "another secret")
    page = browser.get("/account")
    assert browser.post("/account/logout-all", data={"csrf_token": csrf(page)}).status_code == 303
    assert not signed_in(browser) and not works_on_web(client, api_token)
    assert browser.get("/account").status_code == 303  # to the login page
