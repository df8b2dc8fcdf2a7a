"""The OpenAPI document is valid, served, and describes exactly the routes the app has, with at
least every status and error code the hand-written document it replaced listed."""

import re

from openapi_spec_validator import validate

from app.api.openapi import declared_routes
from tests.support.contract import spec


def test_document_is_valid_openapi():
    validate(spec())


def test_document_is_served_as_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == spec()


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(
                r"<(?:[^:>]+:)?([^>]+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule.rule[len("/api/v1") :]
            )
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in spec()["paths"].items() for method in ops if method != "parameters"}
    assert routes == documented


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_every_api_route_declares_its_operation(app):
    undeclared = [f"{method.upper()} {rule}" for rule, method, op in declared_routes(app) if op is None]
    assert undeclared == []


# What the hand-written document (app/api/openapi.yaml, removed) listed: every operation, its statuses
# and the error codes of each. The generated document must keep all of them.
DOCUMENTED = {
    "POST /auth/register": "201: -; 400: VALIDATION_FAILED; 409: EMAIL_TAKEN; 413: PAYLOAD_TOO_LARGE; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /auth/token": "200: -; 400: VALIDATION_FAILED; 401: INVALID_CREDENTIALS; 413: PAYLOAD_TOO_LARGE; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /auth/logout": "204: -; 401: AUTH_REQUIRED INVALID_TOKEN; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /auth/logout-all": "204: -; 401: AUTH_REQUIRED INVALID_TOKEN; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /auth/password": "204: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_CREDENTIALS INVALID_TOKEN; 413: PAYLOAD_TOO_LARGE; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /cities": "200: -; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /cities/{cityId}/shows": "200: -; 400: VALIDATION_FAILED; 404: CITY_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /shows/{showId}": "200: -; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /shows/{showId}/seatmap": "200: -; 400: VALIDATION_FAILED; 404: SECTION_NOT_FOUND SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /shows/{showId}/seatmap/sections": "200: -; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /shows/{showId}/holds": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: ADMISSION_REQUIRED FORBIDDEN; 404: SHOW_NOT_FOUND; 409: SEATS_UNAVAILABLE; 413: PAYLOAD_TOO_LARGE; 422: CODE_EXHAUSTED CODE_INVALID SALE_CLOSED SEAT_LIMIT_EXCEEDED; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /holds/{holdId}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 404: HOLD_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "DELETE /holds/{holdId}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 404: HOLD_NOT_FOUND; 409: HOLD_NOT_ACTIVE; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /holds/{holdId}/payment-intents": "201: -; 401: AUTH_REQUIRED INVALID_TOKEN; 404: HOLD_NOT_FOUND; 409: HOLD_EXPIRED; 422: PAYMENT_NOT_NEEDED PAYMENT_REFUSED; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /holds/{holdId}/confirm": "201: -; 200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 402: PAYMENT_NOT_COMPLETED; 404: HOLD_NOT_FOUND; 409: HOLD_EXPIRED; 413: PAYLOAD_TOO_LARGE; 422: SALE_CLOSED SEAT_LIMIT_EXCEEDED; 429: RATE_LIMITED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /payments/webhook": "200: -; 400: INVALID_SIGNATURE VALIDATION_FAILED; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /bookings": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /bookings/{bookingId}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 404: BOOKING_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /bookings/{bookingId}/cancel": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 404: BOOKING_NOT_FOUND; 422: CANCELLATION_NOT_ALLOWED; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/venues": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/venues": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: CITY_NOT_FOUND; 409: VENUE_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/venues/{venueId}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/venues/{venueId}/layout": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PUT /manage/venues/{venueId}/layout": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/venues/{venueId}/layout/import": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/venues/{venueId}/layout/blocks": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/venues/{venueId}/layout/standing": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PUT /manage/venues/{venueId}/layout/standing": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "DELETE /manage/venues/{venueId}/layout/sections/{section}": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PATCH /manage/venues/{venueId}/layout/seats": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: VENUE_NOT_FOUND; 409: LAYOUT_IN_USE; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/events": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/events": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 409: EVENT_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/shows": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND VENUE_NOT_FOUND; 409: SHOW_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows/{showId}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PATCH /manage/shows/{showId}": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 409: SHOW_CANCELLED SHOW_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows/{showId}/dashboard": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows/{showId}/seats": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SECTION_NOT_FOUND SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/shows/{showId}/seats/block": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 409: SEATS_UNAVAILABLE SHOW_CANCELLED; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/shows/{showId}/seats/unblock": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 409: SHOW_CANCELLED; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/shows/{showId}/cancel": "202: -; 200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows/{showId}/cancellation": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows/{showId}/bookings.csv": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PATCH /manage/events/{eventId}": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND; 409: EVENT_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/events/{eventId}/queue": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND QUEUE_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PUT /manage/events/{eventId}/queue": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND QUEUE_NOT_FOUND; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/events/{eventId}/queue/{action}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND NOT_FOUND QUEUE_NOT_FOUND; 409: INVALID_QUEUE_STATE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/shows/{showId}/access-codes": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 409: ACCESS_CODE_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/shows/{showId}/access-codes": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: SHOW_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "POST /manage/events/{eventId}/access-codes": "201: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND; 409: ACCESS_CODE_EXISTS; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /manage/events/{eventId}/access-codes": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: EVENT_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "PATCH /manage/access-codes/{codeId}": "200: -; 400: VALIDATION_FAILED; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: ACCESS_CODE_NOT_FOUND; 413: PAYLOAD_TOO_LARGE; 500: INTERNAL_ERROR; 503: DEGRADED",
    "DELETE /manage/access-codes/{codeId}": "200: -; 401: AUTH_REQUIRED INVALID_TOKEN; 403: FORBIDDEN; 404: ACCESS_CODE_NOT_FOUND; 500: INTERNAL_ERROR; 503: DEGRADED",
    "GET /openapi.json": "200: -; 500: INTERNAL_ERROR",
}


def _codes(response: dict) -> set[str]:
    found = set()
    stack = [response]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "$ref" in node:
                target = spec()
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                stack.append(target)
            code = node.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
            found |= {code["const"]} if "const" in code else set(code.get("enum", []))
            stack.extend(v for k, v in node.items() if k != "$ref")
        elif isinstance(node, list):
            stack.extend(node)
    return found


def test_every_status_and_error_code_stays_documented():
    missing = []
    for operation, listed in DOCUMENTED.items():
        method, path = operation.split(" ")
        responses = spec()["paths"].get(path, {}).get(method.lower(), {}).get("responses", {})
        for entry in listed.split("; "):
            status, codes = entry.split(": ")
            if status not in responses:
                missing.append(f"{operation} {status}")
                continue
            for code in set(codes.split()) - {"-"} - _codes(responses[status]):
                missing.append(f"{operation} {status} {code}")
    assert missing == []


def test_request_models_state_the_seat_list_rules():
    """The seat lists' rules the services check are in the models, so the document states them too."""
    schemas = spec()["components"]["schemas"]
    seat_ids = schemas["HoldRequest"]["properties"]["seatIds"]
    assert (seat_ids["minItems"], seat_ids["maxItems"], seat_ids["uniqueItems"]) == (1, 100, True)
    for name in ("BlockSeatsRequest", "UnblockSeatsRequest"):
        assert schemas[name]["properties"]["seatIds"]["uniqueItems"] is True
