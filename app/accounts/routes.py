from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app
from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, StringConstraints

from app.accounts import revocation, services
from app.accounts.tokens import issue_token
from app.api.http import bearer_token_user, current_user, parse_body
from app.extensions import settings
from app.rate_limit_rules import LOGINS, PASSWORD_CHANGES, SIGNUPS, rate_limited
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


class PasswordChangeRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    currentPassword: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    newPassword: Password


def _token_body(account: services.Account) -> dict[str, str]:
    config = settings()
    token = issue_token(config.secret_key, account.user_id, account.role, config.auth_token_ttl_seconds,
                        epoch=account.auth_epoch)
    return {"userId": str(account.user_id), "token": token}


@bp.post("/register")
@rate_limited(SIGNUPS)
def register():
    body = parse_body(RegisterRequest)
    with unit_of_work() as uow:
        account = services.register(uow, current_app.extensions["seatline.passwords"], body.email, body.password, body.name)
    return _token_body(account), 201


@bp.post("/token")
@rate_limited(LOGINS)
def token():
    body = parse_body(TokenRequest)
    with unit_of_work() as uow:
        account = services.authenticate(uow, current_app.extensions["seatline.passwords"], body.email, body.password)
    return _token_body(account), 200


@bp.post("/logout")
def logout():
    """Revokes the calling token. Idempotent: the same token may log out again (204, nothing more)."""
    user = bearer_token_user()
    with unit_of_work() as uow:
        revocation.revoke_token(uow, user.id, user.jti, user.expires_at)
        uow.commit()
    revocation.revocations().publish_from_database(user.id)
    return "", 204


@bp.post("/logout-all")
def logout_all():
    """Revokes every token and site session of the caller. Repeated with the (now revoked) token it
    answers 204 and does nothing: a revoked token cannot end the sessions made after it."""
    user = bearer_token_user()
    if revocation.revocations().accepts(user.id, user.jti, user.epoch):
        with unit_of_work() as uow:
            revocation.revoke_all(uow, user.id)
            uow.commit()
        revocation.revocations().publish_from_database(user.id)
    return "", 204


@bp.post("/password")
@rate_limited(PASSWORD_CHANGES)
def change_password():
    """A new password; every other token and session of the caller is revoked, the calling token kept."""
    user = current_user()
    body = parse_body(PasswordChangeRequest)
    with unit_of_work() as uow:
        services.change_password(uow, current_app.extensions["seatline.passwords"], user.id, body.currentPassword,
                                 body.newPassword, keep_jti=user.jti)
    revocation.revocations().publish_from_database(user.id)
    return "", 204
