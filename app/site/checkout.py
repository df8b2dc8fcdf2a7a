"""Checkout, confirmation and the fan's bookings, as pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import segno
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from wtforms import BooleanField, EmailField
from wtforms.validators import DataRequired, Email, Length

from app.accounts.signed_in import login_required
from app.audit import log as audit
from app.booking import checkout as hosted, queries as booking_queries, saga, services as bookings, transfer
from app.circuit import behind_breaker
from app.errors import (
    BookingNotFound,
    CancellationNotAllowed,
    DomainError,
    HoldNotFound,
    RecipientNotFound,
    TransferNotAllowed,
)
from app.inventory import services as inventory
from app.page_messages import page_message
from app.payments.gateway import GatewayRejected, GatewayUnavailable
from app.rate_limit_rules import GATEWAY_CALLS, TRANSFERS, rate_limited
from app.site.forms import SiteForm
from app.standing import seat_words
from app.tickets import documents, services as tickets
from app.unit_of_work import unit_of_work

bp = Blueprint("site_checkout", __name__)


@bp.route("/holds/<uuid:hold_id>/checkout", methods=["GET", "POST"])
@rate_limited(GATEWAY_CALLS)
@behind_breaker
@login_required
def checkout(hold_id: uuid.UUID, user_id: int):
    """GET shows what is being paid for and changes nothing (no session at the gateway: looking at a
    page, or a browser prefetching it, must not start a payment). POST sends the fan to the gateway's
    hosted payment page (README "Hosted checkout"): the card number is typed there, never here."""
    try:
        with unit_of_work() as uow:
            hold = inventory.get_hold(uow, user_id, hold_id).to_json()
    except HoldNotFound:
        abort(404)
    if hold["status"] == "CONFIRMED":
        return _checkout_page(
            hold, gettext("These seats are paid for: your tickets are in My bookings."), 409, payable=False
        )
    if hold["status"] != "ACTIVE":
        return _checkout_page(
            hold,
            gettext("This hold is %(status)s: hold the seats again.", status=hold["status"].lower()),
            409,
            payable=False,
        )
    if hold["amount"] == 0:
        return _free_checkout(user_id, hold)
    if request.method == "GET":
        return _checkout_page(hold, None, 200)
    public_url = current_app.extensions["seatline.settings"].public_url.rstrip("/")
    try:
        with unit_of_work() as uow:
            session = hosted.open_session(
                uow,
                current_app.extensions["seatline.gateway"],
                user_id,
                hold_id,
                success_url=f"{public_url}/holds/{hold_id}/checkout/return?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{public_url}/holds/{hold_id}/checkout",
            )
    except HoldNotFound:
        abort(404)
    except DomainError as exc:
        retry_after = exc.details.get("retryAfter") if exc.status in (429, 503) else None
        return _checkout_page(
            hold,
            page_message(exc),
            exc.status,
            payable=exc.status in (429, 503),
            retry_after=retry_after,
        )
    return redirect(session.url, code=303)


@bp.get("/holds/<uuid:hold_id>/checkout/return")
@rate_limited(GATEWAY_CALLS, methods=["get"])  # each visit asks the gateway once
@behind_breaker
@login_required
def checkout_return(hold_id: uuid.UUID, user_id: int):
    """Where the gateway sends the fan after paying. The webhooks book the hold by themselves (also
    if the fan never comes back); this page asks the gateway once too, through the same saga, so a
    late webhook does not keep the fan waiting, then shows the booking or waits for it."""
    with unit_of_work() as uow:
        found = hosted.session_of_hold(uow, user_id, hold_id)
    if found is None:
        abort(404)
    if found.booking_id is None and found.session_id and request.args.get("session_id") == found.session_id:
        gateway = current_app.extensions["seatline.gateway"]
        try:
            session = gateway.retrieve_checkout_session(found.session_id)
            if session.payment_intent:
                intent = gateway.retrieve_intent(session.payment_intent)
                if intent.succeeded:
                    with unit_of_work() as uow:
                        saga.settle_intent(uow, gateway, intent, audit.fan(user_id), path=saga.CONFIRM)
        except (GatewayUnavailable, GatewayRejected):
            pass  # the webhook settles it; the page waits for that
        with unit_of_work() as uow:
            found = hosted.session_of_hold(uow, user_id, hold_id)
    if found.booking_id is not None:
        return redirect(url_for("site_checkout.booking_page", booking_id=found.booking_id), code=303)
    return _finishing(hold_id, found, full_page=True)


@bp.get("/holds/<uuid:hold_id>/checkout/status")
@login_required
def checkout_status(hold_id: uuid.UUID, user_id: int):
    """The waiting page's fragment, polled with htmx: Postgres only, never the gateway."""
    with unit_of_work() as uow:
        found = hosted.session_of_hold(uow, user_id, hold_id)
    if found is None:
        abort(404)
    if found.booking_id is not None:
        target = url_for("site_checkout.booking_page", booking_id=found.booking_id)
        return "", 200, {"HX-Redirect": target, "Cache-Control": "no-store"}
    return _finishing(hold_id, found, full_page=False)


def _finishing(hold_id: uuid.UUID, found, *, full_page: bool):
    if found.refunded:
        state = "refunded"
    elif found.status != "ACTIVE" or found.session_status == "expired":
        state = "ended"
    else:
        state = "waiting"
    template = "site/checkout_return.html" if full_page else "site/_checkout_status.html"
    return (
        render_template(template, hold_id=hold_id, state=state, hold_status=found.status),
        200,
        {"Cache-Control": "no-store"},
    )


def _checkout_page(hold: dict, error: str | None, status: int, *, payable: bool = True, retry_after: int | None = None):
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return render_template("site/checkout.html", hold=hold, payable=payable, error=error), status, headers


def _free_checkout(user_id: int, hold: dict):
    """Free seats: "Get tickets" books them without a payment (no payment page, no gateway)."""
    if request.method == "GET":
        return _checkout_page(hold, None, 200)
    try:
        with unit_of_work() as uow:
            settlement = saga.confirm_free(uow, user_id, uuid.UUID(hold["holdId"]))
        saga.raise_unless_booked(settlement)
    except DomainError as exc:
        return _checkout_page(hold, page_message(exc), exc.status, payable=False)
    return redirect(url_for("site_checkout.booking_page", booking_id=settlement.booking_id), code=303)


def _qr(code: str, seat: str) -> str:
    """A ticket's QR code, as the PDF prints it (app/tickets/documents.py): the ticket's signed code."""
    return segno.make(code, error="m").svg_inline(scale=3, title=gettext("Ticket for seat %(seat)s", seat=seat))


class TransferForm(SiteForm):
    email = EmailField(
        lazy_gettext("Email address of the Seatline account to give the tickets to"),
        validators=[DataRequired(), Email(), Length(max=254)],
    )
    confirm = BooleanField(
        lazy_gettext("I understand that my ticket codes stop working and the booking is no longer mine"),
        validators=[DataRequired()],
    )


@bp.get("/bookings")
@login_required
def my_bookings(user_id: int):
    with unit_of_work() as uow:
        mine = bookings.list_bookings(uow, user_id)
        standing = booking_queries.standing_places(uow, [b["bookingId"] for b in mine])
    for b in mine:  # standing places read as their section (README "General admission (standing)")
        b["seatWords"] = seat_words(b["seatIds"], standing.get(b["bookingId"], {}))
    now = datetime.now(UTC)
    upcoming = [b for b in mine if datetime.fromisoformat(b["startTime"]) >= now]
    past = [b for b in mine if datetime.fromisoformat(b["startTime"]) < now]
    transferred = request.args.get("transferred") == "1"
    return render_template("site/bookings.html", upcoming=upcoming, past=past, transferred=transferred)


@bp.get("/bookings/<uuid:booking_id>")
@login_required
def booking_page(booking_id: uuid.UUID, user_id: int):
    return _booking_page(booking_id, user_id, TransferForm(formdata=None))


def _booking_page(
    booking_id: uuid.UUID, user_id: int, form: TransferForm, status: int = 200, transfer_error: str | None = None
):
    try:
        with unit_of_work() as uow:
            booking, refund = bookings.refund_quote(uow, user_id, booking_id)
            standing = booking_queries.standing_places(uow, [booking["bookingId"]]).get(booking["bookingId"], {})
    except BookingNotFound:
        abort(404)
    rotating = any(t["rotating"] for t in booking["tickets"])
    # At a show with rotating codes the live page shows the codes that admit; the static ones appear here
    # and on paper only if the organiser allows printed tickets (README "Rotating codes").
    printable = not rotating or tickets.static_codes_allowed(booking_id)
    qrs = (
        [
            (
                gettext("Standing, %(section)s (admission %(seat)s)", section=standing[t["seatId"]], seat=t["seatId"])
                if t["seatId"] in standing
                else gettext("Seat %(seat)s", seat=t["seatId"]),
                _qr(t["code"], t["seatId"]),
            )
            for t in booking["tickets"]
        ]
        if not rotating
        else []
    )
    page = render_template(
        "site/booking.html",
        booking=booking,
        tickets=qrs,
        rotating=rotating,
        printable=printable,
        refund=refund,
        transfer_form=form,
        transfer_error=transfer_error,
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/bookings/<uuid:booking_id>/transfer")
@rate_limited(TRANSFERS)
@behind_breaker
@login_required(refuse=401)
def transfer_from_page(booking_id: uuid.UUID, user_id: int):
    """The API's transfer (``POST /api/v1/bookings/{id}/transfer``) as a form: done, the fan goes to
    their bookings (this one is no longer among them); refused, the booking page says why."""
    form = TransferForm()
    if not form.validate_on_submit():
        return _booking_page(booking_id, user_id, form, 400)
    try:
        with unit_of_work() as uow:
            transfer.transfer_booking(uow, user_id, booking_id, form.email.data or "")
    except BookingNotFound:
        abort(404)
    except RecipientNotFound:
        message = gettext("No Seatline account has that email address. Ask them to sign up, then try again.")
        return _booking_page(booking_id, user_id, form, 422, message)
    except TransferNotAllowed as exc:
        return _booking_page(booking_id, user_id, form, 422, _transfer_refusal(exc.details.get("reason")))
    return redirect(url_for("site_checkout.my_bookings", transferred=1), code=303)


def _transfer_refusal(reason: str | None) -> str:
    return {
        "BOOKING_CANCELLED": gettext("This booking is cancelled: there is nothing to transfer."),
        "SHOW_CANCELLED": gettext("The show is cancelled: its tickets cannot be transferred."),
        "SHOW_STARTED": gettext("The show has started: its tickets can no longer be transferred."),
        "TRANSFER_CUTOFF": gettext("The show starts soon: its tickets can no longer be transferred."),
        "SAME_ACCOUNT": gettext("That is your own email address: the tickets are yours already."),
    }.get(reason or "", gettext("These tickets cannot be transferred."))


def _printed(booking_id: uuid.UUID, user_id: int) -> tickets.PrintedBooking:
    secret = current_app.extensions["seatline.settings"].ticket_keys_secret
    try:
        with unit_of_work() as uow:
            printed = tickets.owned_printed_booking(uow, secret, user_id, booking_id)
    except BookingNotFound:
        abort(404)
    if not printed.tickets:  # cancelled: no tickets, no event to go to
        abort(404)
    return printed


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    """A file the fan's browser saves rather than shows; personal, so never kept by a cache."""
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@bp.get("/bookings/<uuid:booking_id>/tickets.pdf")
@login_required
def tickets_pdf(booking_id: uuid.UUID, user_id: int):
    printed = _printed(booking_id, user_id)
    return _download(documents.tickets_pdf(printed), "application/pdf", f"tickets-{printed.booking_id}.pdf")


# ---------------------------------------------------------------- the live ticket (README "Rotating codes")

LIVE_SCRIPT = Path(__file__).resolve().parent.parent / "static" / "js" / "live-sw.js"


def _live_data(booking_id: uuid.UUID, user_id: int) -> dict[str, Any]:
    secret = current_app.extensions["seatline.settings"].ticket_keys_secret
    try:
        with unit_of_work() as uow:
            return tickets.live_tickets(uow, secret, user_id, booking_id)
    except BookingNotFound:
        abort(404)


@bp.get("/bookings/<uuid:booking_id>/live")
@login_required
def live_ticket(booking_id: uuid.UUID, user_id: int):
    """The phone's ticket: a QR code drawn in the browser from the data below, new every 15 s at a show
    with rotating codes; installable, and opens offline once seen (its service worker keeps it)."""
    live = _live_data(booking_id, user_id)
    return render_template("site/live.html", live=live), 200, {"Cache-Control": "no-store"}


@bp.get("/bookings/<uuid:booking_id>/live.json")
@login_required(refuse=404)
def live_ticket_data(booking_id: uuid.UUID, user_id: int):
    """The live page's data: the fan's own tickets' codes and secrets; 404 for anyone else's booking, a
    cancelled one or one transferred away, which the service worker takes as "forget this ticket"."""
    return _live_data(booking_id, user_id), 200, {"Cache-Control": "no-store"}


@bp.get("/bookings/<uuid:booking_id>/live.webmanifest")
def live_ticket_manifest(booking_id: uuid.UUID):
    """The web app manifest that makes the live ticket installable; nothing personal in it."""
    manifest = {
        "name": gettext("Seatline ticket"),
        "short_name": gettext("Ticket"),
        "start_url": url_for("site_checkout.live_ticket", booking_id=booking_id),
        "scope": url_for("site_checkout.live_ticket", booking_id=booking_id).rsplit("/", 1)[0] + "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d3557",
        "icons": [
            {
                "src": url_for("static", filename=f"icons/ticket-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
            }
            for size in (192, 512)
        ],
    }
    return Response(orjson.dumps(manifest), mimetype="application/manifest+json", headers={"Cache-Control": "no-cache"})


@bp.get("/bookings/<uuid:booking_id>/live-sw.js")
def live_ticket_worker(booking_id: uuid.UUID):
    """The live ticket's service worker, served under the booking's path so that its scope is that
    booking's pages alone; the same script for every booking, nothing personal in it."""
    return Response(LIVE_SCRIPT.read_bytes(), mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.get("/bookings/<uuid:booking_id>/event.ics")
@login_required
def event_ics(booking_id: uuid.UUID, user_id: int):
    printed = _printed(booking_id, user_id)
    return _download(documents.event_ics(printed), "text/calendar", f"event-{printed.booking_id}.ics")


@bp.post("/bookings/<uuid:booking_id>/cancel")
@behind_breaker
@login_required(refuse=401)
def cancel_from_page(booking_id: uuid.UUID, user_id: int):
    try:
        with unit_of_work() as uow:
            bookings.cancel_booking(uow, user_id, booking_id)
    except BookingNotFound:
        abort(404)
    except CancellationNotAllowed:
        abort(422)
    return redirect(url_for("site_checkout.booking_page", booking_id=booking_id), code=303)
