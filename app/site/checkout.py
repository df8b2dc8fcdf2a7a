"""Checkout, confirmation and the fan's bookings, as pages."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import segno
from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for

from app.booking import saga
from app.booking import services as bookings
from app.errors import BookingNotFound, CancellationNotAllowed, DomainError, HoldNotFound
from app.inventory import services as inventory
from app.payments.gateway import GatewayRejected, GatewayUnavailable
from app.unit_of_work import unit_of_work
from workers.dispatch import schedule_hold_expiry
from workers.dispatch import run_followups

bp = Blueprint("site_checkout", __name__)

# The gateway's test cards, as Stripe documents them: the form stands in for Stripe Elements.
TEST_CARDS = {"4242424242424242": "pm_card_visa", "4000000000000002": "pm_card_chargeDeclined"}


def _user_id() -> int:
    user_id = session.get("user_id")
    if not user_id:
        abort(401)
    return user_id


@bp.route("/holds/<uuid:hold_id>/checkout", methods=["GET", "POST"])
def checkout(hold_id: uuid.UUID):
    user_id = session.get("user_id")
    if not user_id:
        return redirect(url_for("site_auth.login", next=request.path), code=303)
    gateway = current_app.extensions["seatline.gateway"]
    error = None
    try:
        with unit_of_work() as uow:
            hold = inventory.get_hold(uow, user_id, hold_id)
        if hold.amount == 0:
            return _free_checkout(user_id, hold)
        with unit_of_work() as uow:
            started = saga.start_payment(uow, gateway, user_id, hold_id)
        if started.expires_at is not None:
            schedule_hold_expiry(str(hold_id), started.expires_at)
        intent = started.intent
    except HoldNotFound:
        abort(404)
    except DomainError as exc:
        return render_template("site/checkout.html", hold=hold.to_json(), error=exc.message, intent=None), exc.status
    if request.method == "POST":
        card = re.sub(r"\D", "", request.form.get("card", ""))
        method = TEST_CARDS.get(card)
        if method is None:
            error = "That card number was not accepted. Use a test card: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined."
        else:
            try:
                gateway.confirm_intent(intent.id, method)
                with unit_of_work() as uow:
                    settlement = saga.confirm(uow, gateway, user_id, hold_id, intent.id)
                run_followups(settlement.followups)
                saga.raise_unless_booked(settlement)
                return redirect(url_for("site_checkout.booking_page", booking_id=settlement.booking_id), code=303)
            except GatewayRejected:
                error = "Your card was declined. Your seats are still held: try another card."
            except GatewayUnavailable:
                error = "The payment service is not answering. Your seats are still held: try again in a moment."
            except DomainError as exc:
                error = exc.message
    status = 200 if error is None else 402
    return render_template("site/checkout.html", hold=hold.to_json(), intent=intent, error=error), status


def _free_checkout(user_id: int, hold: inventory.HoldView):
    """Free seats: "Get tickets" books them without a payment (no card form, no gateway)."""
    if request.method == "GET":
        return render_template("site/checkout.html", hold=hold.to_json(), intent=None, error=None)
    try:
        with unit_of_work() as uow:
            settlement = saga.confirm_free(uow, user_id, hold.hold_id)
        run_followups(settlement.followups)
        saga.raise_unless_booked(settlement)
    except DomainError as exc:
        return render_template("site/checkout.html", hold=hold.to_json(), intent=None, error=exc.message), exc.status
    return redirect(url_for("site_checkout.booking_page", booking_id=settlement.booking_id), code=303)


def _qr(booking_id: str, seat: str) -> str:
    return segno.make(f"seatline:{booking_id}:{seat}", error="m").svg_inline(scale=3, title=f"Ticket for seat {seat}")


@bp.get("/bookings")
def my_bookings():
    user_id = session.get("user_id")
    if not user_id:
        return redirect(url_for("site_auth.login", next=request.path), code=303)
    with unit_of_work() as uow:
        mine = bookings.list_bookings(uow, user_id)
    now = datetime.now(timezone.utc)
    upcoming = [b for b in mine if datetime.fromisoformat(b["startTime"]) >= now]
    past = [b for b in mine if datetime.fromisoformat(b["startTime"]) < now]
    return render_template("site/bookings.html", upcoming=upcoming, past=past)


@bp.get("/bookings/<uuid:booking_id>")
def booking_page(booking_id: uuid.UUID):
    user_id = session.get("user_id")
    if not user_id:
        return redirect(url_for("site_auth.login", next=request.path), code=303)
    try:
        with unit_of_work() as uow:
            booking, refund = bookings.refund_quote(uow, user_id, booking_id)
    except BookingNotFound:
        abort(404)
    tickets = [(seat, _qr(booking["bookingId"], seat)) for seat in booking["seatIds"]]
    return render_template("site/booking.html", booking=booking, tickets=tickets, refund=refund)


@bp.post("/bookings/<uuid:booking_id>/cancel")
def cancel_from_page(booking_id: uuid.UUID):
    user_id = _user_id()
    try:
        with unit_of_work() as uow:
            _, followups = bookings.cancel_booking(uow, user_id, booking_id)
        run_followups(followups)
    except BookingNotFound:
        abort(404)
    except CancellationNotAllowed:
        abort(422)
    return redirect(url_for("site_checkout.booking_page", booking_id=booking_id), code=303)
