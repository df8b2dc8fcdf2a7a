"""Signing up, in and out of the fan site, with a session cookie (the API keeps bearer tokens)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from app.accounts import services
from app.errors import EmailTaken, InvalidCredentials
from app.extensions import settings
from app.i18n import SESSION_LOCALE, SUPPORTED_LOCALES
from app.rate_limit_rules import LOGINS, SIGNUPS, rate_limited
from app.site.forms import SiteForm
from app.site.redirects import same_origin_path
from app.text import single_line
from app.unit_of_work import unit_of_work

bp = Blueprint("site_auth", __name__)


class LoginForm(SiteForm):
    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=128)])


class SignupForm(SiteForm):
    # Control characters are taken out before the name is checked (app/text.py).
    name = StringField(
        lazy_gettext("Your name"),
        validators=[DataRequired(), Length(max=100)],
        filters=[lambda v: single_line(v) if isinstance(v, str) else v],
    )
    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        lazy_gettext("Password (8 characters or more)"), validators=[DataRequired(), Length(min=8, max=128)]
    )


def _sign_in(account: services.Account, name: str | None = None, locale: str | None = None) -> None:
    session.clear()
    session.permanent = True
    session["user_id"] = account.user_id
    session["role"] = account.role
    session["ep"] = account.auth_epoch  # "log out everywhere" and a password change end it
    if name:
        session["name"] = name
    if locale in SUPPORTED_LOCALES:
        session[SESSION_LOCALE] = locale  # pages speak the profile's language from now on (app/i18n.py)
    # A new session id on every sign-in (no fixation); the old session is deleted.
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]  # app/api/http.py's sessions


def _next_url(role: str = "fan") -> str:
    target = same_origin_path(request.args.get("next"))
    if target is not None:
        return target
    if role == "door":
        return url_for("door.home")  # door staff scan tickets: README "The scanner page"
    return url_for("manage.overview") if role in ("manager", "admin") else url_for("site.home")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(LOGINS)
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                account = services.authenticate(
                    uow, current_app.extensions["seatline.passwords"], form.email.data, form.password.data
                )
                who = uow.execute("SELECT name, locale FROM users WHERE id = :id", {"id": account.user_id}).one()
            _sign_in(account, who.name, who.locale)
            return redirect(_next_url(account.role), code=303)
        except InvalidCredentials:
            error = gettext("That email and password don't match an account.")
    status = 200 if request.method == "GET" else (422 if error or form.errors else 200)
    # After a password reset (app/site/recovery.py): every session ended, log in with the new password.
    was_reset = request.args.get("reset") == "done"
    return render_template("site/login.html", form=form, error=error, was_reset=was_reset), status


@bp.route("/signup", methods=["GET", "POST"])
@rate_limited(SIGNUPS)
def signup():
    form = SignupForm()
    error = None
    if form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                account = services.register(
                    uow,
                    current_app.extensions["seatline.passwords"],
                    form.email.data,
                    form.password.data,
                    form.name.data.strip(),
                    verification_ttl_seconds=settings().email_verification_ttl_seconds,
                )
            _sign_in(account, form.name.data.strip())
            return redirect(_next_url(), code=303)
        except EmailTaken:
            error = gettext("There is already an account with that email. Log in instead?")
    status = 200 if request.method == "GET" else (422 if error or form.errors else 200)
    return render_template("site/signup.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    session.clear()  # deleted from Redis: the cookie's id no longer names a session
    return redirect(url_for("site.home"), code=303)
