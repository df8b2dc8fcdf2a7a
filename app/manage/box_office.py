"""The box office's view of a show: who holds or booked each seat, and seats taken out of sale.

Blocking takes only free seats (AVAILABLE, or HELD by a hold that has lapsed), all or
nothing, through ``app/inventory/seat_state.py``, with the same row locks in seat order as
holds, so it never races a fan's hold into a double sale. Blocking and unblocking are what the
manager API and the dashboard's seat page both call: after commit the seat hints and the show's
dashboard follow the change.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from app.audit import log as audit
from app.background.dispatch import Followups
from app.booking.queries import REFUND_SUMMARY_JOIN
from app.errors import SeatsUnavailable, ShowCancelled, ValidationFailed
from app.extensions import RedisRoles
from app.inventory import seat_state
from app.inventory.seatmap import SectionNotFound
from app.manage import access, dashboard
from app.manage.access import Actor
from app.money import to_major
from app.spreadsheet import safe_cell
from app.unit_of_work import UnitOfWork
from app.waitlist import services as waitlist

BLOCK_KINDS = ("KILL", "HOUSE")
BLOCK_ACTIONS = {"KILL": "seats.killed", "HOUSE": "seats.house_held"}
MAX_SEATS_PER_CHANGE = 5000


def sections(uow: UnitOfWork, show_id: int) -> list[str]:
    return list(
        uow.execute(
            """
        SELECT vs.section FROM shows s JOIN venue_seats vs ON vs.venue_id = s.venue_id
        WHERE s.id = :id GROUP BY vs.section ORDER BY min(vs.ordinal)
        """,
            {"id": show_id},
        ).scalars()
    )


def seat_states(uow: UnitOfWork, actor: Actor, show_id: int, section: str | None) -> dict[str, Any]:
    show = access.show(uow, actor, show_id)
    names = sections(uow, show_id)
    if section is None:
        section = names[0] if names else ""
    elif section not in names:
        raise SectionNotFound(f"show {show_id} has no section {section[:40]!r}")
    rows = uow.execute(
        f"""
        SELECT vs.seat_id, vs.row, vs.number, vs.x, vs.y, vs.tier, vs.accessible, vs.companion, p.price, vs.standing,
               CASE WHEN {seat_state.seat_is_free("ss")} THEN 'AVAILABLE' ELSE ss.status END AS status,
               ss.block_kind, h.id AS hold_id, h.expires_at AS hold_expires_at, h.payment_started_at,
               hu.id AS holder_id, hu.name AS holder_name, hu.email AS holder_email,
               b.id AS booking_id, bu.id AS booker_id, bu.name AS booker_name, bu.email AS booker_email
        FROM venue_seats vs
        JOIN show_seats ss ON ss.show_id = :show AND ss.venue_id = vs.venue_id AND ss.seat_id = vs.seat_id
        LEFT JOIN show_prices p ON p.show_id = :show AND p.tier = vs.tier
        LEFT JOIN holds h ON h.id = ss.hold_id AND NOT {seat_state.seat_hold_lapsed("ss")}
        LEFT JOIN users hu ON hu.id = h.user_id
        LEFT JOIN bookings b ON b.id = ss.booking_id
        LEFT JOIN users bu ON bu.id = b.user_id
        WHERE vs.venue_id = :venue AND vs.section = :section
        ORDER BY vs.ordinal
        """,
        {"show": show_id, "venue": show.venue_id, "section": section},
    )
    seats = []
    standing = False
    for r in rows:
        standing = standing or r.standing
        seat: dict[str, Any] = {
            "seatId": r.seat_id,
            "row": r.row,
            "number": r.number,
            "x": r.x,
            "y": r.y,
            "tier": r.tier,
            "price": r.price,
            "accessible": r.accessible,
            "companion": r.companion,
            "status": r.status,
            "blockKind": r.block_kind,
            "holder": None,
        }
        if r.status == "HELD" and r.hold_id is not None:
            seat["holder"] = {
                "userId": str(r.holder_id),
                "name": r.holder_name,
                "email": r.holder_email,
                "holdId": str(r.hold_id),
                "paying": r.payment_started_at is not None,
                "expiresAt": r.hold_expires_at.isoformat(),
            }
        elif r.status == "BOOKED" and r.booking_id is not None:
            seat["holder"] = {
                "userId": str(r.booker_id),
                "name": r.booker_name,
                "email": r.booker_email,
                "bookingId": str(r.booking_id),
            }
        seats.append(seat)
    return {
        "showId": str(show_id),
        "status": show.status,
        "sections": names,
        "section": section,
        "seats": seats,
        "standing": standing,
    }


def standing_places(
    uow: UnitOfWork, actor: Actor, show_id: int, section: str, quantity: int, *, blocked: bool
) -> list[str]:
    """``quantity`` places of the show's standing section ``section`` for the box office to block
    (free ones, the last in place order first, so fans keep the front of the floor) or, with
    ``blocked``, to put back on sale (out-of-sale ones, in place order): README "General admission
    (standing)". The places are then blocked or unblocked as seats are, by id, with the same
    locks, so a place a fan takes meanwhile makes the block a ``409`` that changes nothing."""
    show = access.show(uow, actor, show_id)
    if not 1 <= quantity <= MAX_SEATS_PER_CHANGE:
        raise ValidationFailed(f"choose 1 to {MAX_SEATS_PER_CHANGE} places")
    rows = uow.execute(
        f"""
        SELECT vs.seat_id, {seat_state.seat_is_free("ss")} AS free, ss.status = 'BLOCKED' AS blocked
        FROM venue_seats vs
        JOIN show_seats ss ON ss.show_id = :show AND ss.seat_id = vs.seat_id
        WHERE vs.venue_id = :venue AND vs.section = :section AND vs.standing
        ORDER BY vs.ordinal
        """,
        {"show": show_id, "venue": show.venue_id, "section": section},
    ).all()
    if not rows:
        raise ValidationFailed(f"the show has no standing section {section[:40]!r}")
    picked = [r.seat_id for r in rows if r.blocked] if blocked else [r.seat_id for r in reversed(rows) if r.free]
    if len(picked) < quantity:
        if blocked:
            raise ValidationFailed(f"only {len(picked)} places of {section[:40]} are out of sale")
        raise SeatsUnavailable(
            f"only {len(picked)} places of {section[:40]} are free", seatIds=[], available=len(picked)
        )
    return picked[:quantity]


def _check_seat_ids(uow: UnitOfWork, show_id: int, seat_ids: Sequence[str]) -> list[str]:
    wanted = sorted(set(seat_ids))
    if not wanted or len(wanted) > MAX_SEATS_PER_CHANGE:
        raise ValidationFailed(f"name 1 to {MAX_SEATS_PER_CHANGE} seats")
    if len(wanted) != len(seat_ids):
        raise ValidationFailed("a seat is named twice")
    known = set(
        uow.execute(
            "SELECT seat_id FROM show_seats WHERE show_id = :s AND seat_id = ANY(:ids)", {"s": show_id, "ids": wanted}
        ).scalars()
    )
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ValidationFailed("unknown seat ids", seatIds=unknown[:20])
    return wanted


def block_seats(
    uow: UnitOfWork, roles: RedisRoles, actor: Actor, show_id: int, seat_ids: Sequence[str], kind: str
) -> list[str]:
    """Takes free seats out of sale, all or nothing; 409 names the seats someone holds or booked."""
    show = access.show(uow, actor, show_id)
    if show.status == "CANCELLED":
        raise ShowCancelled("this show is cancelled")
    wanted = _check_seat_ids(uow, show_id, seat_ids)
    got = seat_state.block_free_seats(uow, show_id, wanted, kind)
    missing = [s for s in wanted if s not in got]
    if missing:
        uow.rollback()
        raise SeatsUnavailable("some of these seats are held or booked by fans", seatIds=missing)
    audit.record(
        uow,
        audit.manager(actor),
        BLOCK_ACTIONS[kind],
        "show",
        show_id,
        show_id=show_id,
        details={"seatIds": wanted, "kind": kind},
    )
    uow.after_commit(Followups(booked_seats={show_id: list(wanted)}).run)
    uow.commit()
    dashboard.forget(roles, show_id)
    return wanted


def unblock_seats(uow: UnitOfWork, roles: RedisRoles, actor: Actor, show_id: int, seat_ids: Sequence[str]) -> list[str]:
    """Puts seats back on sale; seats that were not out of sale, and seats the venue's layout never
    sells (change the layout for those), are left as they are."""
    show = access.show(uow, actor, show_id)
    if show.status == "CANCELLED":
        raise ShowCancelled("this show is cancelled")
    wanted = _check_seat_ids(uow, show_id, seat_ids)
    freed = seat_state.unblock(uow, show_id, wanted)
    if freed:
        waitlist.seats_returned(uow, [show_id])
    if freed:
        audit.record(
            uow,
            audit.manager(actor),
            "seats.released",
            "show",
            show_id,
            show_id=show_id,
            details={"seatIds": sorted(freed)},
        )
    uow.after_commit(Followups(freed_seats={show_id: sorted(freed)}).run)
    uow.commit()
    dashboard.forget(roles, show_id)
    return sorted(freed)


# ---------------------------------------------------------------- export

EXPORT_COLUMNS = (
    "booking_id",
    "status",
    "booked_at",
    "cancelled_at",
    "fan_name",
    "fan_email",
    "seats",
    "seat_count",
    "amount",
    "refund_amount",
    "refund_status",
    "currency",
    "payment_intent_id",
    # README "Presale codes and vouchers": what the hold's code took off (``amount`` is after it), and the code.
    "discount",
    "access_code",
)


def bookings_csv(uow: UnitOfWork, actor: Actor, show_id: int) -> str:
    """The show's bookings as CSV (one line per booking); times in the venue's time zone."""
    show = access.show(uow, actor, show_id)
    tz = ZoneInfo(show.timezone)
    rows = uow.execute(
        f"""
        SELECT b.id, b.status, b.created_at, b.cancelled_at, u.name, u.email, b.seat_ids, b.amount,
               b.refund_amount, r.status AS refund_status, b.currency, b.payment_intent_id,
               h.discount, c.code AS access_code
        FROM bookings b JOIN users u ON u.id = b.user_id
        JOIN holds h ON h.id = b.hold_id LEFT JOIN access_codes c ON c.id = h.access_code_id
        {REFUND_SUMMARY_JOIN}
        WHERE b.show_id = :show ORDER BY b.created_at, b.id
        """,
        {"show": show_id},
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        writer.writerow(
            (
                r.id,
                r.status,
                r.created_at.astimezone(tz).isoformat(),
                r.cancelled_at.astimezone(tz).isoformat() if r.cancelled_at else "",
                _safe(r.name),
                _safe(r.email),
                " ".join(r.seat_ids),
                len(r.seat_ids),
                _money(r.amount, r.currency),
                _money(r.refund_amount, r.currency),
                r.refund_status or "",
                r.currency,
                r.payment_intent_id,
                _money(r.discount, r.currency),
                r.access_code or "",
            )
        )
    return out.getvalue()


def _money(minor: int, currency: str) -> str:
    """Major units with the currency's own decimals (3000 JPY, 12.50 GBP, 12.350 KWD)."""
    return str(to_major(minor, currency))


def _safe(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; a fan's name must stay text."""
    return safe_cell(text)
