from __future__ import annotations

from typing import Annotated

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, StringConstraints

from app.api.http import current_user, parse_body, parse_uuid
from app.booking import saga, services
from app.circuit import behind_breaker
from app.errors import BookingNotFound, HoldNotFound
from app.rate_limit_rules import GATEWAY_CALLS, rate_limited
from app.unit_of_work import unit_of_work

bp = Blueprint("booking_api", __name__, url_prefix="/api/v1")


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    # Left out (or an empty body) for a hold that costs nothing: it is booked without a payment.
    paymentIntentId: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


@bp.post("/holds/<hold_id>/confirm")
@rate_limited(GATEWAY_CALLS)
@behind_breaker
def confirm(hold_id: str):
    user = current_user()
    hid = parse_uuid(hold_id, HoldNotFound, "hold")
    body = parse_body(ConfirmRequest) if request.get_data(cache=True) else ConfirmRequest()
    with unit_of_work() as uow:
        if body.paymentIntentId is None:
            settlement = saga.confirm_free(uow, user.id, hid)
        else:
            settlement = saga.confirm(uow, current_app.extensions["seatline.gateway"], user.id, hid,
                                      body.paymentIntentId)
    saga.raise_unless_booked(settlement)
    return {"bookingId": str(settlement.booking_id)}, 201 if settlement.created else 200


@bp.get("/bookings")
def list_bookings():
    user = current_user()
    with unit_of_work() as uow:
        bookings = services.list_bookings(uow, user.id)
    return {"bookings": bookings}, 200, {"Cache-Control": "no-store"}


@bp.get("/bookings/<booking_id>")
def get_booking(booking_id: str):
    user = current_user()
    with unit_of_work() as uow:
        booking = services.get_booking(uow, user.id, parse_uuid(booking_id, BookingNotFound, "booking"))
    return booking, 200, {"Cache-Control": "no-store"}


@bp.post("/bookings/<booking_id>/cancel")
@behind_breaker
def cancel_booking(booking_id: str):
    user = current_user()
    with unit_of_work() as uow:
        body = services.cancel_booking(uow, user.id, parse_uuid(booking_id, BookingNotFound, "booking"))
    return body, 200
