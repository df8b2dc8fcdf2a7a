"""Every table, imported in one place so Alembic sees the whole schema."""

from app.accounts.models import Organisation, RevocationCopyPending, RevokedToken, User
from app.audit.models import AuditLogEntry
from app.booking.models import Booking, Payment, Refund, WebhookEvent
from app.catalog.models import City, Event, Show, ShowPrice, Venue, VenueSeat
from app.inventory.models import AccessCode, Hold, ShowSeat
from app.notifications.models import Notification, SmsMessage
from app.tickets.models import CheckIn, CheckinNonce, RevokedTicket, TicketKey
from app.waiting_room.models import GateQueue, GateTicket
from app.waitlist.models import WaitlistEntry

__all__ = [
    "AccessCode",
    "AuditLogEntry",
    "Booking",
    "City",
    "GateQueue",
    "GateTicket",
    "Event",
    "Hold",
    "Notification",
    "Organisation",
    "Payment",
    "Refund",
    "RevocationCopyPending",
    "CheckIn",
    "CheckinNonce",
    "RevokedTicket",
    "RevokedToken",
    "Show",
    "ShowPrice",
    "ShowSeat",
    "SmsMessage",
    "TicketKey",
    "User",
    "Venue",
    "VenueSeat",
    "WaitlistEntry",
    "WebhookEvent",
]
