from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app
from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, StringConstraints

from app.accounts import services
from app.accounts.tokens import issue_token
from app.api.http import parse_body
from app.extensions import settings
from app.text import single_line
from app.unit_of_work import unit_of_work

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1/auth")

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = Annotated[str, BeforeValidator(lambda v: single_line(v) if isinstance(v, str) else v),
                 StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    password: Password
    name: Name


class TokenRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _token_body(account: services.Account) -> dict[str, str]:
    config = settings()
    token = issue_token(config.secret_key, account.user_id, account.role, config.auth_token_ttl_seconds)
    return {"userId": str(account.user_id), "token": token}


@bp.post("/register")
def register():
    body = parse_body(RegisterRequest)
    with unit_of_work() as uow:
        account = services.register(uow, current_app.extensions["seatline.passwords"], body.email, body.password, body.name)
    return _token_body(account), 201


@bp.post("/token")
def token():
    body = parse_body(TokenRequest)
    with unit_of_work() as uow:
        account = services.authenticate(uow, current_app.extensions["seatline.passwords"], body.email, body.password)
    return _token_body(account), 200
