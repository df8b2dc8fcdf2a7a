"""The web app's copy of the gate's public keys follows the gate's JWKS: a key the gate stops
publishing stops verifying within the refresh interval, a new key is picked up at once, and
tokens with made-up key ids cannot make it hammer the gate."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from app import admission
from app.admission import AdmissionRefused, AdmissionVerifier, GateKeys
from queue_gate import create_gate_app
from queue_gate.keys import load_keys, new_key_entry
from tests.conftest import settings_for_tests
from tests.support.services import ThreadedServer

EVENT, USER = 7, 42


class Gate:
    """A real gate app on a real port; ``publish`` changes the keys it signs with and publishes,
    as a gate restarted with a rotated key file would."""

    def __init__(self, entries: list[dict[str, str]]) -> None:
        self.app = create_gate_app(settings_for_tests(gate_signing_keys=json.dumps(entries)))
        self.fetches = 0
        inner = self.app.wsgi_app

        def counting(environ, start_response):
            if environ["PATH_INFO"] == "/gate/v1/jwks.json":
                self.fetches += 1
            return inner(environ, start_response)

        self.app.wsgi_app = counting  # type: ignore[method-assign]
        self.server = ThreadedServer(self.app)
        self.jwks_url = f"{self.server.url}/gate/v1/jwks.json"

    def publish(self, entries: list[dict[str, str]]) -> None:
        self.app.extensions["seatline.gate_keys"] = load_keys(json.dumps(entries))


def token(entry: dict[str, str]) -> str:
    key = load_keys(json.dumps([entry]))[0]
    return admission.issue(key.private_key, key.kid, USER, EVENT, 600)


def verifies(verifier: AdmissionVerifier, signed: str) -> bool:
    try:
        verifier.verify(signed, USER, EVENT)
        return True
    except AdmissionRefused:
        return False


@pytest.fixture
def keys() -> tuple[dict[str, str], dict[str, str]]:
    return new_key_entry(), new_key_entry()


@pytest.fixture
def gate(keys) -> Iterator[Gate]:
    current, previous = keys
    served = Gate([current, previous])
    yield served
    served.server.stop()


def test_a_key_the_gate_no_longer_publishes_stops_verifying(gate, keys):
    current, previous = keys
    verifier = AdmissionVerifier(jwks_url=gate.jwks_url, refresh_seconds=0.5, min_refetch_seconds=0.1)
    assert verifies(verifier, token(previous)) and verifies(verifier, token(current))
    gate.publish([current])  # the previous key is withdrawn
    deadline = time.monotonic() + 15  # a bound on the wait, not a measured time
    while verifies(verifier, token(previous)):
        assert time.monotonic() < deadline, "a withdrawn key still verifies"
        time.sleep(0.1)
    assert verifies(verifier, token(current))


def test_the_web_app_built_from_settings_refreshes_the_gates_keys(gate, keys):
    from app import create_app

    current, previous = keys
    web = create_app(
        settings_for_tests(
            gate_jwks="", gate_jwks_url=gate.jwks_url, gate_jwks_refresh_seconds=0.5, gate_jwks_min_refetch_seconds=0.1
        )
    )
    verifier = web.extensions["seatline.admission"]
    assert verifies(verifier, token(previous))
    gate.publish([current])
    deadline = time.monotonic() + 15
    while verifies(verifier, token(previous)):
        assert time.monotonic() < deadline, "a withdrawn key still verifies"
        time.sleep(0.1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refetches_are_bounded_and_a_new_key_is_picked_up_at_once(gate, keys):
    current, previous = keys
    clock = Clock()
    verifier = AdmissionVerifier(jwks_url=gate.jwks_url, refresh_seconds=60, min_refetch_seconds=10, clock=clock)
    assert verifies(verifier, token(current)) and gate.fetches == 1

    # Tokens with kids the gate never published: at most one fetch per min_refetch_seconds.
    strangers = [token(new_key_entry()) for _ in range(20)]
    clock.now += 11
    assert not any(verifies(verifier, t) for t in strangers)
    assert gate.fetches == 2
    assert verifies(verifier, token(previous)) and gate.fetches == 2  # known kids cost no fetch

    # The gate drops a key: it verifies until the next refresh at the latest, then never again.
    gate.publish([current])
    clock.now += 30
    assert gate.fetches == 2
    clock.now += 31
    assert not verifies(verifier, token(previous)) and gate.fetches == 3
    assert verifies(verifier, token(current))

    # A key the gate has just added verifies as soon as a fetch is allowed.
    added = new_key_entry()
    gate.publish([added, current])
    clock.now += 11
    assert verifies(verifier, token(added)) and gate.fetches == 4


def test_when_the_gate_is_unreachable_the_last_keys_serve_for_a_bounded_time(gate, keys):
    current, _ = keys
    clock = Clock()
    gate_keys = GateKeys(gate.jwks_url, refresh_seconds=60, min_refetch_seconds=10, max_stale_seconds=300, clock=clock)
    assert gate_keys.key_for(load_keys(json.dumps([current]))[0].kid) is not None
    gate.server.stop()
    clock.now += 120  # a refresh is due, and fails
    assert gate_keys.key_for(load_keys(json.dumps([current]))[0].kid) is not None
    clock.now += 200  # past max_stale_seconds since the last good fetch: closed
    assert gate_keys.key_for(load_keys(json.dumps([current]))[0].kid) is None
