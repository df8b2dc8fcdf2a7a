"""The accounts API's response bodies (app/contract.py explains how they make the OpenAPI document)."""

from __future__ import annotations

from pydantic import Field

from app.contract import NumericId, ResponseBody


class TokenResponse(ResponseBody):
    userId: NumericId
    token: str = Field(
        description=("A signed JWT to send as `Authorization: Bearer <token>`. Expires after 12 hours by default.")
    )


class AcceptedResponse(ResponseBody):
    message: str = Field(description="What happens next, for people. The same text whatever the outcome.")


class MeResponse(ResponseBody):
    userId: NumericId
    email: str = Field(description="The account's email address, in lower case.")
    name: str = Field(description="Display name, 1 to 100 characters.")
    phone: str | None = Field(
        description="The phone number SMS messages go to, in E.164 (`+919876543210`); null if none."
    )
    locale: str | None = Field(description="The fan's language (`en` or `hi`); null if not chosen.")
    emailVerified: bool = Field(description="Whether the fan has followed the verification link registration emailed.")
