"""Security headers on every response, HSTS and secure cookies in production, and templates that
the Content-Security-Policy does not break (no inline scripts or event handlers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from app.security import CONTENT_SECURITY_POLICY, HSTS
from queue_gate import create_gate_app
from tests.conftest import settings_for_tests
from tests.integration.test_site import token_of

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def assert_protected(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/cities", "/api/v1/shows/999999", "/no/such/page", "/healthz"])
def test_every_response_of_the_web_app_carries_the_headers(client, path):
    response = client.get(path)
    assert_protected(response)
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in development and tests


def test_the_gate_sends_them_too(app, make):
    gate = create_gate_app(app.extensions["seatline.settings"]).test_client()
    assert_protected(gate.get("/gate/v1/jwks.json"))
    assert_protected(gate.get("/gate/queues/999999/wait?ticket=nope"))


def test_production_adds_hsts_and_marks_the_session_cookie_secure(app):
    production = create_app(
        settings_for_tests(
            env="production",
            gateway_api_key="sk_live_abc",
            webhook_secret="whsec_live",
            gateway_api_base=app.extensions["seatline.settings"].gateway_api_base,
        )
    )
    client = production.test_client()
    email, password = "secure-cookie@example.com", "a long enough passphrase"
    registered = client.post(
        "/api/v1/auth/register",
        base_url="https://seatline.example",
        json={"email": email, "password": password, "name": "Ada"},
    )
    assert registered.status_code == 201, registered.get_data(as_text=True)
    page = client.get("/login", base_url="https://seatline.example")
    assert page.headers["Strict-Transport-Security"] == HSTS
    # Over HTTPS the CSRF check also wants the browser's Referer from the same site.
    signed_in = client.post(
        "/login",
        base_url="https://seatline.example",
        headers={"Referer": "https://seatline.example/login"},
        data={"csrf_token": token_of(page), "email": email, "password": password},
    )
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[:300]
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("seatline_session="))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_template_has_an_inline_script_or_event_handler():
    # The policy allows only scripts served from /static/: an inline one would silently not run.
    offences = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        offences += [f"{template.name}: {m.group(0)}" for m in re.finditer(r"<script(?![^>]*\ssrc=)[^>]*>", text)]
        offences += [f"{template.name}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+\s*=", text)]
        offences += [f"{template.name}: javascript:" for _ in re.finditer(r"javascript:", text)]
    assert offences == []


def test_the_policy_names_no_other_origin():
    assert "http" not in CONTENT_SECURITY_POLICY and "*" not in CONTENT_SECURITY_POLICY
