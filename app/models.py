"""Every table, imported in one place so Alembic sees the whole schema."""
from app.accounts.models import User
from app.booking.models import Booking, Payment, WebhookEvent
from app.catalog.models import City, Event, Show, ShowPrice, Venue, VenueSeat
from app.inventory.models import Hold, ShowSeat

__all__ = [
    "Booking", "City", "Event", "Hold", "Payment", "Show", "ShowPrice", "ShowSeat",
    "User", "Venue", "VenueSeat", "WebhookEvent",
]
