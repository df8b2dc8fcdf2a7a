"""Checks responses against the OpenAPI document, so every integration test is also a contract test.

`ContractClient` is a Flask test client that validates each /api/v1 response
whose path and method the document describes: the status must be documented,
the JSON body must match its schema and documented headers must be present.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

import orjson
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app import create_app
from app.api.openapi import build_document
from app.config import Settings

BASE = "urn:seatline:openapi"
PREFIX = "/api/v1"


_building = threading.Lock()


def spec() -> dict[str, Any]:
    """The document the app serves, built from its views' declarations (as JSON would read it). Built
    once, under a lock: a race test's clients may all ask for it first at the same moment, and building
    apps side by side in threads is not safe (werkzeug compiles each URL rule with ``ast.parse``)."""
    with _building:
        return _spec()


@cache
def _spec() -> dict[str, Any]:
    return orjson.loads(orjson.dumps(build_document(create_app(Settings(env="test")))))


@cache
def _registry() -> Registry:
    return Registry().with_resource(BASE, Resource(contents=spec(), specification=DRAFT202012))


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", pattern)
        routes.append((re.compile(f"^{pattern}$"), template))
    return routes


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(obj: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    pointer = None
    while "$ref" in obj:
        pointer = obj["$ref"].lstrip("#/")
        node: Any = spec()
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj, pointer


def template_for(path: str) -> str | None:
    if not path.startswith(PREFIX):
        return None
    rest = path[len(PREFIX) :] or "/"
    for pattern, template in _routes():
        if pattern.match(rest):
            return template
    return None


def contract_problems(method: str, path: str, status: int, headers: Any, mimetype: str, data: bytes) -> list[str]:
    template = template_for(path)
    operation = spec()["paths"].get(template, {}).get(method.lower()) if template else None
    if operation is None:
        return []  # not a documented operation (unknown paths, wrong methods)
    documented = operation["responses"].get(str(status))
    if documented is None:
        return [f"{method} {template} answered {status}, which the document does not list"]
    response, pointer = _resolve(documented)
    pointer = pointer or _pointer("paths", template, method.lower(), "responses", str(status))
    problems = []
    if "content" in response:
        if mimetype not in response["content"]:
            problems.append(f"{method} {template} {status}: content type {mimetype}")
        elif mimetype == "application/json":
            validator = Draft202012Validator(
                {"$ref": f"{BASE}#/{pointer}/{_pointer('content', 'application/json', 'schema')}"},
                registry=_registry(),
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            for error in list(validator.iter_errors(orjson.loads(data)))[:5]:
                problems.append(f"{method} {template} {status}: {list(error.absolute_path)}: {error.message[:300]}")
    for name in response.get("headers", {}):
        if name not in headers:
            problems.append(f"{method} {template} {status}: header {name} missing")
    return problems


class ContractClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        response = super().open(*args, **kwargs)
        request = response.request
        problems = contract_problems(
            request.method, request.path, response.status_code, response.headers, response.mimetype, response.get_data()
        )
        assert not problems, "response breaks the OpenAPI document:\n" + "\n".join(problems)
        return response
