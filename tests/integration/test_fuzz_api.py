"""Schema-driven fuzzing of every /api/v1 operation with schemathesis, in-process (WSGI).

For each operation of the OpenAPI document, schemathesis generates requests that fit the document
(positive) and requests that break it (negative): bodies, path ids and query strings. Each request
goes to the real app on the real PostgreSQL and Redis, authenticated as a fan (fan operations) or
as the manager who owns the test show (manager operations); some of them have their path ids
swapped for real ones, so generated bodies reach real shows, holds, bookings, venues and events.
Every response must:

- never be a 5xx;
- conform to the document: a documented status, the documented content type, a body matching its
  schema and the documented headers (schemathesis' checks and `tests/support/contract.py`);
- for generated invalid input, be a 4xx;
- if it is a 4xx, have changed nothing: every table is compared before and after.

The runs are derandomized (fixed seeds per operation), so CI sees the same cases every time.
The payment gateway's webhook is left out: it is authenticated by a signature that blind input
cannot produce, and `test_gateway_failures.py` covers bad and replayed signatures.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, seed, settings, strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.extensions import db
from tests.support.booking import book
from tests.support.contract import contract_problems, spec
from tests.support.db import Fan, fetch
from tests.support.polling import wait_for
from tests.support.snapshot import differences, snapshot

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
WEBHOOK = "/payments/webhook"
# Refusals that are answers kept for a retry to get again (README "Door check-in"): they add the
# nonce's row and an audit row, and admit no one.
RECORDED_REFUSALS = {("POST /manage/shows/{showId}/checkins", status) for status in (409, 422)}
REJECTIONS = ["400", "401", "403", "404", "405", "409", "413", "422"]

CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}})
SCHEMA = schemathesis.openapi.from_dict(spec(), config=CONFIG)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations()) if op.path != WEBHOOK}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _can_be_broken(operation) -> bool:
    """Whether a request can break the document once it carries a valid token: through a body or a
    query. Paths are free-form strings (an id that is not an id is a 404 the positive runs reach too)."""
    return bool(operation.body or operation.query)


CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label, op in OPERATIONS.items() if _can_be_broken(op)
]
TOTALS = {"cases": 0, "rejected": 0, "operations": set()}


@pytest.fixture(scope="module")
def fuzz_app(app: Flask) -> Iterator[Flask]:
    """The app under test with its rate limits off, so that hundreds of requests from one fan reach
    the validation and the services instead of stopping at `429` (the limits have their own tests).
    Same database, Redis, gateway and settings otherwise."""
    config = app.extensions["seatline.settings"]
    if any(f.name == "rate_limits_enabled" for f in dataclasses.fields(config)):
        config = dataclasses.replace(config, rate_limits_enabled=False)
    fuzzed = create_app(config)
    fuzzed.config["PROPAGATE_EXCEPTIONS"] = False  # a crash must come back as the 500 it would be in production
    yield fuzzed
    with fuzzed.app_context():
        db.engine.dispose()


@dataclass
class World:
    fan: Fan
    manager: Fan
    ids: dict[str, str]  # path parameter name -> a real value


@pytest.fixture
def world(request, app, client, make) -> World:
    show = make.show(rows=3, per_row=6)
    fan, manager = make.fan(), make.fan(role="manager")
    hold = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1", "A2"]}, headers=fan.headers)
    assert hold.status_code == 201
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    ids = {
        "cityId": str(show.city_id),
        "showId": str(show.show_id),
        "venueId": str(show.venue_id),
        "eventId": str(event_id),
        "holdId": hold.get_json()["holdId"],
        "section": "Main",
        "action": "pause",
        "codeId": _access_code(client, manager, show.show_id),
    }
    if "bookingId" in request.node.callspec.params["label"]:
        ids["bookingId"] = book(client, request.getfixturevalue("gateway"), fan, show.show_id, ["B1"])
        # The gateway's own webhook for that payment reaches the app on its own: let it land first.
        wait_for(lambda: fetch(app, "SELECT 1 FROM webhook_events WHERE type = 'payment_intent.succeeded'"))
    return World(fan, manager, ids)


def _access_code(client, manager: Fan, show_id: int) -> str:
    """A voucher of the show, for the operations on one code (README "Presale codes and vouchers")."""
    r = client.post(
        f"/api/v1/manage/shows/{show_id}/access-codes",
        json={"code": "FUZZ10", "kind": "VOUCHER", "percentOff": 10, "maxUses": 5},
        headers=manager.headers,
    )
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["accessCodeId"])


def _authenticate(case, world: World) -> None:
    """A real token in place of whatever schemathesis put in `Authorization` (a random bearer, or no
    header in a negative case), so that the generated ids, queries and bodies are what gets judged.
    Missing and broken tokens are `test_authz_matrix.py`'s and `test_auth_guard.py`'s subject."""
    operation = case.operation
    if operation.definition.raw.get("security") == []:
        return
    who = world.manager if operation.path.startswith("/manage/") else world.fan
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = {**headers, **who.headers}


def _breaks_the_document(case) -> bool:
    """A negative case still negative once its headers carry a real token."""
    return any(
        info.mode is GenerationMode.NEGATIVE
        for location, info in case.meta.components.items()
        if location is not ParameterLocation.HEADER
    )


def _negated(case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode is GenerationMode.NEGATIVE


def _use_real_ids(case, world: World, chosen: list[bool]) -> None:
    """Some of a case's path ids swapped for the world's real ones (never in a negated path)."""
    if not case.path_parameters or _negated(case, ParameterLocation.PATH):
        return
    for (name, value), use in zip(sorted(world.ids.items()), chosen, strict=False):
        if use and name in case.path_parameters:
            case.path_parameters[name] = value


@pytest.mark.parametrize("label,mode", CASES, ids=[f"{mode.value} {label}" for label, mode in CASES])
def test_operation_survives_fuzzing(app, fuzz_app, gateway, world, label, mode):
    operation = OPERATIONS[label]
    seen = {"calls": 0, "rejected": 0}

    # A fixed seed for each operation and mode: the same cases on every run, yet different draws per operation.
    @seed(random.Random(f"{label} {mode.value}").getrandbits(64))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        real=st.lists(st.booleans(), min_size=len(world.ids), max_size=len(world.ids)),
    )
    def fuzz(case, real):
        _use_real_ids(case, world, real)
        _authenticate(case, world)
        before = snapshot(app)
        response = case.call(app=fuzz_app)
        seen["calls"] += 1
        checks = [*CHECKS, negative_data_rejection] if _breaks_the_document(case) else CHECKS
        case.validate_response(response, checks=checks)
        sent = response.request
        content_type = response.headers.get("content-type", [""])[0].split(";")[0]
        problems = contract_problems(
            sent.method,
            urlsplit(sent.url).path,
            response.status_code,
            CaseInsensitiveDict(response.headers),
            content_type,
            response.content,
        )
        assert not problems, problems
        if 400 <= response.status_code < 500:
            seen["rejected"] += 1
            body = response.json()
            assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
            after = snapshot(app)
            if (label, response.status_code) in RECORDED_REFUSALS:
                # A scan refused at the door is an answer: kept under its nonce and audited, nothing else.
                assert set(differences(before, after)) <= {"checkin_nonces", "audit_log"}, differences(before, after)
            else:
                assert after == before, (
                    f"a rejected {label} ({response.status_code}) changed {differences(before, after)}"
                )

    fuzz()
    assert seen["calls"] > 0
    TOTALS["cases"] += seen["calls"]
    TOTALS["rejected"] += seen["rejected"]
    TOTALS["operations"].add(label)


def test_every_operation_but_the_webhook_was_fuzzed(capsys):
    """Runs after the fuzzing above (pytest keeps a module's order) and says how much was run."""
    documented = {
        f"{method.upper()} {path}"
        for path, ops in spec()["paths"].items()
        for method in ops
        if method != "parameters" and path != WEBHOOK
    }
    assert set(OPERATIONS) == documented
    if TOTALS["operations"]:
        with capsys.disabled():
            print(
                f"\nfuzzed {len(TOTALS['operations'])} operations with {TOTALS['cases']} requests, "
                f"{TOTALS['rejected']} of them rejected (4xx) and checked to have changed nothing"
            )
