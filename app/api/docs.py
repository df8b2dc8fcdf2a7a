"""Serves the OpenAPI document that describes /api/v1 (kept by hand in openapi.yaml)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson
import yaml
from flask import Blueprint

from app.api.http import json_bytes_response

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
SPEC_PATH = Path(__file__).with_name("openapi.yaml")


@cache
def openapi_document() -> bytes:
    return orjson.dumps(yaml.safe_load(SPEC_PATH.read_text()))


@bp.get("/openapi.json")
def openapi_json():
    return json_bytes_response(openapi_document(), headers={"Cache-Control": "public, max-age=300"})
