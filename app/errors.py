"""Domain errors raised by services, and their mapping to the HTTP contract.

Services raise these with a machine-readable code; entry points turn them into
``{"error": {"code", "message", ...}}`` with the status the contract names.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "ERROR"
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class ValidationFailed(DomainError):
    code = "VALIDATION_FAILED"
    status = 400


class AuthRequired(DomainError):
    code = "AUTH_REQUIRED"
    status = 401


class InvalidToken(DomainError):
    code = "INVALID_TOKEN"
    status = 401


class InvalidCredentials(DomainError):
    code = "INVALID_CREDENTIALS"
    status = 401


class ResetTokenInvalid(DomainError):
    """A password-reset link's token that is used, expired, unknown or malformed."""

    code = "RESET_TOKEN_INVALID"
    status = 400


class TokenInvalid(DomainError):
    """An email-verification link's token that is used, expired, unknown or malformed."""

    code = "TOKEN_INVALID"
    status = 400


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404


class CityNotFound(NotFound):
    code = "CITY_NOT_FOUND"


class ShowNotFound(NotFound):
    code = "SHOW_NOT_FOUND"


class HoldNotFound(NotFound):
    code = "HOLD_NOT_FOUND"


class EmailTaken(DomainError):
    code = "EMAIL_TAKEN"
    status = 409


class SeatsUnavailable(DomainError):
    code = "SEATS_UNAVAILABLE"
    status = 409


class HoldNotActive(DomainError):
    code = "HOLD_NOT_ACTIVE"
    status = 409


class HoldPaidFor(HoldNotActive):
    """The hold became a booking: it cannot be released. The API answers as for any hold that is
    not active; a page can send the fan to ``booking_id`` (not part of the error's body)."""

    def __init__(self, message: str, booking_id: Any, **details: Any) -> None:
        super().__init__(message, **details)
        self.booking_id = booking_id


class SaleClosed(DomainError):
    code = "SALE_CLOSED"
    status = 422


class SeatLimitExceeded(DomainError):
    code = "SEAT_LIMIT_EXCEEDED"
    status = 422


class CodeInvalid(DomainError):
    """An access code that cannot be used for this hold (README "Presale codes and vouchers")."""

    code = "CODE_INVALID"
    status = 422


class CodeExhausted(DomainError):
    """An access code with no uses left."""

    code = "CODE_EXHAUSTED"
    status = 422


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class Degraded(DomainError):
    code = "DEGRADED"
    status = 503


class PaymentNotCompleted(DomainError):
    code = "PAYMENT_NOT_COMPLETED"
    status = 402


class PaymentRefused(DomainError):
    """The gateway will not take a payment of this amount or currency; nothing was charged."""

    code = "PAYMENT_REFUSED"
    status = 422


class PaymentNotNeeded(DomainError):
    """The hold costs nothing: it is confirmed without a payment."""

    code = "PAYMENT_NOT_NEEDED"
    status = 422


class HoldExpired(DomainError):
    code = "HOLD_EXPIRED"
    status = 409


class PaymentInProgress(DomainError):
    """The hold's payment was started another way (a payment intent): it is not also sent to the hosted page."""

    code = "PAYMENT_IN_PROGRESS"
    status = 409


class BookingNotFound(NotFound):
    code = "BOOKING_NOT_FOUND"


class CancellationNotAllowed(DomainError):
    code = "CANCELLATION_NOT_ALLOWED"
    status = 422


class TransferNotAllowed(DomainError):
    """The booking cannot be transferred now; ``reason`` says why (README "Tickets and transfer")."""

    code = "TRANSFER_NOT_ALLOWED"
    status = 422


class RecipientNotFound(DomainError):
    """A transfer to an email address no account has: the booking exists, the recipient does not."""

    code = "RECIPIENT_NOT_FOUND"
    status = 422


class AdmissionRequired(DomainError):
    code = "ADMISSION_REQUIRED"
    status = 403


# The waiting room's errors.


class EventNotFound(NotFound):
    code = "EVENT_NOT_FOUND"


class QueueMissing(NotFound):
    code = "QUEUE_NOT_FOUND"


class TicketNotFound(NotFound):
    code = "TICKET_NOT_FOUND"


class QueueIsClosed(DomainError):
    code = "QUEUE_CLOSED"
    status = 409


class EmailNotVerified(DomainError):
    code = "EMAIL_NOT_VERIFIED"
    status = 403


class InvalidQueueTransition(DomainError):
    code = "INVALID_QUEUE_STATE"
    status = 409


# Venue managers' errors.


class VenueNotFound(NotFound):
    code = "VENUE_NOT_FOUND"


class LayoutInUse(DomainError):
    code = "LAYOUT_IN_USE"
    status = 409


class ShowExists(DomainError):
    code = "SHOW_EXISTS"
    status = 409


class EventExists(DomainError):
    code = "EVENT_EXISTS"
    status = 409


class VenueExists(DomainError):
    code = "VENUE_EXISTS"
    status = 409


class ShowCancelled(DomainError):
    code = "SHOW_CANCELLED"
    status = 409


class WaitlistNotNeeded(DomainError):
    code = "WAITLIST_NOT_NEEDED"
    status = 409


class WaitlistEntryNotFound(NotFound):
    code = "WAITLIST_NOT_FOUND"
