"""Serves the OpenAPI document that describes /api/v1, built from the views' declarations
(app/api/openapi.py) the first time it is asked for, then kept for the life of the process."""

from __future__ import annotations

import orjson
from flask import Blueprint, Flask, current_app

from app.api.http import json_bytes_response
from app.api.openapi import build_document
from app.contract import INTERNAL_ERROR, Answer, cache_control, operation

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


def openapi_document(app: Flask) -> bytes:
    """The app's document as JSON; built once per app (two threads racing build the same bytes)."""
    document = app.extensions.get("seatline.openapi")
    if document is None:
        document = app.extensions["seatline.openapi"] = orjson.dumps(build_document(app))
    return document


@bp.get("/openapi.json")
@operation(
    "getOpenApiDocument",
    "This OpenAPI document, as JSON",
    tags=("meta",),
    auth=False,
    answers={
        200: Answer(
            "The OpenAPI 3.1 document describing `/api/v1`. Cacheable for 5 minutes.",
            schema={
                "type": "object",
                "required": ["openapi", "info", "paths"],
                "properties": {"openapi": {"type": "string"}, "info": {"type": "object"}, "paths": {"type": "object"}},
            },
            headers={"Cache-Control": cache_control("public, max-age=300", "`public, max-age=300`")},
        )
    },
    failures={500: INTERNAL_ERROR},
)
def openapi_json():
    """Errors: `500 INTERNAL_ERROR`."""
    return json_bytes_response(
        openapi_document(current_app._get_current_object()),  # type: ignore[attr-defined]
        headers={"Cache-Control": "public, max-age=300"},
    )
