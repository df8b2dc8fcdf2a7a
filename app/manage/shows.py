"""Events and shows as managers create and change them. Times without an offset are the venue's local time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import money
from app.audit import log as audit
from app.catalog import scheduling
from app.catalog.services import sale_status
from app.errors import EventExists, ShowCancelled, ShowExists, ValidationFailed
from app.extensions import RedisRoles, settings
from app.images.routes import poster_url
from app.manage import access, dashboard, queries, rescheduling
from app.manage.access import Actor
from app.tickets import rotating
from app.unit_of_work import UnitOfWork
from app.waiting_room.room import (
    Settings as QueueSettings,  # a waiting room's batch, interval, cap, session
    WaitingRoom,
)

log = logging.getLogger(__name__)
EVENT_CATEGORIES = ("concert", "movie", "sport", "theatre", "comedy", "other")


# ---------------------------------------------------------------- events


def list_events(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    return [
        {
            "eventId": str(r.id),
            "title": r.title,
            "category": r.category,
            "description": r.description,
            "durationMinutes": r.duration_minutes,
            "organisationId": str(r.organisation_id),
            "queueState": r.queue_state,
            "posterUrl": poster_url(r.poster, "card") or None,
        }
        for r in queries.list_events(uow, actor)
    ]


def create_event(
    uow: UnitOfWork,
    actor: Actor,
    title: str,
    category: str,
    description: str,
    minutes: int,
    organisation_id: int | None = None,
) -> int:
    owner = access.owning_organisation(uow, actor, organisation_id)
    if queries.event_title_taken(uow, owner, title):
        raise EventExists("your organisation already has an event with that title")
    try:
        event_id = queries.insert_event(uow, owner, title, category, description, minutes)
        audit.record(
            uow,
            audit.manager(actor),
            "event.created",
            "event",
            event_id,
            details={"title": title, "category": category, "durationMinutes": minutes, "organisationId": owner},
        )
        uow.commit()
    except IntegrityError as exc:  # created by a concurrent request since the check
        raise EventExists("your organisation already has an event with that title") from exc
    return event_id


def update_event(uow: UnitOfWork, actor: Actor, event_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Changes an event's title, category, description or length; its shows follow (they show the event)."""
    event = access.event(uow, actor, event_id)
    if (
        "title" in changes
        and changes["title"] != event.title
        and queries.event_title_taken(uow, event.organisation_id, changes["title"])
    ):
        raise EventExists("your organisation already has an event with that title")
    try:
        queries.update_event(uow, event_id, changes)
        audit.record(
            uow,
            audit.manager(actor),
            "event.updated",
            "event",
            event_id,
            details={"changes": changes, "titleBefore": event.title},
        )
        uow.commit()
    except IntegrityError as exc:
        raise EventExists("your organisation already has an event with that title") from exc
    return next(e for e in list_events(uow, actor) if e["eventId"] == str(event_id))


# ---------------------------------------------------------------- times


def venue_time(value: datetime, zone: str, field: str) -> datetime:
    """An aware datetime; a naive one is read as the venue's wall-clock time, which must exist there."""
    if value.tzinfo is not None:
        return value
    tz = ZoneInfo(zone)
    local = value.replace(tzinfo=tz)
    round_trip = local.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != value:
        raise ValidationFailed(
            f"{field}: {value:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks change then)",
            fields=[{"field": field, "message": "not a time that exists in the venue's time zone"}],
        )
    return local


# ---------------------------------------------------------------- shows


KEEP_QUEUE = object()  # queue-protected, with the event's waiting room as it is (defaults if it has none)


@dataclass(frozen=True)
class ShowInput:
    event_id: int
    venue_id: int
    starts_at: datetime
    sale_opens_at: datetime
    sale_closes_at: datetime | None
    currency: str
    prices: dict[str, int]
    refund_policy: dict[str, Any] | None = None
    queue: QueueSettings | None = None


def _check_window(starts: datetime, opens: datetime, closes: datetime, now: datetime | None = None) -> None:
    problems = []
    if opens >= closes:
        problems.append({"field": "saleClosesAt", "message": "the sale must close after it opens"})
    if (closes - starts).total_seconds() > 86_400:
        problems.append({"field": "saleClosesAt", "message": "the sale closes at the latest a day after the start"})
    if now is not None and starts <= now:
        problems.append({"field": "startTime", "message": "the show must start in the future"})
    if problems:
        raise ValidationFailed("the show's times do not fit together", fields=problems)


def check_prices(currency: str, prices: dict[str, int]) -> None:
    """Every price is one the payment gateway will charge in this currency (``money.price_problems``):
    a show nobody could pay for would strand the seats of every hold at payment time."""
    problems = money.price_problems(currency, prices, settings().max_seats_per_hold)
    if problems:
        raise ValidationFailed("the payment gateway could not charge these prices", fields=problems)


def create_show(uow: UnitOfWork, actor: Actor, data: ShowInput, roles: RedisRoles) -> int:
    event = access.event(uow, actor, data.event_id)
    venue = access.venue(uow, actor, data.venue_id)
    if event.organisation_id != venue.organisation_id:
        raise ValidationFailed("the event and the venue belong to different organisations")
    check_prices(data.currency, data.prices)
    starts = venue_time(data.starts_at, venue.timezone, "startTime")
    opens = venue_time(data.sale_opens_at, venue.timezone, "saleOpensAt")
    closes = venue_time(data.sale_closes_at, venue.timezone, "saleClosesAt") if data.sale_closes_at else starts
    db_now = uow.execute("SELECT now()").scalar_one()
    _check_window(starts, opens, closes, db_now)
    tiers = queries.venue_tiers(uow, venue.id)
    if not tiers:
        raise ValidationFailed("the venue has no seats yet: build its layout first")
    extra = sorted(set(data.prices) - set(tiers))
    if extra:
        raise ValidationFailed("prices name tiers the venue does not have", unknownTiers=extra)
    if queries.show_exists(uow, event.id, venue.id, starts):
        raise ShowExists("this event already has a show at this venue at that time")
    # Serialises creating shows of one event, so two identical requests cannot both pass the check above
    # (schedule_show would quietly return the other's show).
    uow.execute("SELECT id FROM events WHERE id = :id FOR UPDATE", {"id": event.id})
    if queries.show_exists(uow, event.id, venue.id, starts):
        raise ShowExists("this event already has a show at this venue at that time")
    show_id = scheduling.schedule_show(
        uow,
        event_id=event.id,
        venue_id=venue.id,
        starts_at=starts,
        sale_opens_at=opens,
        sale_closes_at=closes,
        currency=data.currency,
        prices=data.prices,
        queue_required=data.queue is not None,
        refund_policy=data.refund_policy,
    )
    audit.record(
        uow,
        audit.manager(actor),
        "show.created",
        "show",
        show_id,
        show_id=show_id,
        details={
            "eventId": event.id,
            "venueId": venue.id,
            "startsAt": starts,
            "saleOpensAt": opens,
            "saleClosesAt": closes,
            "currency": data.currency,
            "prices": data.prices,
            "refundPolicy": data.refund_policy,
            "queue": _queue_detail(data.queue),
        },
    )
    if data.queue is not None:
        _open_queue(uow, event.id, data.queue, opens, roles)  # commits the show with the room's settings
    uow.commit()
    return show_id


def _queue_detail(queue: Any) -> Any:
    """A waiting-room setting as the audit log records it."""
    if queue is KEEP_QUEUE:
        return "KEEP"
    return queue  # None, or QueueSettings (a dataclass: stored as an object)


def _open_queue(uow: UnitOfWork, event_id: int, queue: QueueSettings, opens: datetime, roles: RedisRoles) -> None:
    show_up = current_app.extensions["seatline.settings"].gate_show_up_seconds
    room = WaitingRoom(roles.room, event_id, show_up)
    try:
        room.open(uow, replace(queue, sale_opens_at=opens))
    except redis.RedisError:
        # The settings are committed in Postgres; the gate loads them into Redis on its next request.
        log.warning("waiting room of event %s saved, but Redis is unavailable; the gate will load it", event_id)


def update_show(uow: UnitOfWork, actor: Actor, show_id: int, changes: dict[str, Any], roles: RedisRoles) -> None:
    """Changes start time, sale window, prices, refund policy or waiting room of a scheduled show:
    the manager API's ``PATCH /shows/{id}`` and the dashboard's show form alike.

    Holds and bookings already made keep the price they were made at; a new start time is a reschedule
    (``rescheduling.reschedule``): fans are told and may cancel for a full refund for a while. After commit the show's
    dashboard is read afresh (every show of the event's, when the waiting room changed).
    """
    show = access.show(uow, actor, show_id, lock=True)
    if show.status == "CANCELLED":
        raise ShowCancelled("this show is cancelled and can no longer be changed")
    tz = show.timezone
    starts = venue_time(changes["starts_at"], tz, "startTime") if "starts_at" in changes else show.starts_at
    opens = (
        venue_time(changes["sale_opens_at"], tz, "saleOpensAt") if "sale_opens_at" in changes else show.sale_opens_at
    )
    closes = (
        venue_time(changes["sale_closes_at"], tz, "saleClosesAt")
        if "sale_closes_at" in changes
        else show.sale_closes_at
    )
    _check_window(starts, opens, closes, show.db_now if "starts_at" in changes else None)
    row: dict[str, Any] = {}
    if "starts_at" in changes and starts != show.starts_at:
        if queries.show_exists(uow, show.event_id, show.venue_id, starts):
            raise ShowExists("this event already has a show at this venue at that time")
        row["starts_at"] = starts  # with the sale window in one statement (the window's checks span both)
    if "sale_opens_at" in changes:
        row["sale_opens_at"] = opens
    if "sale_closes_at" in changes:
        row["sale_closes_at"] = closes
    if "refund_policy" in changes:
        row["refund_policy"] = orjson.dumps(changes["refund_policy"]).decode()
    if "transfer_cutoff_minutes" in changes:
        row["transfer_cutoff_minutes"] = changes["transfer_cutoff_minutes"]
    for column in ("ticket_codes", "static_codes_allowed"):
        if column in changes:
            row[column] = changes[column]
    if changes.get("ticket_codes") == "ROTATING" and not show.has_rotation_key:
        # Made once, under the show's row lock, and kept (README "Rotating codes").
        row["rotation_key_sealed"] = rotating.seal(settings().ticket_keys_secret, show.id, rotating.new_show_key())
    if "prices" in changes:
        tiers = set(queries.venue_tiers(uow, show.venue_id))
        prices = changes["prices"]
        extra = sorted(set(prices) - tiers)
        if extra:
            raise ValidationFailed("prices name tiers the venue does not have", unknownTiers=extra)
        check_prices(show.currency, prices)
        queries.set_prices(uow, show.id, prices)
    if "queue" in changes:
        row["queue_required"] = changes["queue"] is not None
    queries.update_show(uow, show.id, row)
    after = {
        **changes,
        **{
            k: v
            for k, v in (("starts_at", starts), ("sale_opens_at", opens), ("sale_closes_at", closes))
            if k in changes
        },
    }
    if "queue" in changes:
        after["queue"] = _queue_detail(changes["queue"])
    before = {
        "starts_at": show.starts_at,
        "sale_opens_at": show.sale_opens_at,
        "sale_closes_at": show.sale_closes_at,
        "refund_policy": show.refund_policy,
        "transfer_cutoff_minutes": show.transfer_cutoff_minutes,
        "ticket_codes": show.ticket_codes,
        "static_codes_allowed": show.static_codes_allowed,
        "queue": {"queueRequired": show.queue_required},
    }
    audit.record(
        uow,
        audit.manager(actor),
        "show.updated",
        "show",
        show.id,
        show_id=show.id,
        details={"changes": after, "before": {k: v for k, v in before.items() if k in after}},
    )
    # A new start tells every fan with a booking and opens the full-refund window, in this transaction;
    # the same start again moves nothing (README "Rescheduling a show").
    rescheduling.reschedule(
        uow,
        actor,
        show,
        starts,
        changes.get("reschedule_refund_days", rescheduling.DEFAULT_REFUND_DAYS),
    )
    if "queue" in changes:
        queue = changes["queue"]
        has_room = uow.execute(
            "SELECT EXISTS (SELECT 1 FROM gate_queues WHERE event_id = :e)", {"e": show.event_id}
        ).scalar_one()
        # Settings given are applied; "queue-protected" alone keeps the event's room as it is set up.
        # Opening the room commits the show's changes with its settings.
        if isinstance(queue, QueueSettings) or (queue is KEEP_QUEUE and not has_room):
            _open_queue(
                uow, show.event_id, queue if isinstance(queue, QueueSettings) else QueueSettings(), opens, roles
            )
    uow.commit()
    if "queue" in changes:
        dashboard.forget_event(uow, roles, show.event_id)
    else:
        dashboard.forget(roles, show.id)


def list_shows(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    return [_show_summary(r) for r in queries.list_shows(uow, actor)]


def _local(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).isoformat()


def _show_summary(r: Any) -> dict[str, Any]:
    return {
        "showId": str(r.id),
        "eventId": str(r.event_id),
        "title": r.title,
        "venueId": str(r.venue_id),
        "venueName": r.venue_name,
        "cityName": r.city_name,
        "startTime": _local(r.starts_at, r.timezone),
        "saleOpensAt": _local(r.sale_opens_at, r.timezone),
        "saleClosesAt": _local(r.sale_closes_at, r.timezone),
        "status": r.status,
        "saleStatus": sale_status(r.status, r.sale_opens_at, r.sale_closes_at, r.db_now),
        "queueRequired": r.queue_required,
        "currency": r.currency,
    }


def get_show(uow: UnitOfWork, actor: Actor, show_id: int) -> dict[str, Any]:
    show = access.show(uow, actor, show_id)
    prices = {
        r.tier: r.price
        for r in uow.execute(
            "SELECT tier, price FROM show_prices WHERE show_id = :id ORDER BY price DESC", {"id": show_id}
        )
    }
    queue = uow.execute(
        """
        SELECT state, batch_size, admission_interval_seconds, max_active, session_seconds
        FROM gate_queues WHERE event_id = :e
        """,
        {"e": show.event_id},
    ).first()
    return {
        **_show_summary(show),
        "timezone": show.timezone,
        "prices": prices,
        "refundPolicy": show.refund_policy,
        "transferCutoffMinutes": show.transfer_cutoff_minutes,
        "ticketCodes": show.ticket_codes,
        "staticCodesAllowed": show.static_codes_allowed,
        "cancelledAt": show.cancelled_at.isoformat() if show.cancelled_at else None,
        "cancelReason": show.cancel_reason,
        "queue": None
        if queue is None
        else {
            "state": queue.state,
            "batchSize": queue.batch_size,
            "admissionIntervalSeconds": queue.admission_interval_seconds,
            "maxActive": queue.max_active,
            "sessionSeconds": queue.session_seconds,
        },
    }
