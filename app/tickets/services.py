"""A booking's tickets: one per seat, each with a signed code (app/tickets/codes.py) naming the
booking's ``ticket_version``; revoking the codes a transfer replaces or a cancellation ends; what a
printed ticket shows (app/tickets/documents.py)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import BookingNotFound
from app.money import to_major
from app.tickets import codes, keys, rotating
from app.unit_of_work import UnitOfWork, unit_of_work


class TicketSigner:
    """Signs the codes of one request or job: each organisation's key is read (and unsealed) once."""

    def __init__(self, uow: UnitOfWork, secret: str) -> None:
        self._uow = uow
        self._secret = secret
        self._keys: dict[int, keys.SigningKey] = {}

    def code(self, organisation_id: int, booking_id: uuid.UUID, show_id: int, seat_id: str, version: int) -> str:
        key = self._keys.get(organisation_id)
        if key is None:
            key = self._keys[organisation_id] = keys.signing_key(self._uow, self._secret, organisation_id)
        return codes.sign(codes.Ticket(key.kid, booking_id, show_id, seat_id, version), key.private_key)

    def tickets(self, booking: Any) -> list[dict[str, str]]:
        """``[{seatId, code}]`` of a booking row (``id``, ``show_id``, ``seat_ids``, ``status``,
        ``ticket_version``, ``organisation_id``): none once it is cancelled (its codes are revoked)."""
        if booking.status != "CONFIRMED":
            return []
        return [
            {
                "seatId": seat,
                "code": self.code(booking.organisation_id, booking.id, booking.show_id, seat, booking.ticket_version),
            }
            for seat in booking.seat_ids
        ]


REVOKE = """
    INSERT INTO revoked_tickets (booking_id, seat_id, version, show_id, reason)
    SELECT b.id, seat, b.ticket_version, b.show_id, :reason FROM bookings b CROSS JOIN LATERAL unnest(b.seat_ids) AS seat
    WHERE b.id = ANY(:ids)
    ON CONFLICT DO NOTHING
"""


def revoke(uow: UnitOfWork, booking_ids: Iterable[uuid.UUID], reason: str) -> None:
    """Records the bookings' current codes as revoked (``TRANSFERRED`` or ``CANCELLED``). Run in the
    transaction that transfers or cancels, under the booking's row lock, before a transfer bumps
    ``ticket_version``."""
    uow.execute(REVOKE, {"ids": list(booking_ids), "reason": reason})


@dataclass(frozen=True)
class PrintedTicket:
    seat_id: str
    section: str
    row: str
    number: int
    price: str
    code: str
    # A place of a standing section (README "General admission (standing)"): printed as the section, not a seat.
    standing: bool = False


@dataclass(frozen=True)
class PrintedBooking:
    """What a booking's PDF and calendar entry show."""

    booking_id: str
    status: str
    title: str
    venue: str
    city: str
    starts_at: datetime  # in the show's timezone
    ends_at: datetime | None
    ticket_version: int
    tickets: list[PrintedTicket]
    # The show requires rotating codes and does not allow printed ones: the PDF carries no code
    # (README "Rotating codes").
    phone_only: bool = False


PRINTED = """
    SELECT b.id, b.user_id, b.show_id, b.seat_ids, b.status, b.ticket_version, b.currency, e.organisation_id,
           e.title, e.duration_minutes, s.starts_at, s.ticket_codes, s.static_codes_allowed, v.name AS venue, c.name AS city, c.timezone, s.venue_id
    FROM bookings b JOIN shows s ON s.id = b.show_id JOIN events e ON e.id = s.event_id
    JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id
    WHERE b.id = :id
"""
SEATS = """
    SELECT vs.seat_id, vs.section, vs.row, vs.number, sp.price, vs.standing
    FROM venue_seats vs LEFT JOIN show_prices sp ON sp.show_id = :show AND sp.tier = vs.tier
    WHERE vs.venue_id = :venue AND vs.seat_id = ANY(:seats)
"""


def printed_booking(
    uow: UnitOfWork, secret: str, booking_id: uuid.UUID | str, owner_id: int | None = None
) -> PrintedBooking | None:
    """The booking as printed, or None if there is no such booking (or, with ``owner_id``, it is not
    that user's). A cancelled booking has no tickets. A price is written as its amount and currency code
    (``500.00 INR``): plain Latin-1, which the PDF's built-in font writes (app/tickets/documents.py)."""
    b = uow.execute(PRINTED, {"id": booking_id}).first()
    if b is None or (owner_id is not None and b.user_id != owner_id):
        return None
    seats = {
        s.seat_id: s for s in uow.execute(SEATS, {"show": b.show_id, "venue": b.venue_id, "seats": list(b.seat_ids)})
    }
    signer = TicketSigner(uow, secret)
    printed = []
    for ticket in signer.tickets(b):
        seat = seats[ticket["seatId"]]
        printed.append(
            PrintedTicket(
                seat.seat_id,
                seat.section,
                seat.row,
                seat.number,
                f"{to_major(seat.price or 0, b.currency)} {b.currency}",
                ticket["code"],
                seat.standing,
            )
        )
    starts = b.starts_at.astimezone(ZoneInfo(b.timezone))
    return PrintedBooking(
        booking_id=str(b.id),
        status=b.status,
        title=b.title,
        venue=b.venue,
        city=b.city,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=b.duration_minutes) if b.duration_minutes else None,
        ticket_version=b.ticket_version,
        tickets=printed,
        phone_only=b.ticket_codes == "ROTATING" and not b.static_codes_allowed,
    )


def owned_printed_booking(uow: UnitOfWork, secret: str, user_id: int, booking_id: uuid.UUID) -> PrintedBooking:
    """The caller's booking as printed; ``BookingNotFound`` for anyone else's, as the API answers."""
    printed = printed_booking(uow, secret, booking_id, owner_id=user_id)
    if printed is None:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    return printed


LIVE = """
    SELECT b.id, b.user_id, b.show_id, b.seat_ids, b.status, b.ticket_version, e.organisation_id, e.title,
           s.starts_at, s.ticket_codes, s.rotation_key_sealed, v.name AS venue, c.timezone,
           extract(epoch FROM now()) * 1000 AS now_ms
    FROM bookings b JOIN shows s ON s.id = b.show_id JOIN events e ON e.id = s.event_id
    JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id
    WHERE b.id = :id
"""


def static_codes_allowed(booking_id: uuid.UUID) -> bool:
    """Whether the booking's show admits printed (static) codes although it requires rotating ones."""
    with unit_of_work() as uow:
        return bool(
            uow.execute(
                "SELECT s.static_codes_allowed FROM bookings b JOIN shows s ON s.id = b.show_id WHERE b.id = :id",
                {"id": booking_id},
            ).scalar()
        )


def live_tickets(uow: UnitOfWork, secret: str, user_id: int, booking_id: uuid.UUID) -> dict[str, Any]:
    """What the fan's live ticket page shows (README "Rotating codes"): each ticket's signed code and, at
    a show with rotating codes, its own secret (never the show's key), the server's time so the phone
    follows its clock, and the clock rules. ``BookingNotFound`` for anyone else's or a cancelled booking."""
    b = uow.execute(LIVE, {"id": booking_id}).first()
    if b is None or b.user_id != user_id or b.status != "CONFIRMED":
        raise BookingNotFound(f"booking {booking_id} does not exist")
    is_rotating = b.ticket_codes == "ROTATING"
    show_key = rotating.unseal(secret, b.show_id, bytes(b.rotation_key_sealed)) if is_rotating else None
    signer = TicketSigner(uow, secret)
    live = []
    for ticket in signer.tickets(b):
        seat = ticket["seatId"]
        ticket_secret = (
            base64.urlsafe_b64encode(rotating.ticket_secret(show_key, b.id, seat, b.ticket_version))
            .decode()
            .rstrip("=")
            if show_key is not None
            else None
        )
        live.append({"seatId": seat, "code": ticket["code"], "secret": ticket_secret})
    return {
        "bookingId": str(b.id),
        "title": b.title,
        "venueName": b.venue,
        "startTime": b.starts_at.astimezone(ZoneInfo(b.timezone)).isoformat(),
        "ticketVersion": b.ticket_version,
        "rotating": is_rotating,
        "serverTimeMs": int(b.now_ms),
        "stepSeconds": rotating.STEP_SECONDS,
        "digits": rotating.DIGITS,
        "separator": rotating.SEPARATOR,
        "tickets": live,
    }
