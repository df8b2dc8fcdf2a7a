"""The fan's account page: change the password, log out everywhere."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from app.accounts import revocation, services
from app.accounts.signed_in import login_required, signed_in_user
from app.errors import InvalidCredentials
from app.rate_limit_rules import PASSWORD_CHANGES, rate_limited
from app.unit_of_work import unit_of_work

bp = Blueprint("site_account", __name__)


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=128)])
    new_password = PasswordField(
        "New password (8 characters or more)", validators=[DataRequired(), Length(min=8, max=128)]
    )


def _page(form: PasswordForm, status: int = 200, message: str | None = None, error: str | None = None):
    with unit_of_work() as uow:
        email = uow.execute("SELECT email FROM users WHERE id = :id", {"id": signed_in_user()}).scalar()
    response = current_app.make_response(
        (render_template("site/account.html", form=form, email=email, message=message, error=error), status)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account")
@login_required
def account(user_id: int):
    return _page(PasswordForm(formdata=None))


@bp.post("/account/password")
@rate_limited(PASSWORD_CHANGES)
@login_required(back_to="site_account.account")
def change_password(user_id: int):
    form = PasswordForm()
    if not form.validate_on_submit():
        return _page(form, 422)
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
        return _page(form, 422, error="That isn't your current password.")
    revocation.revocations().publish_from_database(user_id)
    # Every other session and token is dead; this one carries on under the new epoch.
    session["ep"] = epoch
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]  # app/api/http.py's sessions
    return _page(
        PasswordForm(formdata=None),
        message="Password changed. You are still logged in here and logged out everywhere else.",
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
