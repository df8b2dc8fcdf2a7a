"""Seat holds: all or nothing, decided by Postgres, hinted by Redis."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Row

from app.admission import AdmissionRefused
from app.errors import (
    AdmissionRequired,
    DomainError,
    HoldNotActive,
    HoldNotFound,
    InvalidToken,
    SaleClosed,
    SeatLimitExceeded,
    SeatsUnavailable,
    ShowNotFound,
    ValidationFailed,
)
from app.inventory import access_codes, queries, schemas, seat_state
from app.inventory.hints import SeatHints
from app.ops.metrics import HOLDS_CREATED, HOLDS_REJECTED, SEAT_HINTS
from app.unit_of_work import UnitOfWork

# What a hold was asked as (``HOLDS_CREATED``'s ``kind``): seats the fan picked, or the site's
# "best available", which picks them and holds them the same way.
PICKED_SEATS = "seats"
BEST_AVAILABLE = "best"
# A quantity of places of a standing section (README "General admission (standing)").
STANDING = "standing"


@dataclass(frozen=True)
class HoldLimits:
    ttl_seconds: int
    max_seats_per_hold: int
    max_held_seats_per_user_show: int

    @classmethod
    def from_settings(cls, settings: Any) -> HoldLimits:
        return cls(settings.hold_ttl_seconds, settings.max_seats_per_hold, settings.max_held_seats_per_user_show)


@dataclass(frozen=True)
class AdmissionCheck:
    """The gate's admission token a fan presented (None: none), and what verifies it."""

    verifier: Any
    token: str | None

    def require(self, rule: Row[Any] | None, user_id: int) -> None:
        """A queue-protected sale needs the gate's admission token for this fan and event."""
        if rule is None or not rule.queue_required:
            return
        try:
            self.verifier.verify(self.token, user_id, rule.event_id)
        except AdmissionRefused as exc:
            raise AdmissionRequired(
                "this sale is behind the waiting room: join the queue to get an admission token",
                reason=str(exc),
                eventId=str(rule.event_id),
            ) from exc


@dataclass(frozen=True)
class HoldView:
    hold_id: uuid.UUID
    show_id: int
    user_id: int
    status: str
    seat_ids: list[str]
    amount: int
    currency: str
    created_at: datetime
    expires_at: datetime
    payment_intent_id: str | None = None
    payment_started: bool = False
    discount: int = 0
    access_code: str | None = None
    # A standing-room hold: its section and how many places (seat_ids lists the places).
    ga_section: str | None = None

    def body(self) -> schemas.Hold:
        """The hold as the API answers it."""
        return schemas.Hold(
            holdId=self.hold_id,
            showId=str(self.show_id),
            status=self.status,  # type: ignore[arg-type]
            seatIds=self.seat_ids,
            amount=self.amount,
            currency=self.currency,
            createdAt=self.created_at,
            expiresAt=self.expires_at,
            paymentIntentId=self.payment_intent_id,
            discount=self.discount,
            accessCode=self.access_code,
            gaSection=self.ga_section,
            quantity=len(self.seat_ids) if self.ga_section else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The API's answer as plain JSON values (times as text), for the site's pages."""
        result: dict[str, Any] = orjson.loads(orjson.dumps(self.body().model_dump()))
        return result


def validate_seat_request(seat_ids: list[str], limits: HoldLimits) -> None:
    if not seat_ids:
        raise ValidationFailed("seatIds must name at least one seat", fields=[{"field": "seatIds", "message": "empty"}])
    if len(seat_ids) > limits.max_seats_per_hold:
        raise ValidationFailed(
            f"at most {limits.max_seats_per_hold} seats can be held at once",
            fields=[{"field": "seatIds", "message": f"more than {limits.max_seats_per_hold} seats"}],
        )
    duplicates = sorted({s for s in seat_ids if seat_ids.count(s) > 1})
    if duplicates:
        raise ValidationFailed(
            "seatIds lists a seat more than once",
            fields=[{"field": "seatIds", "message": "duplicate seats"}],
            duplicateSeatIds=duplicates,
        )


def hold_seats(
    uow: UnitOfWork,
    hints: SeatHints,
    limits: HoldLimits,
    user_id: int,
    show_id: int,
    seat_ids: list[str],
    admission: AdmissionCheck,
    kind: str = PICKED_SEATS,
    access_code: str | None = None,
) -> HoldView:
    """Holds all of ``seat_ids`` for the user, or none of them. Two statements: the first takes the
    user's lock on the show and reads its admission rule, the second does the rest.

    Counted in ``app/ops/metrics.py``: a hold made (``HOLDS_CREATED`` by ``kind``) once its
    transaction has committed; a refusal (``HOLDS_REJECTED``) by the error code it is answered with.
    ``access_code``: a presale code or voucher the fan entered (app/inventory/access_codes.py)."""
    try:
        return _hold_seats(uow, hints, limits, user_id, show_id, seat_ids, admission, kind, access_code)
    except DomainError as exc:
        HOLDS_REJECTED.labels(exc.code).inc()
        raise


def _hold_seats(
    uow: UnitOfWork,
    hints: SeatHints,
    limits: HoldLimits,
    user_id: int,
    show_id: int,
    seat_ids: list[str],
    admission: AdmissionCheck,
    kind: str,
    access_code: str | None = None,
) -> HoldView:
    rule = _fan_may_hold(uow, user_id, show_id, admission)
    validate_seat_request(seat_ids, limits)
    grant = access_codes.find(uow, show_id, access_code) if access_code is not None and rule is not None else None

    doomed = hints.likely_taken(show_id, seat_ids)
    # hit: refused here, before Postgres; miss: Postgres decides (also when Redis did not answer).
    SEAT_HINTS.labels("hit" if doomed else "miss").inc()
    if doomed:
        uow.rollback()
        raise SeatsUnavailable("some of those seats are already taken", seatIds=doomed)

    hold_id = uuid.uuid4()
    attempt = seat_state.hold_free_seats(
        uow,
        hold_id,
        user_id,
        show_id,
        seat_ids,
        limits.ttl_seconds,
        limits.max_held_seats_per_user_show,
        grant.presale_from if grant else None,
    )
    if not attempt.allowed:
        raise _not_allowed(uow, rule, limits, attempt.already_has, len(seat_ids), show_id)

    hold, taken = attempt.hold, attempt.taken
    if hold is None:
        uow.rollback()
        unknown = set(seat_ids) - queries.existing_seat_ids(uow, show_id, seat_ids)
        if unknown:
            raise ValidationFailed(
                "seatIds names seats this show does not have",
                fields=[{"field": "seatIds", "message": "unknown seats"}],
                unknownSeatIds=sorted(unknown),
            )
        unavailable = [s for s in seat_ids if s not in set(taken)]
        hints.mark_seen_taken(show_id, unavailable)
        raise SeatsUnavailable("some of those seats are already taken", seatIds=unavailable)

    amount, discount = _priced(uow, grant, hold_id, hold.amount)
    uow.after_commit(partial(hints.mark_taken, show_id, seat_ids, hold.expires_at.timestamp()))
    uow.after_commit(HOLDS_CREATED.labels(kind).inc)
    uow.commit()
    return HoldView(
        hold_id=hold_id,
        show_id=show_id,
        user_id=user_id,
        status="ACTIVE",
        seat_ids=list(seat_ids),
        amount=amount,
        currency=hold.currency,
        created_at=hold.created_at,
        expires_at=hold.expires_at,
        discount=discount,
        access_code=grant.code if grant else None,
    )


def hold_standing(
    uow: UnitOfWork,
    hints: SeatHints,
    limits: HoldLimits,
    user_id: int,
    show_id: int,
    section: str,
    quantity: int,
    admission: AdmissionCheck,
    access_code: str | None = None,
) -> HoldView:
    """Holds ``quantity`` places of the standing section ``section`` for the user, or none
    (README "General admission (standing)"): the same checks, in the same order, as
    :func:`hold_seats`, then one statement that picks free places and holds them. Fewer free
    places than asked is ``SEATS_UNAVAILABLE`` with ``available``, the number free."""
    try:
        return _hold_standing(uow, hints, limits, user_id, show_id, section, quantity, admission, access_code)
    except DomainError as exc:
        HOLDS_REJECTED.labels(exc.code).inc()
        raise


def _hold_standing(
    uow: UnitOfWork,
    hints: SeatHints,
    limits: HoldLimits,
    user_id: int,
    show_id: int,
    section: str,
    quantity: int,
    admission: AdmissionCheck,
    access_code: str | None = None,
) -> HoldView:
    rule = _fan_may_hold(uow, user_id, show_id, admission)
    if not 1 <= quantity <= limits.max_seats_per_hold:
        raise ValidationFailed(
            f"quantity must be from 1 to {limits.max_seats_per_hold}",
            fields=[{"field": "quantity", "message": f"not from 1 to {limits.max_seats_per_hold}"}],
        )
    grant = access_codes.find(uow, show_id, access_code) if access_code is not None and rule is not None else None
    presale_from = grant.presale_from if grant else None
    hold_id = uuid.uuid4()
    attempt = seat_state.hold_standing_places(
        uow,
        hold_id,
        user_id,
        show_id,
        section,
        quantity,
        limits.ttl_seconds,
        limits.max_held_seats_per_user_show,
        presale_from,
    )
    if attempt.allowed and attempt.hold is None and (attempt.available or 0) >= quantity:
        # Short only of places other requests had locked, which may yet come back: once more, waiting
        # for those locks instead of skipping them, so a refusal means the places are really gone.
        uow.rollback()
        queries.lock_user_show(uow, user_id, show_id)
        attempt = seat_state.hold_standing_places(
            uow,
            hold_id,
            user_id,
            show_id,
            section,
            quantity,
            limits.ttl_seconds,
            limits.max_held_seats_per_user_show,
            presale_from,
            wait=True,
        )
    if not attempt.allowed:
        raise _not_allowed(uow, rule, limits, attempt.already_has, quantity, show_id)
    hold = attempt.hold
    if hold is None:
        uow.rollback()
        if attempt.capacity == 0:
            raise ValidationFailed(
                "gaSection names no standing section of this show's venue",
                fields=[{"field": "gaSection", "message": "unknown standing section"}],
            )
        raise SeatsUnavailable(
            f"only {attempt.available} places are left in {section}",
            seatIds=[],
            gaSection=section,
            available=attempt.available,
        )
    places = list(hold.seat_ids)
    amount, discount = _priced(uow, grant, hold_id, hold.amount)
    uow.after_commit(partial(hints.mark_taken, show_id, places, hold.expires_at.timestamp()))
    uow.after_commit(HOLDS_CREATED.labels(STANDING).inc)
    uow.commit()
    return HoldView(
        hold_id=hold_id,
        show_id=show_id,
        user_id=user_id,
        status="ACTIVE",
        seat_ids=places,
        amount=amount,
        currency=hold.currency,
        created_at=hold.created_at,
        expires_at=hold.expires_at,
        discount=discount,
        access_code=grant.code if grant else None,
        ga_section=section,
    )


def _fan_may_hold(uow: UnitOfWork, user_id: int, show_id: int, admission: AdmissionCheck) -> Row[Any] | None:
    """The start of every fan's hold (seats or standing places): the fan's lock on the show, the
    account still there, the waiting room's admission. The show's admission rule (None: no show)."""
    rule = queries.lock_user_show(uow, user_id, show_id)
    if rule is not None and not rule.user_exists:
        raise InvalidToken("this token's account no longer exists; sign in again")
    admission.require(rule, user_id)
    return rule


def _not_allowed(
    uow: UnitOfWork, rule: Row[Any] | None, limits: HoldLimits, already_has: int, wanted: int, show_id: int
) -> Exception:
    """Why the hold statement held nothing before looking at seats (rolled back): over the fan's cap,
    or the show is not on sale to the fan."""
    uow.rollback()
    if rule is not None and already_has + wanted > limits.max_held_seats_per_user_show:
        return SeatLimitExceeded(
            seat_limit_message(limits.max_held_seats_per_user_show, already_has),
            limit=limits.max_held_seats_per_user_show,
            held=already_has,
        )
    return _why_not_on_sale(uow, show_id)


def _priced(uow: UnitOfWork, grant: access_codes.CodeGrant | None, hold_id: uuid.UUID, amount: int) -> tuple[int, int]:
    """The new hold's amount and discount: a code's use taken (README "Presale codes and vouchers"),
    or the amount as it is without one. No use left: rolled back, nothing is held."""
    if grant is None:
        return amount, 0
    try:
        return access_codes.redeem(uow, grant, hold_id)
    except DomainError:
        uow.rollback()
        raise


def seat_limit_message(limit: int, has: int) -> str:
    """Why a hold is over the per-fan cap, which counts seats held and seats booked together."""
    already = "none yet" if has == 0 else f"{has} already"
    return f"you can have at most {limit} seats for this show, held and booked together (you have {already})"


def _why_not_on_sale(uow: UnitOfWork, show_id: int) -> Exception:
    show = queries.show_sale_window(uow, show_id)
    if show is None:
        return ShowNotFound(f"show {show_id} does not exist")
    if show.status == "CANCELLED":
        return SaleClosed("this show has been cancelled", saleStatus="CANCELLED")
    if show.db_now < show.sale_opens_at:
        return SaleClosed(
            "the sale for this show has not opened yet",
            saleStatus="NOT_OPEN",
            saleOpensAt=show.sale_opens_at.isoformat(),
        )
    return SaleClosed("the sale for this show has ended", saleStatus="CLOSED")


def get_hold(uow: UnitOfWork, user_id: int, hold_id: uuid.UUID) -> HoldView:
    row = queries.get_hold(uow, hold_id)
    # Another user's hold is indistinguishable from one that does not exist.
    if row is None or row.user_id != user_id:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    return HoldView(
        hold_id=row.id,
        show_id=row.show_id,
        user_id=row.user_id,
        status=row.status,
        seat_ids=list(row.seat_ids),
        amount=row.amount,
        currency=row.currency,
        created_at=row.created_at,
        expires_at=row.expires_at,
        payment_intent_id=row.payment_intent_id,
        payment_started=row.payment_started_at is not None,
        discount=row.discount,
        access_code=row.access_code,
        ga_section=row.ga_section,
    )


class PaymentInFlight(Exception):
    """The hold's payment may still succeed: only the gateway can end it (rule 4)."""


def release_hold(uow: UnitOfWork, hints: SeatHints, user_id: int, hold_id: uuid.UUID) -> HoldView:
    freed = queries.release_hold(uow, hold_id, user_id)
    if freed is None:
        uow.rollback()
        hold = get_hold(uow, user_id, hold_id)
        if hold.status == "ACTIVE" and hold.payment_started:
            raise PaymentInFlight(hold_id)
        if hold.status == "CONFIRMED":
            raise HoldNotActive("this hold has been paid for and cannot be released", status=hold.status)
        return hold  # already released or expired: releasing again changes nothing
    hold = get_hold(uow, user_id, hold_id)
    uow.after_commit(partial(hints.clear, hold.show_id, freed))
    uow.commit()
    return hold
