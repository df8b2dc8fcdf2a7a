"""The accounts API's response bodies (app/contract.py explains how they make the OpenAPI document)."""

from __future__ import annotations

from pydantic import Field

from app.contract import NumericId, ResponseBody


class TokenResponse(ResponseBody):
    userId: NumericId
    token: str = Field(
        description=("A signed JWT to send as `Authorization: Bearer <token>`. Expires after 12 hours by default.")
    )
