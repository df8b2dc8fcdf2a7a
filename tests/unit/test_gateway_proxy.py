"""The gateway's HTTP session reads no environment per call, so the proxy the environment names is
worked out once, at start: it must still be the one requests would have used."""

from __future__ import annotations

import pytest

from app.payments.gateway import _proxy_for

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_no_proxy_in_the_environment_means_none():
    assert _proxy_for("https://api.stripe.com") is None


def test_the_proxy_for_the_gateways_scheme(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://other.internal:3128")
    assert _proxy_for("https://api.stripe.com") == "http://proxy.internal:3128"
    assert _proxy_for("http://127.0.0.1:12111") == "http://other.internal:3128"


def test_no_proxy_exempts_the_gateways_host(monkeypatch):
    monkeypatch.setenv("ALL_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert _proxy_for("http://127.0.0.1:12111") is None
    assert _proxy_for("https://api.stripe.com") == "http://proxy.internal:3128"
