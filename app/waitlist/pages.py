"""The waiting list on the site: join a sold-out show's line from its page (htmx, or a plain form
post), "My waiting lists" with each place and open offer, and leaving a line."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext

from app.accounts.signed_in import login_required
from app.circuit import behind_breaker
from app.errors import DomainError, WaitlistEntryNotFound
from app.extensions import redis_store
from app.inventory.hints import SeatHints
from app.page_messages import page_message
from app.unit_of_work import unit_of_work
from app.waitlist import services

bp = Blueprint("waitlist_pages", __name__)


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@bp.post("/shows/<int:show_id>/waitlist")
@behind_breaker
@login_required(back_to="site.show_page")
def join_from_page(show_id: int, user_id: int):
    """The show page's "Join the waiting list": with htmx the form's result replaces it; without,
    the fan lands on "My waiting lists" (or the reason it failed)."""
    quantity, tier = request.form.get("quantity", ""), request.form.get("tier") or None
    try:
        if not (quantity.isdigit() and 1 <= int(quantity) <= 8):
            raise DomainError(gettext("Choose from 1 to 8 seats."))
        with unit_of_work() as uow:
            joined = services.join(uow, user_id, show_id, int(quantity), tier)
    except DomainError as exc:
        message = exc.message if exc.code == DomainError.code else page_message(exc)
        if _is_htmx():
            return render_template("site/_waitlist_joined.html", message=message), 200
        return render_template("site/waitlist.html", entries=[], message=message), exc.status
    if _is_htmx():
        return render_template("site/_waitlist_joined.html", position=joined.entry.position or 0)
    return redirect(url_for("waitlist_pages.my_waitlists"), code=303)


@bp.get("/waitlist")
@login_required
def my_waitlists(user_id: int):
    with unit_of_work() as uow:
        rows = services.entries(uow, user_id)
    # A CLOSED entry's words say why its line closed: the show was cancelled, or its sale ended.
    entries = [{**services.entry_body(r), "showCancelled": r.show_status == "CANCELLED"} for r in rows]
    return render_template("site/waitlist.html", entries=entries, message=None)


@bp.post("/waitlist/<uuid:entry_id>/leave")
@behind_breaker
@login_required(refuse=401)
def leave_from_page(entry_id: uuid.UUID, user_id: int):
    try:
        with unit_of_work() as uow:
            services.leave(uow, SeatHints(redis_store.limits), user_id, entry_id)
            entry = services.entry_body(services.get_entry(uow, user_id, entry_id))
    except WaitlistEntryNotFound:
        abort(404)
    if _is_htmx():
        return render_template("site/_waitlist_entry.html", e=entry)
    return redirect(url_for("waitlist_pages.my_waitlists"), code=303)
