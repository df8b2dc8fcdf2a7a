"""A fan lets go of a hold: the one way both the API (``DELETE /api/v1/holds/{id}``) and the hold
page's "Release these seats" do it, so they answer alike.

A hold nobody has started paying for frees its seats at once. A hold whose payment started goes
through the saga (ARCHITECTURE.md rule 4): the intent is cancelled at the gateway first, and the
gateway's answer decides. If the payment got through after all, the fan has a booking instead.
"""

from __future__ import annotations

import uuid

from app.booking import queries, saga
from app.errors import HoldNotActive, HoldPaidFor
from app.inventory import services as inventory
from app.inventory.hints import SeatHints
from app.payments.gateway import PaymentGateway
from app.unit_of_work import UnitOfWork
from app.waitlist import services as waitlist


def release_hold(
    uow: UnitOfWork, gateway: PaymentGateway, hints: SeatHints, user_id: int, hold_id: uuid.UUID
) -> inventory.HoldView:
    """The hold as it ends up: released (or already ended, which changes nothing). Raises
    ``HoldPaidFor`` when it became a booking, ``HoldNotActive`` while the gateway is still processing
    its payment (which may yet succeed), ``HoldNotFound`` for another fan's or no hold, and
    ``Degraded`` when the gateway does not answer (the hold and its seats are kept)."""
    try:
        released: inventory.HoldView | None = inventory.release_hold(uow, hints, user_id, hold_id)
    except inventory.PaymentInFlight:
        released = None
    except HoldNotActive as exc:  # confirmed already
        raise HoldPaidFor(exc.message, queries.booking_for_hold(uow, hold_id), **exc.details) from None
    if released is not None:
        # Its seats came back in the transaction just committed: a waiting line, if any, gets them.
        waitlist.seats_returned(uow, [released.show_id])
        uow.commit()
        return released
    saga.release_paying_hold(uow, gateway, user_id, hold_id)
    hold = inventory.get_hold(uow, user_id, hold_id)
    if hold.status == "CONFIRMED":
        raise HoldPaidFor(
            "this hold has been paid for and cannot be released",
            queries.booking_for_hold(uow, hold_id),
            status=hold.status,
        )
    if hold.status == "ACTIVE":
        # The gateway would not cancel the payment (it is being processed): it may still succeed.
        raise HoldNotActive("the payment for this hold is being processed; try again shortly", status=hold.status)
    return hold
