from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, current_app
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints

from app.accounts import profile, recovery, revocation, services
from app.accounts.schemas import AcceptedResponse, MeResponse, TokenResponse
from app.accounts.tokens import issue_token
from app.api.http import bearer_token_user, current_user, parse_body, reply
from app.config import SUPPORTED_LOCALES
from app.contract import (
    DEGRADED,
    EMAIL_TAKEN,
    INTERNAL_ERROR,
    INVALID_CREDENTIALS,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    Answer,
    Failure,
    operation,
)
from app.errors import ValidationFailed
from app.extensions import settings
from app.rate_limit_rules import (
    LOGINS,
    PASSWORD_CHANGES,
    PASSWORD_RESETS,
    SIGNUPS,
    VERIFICATION_RESENDS,
    rate_limited,
)
from app.text import single_line
from app.unit_of_work import unit_of_work

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1/auth")
# The caller's own account: GET and PATCH /api/v1/me.
me_bp = Blueprint("me_api", __name__, url_prefix="/api/v1")

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


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    """The account's email address (any case). Whether there is such an account is not told."""


# Whatever the caller sends as a token: one that is not ours is RESET_TOKEN_INVALID / TOKEN_INVALID,
# like a used or expired one (a client cannot tell a mistyped link from a stale one).
LinkToken = Annotated[str, StringConstraints(max_length=1000)]


class PasswordResetConfirmRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    token: LinkToken
    """The `token` of the link the reset email carried."""
    newPassword: Password
    """8 to 128 characters, as at registration."""


class VerifyEmailRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    token: LinkToken
    """The `token` of the link the verification email carried."""


class MeUpdateRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)
    name: Name | None = None
    """Display name. Surrounding whitespace is trimmed; 1 to 100 characters remain. Cannot be null."""
    phone: Annotated[str | None, StringConstraints(min_length=1, max_length=32), AfterValidator(profile.e164)] = None
    """A phone number in international format (`+91 98765 43210`, `+44 20 7946 0958`), checked against the
    numbering plan of its country and stored in E.164 (`+919876543210`); SMS messages go to it. Null removes it."""
    locale: Literal[SUPPORTED_LOCALES] | None = None  # type: ignore[valid-type]
    """The fan's language, one of `en`, `hi`; null forgets the choice."""


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
    in case are the same account. An email with a link to verify the address is sent to it
    (valid for `EMAIL_VERIFICATION_TTL_SECONDS`, 48 hours by default; see `POST /auth/verify-email`).

    Errors: `400 VALIDATION_FAILED` (bad body); `409 EMAIL_TAKEN`; `413 PAYLOAD_TOO_LARGE`;
    `429 RATE_LIMITED` (too many sign-ups from the client's IP); `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    body = parse_body(RegisterRequest)
    with unit_of_work() as uow:
        account = services.register(
            uow,
            current_app.extensions["seatline.passwords"],
            body.email,
            body.password,
            body.name,
            verification_ttl_seconds=settings().email_verification_ttl_seconds,
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


ACCEPTED_RESET = "If an account has that email address, a link to reset its password is on its way."
ACCEPTED_RESEND = "If the email address is not verified yet, a new verification link is on its way."


@bp.post("/password-reset")
@operation(
    "requestPasswordReset",
    "Email a single-use link to reset a forgotten password",
    tags=("accounts",),
    auth=False,
    body=PasswordResetRequest,
    body_examples={"fan": {"value": {"email": "ada@example.com"}}},
    answers={202: Answer("Accepted; the same answer whether or not the account exists.", model=AcceptedResponse)},
    failures={400: VALIDATION_FAILED, 413: PAYLOAD_TOO_LARGE, 429: RATE_LIMITED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
@rate_limited(PASSWORD_RESETS)
def password_reset():
    """Answers `202` with the same body whether or not an account has this email (matched
    case-insensitively), after the same work, so the answer says nothing about who has an
    account. If one does, its owner is emailed a link (`{PUBLIC_URL}/account/reset?token=…`)
    that works once, within `PASSWORD_RESET_TTL_SECONDS` (30 minutes by default): its `token`
    goes to `POST /auth/password-reset/confirm`. Asking again sends a new link; earlier ones
    keep working until they are used or expire.

    Requests are counted per email and per client IP: over either limit the call answers
    `429 RATE_LIMITED` until `Retry-After` seconds have passed.

    Errors: `400 VALIDATION_FAILED` (bad body); `413 PAYLOAD_TOO_LARGE`; `429 RATE_LIMITED`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(PasswordResetRequest)
    with unit_of_work() as uow:
        recovery.request_password_reset(uow, body.email, settings().password_reset_ttl_seconds)
    return reply(AcceptedResponse(message=ACCEPTED_RESET), 202)


@bp.post("/password-reset/confirm")
@operation(
    "confirmPasswordReset",
    "Set a new password with a reset link's token",
    tags=("accounts",),
    auth=False,
    body=PasswordResetConfirmRequest,
    answers={204: Answer("The password is set; every token and session of the account is revoked.")},
    failures={
        400: Failure(
            ("VALIDATION_FAILED", "RESET_TOKEN_INVALID"),
            (
                "`VALIDATION_FAILED`: the body is malformed or the new password is not 8 to 128 characters; "
                "`RESET_TOKEN_INVALID`: the token is used, expired, unknown or malformed. Nothing changed."
            ),
        ),
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def confirm_password_reset():
    """Sets the account's password to `newPassword` and spends the token: of any number of calls
    with the same token, exactly one succeeds. Every bearer token and site session of the
    account stops working at once, as with `POST /auth/logout-all`; sign in again with the new
    password. The account's email counts as verified from then on (the link reached it).

    Errors: `400 VALIDATION_FAILED` (bad body, or a new password shorter than 8 or longer than
    128 characters; the token is not spent); `400 RESET_TOKEN_INVALID` (a used, expired,
    unknown or malformed token); `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(PasswordResetConfirmRequest)
    with unit_of_work() as uow:
        user_id = recovery.reset_password(
            uow, current_app.extensions["seatline.passwords"], body.token, body.newPassword
        )
    revocation.revocations().publish_from_database(user_id)
    return "", 204


@bp.post("/verify-email")
@operation(
    "verifyEmail",
    "Verify the account's email address with the link's token",
    tags=("accounts",),
    auth=False,
    body=VerifyEmailRequest,
    answers={204: Answer("The account's email address is verified.")},
    failures={
        400: Failure(
            ("VALIDATION_FAILED", "TOKEN_INVALID"),
            (
                "`VALIDATION_FAILED`: the body is malformed; `TOKEN_INVALID`: the token is used, expired, unknown "
                "or malformed. Nothing changed."
            ),
        ),
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def verify_email():
    """Marks the email address of the token's account verified. The token comes from the link
    registration emails (`{PUBLIC_URL}/account/verify?token=…`), valid for
    `EMAIL_VERIFICATION_TTL_SECONDS` (48 hours by default), and works once: a second call with
    it answers `400 TOKEN_INVALID` even though the address stays verified. No bearer token is
    needed (the link may be opened on another device).

    Errors: `400 VALIDATION_FAILED` (bad body); `400 TOKEN_INVALID` (a used, expired, unknown or
    malformed token); `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    body = parse_body(VerifyEmailRequest)
    with unit_of_work() as uow:
        recovery.verify_email(uow, body.token)
    return "", 204


@bp.post("/verify-email/resend")
@operation(
    "resendVerificationEmail",
    "Email the caller a new verification link",
    tags=("accounts",),
    answers={202: Answer("Accepted.", model=AcceptedResponse)},
    failures={401: UNAUTHORIZED, 429: RATE_LIMITED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
@rate_limited(VERIFICATION_RESENDS)
def resend_verification():
    """Sends the caller's email address a new verification link, unless it is verified already
    (then nothing is sent; the answer is the same). Earlier links keep working until they are
    used or expire. Counted per user: over the limit the call answers `429 RATE_LIMITED`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `429 RATE_LIMITED`; `500 INTERNAL_ERROR`;
    `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        if not recovery.is_verified(uow, user.id):
            recovery.queue_email_verification(uow, user.id, settings().email_verification_ttl_seconds)
        uow.commit()
    return reply(AcceptedResponse(message=ACCEPTED_RESEND), 202)


def _me_body(found: profile.Profile) -> MeResponse:
    return MeResponse(
        userId=str(found.user_id),
        email=found.email,
        name=found.name,
        phone=found.phone,
        locale=found.locale,
        emailVerified=found.email_verified,
    )


@me_bp.get("/me")
@operation(
    "getMe",
    "The caller's account",
    tags=("accounts",),
    answers={200: Answer("The caller's account.", model=MeResponse, headers={"Cache-Control": NO_STORE})},
    failures={401: UNAUTHORIZED, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def get_me():
    """The caller's own account details. Sent with `Cache-Control: no-store`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    with unit_of_work() as uow:
        found = profile.load(uow, user.id)
    return reply(_me_body(found), headers={"Cache-Control": "no-store"})


@me_bp.patch("/me")
@operation(
    "updateMe",
    "Change the caller's name, phone number or language",
    tags=("accounts",),
    body=MeUpdateRequest,
    body_examples={"phone": {"value": {"phone": "+91 98765 43210", "locale": "hi"}}},
    answers={200: Answer("The account as it is now.", model=MeResponse, headers={"Cache-Control": NO_STORE})},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def update_me():
    """Changes the fields the body names and leaves the others as they are; answers the whole
    account, like `GET /me`. `phone` and `locale` may be null to remove them; `name` may not.
    A phone number is checked with the `phonenumbers` library against its country's numbering
    plan and stored in E.164.

    Errors: `400 VALIDATION_FAILED` (bad body: `fields` names the field, e.g. `phone` for a
    number that is not valid, `locale` for a language Seatline does not offer; an unknown field
    is refused; nothing changes); `401 AUTH_REQUIRED` / `INVALID_TOKEN`;
    `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    user = current_user()
    body = parse_body(MeUpdateRequest)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed("request body is invalid", fields=[{"field": "name", "message": "name cannot be null"}])
    with unit_of_work() as uow:
        found = profile.update(uow, user.id, changes)
    return reply(_me_body(found), headers={"Cache-Control": "no-store"})
