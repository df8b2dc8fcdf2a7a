"""Builds the OpenAPI document of /api/v1 from the app's URL map and the views' declarations.

Every route under /api/v1 whose view carries an ``@operation`` (app/contract.py) becomes an
operation; request and response bodies are the pydantic models it names, rendered as JSON Schema
by pydantic and registered as components; error answers come from the codes it declares.
apispec assembles the document. The introduction is ``openapi.md`` beside this file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from apispec import APISpec
from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from app.contract import (
    ALLOW,
    ERROR_SHAPES,
    PATH_PARAMETERS,
    RETRY_AFTER,
    Answer,
    Error,
    Failure,
    Operation,
    declared_operation,
)

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
INTRO = Path(__file__).with_name("openapi.md")

TAGS = [
    ("accounts", "Registering, signing in and out, recovering an account, and the caller's own details."),
    ("catalog", "Cities, shows and show details. No authentication; cacheable."),
    (
        "seat maps",
        """Live seat state of a show, in three shapes of the same data. No authentication;
at most 2 seconds stale.

**Which shape to use.** A cinema (about 150 seats) or a concert hall (about 2,000) can be
drawn from one *full* map. For a 60,000-seat stadium the full map is about 9 MB of JSON,
so draw it in steps:
1. `GET /shows/{showId}/seatmap/sections` (a few KB): every section with its seat counts,
   availability, price range and bounding box, to draw the overview and let the fan
   pick a section;
2. `GET /shows/{showId}/seatmap?section=…` (about 140 KB for a 1,000-seat section): the
   seats of the sections actually on screen, with their positions and prices;
3. `GET /shows/{showId}/seatmap?format=compact` (about 0.75 MB for 62,400 seats): the
   status of every seat as one character per seat, for refreshing state across the whole
   venue once the layout is known. Poll it (or the per-section map) no more often than
   once a second: it cannot be fresher than that.
""",
    ),
    ("holds", "Holding seats for a short time while the fan pays. Bearer token required."),
    (
        "payments",
        """Paying for a hold through the payment gateway (Stripe, or its local simulator in
development), and the gateway's signed webhook.
""",
    ),
    ("bookings", "The caller's bookings, and cancelling them under the show's refund policy. Bearer token required."),
    (
        "waiting list",
        """A sold-out show's waiting list: joining its line, the caller's places and offers, leaving.
Seats that come back are kept for the line and offered, in line order, as holds of the fans'
(paid like any hold). Bearer token required.
""",
    ),
    (
        "manage",
        """The manager API: venues and their seat layouts, events, shows and their sale, the box
office, cancelling shows and controlling waiting rooms. Bearer token of a manager or an
admin required.

Managers belong to an organisation and see only what it owns: its venues, its events
and the shows at its venues. Another organisation's ids answer `404`
(`VENUE_NOT_FOUND`, `EVENT_NOT_FOUND`, `SHOW_NOT_FOUND`) exactly like ids that do not
exist, so ids reveal nothing. Fans get `403 FORBIDDEN` on every call. Admins see
everything, and say which organisation owns a venue or an event they create.
""",
    ),
    ("meta", "This document."),
]

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": """The `token` from `POST /auth/register` or `POST /auth/token`, sent as
`Authorization: Bearer <token>`. Tokens are signed JWTs that expire (12 hours by
default); get a new one with `POST /auth/token`. A missing header is
`401 AUTH_REQUIRED`; a header that is not `Bearer <token>`, or a token that is invalid,
expired or revoked (logged out, logged out everywhere, or made before a password
change), is `401 INVALID_TOKEN`.
""",
}

CODE_SCHEMA = {code: name for name, shape in ERROR_SHAPES.items() for code in shape.codes}


class DocumentSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, minus what only adds noise to a document: titles repeating field
    names, and in responses the ``null`` of members that are left out rather than sent as null."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if self.mode == "serialization" and "default" in schema and schema["default"] is None:
            # An optional member of a response is absent when it has no value, never null.
            json_schema.pop("default", None)
            branches = [s for s in json_schema.pop("anyOf", []) if s != {"type": "null"}]
            if len(branches) == 1:
                json_schema.update(branches[0])
            elif branches:
                json_schema["anyOf"] = branches
        return json_schema


def openapi_path(rule: str) -> str:
    """Flask's ``/shows/<show_id>`` as the document's ``/shows/{showId}``, without the prefix."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule[len(PREFIX) :])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _models(operations: list[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Error, "serialization"): None}
    for op in operations:
        if op.body is not None:
            wanted[(op.body, "validation")] = None
        for answer in op.answers.values():
            for model in (answer.model, *answer.one_of):
                if model is not None:
                    wanted[(model, "serialization")] = None
    return list(wanted)


def _schemas(operations: list[Operation]) -> dict[str, Any]:
    _, top = models_json_schema(_models(operations), ref_template=REF, schema_generator=DocumentSchema)
    schemas = dict(top.get("$defs", {}))
    for name, schema in schemas.items():
        if schema.get("title") == name:
            del schema["title"]
    for name, shape in ERROR_SHAPES.items():
        code = {"const": shape.codes[0]} if len(shape.codes) == 1 else {"enum": list(shape.codes)}
        error: dict[str, Any] = {"properties": {"code": code, **shape.properties}}
        if shape.required:
            error["required"] = list(shape.required)
        schemas[name] = {"allOf": [_ref("Error"), {"properties": {"error": error}}]}
    return schemas


def _examples(media: dict[str, Any], example: Any, examples: Any) -> dict[str, Any]:
    if example is not None:
        media["example"] = example
    if examples is not None:
        media["examples"] = examples
    return media


def failure_response(failure: Failure) -> dict[str, Any]:
    names = list(dict.fromkeys(CODE_SCHEMA[code] for code in failure.codes))
    schema = _ref(names[0]) if len(names) == 1 else {"oneOf": [_ref(n) for n in names]}
    response: dict[str, Any] = {"description": failure.description}
    headers = {}
    if failure.retry_after:
        headers["Retry-After"] = RETRY_AFTER
    if failure.allow:
        headers["Allow"] = ALLOW
    if headers:
        response["headers"] = headers
    response["content"] = {"application/json": _examples({"schema": schema}, failure.example, failure.examples)}
    return response


def _answer(answer: Answer, model_name: dict[type[BaseModel], str]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        response["headers"] = dict(answer.headers)
    schema: dict[str, Any] | None = None
    if answer.model is not None:
        schema = _ref(model_name[answer.model])
        if answer.narrow:
            schema = {"allOf": [schema, {"properties": dict(answer.narrow)}]}
    elif answer.one_of:
        schema = {"oneOf": [_ref(model_name[m]) for m in answer.one_of]}
    elif answer.schema is not None:
        schema = dict(answer.schema)
    content: dict[str, Any] = {}
    if schema is not None:
        content["application/json"] = _examples({"schema": schema}, answer.example, answer.examples)
    content.update(answer.content)
    if content:
        response["content"] = content
    return response


def _operation(
    op: Operation, path_params: list[str], model_name: dict[type[BaseModel], str], shared: dict[str, Failure]
) -> dict[str, Any]:
    parameters = [{"name": n, "in": "path", "required": True, **PATH_PARAMETERS[n]} for n in path_params]
    result: dict[str, Any] = {
        "tags": list(op.tags),
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description,
        "security": [{"bearerAuth": []}] if op.auth else [],
    }
    parameters += [dict(p) for p in op.parameters]
    if parameters:
        result["parameters"] = parameters
    if op.body is not None or op.body_content:
        content: dict[str, Any] = {}
        if op.body is not None:
            content["application/json"] = _examples({"schema": _ref(model_name[op.body])}, None, op.body_examples)
        content.update(op.body_content)
        result["requestBody"] = {"required": op.body_required, "content": content}
    responses: dict[str, Any] = {}
    for status, answer in op.answers.items():
        responses[str(status)] = _answer(answer, model_name)
    for status, failure in sorted(op.failures.items()):
        if failure.name is not None:
            shared[failure.name] = failure
            responses[str(status)] = {"$ref": f"#/components/responses/{failure.name}"}
        else:
            responses[str(status)] = failure_response(failure)
    result["responses"] = responses
    return result


def declared_routes(app: Flask) -> list[tuple[str, str, Operation | None]]:
    """(path, method, declaration) of every /api/v1 route, in the order the app registered them."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        op = declared_operation(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, method.lower(), op))
    return routes


def build_document(app: Flask) -> dict[str, Any]:
    routes = [(rule, method, op) for rule, method, op in declared_routes(app) if op is not None]
    operations = [op for _, _, op in routes]
    schemas = _schemas(operations)
    model_name = {model: model.__name__ for model, _ in _models(operations)}
    missing = [name for name in model_name.values() if name not in schemas]
    if missing:
        raise ValueError(f"models whose schema names pydantic changed (make their names unique): {missing}")

    spec = APISpec(
        title="Seatline API",
        version="1.0.0",
        openapi_version="3.1.0",
        info={
            "summary": "Browse shows, read live seat maps, hold seats, pay, and manage bookings.",
            "description": INTRO.read_text(),
        },
        servers=[{"url": PREFIX}],
        jsonSchemaDialect="https://json-schema.org/draft/2020-12/schema",
    )
    for name, description in TAGS:
        spec.tag({"name": name, "description": description})
    spec.components.security_scheme("bearerAuth", BEARER)
    shared: dict[str, Failure] = {}
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, op in routes:
        path_params = [_camel(n) for n in re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)]
        paths.setdefault(openapi_path(rule), {})[method] = _operation(op, path_params, model_name, shared)
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    for name in sorted(shared):
        spec.components.response(name, failure_response(shared[name]))
    for name, schema in schemas.items():
        spec.components.schema(name, schema)
    return spec.to_dict()
