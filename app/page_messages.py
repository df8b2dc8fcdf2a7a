"""What a fan-site page says about a refused request, in the page's language (README "Languages").

The JSON API answers in English (``DomainError.message``); a page shows the same refusal worded for
its reader, chosen by the error's code (and the details it carries), with the error's English
message as the last resort for a refusal no fan page meets (the manager's tools).
"""

from __future__ import annotations

from flask_babel import gettext

from app.errors import DomainError


def sentence(message: str) -> str:
    """An API message (lower-case, no full stop) as a sentence on a page."""
    return message[:1].upper() + message[1:] + "."


def page_message(exc: DomainError) -> str:
    """``exc`` as the page tells it: translated where a fan can meet it, else the English sentence."""
    code, details = exc.code, exc.details
    if code == "SALE_CLOSED":
        return {
            "CANCELLED": gettext("This show has been cancelled."),
            "NOT_OPEN": gettext("The sale for this show has not opened yet."),
            "CLOSED": gettext("The sale for this show has ended."),
        }.get(str(details.get("saleStatus")), gettext("Seats for this show are not on sale."))
    if code == "SEAT_LIMIT_EXCEEDED" and "limit" in details:
        return gettext(
            "You can have at most %(limit)s seats for this show, held and booked together (you have %(held)s already).",
            limit=details["limit"],
            held=details.get("held", 0),
        )
    if code == "HOLD_NOT_ACTIVE" and exc.message.startswith("the payment for this hold is being processed"):
        return gettext("The payment for this hold is being processed. Try again shortly.")
    if code == "DEGRADED" and exc.message.startswith("the payment service"):
        return gettext("The payment service is not answering. Your seats stay held: try again in a moment.")
    known = {
        "CODE_INVALID": gettext("That code cannot be used for this show now."),
        "CODE_EXHAUSTED": gettext("That code has been used up."),
        "SEATS_UNAVAILABLE": gettext("Some of those seats are already taken."),
        "HOLD_EXPIRED": gettext("This hold has run out: hold the seats again."),
        "HOLD_NOT_ACTIVE": gettext("This hold is no longer active: hold the seats again."),
        "HOLD_NOT_FOUND": gettext("That hold does not exist, or it is not yours."),
        "SHOW_NOT_FOUND": gettext("That show does not exist."),
        "BOOKING_NOT_FOUND": gettext("That booking does not exist, or it is not yours."),
        "NOT_FOUND": gettext("That page does not exist."),
        "ADMISSION_REQUIRED": gettext("This sale is behind the waiting room: join the queue to get in."),
        "PAYMENT_IN_PROGRESS": gettext("A payment for this hold has already been started. Finish that payment."),
        "PAYMENT_REFUSED": gettext("The payment service would not take this payment."),
        "PAYMENT_NOT_COMPLETED": gettext("The payment has not been completed."),
        "PAYMENT_NOT_NEEDED": gettext("These seats are free: no payment is needed."),
        "SHOW_CANCELLED": gettext("This show has been cancelled."),
        "DEGRADED": gettext("We're very busy right now. Please try again in a moment."),
        "WAITLIST_NOT_NEEDED": gettext("Seats of that kind are on sale: pick them on the map."),
        "WAITLIST_NOT_FOUND": gettext("That waiting-list place does not exist, or it is not yours."),
        "QUEUE_CLOSED": gettext("This waiting room is closed."),
        "EMAIL_NOT_VERIFIED": gettext("This waiting room admits only fans who have confirmed their email address."),
        "CANCELLATION_NOT_ALLOWED": gettext("This booking can no longer be cancelled."),
        "TRANSFER_NOT_ALLOWED": gettext("These tickets cannot be transferred."),
        "VALIDATION_FAILED": gettext("Some of what was sent needs another look."),
        "FORBIDDEN": gettext("You are not allowed to do that."),
        "AUTH_REQUIRED": gettext("Log in first."),
    }
    return known.get(code) or sentence(exc.message)
