"""The fan's account page: the profile (name, phone, language), a new verification link while the
email address is unconfirmed, change the password, log out everywhere."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_babel import gettext, lazy_gettext, refresh
from wtforms import Field, PasswordField, SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.accounts import profile, recovery, revocation, services
from app.accounts.signed_in import login_required, signed_in_user
from app.errors import InvalidCredentials
from app.extensions import settings
from app.i18n import SESSION_LOCALE, SUPPORTED_LOCALES
from app.rate_limit_rules import PASSWORD_CHANGES, VERIFICATION_RESENDS, rate_limited
from app.site.forms import SiteForm
from app.text import single_line
from app.unit_of_work import unit_of_work

bp = Blueprint("site_account", __name__)

# Each language named in itself, so a fan who cannot read the page's language still finds theirs.
LANGUAGES = {"en": "English", "hi": "हिन्दी"}
assert set(LANGUAGES) == set(SUPPORTED_LOCALES)


class PasswordForm(SiteForm):
    current_password = PasswordField(lazy_gettext("Current password"), validators=[DataRequired(), Length(max=128)])
    new_password = PasswordField(
        lazy_gettext("New password (8 characters or more)"), validators=[DataRequired(), Length(min=8, max=128)]
    )


def _phone_number(form: SiteForm, field: Field) -> None:
    """Checked as PATCH /api/v1/me checks it (``profile.e164``); kept in E.164."""
    if not field.data:
        field.data = None
        return
    try:
        field.data = profile.e164(field.data)
    except ValueError as exc:
        raise ValidationError(
            gettext("Enter a phone number in international format: + and the country code, then the number.")
        ) from exc


class ProfileForm(SiteForm):
    # Control characters are taken out before the name is checked (app/text.py), as in the API.
    name = StringField(
        lazy_gettext("Your name"),
        validators=[DataRequired(), Length(max=100)],
        filters=[lambda v: single_line(v).strip() if isinstance(v, str) else v],
    )
    phone = StringField(
        lazy_gettext("Mobile phone for text messages (optional)"),
        validators=[Length(max=32), _phone_number],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    # Each option says its own language (lang=…), so a screen reader reads "हिन्दी" in Hindi.
    locale = SelectField(
        lazy_gettext("Language"),
        choices=[SelectChoice(code, name, render_kw={"lang": code}) for code, name in LANGUAGES.items()],
    )


def _page(
    password_form: PasswordForm | None = None,
    profile_form: ProfileForm | None = None,
    status: int = 200,
    message: str | None = None,
    error: str | None = None,
):
    with unit_of_work() as uow:
        account = profile.load(uow, signed_in_user())  # type: ignore[arg-type]  # login_required: someone is
    if profile_form is None:
        profile_form = ProfileForm(
            formdata=None,
            name=account.name,
            phone=account.phone or "",
            locale=account.locale or session.get(SESSION_LOCALE) or "en",
        )
    response = current_app.make_response(
        (
            render_template(
                "site/account.html",
                form=password_form or PasswordForm(formdata=None),
                profile_form=profile_form,
                account=account,
                email=account.email,
                message=message,
                error=error,
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account")
@login_required
def account(user_id: int):
    return _page()


@bp.post("/account/profile")
@login_required(back_to="site_account.account")
def update_profile(user_id: int):
    form = ProfileForm()
    if not form.validate_on_submit():
        return _page(profile_form=form, status=422)
    changes: dict[str, Any] = {"name": form.name.data, "phone": form.phone.data, "locale": form.locale.data}
    with unit_of_work() as uow:
        updated = profile.update(uow, user_id, changes)
    session["name"] = updated.name
    session[SESSION_LOCALE] = updated.locale
    refresh()  # this very page already speaks the new language
    return _page(message=gettext("Your details are saved."))


@bp.post("/account/verify/resend")
@rate_limited(VERIFICATION_RESENDS)
@login_required(back_to="site_account.account")
def resend_verification(user_id: int):
    """As POST /api/v1/auth/verify-email/resend, whose per-fan limit it shares."""
    with unit_of_work() as uow:
        if not recovery.is_verified(uow, user_id):
            recovery.queue_email_verification(uow, user_id, settings().email_verification_ttl_seconds)
        uow.commit()
    return _page(message=gettext("A new confirmation link is on its way to your email address."))


@bp.post("/account/password")
@rate_limited(PASSWORD_CHANGES)
@login_required(back_to="site_account.account")
def change_password(user_id: int):
    form = PasswordForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        with unit_of_work() as uow:
            epoch = services.change_password(
                uow,
                current_app.extensions["seatline.passwords"],
                user_id,
                form.current_password.data,
                form.new_password.data,
            )
    except InvalidCredentials:
        form.current_password.errors = [gettext("That isn't your current password.")]
        return _page(form, status=422)
    revocation.revocations().publish_from_database(user_id)
    # Every other session and token is dead; this one carries on under the new epoch.
    session["ep"] = epoch
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]  # app/api/http.py's sessions
    return _page(
        message=gettext("Password changed. You are still logged in here and logged out everywhere else."),
    )


@bp.post("/account/logout-all")
def logout_everywhere():
    user_id = signed_in_user()
    if user_id is not None:
        with unit_of_work() as uow:
            revocation.revoke_all(uow, user_id)
            uow.commit()
        revocation.revocations().publish_from_database(user_id)
    session.clear()
    return redirect(url_for("site.home"), code=303)
