"""The site's account-recovery pages: asking for a password-reset link, the page that link opens,
and the page the email-verification link opens (README "Account pages").

The emailed links are ``{PUBLIC_URL}/account/reset?token=…`` and ``/account/verify?token=…``
(app/notifications/outbox.py). The first answer to such a link moves the token into the session
and sends the browser to the same path without it, so the token is in no address bar, history
entry or log line after that; every answer of these pages says ``Referrer-Policy: no-referrer``, so
no request made from them (a stylesheet, a link followed) names the page's address elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.accounts import recovery, revocation
from app.accounts.signed_in import signed_in_user
from app.errors import ResetTokenInvalid, TokenInvalid
from app.extensions import settings
from app.rate_limit_rules import PASSWORD_RESETS, rate_limited
from app.site.forms import SiteForm
from app.unit_of_work import unit_of_work

bp = Blueprint("site_recovery", __name__)

RESET_TOKEN = "reset_token"
VERIFY_TOKEN = "verify_token"
# Longer is not a token of ours (recovery.TOKEN_SHAPE); nothing that size is kept in a session.
MAX_TOKEN = 100


class ForgotPasswordForm(SiteForm):
    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(SiteForm):
    new_password = PasswordField(
        lazy_gettext("New password (8 characters or more)"), validators=[DataRequired(), Length(min=8, max=128)]
    )
    confirm_password = PasswordField(
        lazy_gettext("The new password again"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=lazy_gettext("The two passwords are not the same.")),
        ],
    )


def _private(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, status: int = 200, **context) -> Response:
    return _private(current_app.make_response((render_template(template, **context), status)))


def _token_out_of_the_address(key: str, endpoint: str) -> Response | None:
    """If the address carries the link's token: kept in the session, and the browser sent to the page
    without it (303). None when there is no token in the address."""
    if "token" not in request.args:
        return None
    token = request.args.get("token", "")
    session[key] = token if len(token) <= MAX_TOKEN else ""
    return _private(redirect(url_for(endpoint), code=303))


@bp.route("/forgot-password", methods=["GET", "POST"])
@rate_limited(PASSWORD_RESETS)
def forgot_password():
    """The same answer whether or not an account has the email, after the same work, as
    POST /api/v1/auth/password-reset (whose limits it shares: per email and per address)."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with unit_of_work() as uow:
            recovery.request_password_reset(uow, form.email.data, settings().password_reset_ttl_seconds)
        minutes = max(1, settings().password_reset_ttl_seconds // 60)
        return _page(
            "site/forgot_password.html",
            form=ForgotPasswordForm(formdata=None),
            sent=gettext(
                "If an account has that email address, a link to reset its password is on its way. "
                "It works once, within %(minutes)s minutes.",
                minutes=minutes,
            ),
        )
    return _page("site/forgot_password.html", 422 if form.errors else 200, form=form, sent=None)


@bp.route("/account/reset", methods=["GET", "POST"])
def reset_password():
    moved = _token_out_of_the_address(RESET_TOKEN, "site_recovery.reset_password")
    if moved is not None:
        return moved
    token = session.get(RESET_TOKEN) or ""
    form = ResetPasswordForm()
    if request.method == "GET":
        with unit_of_work() as uow:
            usable = bool(token) and recovery.usable(uow, token, recovery.PASSWORD_RESET)
        if not usable:
            return _page("site/reset_password.html", 400, form=None)
        return _page("site/reset_password.html", form=form)
    if not form.validate_on_submit():
        return _page("site/reset_password.html", 422, form=form)
    try:
        with unit_of_work() as uow:
            user_id = recovery.reset_password(
                uow, current_app.extensions["seatline.passwords"], token, form.new_password.data
            )
    except ResetTokenInvalid:
        session.pop(RESET_TOKEN, None)
        return _page("site/reset_password.html", 400, form=None)
    revocation.revocations().publish_from_database(user_id)
    # Every session of the account has ended, and this browser's (whoever was signed in) ends too:
    # the fan logs in with the new password, through the login's own limits.
    session.clear()
    return _private(redirect(url_for("site_auth.login", reset="done"), code=303))


@bp.get("/account/verify")
def verify_email():
    moved = _token_out_of_the_address(VERIFY_TOKEN, "site_recovery.verify_email")
    if moved is not None:
        return moved
    token = session.pop(VERIFY_TOKEN, None)
    verified = already = False
    with unit_of_work() as uow:
        if token:
            try:
                recovery.verify_email(uow, token)
                verified = True
            except TokenInvalid:
                pass
        user_id = signed_in_user()
        if not verified and user_id is not None:
            already = recovery.is_verified(uow, user_id)
    return _page(
        "site/verify_email.html",
        200 if verified or already else 400,
        verified=verified,
        already=already,
        signed_in=signed_in_user() is not None,
    )
