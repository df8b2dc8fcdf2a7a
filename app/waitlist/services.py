"""The waiting list for sold-out shows (README "Waiting list"; ARCHITECTURE.md rule 8).

A fan joins a show's line when no seat of the kind they want can be held. While a WAITING entry
wants a free seat's tier, the seat is the line's: the public hold statement leaves it alone
(``seat_state.SEAT_IS_FREE_TO_PUBLIC``) and the seat map shows it taken. Seats come back (a hold
lapses or is released, a booking is cancelled, the box office unblocks them) and the offer job
(``make_offers``) gives them, in line order, to the first entries it can serve in full: a hold of
the fan's on the seats (``seat_state.offer_seats``, the same conditional update in seat order as any
hold) and a message with the link to pay it. An offer that lapses unpaid ends MISSED, and its seats,
free again, are the line's again. The job runs after each commit that returned seats of a show with
a line (``seats_returned``), at each offer's end, and from the periodic sweep; the show's advisory
lock makes concurrent runs for one show take turns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row

from app.background import queues
from app.background.dispatch import Followups
from app.errors import (
    HoldNotActive,
    SaleClosed,
    ShowNotFound,
    ValidationFailed,
    WaitlistEntryNotFound,
    WaitlistNotNeeded,
)
from app.extensions import redis_store
from app.inventory import seat_state, services as inventory
from app.inventory.hints import SeatHints
from app.notifications.outbox import message_money, queue_message
from app.unit_of_work import UnitOfWork
from app.waitlist import queries

OFFER_KIND = "waitlist_offer"
# The message to a fan whose waiting list closed: the show was cancelled or its sale ended (``close_ended_lines``).
CLOSED_KIND = "waitlist_closed"
# How many entries one run of the offer job looks at, at most; the next run goes on.
LINE_BATCH = 500
OFFER_JOB = "workers.jobs.offer_waitlist_seats"


@dataclass(frozen=True)
class Joined:
    entry: Row[Any]
    created: bool


def join(uow: UnitOfWork, user_id: int, show_id: int, quantity: int, tier: str | None) -> Joined:
    """The fan's entry in the show's line: a new one, or the active one they have already."""
    show = queries.show_for_joining(uow, show_id)
    if show is None:
        raise ShowNotFound(f"show {show_id} does not exist")
    if tier is not None and tier not in show.tiers:
        raise ValidationFailed(
            "this show has no such price tier",
            fields=[{"field": "tier", "message": f"one of {', '.join(show.tiers)}"}],
            unknownTier=tier,
        )
    if show.status == "CANCELLED":
        raise SaleClosed("this show has been cancelled", saleStatus="CANCELLED")
    if show.db_now < show.sale_opens_at:
        raise SaleClosed(
            "the sale for this show has not opened yet",
            saleStatus="NOT_OPEN",
            saleOpensAt=show.sale_opens_at.isoformat(),
        )
    if show.db_now >= show.sale_closes_at:
        raise SaleClosed("the sale for this show has ended", saleStatus="CLOSED")
    queries.lock_user_line(uow, user_id, show_id)
    existing = queries.active_entry(uow, user_id, show_id)
    if existing is not None and existing.status in ("WAITING", "OFFERED"):
        uow.rollback()
        return Joined(existing, False)
    if existing is not None:  # an offer paid or lapsed that the offer job has not recorded yet
        queries.end_offer(uow, existing.id, existing.status)
    available = queries.free_to_public(uow, show_id, tier)
    if available:
        uow.rollback()
        raise WaitlistNotNeeded("seats of this kind are on sale: hold them instead", available=available)
    entry_id = uuid.uuid4()
    queries.insert_entry(uow, entry_id, user_id, show_id, quantity, tier)
    entry = queries.entry(uow, entry_id)
    assert entry is not None  # just inserted
    uow.commit()
    return Joined(entry, True)


def entries(uow: UnitOfWork, user_id: int) -> Sequence[Row[Any]]:
    return queries.entries_of(uow, user_id)


def get_entry(uow: UnitOfWork, user_id: int, entry_id: uuid.UUID) -> Row[Any]:
    entry = queries.entry(uow, entry_id)
    if entry is None or entry.user_id != user_id:
        raise WaitlistEntryNotFound(f"waiting-list entry {entry_id} does not exist")
    return entry


def leave(uow: UnitOfWork, hints: SeatHints, user_id: int, entry_id: uuid.UUID) -> None:
    """The fan leaves the line (again: nothing changes). An open offer's hold is released unless
    its payment has started (rule 4: then the payment decides), and its seats pass down the line."""
    left = queries.leave(uow, entry_id, user_id)
    if left is None:
        uow.rollback()
        get_entry(uow, user_id, entry_id)  # another fan's, or none: 404
        return
    uow.commit()
    if left.hold_id is None:
        return
    try:
        inventory.release_hold(uow, hints, user_id, left.hold_id)
    except (inventory.PaymentInFlight, HoldNotActive):
        return
    seats_returned(uow, [left.show_id])
    uow.commit()


def entry_body(row: Row[Any]) -> dict[str, Any]:
    """An entry as the API answers it (``schemas.WaitlistEntry``); its times carry the show's city's
    offset, as the catalog's do, so a page words them in the show's own time zone."""
    zone = ZoneInfo(row.timezone)
    offer = None
    if row.status == "OFFERED":
        offer = {
            "holdId": row.hold_id,
            "seatIds": list(row.offer_seat_ids),
            "expiresAt": row.offer_expires_at.astimezone(zone),
            "amount": row.offer_amount,
            "currency": row.offer_currency,
        }
    return {
        "waitlistId": row.id,
        "showId": str(row.show_id),
        "title": row.title,
        "startTime": row.starts_at.astimezone(zone),
        "quantity": row.quantity,
        "tier": row.tier,
        "status": row.status,
        "position": row.position,
        "joinedAt": row.created_at,
        "offer": offer,
    }


# ---------------------------------------------------------------- seats come back: offers


def seats_returned(uow: UnitOfWork, show_ids: Iterable[int]) -> None:
    """Call in the transaction that returned seats of ``show_ids``: once it commits, the offer job
    runs for those of them with a WAITING entry. A lost job is made good by the periodic sweep."""
    ids = sorted(set(show_ids))
    if not ids:
        return
    waiting = queries.shows_with_lines(uow, ids, ("WAITING",))
    if waiting:
        uow.after_commit(partial(queue_offers, waiting))


def queue_offers(show_ids: Iterable[int], at: datetime | None = None) -> None:
    for show_id in show_ids:
        queues.enqueue(
            redis_store.queues,
            queues.HOLDS,
            OFFER_JOB,
            int(show_id),
            job_id=f"waitlist-offers-{show_id}" if at is None else f"waitlist-offers-{show_id}-{at.timestamp():.0f}",
            at=at,
        )


def choose_seats(seats: Sequence[Any], quantity: int) -> list[str] | None:
    """``quantity`` of ``seats`` (each with ``seat_id``, ``section``, ``row_label``, in layout order),
    from one row when a row has that many, else the first in layout order; None if too few."""
    if len(seats) < quantity:
        return None
    rows: dict[tuple[str, str], list[str]] = {}
    for seat in seats:
        rows.setdefault((seat.section, seat.row_label), []).append(seat.seat_id)
    for row in rows.values():
        if len(row) >= quantity:
            return row[:quantity]
    return [seat.seat_id for seat in seats[:quantity]]


def make_offers(uow: UnitOfWork, show_id: int, offer_seconds: int, public_url: str) -> int:
    """One run of the offer job for a show, in one transaction under the show's line lock: settles
    the offers that were paid (CLAIMED) or lapsed unpaid (MISSED), then offers the free seats to the
    WAITING entries in line order, each only if all the seats it wants can be offered; returns how
    many offers it made. Safe to run twice or concurrently (the lock; every seat taken by a
    conditional update)."""
    queries.lock_line(uow, show_id)
    queries.settle_offers(uow, show_id)
    if not queries.on_sale(uow, show_id):
        uow.commit()
        return 0
    free = list(queries.free_seats(uow, show_id))
    notifications: list[int] = []
    made = 0
    ends: datetime | None = None
    if free:
        show = queries.offer_context(uow, show_id)
        for entry in queries.waiting_line(uow, show_id, LINE_BATCH):
            if not free:
                break
            wanted = [s for s in free if entry.tier is None or s.tier == entry.tier]
            chosen = choose_seats(wanted, entry.quantity)
            if chosen is None:
                continue
            hold_id = uuid.uuid4()
            hold = seat_state.offer_seats(uow, hold_id, entry.user_id, show_id, chosen, offer_seconds)
            taken = set(chosen)
            free = [s for s in free if s.seat_id not in taken]
            if hold is None:  # a seat went meanwhile (a lapsed hold's owner paid after all): the next run retries
                continue
            queries.mark_offered(uow, entry.id, hold_id)
            notifications += queue_message(
                uow,
                entry.user_id,
                OFFER_KIND,
                str(hold_id),
                _offer_context(show, show_id, hold_id, chosen, hold, public_url),
            )
            made += 1
            ends = hold.expires_at
    uow.after_commit(Followups(notifications=notifications).run)
    if ends is not None:
        # The offers' end: their seats pass down the line then, without waiting for the sweep.
        uow.after_commit(partial(queue_offers, [show_id], ends + timedelta(seconds=1)))
    uow.commit()
    return made


def _offer_context(
    show: Row[Any], show_id: int, hold_id: uuid.UUID, seats: list[str], hold: Row[Any], public_url: str
) -> dict[str, Any]:
    zone = ZoneInfo(show.timezone)
    return {
        "show_id": show_id,
        "hold_id": str(hold_id),
        "title": show.title,
        "venue": show.venue,
        "starts": show.starts_at.astimezone(zone).strftime("%a %d %b %Y, %H:%M %Z"),
        "seats": ", ".join(seats),
        "amount": message_money(hold.amount, hold.currency),
        # What the outbox words again in the fan's language when it sends (``outbox.localised``).
        "starts_at": show.starts_at.astimezone(zone).isoformat(),
        "timezone": show.timezone,
        "amount_minor": hold.amount,
        "currency": hold.currency,
        "expires": hold.expires_at.astimezone(zone).strftime("%H:%M %Z, %a %d %b"),
        "link": f"{public_url.rstrip('/')}/holds/{hold_id}",
    }


def shows_to_sweep(uow: UnitOfWork) -> list[int]:
    """The shows whose line the periodic sweep runs the offer job for: those on sale with a WAITING
    entry, and any with an open offer to settle."""
    return queries.shows_to_sweep(uow)


def close_ended_lines(uow: UnitOfWork, batch: int = 1000) -> int:
    """Closes the waiting lists nobody can be offered seats from any more (the show was cancelled or
    its sale ended): each WAITING entry ends CLOSED and its fan is told, in the same transaction.
    Commits; returns how many entries it closed. The periodic sweep runs it, so an entry that joined
    just as its show was cancelled is closed by the next sweep (README "Waiting list")."""
    closed = 0
    while True:
        rows = queries.close_ended_lines(uow, batch)
        notifications: list[int] = []
        for row in rows:
            zone = ZoneInfo(row.timezone)
            notifications += queue_message(
                uow,
                row.user_id,
                CLOSED_KIND,
                str(row.id),
                {
                    "show_id": row.show_id,
                    "title": row.title,
                    "venue": row.venue,
                    "cancelled": row.cancelled,
                    "starts": row.starts_at.astimezone(zone).strftime("%a %d %b %Y, %H:%M %Z"),
                    "starts_at": row.starts_at.astimezone(zone).isoformat(),
                    "timezone": row.timezone,
                },
            )
        uow.after_commit(Followups(notifications=notifications).run)
        uow.commit()
        closed += len(rows)
        if len(rows) < batch:
            return closed
