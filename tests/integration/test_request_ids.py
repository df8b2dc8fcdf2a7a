"""Request ids (app/ops/observe.py): taken from a sane X-Request-Id or made, answered back, in the
body of every 5xx and on every log line written while the request is handled."""

from __future__ import annotations

import json
import logging
import re

from app import create_app
from app.ops import observe
from tests.conftest import settings_for_tests

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_a_sane_id_is_kept_and_anything_else_replaced(client):
    mine = "edge-0123456789abcdef"
    answer = client.get("/api/v1/shows/999999999", headers={"X-Request-Id": mine})
    assert answer.status_code == 404 and answer.headers["X-Request-Id"] == mine
    assert "requestId" not in answer.json["error"], "only 5xx bodies name the request"
    for bad in ("", "short", "x" * 129, "with space in it", "semi;colon-injected", "ünïcode-id-1234"):
        answer = client.get("/api/v1/shows/999999999", headers={"X-Request-Id": bad})
        assert HEX_ID.fullmatch(answer.headers["X-Request-Id"]), bad
    assert client.get("/api/v1/cities").headers["X-Request-Id"] != client.get("/api/v1/cities").headers["X-Request-Id"]


def test_a_5xx_names_its_request_in_the_body_the_header_and_the_log(caplog):
    # Postgres unreachable: the database handler logs it and answers 503 DEGRADED.
    down = create_app(settings_for_tests(database_url="postgresql+psycopg://seatline@127.0.0.1:1/none"))
    client = down.test_client()
    with caplog.at_level(logging.WARNING):
        answer = client.post(
            "/api/v1/auth/token",
            json={"email": "fan@example.com", "password": "whatever-it-is"},
            headers={"X-Request-Id": "ops-ticket-42-abcdef"},
        )
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "DEGRADED"
    assert answer.json["error"]["requestId"] == answer.headers["X-Request-Id"] == "ops-ticket-42-abcdef"
    logged = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert logged and all(r.request_id == "ops-ticket-42-abcdef" for r in logged)


def test_json_logs_carry_the_same_fields():
    formatter = observe.formatter("json")
    record = logging.LogRecord("app.inventory", logging.WARNING, __file__, 1, "seats %s", ("A1",), None)
    token = observe.bind("req-json-12345678")
    try:
        observe.stamp(record, "web")
    finally:
        observe.unbind(token)
    line = json.loads(formatter.format(record))
    assert line["message"] == "seats A1"
    assert line["request_id"] == "req-json-12345678"
    assert line["service"] == "web" and line["level"] == "WARNING" and line["logger"] == "app.inventory"
    assert "time" in line
    plain = observe.formatter("text").format(record)
    assert "[req-json-12345678]" in plain and plain.endswith("seats A1")
