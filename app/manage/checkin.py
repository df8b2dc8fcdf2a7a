"""Door check-in (README "Door check-in"): a ticket's code is verified with the show's organisation's
public keys (app/tickets/codes.py), checked against its booking (not revoked, for this show) and the
show's check-in window, and its seat admitted once.

Exactly once: ``checkins``' primary key (show, booking, seat) admits a ticket once however many
scanners race (an ``INSERT ... ON CONFLICT``: the loser waits for the winner's commit and then reads
its row). A scan's nonce is claimed first, in the same transaction (``checkin_nonces``): a retried scan
waits for the first to commit and answers with the status and body stored under the nonce.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from flask import current_app
from sqlalchemy import Row

from app.audit import log as audit
from app.manage import access
from app.manage.access import Actor
from app.tickets import codes, keys, rotating
from app.unit_of_work import UnitOfWork

ADMITTED = "ADMITTED"
# How far an offline scanner's clock may run ahead of the server's: a ``scannedAt`` further ahead counts as now.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ScanAnswer:
    """The HTTP status and body a scan was answered with (kept under its nonce)."""

    status: int
    body: dict[str, Any]

    @property
    def result(self) -> str:
        return self.body["result"] if self.status == 201 else self.body["error"]["code"]


def _refused(status: int, code: str, message: str, **details: Any) -> ScanAnswer:
    return ScanAnswer(status, {"error": {"code": code, "message": message, **details}})


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


SHOW = """
    SELECT s.id, s.starts_at, s.status, s.checkin_opens_at, s.checkin_closes_at, e.organisation_id AS ticket_org,
           e.duration_minutes, s.ticket_codes, s.static_codes_allowed, s.rotation_key_sealed, now() AS db_now
    FROM shows s JOIN events e ON e.id = s.event_id WHERE s.id = :id
"""
ROTATING = "ROTATING"


def show_key(show: Row[Any]) -> bytes | None:
    """The show's rotation key (README "Rotating codes"), None if it never had rotating codes."""
    if show.rotation_key_sealed is None:
        return None
    secret = current_app.extensions["seatline.settings"].ticket_keys_secret
    return rotating.unseal(secret, show.id, bytes(show.rotation_key_sealed))


def window(show: Row[Any]) -> tuple[datetime | None, datetime]:
    """When check-in opens (None: any time before the show) and closes: the manager's window, else until
    the show ends (its start plus the event's duration)."""
    ends = show.starts_at + timedelta(minutes=show.duration_minutes)
    return show.checkin_opens_at, show.checkin_closes_at or ends


CLAIM_NONCE = """
    INSERT INTO checkin_nonces (show_id, nonce) VALUES (:show, :nonce)
    ON CONFLICT DO NOTHING RETURNING nonce
"""
ANSWERED = "SELECT status, body FROM checkin_nonces WHERE show_id = :show AND nonce = :nonce"
STORE_ANSWER = (
    "UPDATE checkin_nonces SET status = :status, body = CAST(:body AS jsonb) WHERE show_id = :show AND nonce = :nonce"
)
BOOKING = "SELECT status, ticket_version, seat_ids FROM bookings WHERE id = :id AND show_id = :show FOR SHARE"
REVOKED = """
    SELECT EXISTS (SELECT 1 FROM revoked_tickets WHERE booking_id = :b AND seat_id = :seat AND version = :v)
"""
# Online: the first scan stays. Offline (``earliest``): an earlier scan replaces a later one.
ADMIT = """
    INSERT INTO checkins (show_id, booking_id, seat_id, version, gate, at, by_user_id, nonce, offline)
    VALUES (:show, :b, :seat, :v, :gate, coalesce(CAST(:at AS timestamptz), now()), :by, :nonce, :offline)
    ON CONFLICT (show_id, booking_id, seat_id) DO {on_conflict}
    RETURNING at, gate, (xmax = 0) AS inserted
"""
EARLIEST = """UPDATE SET gate = EXCLUDED.gate, at = EXCLUDED.at, by_user_id = EXCLUDED.by_user_id,
    nonce = EXCLUDED.nonce, offline = EXCLUDED.offline, version = EXCLUDED.version
    WHERE checkins.at > EXCLUDED.at"""
FIRST_SCAN = "SELECT at, gate FROM checkins WHERE show_id = :show AND booking_id = :b AND seat_id = :seat"


def _judge(
    uow: UnitOfWork,
    actor: Actor,
    show: Row[Any],
    ticket_text: str,
    gate: str,
    nonce: str,
    scanned_at: datetime | None,
) -> ScanAnswer:
    """The answer to one scan whose nonce is new."""
    # An offline scan counts at its own time, unless the scanner's clock is too far ahead: then now.
    at = scanned_at if scanned_at is not None and scanned_at <= show.db_now + CLOCK_SKEW else show.db_now
    opens, closes = window(show)
    if show.status == "CANCELLED" or (opens is not None and at < opens) or at >= closes:
        return _refused(
            422,
            "CHECKIN_CLOSED",
            "check-in for this show is not open",
            opensAt=iso(opens) if opens else None,
            closesAt=iso(closes),
        )
    public = {k["kid"]: k for k in keys.public_keys(uow, show.ticket_org)}
    static_code, one_time = rotating.split(ticket_text)
    try:
        ticket = codes.verify(static_code, lambda kid: keys.public_key_from_jwk(public[kid]) if kid in public else None)
    except codes.TicketCodeInvalid as exc:
        return _refused(422, "TICKET_INVALID", f"not a valid ticket code: {exc}")
    if ticket.show_id != show.id:
        return _refused(422, "WRONG_SHOW", "the ticket is for another show", ticketShowId=str(ticket.show_id))
    # A rotating show (README "Rotating codes"): a static code only if printed tickets are allowed, a
    # rotating one only with the one-time value of the scan's moment. A static show ignores the value.
    if show.ticket_codes == ROTATING and one_time is None and not show.static_codes_allowed:
        return _refused(
            422,
            "TICKET_STATIC_NOT_ALLOWED",
            "this show admits only the live ticket on the fan's phone, not a printed or copied code",
            bookingId=str(ticket.booking_id),
            seatId=ticket.seat_id,
        )
    if show.ticket_codes == ROTATING and one_time is not None:
        key = show_key(show)
        secret = rotating.ticket_secret(key, ticket.booking_id, ticket.seat_id, ticket.version) if key else b""
        if not key or not rotating.totp_ok(secret, one_time, at.timestamp()):
            return _refused(
                422,
                "TICKET_CODE_EXPIRED",
                "the rotating code is stale or wrong (a screenshot, or the phone's clock): ask for the live ticket",
                bookingId=str(ticket.booking_id),
                seatId=ticket.seat_id,
            )
    ids = {"b": ticket.booking_id, "seat": ticket.seat_id, "v": ticket.version, "show": show.id}
    booking = uow.execute(BOOKING, {"id": ticket.booking_id, "show": show.id}).first()
    if (
        booking is None
        or booking.status != "CONFIRMED"
        or booking.ticket_version != ticket.version
        or ticket.seat_id not in booking.seat_ids
        or uow.execute(REVOKED, ids).scalar_one()
    ):
        return _refused(
            422,
            "TICKET_REVOKED",
            "this ticket code no longer admits (the booking was transferred or cancelled)",
            bookingId=str(ticket.booking_id),
            seatId=ticket.seat_id,
        )
    offline = scanned_at is not None
    before = uow.execute(FIRST_SCAN, ids).first() if offline else None
    row = uow.execute(
        ADMIT.format(on_conflict=EARLIEST if offline else "NOTHING"),
        {**ids, "gate": gate, "at": at if offline else None, "by": actor.user_id, "nonce": nonce, "offline": offline},
    ).first()
    if row is None:
        first = uow.execute(FIRST_SCAN, ids).one()
        return _refused(
            409,
            "ALREADY_CHECKED_IN",
            "this ticket was already checked in",
            at=iso(first.at),
            gate=first.gate,
            bookingId=str(ticket.booking_id),
            seatId=ticket.seat_id,
        )
    body = {
        "result": ADMITTED,
        "showId": str(show.id),
        "bookingId": str(ticket.booking_id),
        "seatId": ticket.seat_id,
        "version": ticket.version,
        "at": iso(row.at),
        "gate": row.gate,
    }
    if not row.inserted and before is not None:
        # An earlier offline scan: the later one it replaces is reported (README "Door check-in").
        body["replaced"] = {"at": iso(before.at), "gate": before.gate}
    return ScanAnswer(201, body)


def check_in(
    uow: UnitOfWork,
    actor: Actor,
    show_id: int,
    ticket: str,
    gate: str,
    nonce: str,
    scanned_at: datetime | None = None,
) -> ScanAnswer:
    """Answers one scan, in ``uow``'s transaction, and commits. A nonce already answered for this show
    gets that answer again, whatever the rest of the scan says. ``scanned_at`` is an offline scan's time."""
    access.show(uow, actor, show_id)  # 404 for a show the actor may not see
    show = uow.execute(SHOW, {"id": show_id}).one()
    if uow.execute(CLAIM_NONCE, {"show": show_id, "nonce": nonce}).first() is None:
        stored = uow.execute(ANSWERED, {"show": show_id, "nonce": nonce}).one()
        uow.rollback()
        return ScanAnswer(stored.status, stored.body)
    answer = _judge(uow, actor, show, ticket, gate, nonce, scanned_at)
    uow.execute(
        STORE_ANSWER,
        {"status": answer.status, "body": orjson.dumps(answer.body).decode(), "show": show_id, "nonce": nonce},
    )
    details: dict[str, Any] = {"gate": gate, "nonce": nonce, "result": answer.result}
    if scanned_at is not None:
        details["scannedAt"] = iso(scanned_at)
    subject = answer.body.get("bookingId") or answer.body.get("error", {}).get("bookingId") or "-"
    audit.record(uow, audit.manager(actor), "ticket.checkin", "booking", subject, show_id=show_id, details=details)
    uow.commit()
    return answer


def visible_show(uow: UnitOfWork, actor: Actor, show_id: int) -> None:
    """``SHOW_NOT_FOUND`` unless the actor's organisation owns the show (an admin sees all)."""
    access.show(uow, actor, show_id)


def admitted_count(uow: UnitOfWork, show_id: int) -> int:
    return uow.execute("SELECT count(*) FROM checkins WHERE show_id = :s", {"s": show_id}).scalar_one()


def bundle(uow: UnitOfWork, actor: Actor, show_id: int) -> dict[str, Any]:
    """What a scanner needs to check tickets offline (README "Door check-in")."""
    access.show(uow, actor, show_id)
    show = uow.execute(SHOW, {"id": show_id}).one()
    opens, closes = window(show)
    revoked = uow.execute(
        "SELECT booking_id, seat_id, version FROM revoked_tickets WHERE show_id = :s ORDER BY revoked_at, booking_id, seat_id",
        {"s": show_id},
    )
    admitted = uow.execute(
        "SELECT booking_id, seat_id, version, gate, at FROM checkins WHERE show_id = :s ORDER BY at, booking_id, seat_id",
        {"s": show_id},
    )
    # The venue's standing sections, so a scanner names a place "Standing, Floor" (README "General admission").
    standing = uow.execute(
        """
        SELECT DISTINCT vs.section, split_part(vs.seat_id, '-', 1) AS prefix FROM shows s
        JOIN venue_seats vs ON vs.venue_id = s.venue_id AND vs.standing WHERE s.id = :s ORDER BY vs.section
        """,
        {"s": show_id},
    )
    return {
        "showId": str(show_id),
        "generatedAt": iso(show.db_now),
        "checkinOpensAt": iso(opens) if opens else None,
        "checkinClosesAt": iso(closes),
        "keys": {k["kid"]: k for k in keys.public_keys(uow, show.ticket_org)},
        "ticketCodes": show.ticket_codes,
        "staticCodesAllowed": show.static_codes_allowed,
        "rotation": _rotation(show),
        "revoked": [{"bookingId": str(r.booking_id), "seatId": r.seat_id, "version": r.version} for r in revoked],
        "checkins": [
            {"bookingId": str(r.booking_id), "seatId": r.seat_id, "version": r.version, "gate": r.gate, "at": iso(r.at)}
            for r in admitted
        ],
        "standing": [{"section": r.section, "prefix": r.prefix} for r in standing],
    }


def _rotation(show: Row[Any]) -> dict[str, Any] | None:
    """What an offline scanner needs to check a rotating code: the show key and the clock rules."""
    key = show_key(show) if show.ticket_codes == ROTATING else None
    if key is None:
        return None
    return {
        "key": base64.urlsafe_b64encode(key).decode().rstrip("="),
        "stepSeconds": rotating.STEP_SECONDS,
        "digits": rotating.DIGITS,
        "previousSteps": rotating.PREVIOUS_STEPS,
        "earlySeconds": rotating.EARLY_SECONDS,
        "separator": rotating.SEPARATOR,
    }


def set_window(
    uow: UnitOfWork, actor: Actor, show_id: int, opens_at: datetime | None, closes_at: datetime | None
) -> dict[str, Any]:
    """Narrows (or, with None, restores) the show's check-in window; commits."""
    access.show(uow, actor, show_id, lock=True)
    uow.execute(
        "UPDATE shows SET checkin_opens_at = :o, checkin_closes_at = :c WHERE id = :s",
        {"o": opens_at, "c": closes_at, "s": show_id},
    )
    audit.record(
        uow,
        audit.manager(actor),
        "show.checkin_window",
        "show",
        show_id,
        show_id=show_id,
        details={"opensAt": iso(opens_at) if opens_at else None, "closesAt": iso(closes_at) if closes_at else None},
    )
    show = uow.execute(SHOW, {"id": show_id}).one()
    uow.commit()
    opens, closes = window(show)
    return {"showId": str(show_id), "opensAt": iso(opens) if opens else None, "closesAt": iso(closes)}


# A scan's answer is kept under its nonce while a scanner may still retry its upload: until 30 days after the
# show's check-in closed (README "Door check-in"). After that the hourly job forgets them.
NONCE_KEPT_FOR = timedelta(days=30)
SHOWS_WITH_OLD_NONCES = """
    SELECT s.id FROM shows s JOIN events e ON e.id = s.event_id
    WHERE s.starts_at < now() - CAST(:kept AS interval)
      AND coalesce(s.checkin_closes_at, s.starts_at + make_interval(mins => e.duration_minutes))
          < now() - CAST(:kept AS interval)
      AND EXISTS (SELECT 1 FROM checkin_nonces n WHERE n.show_id = s.id)
    ORDER BY s.starts_at LIMIT :shows
"""
FORGET_NONCES = """
    DELETE FROM checkin_nonces WHERE show_id = :show
      AND nonce IN (SELECT nonce FROM checkin_nonces WHERE show_id = :show LIMIT :batch)
"""


def forget_old_nonces(uow: UnitOfWork, shows: int = 100, batch: int = 5000) -> int:
    """Deletes the nonces of up to ``shows`` shows whose check-in closed more than ``NONCE_KEPT_FOR``
    ago, ``batch`` rows a transaction (so no long lock on a big show's rows). Returns how many."""
    kept = f"{int(NONCE_KEPT_FOR.total_seconds())} seconds"
    forgotten = 0
    for (show_id,) in uow.execute(SHOWS_WITH_OLD_NONCES, {"kept": kept, "shows": shows}).all():
        while True:
            deleted = uow.execute(FORGET_NONCES, {"show": show_id, "batch": batch}).rowcount
            uow.commit()
            forgotten += deleted
            if deleted < batch:
                break
    return forgotten
