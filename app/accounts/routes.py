from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app
from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints

from app.accounts import revocation, services
from app.accounts.schemas import TokenResponse
from app.accounts.tokens import issue_token
from app.api.http import bearer_token_user, current_user, parse_body, reply
from app.contract import (
    DEGRADED,
    EMAIL_TAKEN,
    INTERNAL_ERROR,
    INVALID_CREDENTIALS,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    Answer,
    Failure,
    operation,
)
from app.extensions import settings
from app.rate_limit_rules import LOGINS, PASSWORD_CHANGES, SIGNUPS, rate_limited
from app.text import single_line
from app.unit_of_work import unit_of_work

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1/auth")

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = Annotated[
    str,
    BeforeValidator(lambda v: single_line(v) if isinstance(v, str) else v),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(json_schema_extra={"pattern": r"\S"}),
]  # blank is empty once trimmed


class RegisterRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    """A deliverable-looking email address (syntax checked; special-use domains such as `.test`, `.local` or
    `localhost` are refused). Stored in lower case.
    """
    password: Password
    name: Name
    """Display name. Surrounding whitespace is trimmed; 1 to 100 characters remain."""


class TokenRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class PasswordChangeRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    currentPassword: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    newPassword: Password


def _token_body(account: services.Account) -> TokenResponse:
    config = settings()
    token = issue_token(
        config.secret_key, account.user_id, account.role, config.auth_token_ttl_seconds, epoch=account.auth_epoch
    )
    return TokenResponse(userId=str(account.user_id), token=token)


@bp.post("/register")
@operation(
    "register",
    "Create a fan account and get a bearer token",
    tags=("accounts",),
    auth=False,
    body=RegisterRequest,
    body_examples={
        "fan": {"value": {"email": "ada@example.com", "password": "correct-horse-battery", "name": "Ada Lovelace"}}
    },
    answers={201: Answer("The account was created; the token authenticates as the new user.", model=TokenResponse)},
    failures={
        400: VALIDATION_FAILED,
        409: EMAIL_TAKEN,
        413: PAYLOAD_TOO_LARGE,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@rate_limited(SIGNUPS)
def register():
    """Creates a fan account. The email is stored in lower case, so addresses that differ only
    in case are the same account.

    Errors: `400 VALIDATION_FAILED` (bad body); `409 EMAIL_TAKEN`; `413 PAYLOAD_TOO_LARGE`;
    `429 RATE_LIMITED` (too many sign-ups from the client's IP); `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    body = parse_body(RegisterRequest)
    with unit_of_work() as uow:
        account = services.register(
            uow, current_app.extensions["seatline.passwords"], body.email, body.password, body.name
        )
    return reply(_token_body(account), 201)


@bp.post("/token")
@operation(
    "issueToken",
    "Exchange email and password for a bearer token",
    tags=("accounts",),
    auth=False,
    body=TokenRequest,
    body_examples={"demoFan": {"value": {"email": "fan@example.com", "password": "seatline-demo"}}},
    answers={200: Answer("The credentials are right.", model=TokenResponse)},
    failures={
        400: VALIDATION_FAILED,
        401: INVALID_CREDENTIALS,
        413: PAYLOAD_TOO_LARGE,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@rate_limited(LOGINS)
def token():
    """The email is matched case-insensitively.

    Failed attempts are counted per email and client IP, and all attempts per client IP:
    over either limit the call answers `429 RATE_LIMITED`, even with the right password,
    until `Retry-After` seconds have passed. Nothing counted per email alone refuses a
    login: an email with many recent failures from anywhere only makes its logins wait
    up to a second before the password is checked.

    The token carries a `jti` and stays valid until it expires or is revoked
    (`POST /auth/logout`, `POST /auth/logout-all`, `POST /auth/password`).

    Errors: `400 VALIDATION_FAILED` (bad body); `401 INVALID_CREDENTIALS` (unknown email or
    wrong password: the two are not told apart); `413 PAYLOAD_TOO_LARGE`;
    `429 RATE_LIMITED`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(TokenRequest)
    with unit_of_work() as uow:
        account = services.authenticate(uow, current_app.extensions["seatline.passwords"], body.email, body.password)
    return reply(_token_body(account))


@bp.post("/logout")
@operation(
    "logout",
    "Revoke the calling token",
    tags=("accounts",),
    answers={204: Answer("The token is revoked.")},
    failures={401: UNAUTHORIZED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def logout():
    """The calling bearer token stops working at once, on the web app, the API and the
    waiting room. Idempotent: the same (now revoked) token may call this again and gets
    `204` again; a token that is forged or expired gets `401 INVALID_TOKEN`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = bearer_token_user()
    with unit_of_work() as uow:
        revocation.revoke_token(uow, user.id, user.jti, user.expires_at)
        uow.commit()
    revocation.revocations().publish_from_database(user.id)
    return "", 204


@bp.post("/logout-all")
@operation(
    "logoutEverywhere",
    "Revoke every token and site session of the caller",
    tags=("accounts",),
    answers={204: Answer("Every token and session of the caller is revoked.")},
    failures={401: UNAUTHORIZED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def logout_all():
    """Every bearer token of the caller, the calling one included, and every session of the
    caller on the site stop working at once. Idempotent: repeated with the (now revoked)
    calling token it answers `204` and changes nothing (a revoked token cannot end the
    sessions made after it).

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = bearer_token_user()
    if revocation.revocations().accepts(user.id, user.jti, user.epoch):
        with unit_of_work() as uow:
            revocation.revoke_all(uow, user.id)
            uow.commit()
        revocation.revocations().publish_from_database(user.id)
    return "", 204


@bp.post("/password")
@operation(
    "changePassword",
    "Change the caller's password",
    tags=("accounts",),
    body=PasswordChangeRequest,
    answers={204: Answer("The password is changed; every other token and session is revoked.")},
    failures={
        400: VALIDATION_FAILED,
        401: Failure(
            ("AUTH_REQUIRED", "INVALID_TOKEN", "INVALID_CREDENTIALS"),
            (
                "`AUTH_REQUIRED` or `INVALID_TOKEN` (see the security scheme), or `INVALID_CREDENTIALS`: "
                "the current password is wrong."
            ),
        ),
        413: PAYLOAD_TOO_LARGE,
        429: RATE_LIMITED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
@rate_limited(PASSWORD_CHANGES)
def change_password():
    """Sets a new password if `currentPassword` is right. Every other bearer token and site
    session of the caller stops working at once; the calling token keeps working. Wrong
    current passwords count like failed logins (per user and per client IP).

    Errors: `400 VALIDATION_FAILED` (bad body, or a new password shorter than 8 or longer
    than 128 characters; nothing changes); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `401 INVALID_CREDENTIALS` (the current password is wrong; nothing changes);
    `413 PAYLOAD_TOO_LARGE`; `429 RATE_LIMITED`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    body = parse_body(PasswordChangeRequest)
    with unit_of_work() as uow:
        services.change_password(
            uow,
            current_app.extensions["seatline.passwords"],
            user.id,
            body.currentPassword,
            body.newPassword,
            keep_jti=user.jti,
        )
    revocation.revocations().publish_from_database(user.id)
    return "", 204
