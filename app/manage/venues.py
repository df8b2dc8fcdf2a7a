"""Venues and their seat layouts. Every change goes through ``apply_layout``, which compares the new
layout with the old one and refuses destructive changes while a show is selling or has sold seats.

The changes the manager API and the dashboard's venue page make (a seat list, a CSV file, a block
of rows, a section removed, seats marked) are the functions below, which both call: a layout that
cannot be saved is refused with one ``400 VALIDATION_FAILED`` naming every bad line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError

from app.audit import log as audit
from app.catalog import queries as catalog_queries
from app.catalog.layout import SeatSpec
from app.catalog.scheduling import add_layout
from app.errors import CityNotFound, LayoutInUse, PayloadTooLarge, ValidationFailed, VenueExists
from app.inventory import seat_state
from app.manage import access, layouts, queries
from app.manage.access import Actor
from app.manage.layouts import (
    MAX_SEATS,
    MAX_STANDING_PLACES,
    LayoutRejected,
    LineError,
    RowBlock,
    build_block,
    build_standing,
    outside_drawn_area,
    parse_csv,
)
from app.unit_of_work import UnitOfWork

VENUE_KINDS = ("cinema", "theatre", "concert_hall", "stadium", "arena", "club", "other")
AUDITED_SEAT_IDS = 200  # a layout change's audit row names at most this many seats of each kind; counts are exact
IMPORT_LIMIT = 8 * 1024 * 1024  # a layout's CSV file, in bytes
P = ParamSpec("P")
R = TypeVar("R")


def _refusing_bad_layouts(change: Callable[P, R]) -> Callable[P, R]:
    """A layout the change cannot save (bad lines, clashes, outside the drawn area) as the contract's error."""

    @wraps(change)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return change(*args, **kwargs)
        except LayoutRejected as exc:
            raise _rejected(exc) from exc

    return wrapper


def list_venues(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    return [_venue_view(r) for r in queries.list_venues(uow, actor)]


def _venue_view(row: Any) -> dict[str, Any]:
    return {
        "venueId": str(row.id),
        "name": row.name,
        "kind": row.kind,
        "address": row.address,
        "cityId": str(row.city_id),
        "cityName": row.city_name,
        "timezone": row.timezone,
        "organisationId": str(row.organisation_id),
        "seatCount": getattr(row, "seat_count", None),
    }


def create_venue(
    uow: UnitOfWork, actor: Actor, city_id: int, name: str, kind: str, address: str, organisation_id: int | None = None
) -> int:
    """A venue with no seats yet, owned by the manager's organisation (an admin names one)."""
    owner = access.owning_organisation(uow, actor, organisation_id)
    if catalog_queries.get_city(uow, city_id) is None:
        raise CityNotFound(f"city {city_id} does not exist")
    if queries.venue_exists(uow, city_id, name):
        raise VenueExists("there is already a venue with that name in this city")
    try:
        venue_id = queries.insert_venue(uow, owner, city_id, name, kind, address)
        audit.record(
            uow,
            audit.manager(actor),
            "venue.created",
            "venue",
            venue_id,
            details={"name": name, "kind": kind, "address": address, "cityId": city_id, "organisationId": owner},
        )
        uow.commit()
    except IntegrityError as exc:  # created by a concurrent request since the check
        raise VenueExists("there is already a venue with that name in this city") from exc
    return venue_id


def get_venue(uow: UnitOfWork, actor: Actor, venue_id: int) -> dict[str, Any]:
    row = access.venue(uow, actor, venue_id)
    seats = queries.layout(uow, venue_id)
    return {
        **_venue_view(row),
        "seatCount": len(seats),
        "layoutVersion": str(row.layout_version),
        "sections": summarise(seats),
        "locked": bool(queries.seats_in_use(uow, venue_id)),
    }


def summarise(seats: Sequence[SeatSpec]) -> list[dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {}
    for s in seats:
        part = sections.setdefault(
            s.section,
            {
                "section": s.section,
                "seats": 0,
                "rows": [],
                "tiers": [],
                "accessible": 0,
                "companion": 0,
                "notForSale": 0,
                "standing": s.standing,
            },
        )
        part["seats"] += 1
        if s.row not in part["rows"]:
            part["rows"].append(s.row)
        if s.tier not in part["tiers"]:
            part["tiers"].append(s.tier)
        part["accessible"] += s.accessible
        part["companion"] += s.companion
        part["notForSale"] += not s.sellable
    return list(sections.values())


def seat_view(s: SeatSpec) -> dict[str, Any]:
    return {
        "seatId": s.seat_id,
        "section": s.section,
        "row": s.row,
        "number": s.number,
        "x": s.x,
        "y": s.y,
        "tier": s.tier,
        "accessible": s.accessible,
        "companion": s.companion,
        "sellable": s.sellable,
        "standing": s.standing,
    }


def get_layout(uow: UnitOfWork, actor: Actor, venue_id: int, *, for_change: bool = False) -> list[SeatSpec]:
    """The venue's seats in layout order; ``for_change`` locks the venue first, so an edit made from
    this reading cannot overwrite another made meanwhile."""
    access.venue(uow, actor, venue_id, lock=for_change)
    return queries.layout(uow, venue_id)


@_refusing_bad_layouts
def apply_layout(uow: UnitOfWork, actor: Actor, venue_id: int, seats: Sequence[SeatSpec]) -> dict[str, int]:
    """Makes ``seats`` the venue's layout, in their order. Returns what changed.

    Destructive changes (removing a seat, or changing its section, row, number or tier)
    are refused with LAYOUT_IN_USE while any scheduled show at the venue has booked or
    held seats. New seats join every scheduled show; a seat that stops being sellable is
    taken out of sale in them (and put back when it is sellable again).
    """
    access.venue(uow, actor, venue_id, lock=True)  # one layout change at a time per venue
    _check_unique(seats)
    if len(seats) > MAX_SEATS:
        raise LayoutRejected([LineError(0, f"a layout has at most {MAX_SEATS} seats")])
    # Every way in (the API's seat list, a CSV, the row builder stacking blocks downwards) ends here.
    stray = outside_drawn_area(seats)
    if stray is not None:
        raise LayoutRejected([stray])
    old = {s.seat_id: s for s in queries.layout(uow, venue_id)}
    new_ids = {s.seat_id for s in seats}
    removed = [i for i in old if i not in new_ids]
    changed = [s.seat_id for s in seats if s.seat_id in old and _label(old[s.seat_id]) != _label(s)]
    if removed or changed:
        in_use = queries.seats_in_use(uow, venue_id)
        if in_use:
            raise LayoutInUse(
                "shows at this venue have booked or held seats: seats can be added, moved or marked, "
                "but not removed, renumbered or re-priced",
                showIds=[str(i) for i in in_use],
                removedSeats=removed[:20],
                changedSeats=changed[:20],
            )
    new_tiers = sorted({s.tier for s in seats} - {s.tier for s in old.values()})
    if new_tiers:
        unpriced = queries.scheduled_shows_missing_tiers(uow, venue_id, new_tiers)
        if unpriced:
            raise ValidationFailed(
                "shows at this venue have no price for the new tier(s): set their prices first",
                unpricedTiers=new_tiers,
                showIds=[str(r.id) for r in unpriced],
            )
    if removed:
        queries.remove_seats(uow, venue_id, removed)
    staying = [(i, s) for i, s in enumerate(seats) if s.seat_id in old]
    queries.update_seats(uow, venue_id, staying)
    added = [(ordinal, seat) for ordinal, seat in enumerate(seats) if seat.seat_id not in old]
    add_layout(uow, venue_id, [s for _, s in added], [o for o, _ in added])
    seat_state.follow_layout(uow, venue_id)
    modified = [s.seat_id for s in seats if s.seat_id in old and old[s.seat_id] != s]
    summary = {"seats": len(seats), "added": len(added), "removed": len(removed), "changed": len(modified)}
    if added or removed or modified or [s.seat_id for s in seats] != list(old):
        audit.record(
            uow,
            audit.manager(actor),
            "layout.changed",
            "venue",
            venue_id,
            details={
                **summary,
                "addedSeats": [s.seat_id for _, s in added][:AUDITED_SEAT_IDS],
                "removedSeats": removed[:AUDITED_SEAT_IDS],
                "changedSeats": modified[:AUDITED_SEAT_IDS],
            },
        )
    uow.commit()
    return summary


def _label(s: SeatSpec) -> tuple[str, str, int, str]:
    return (s.section, s.row, s.number, s.tier)


def _check_unique(seats: Sequence[SeatSpec]) -> None:
    ids: set[str] = set()
    places: set[tuple[str, str, int]] = set()
    errors = []
    for n, s in enumerate(seats, start=1):
        if s.seat_id in ids:
            errors.append(LineError(n, f"seat id {s.seat_id} is used twice"))
        if (s.section, s.row, s.number) in places:
            errors.append(LineError(n, f"{s.section} row {s.row} seat {s.number} appears twice"))
        ids.add(s.seat_id)
        places.add((s.section, s.row, s.number))
    if errors:
        raise LayoutRejected(errors)


@_refusing_bad_layouts
def import_csv(uow: UnitOfWork, actor: Actor, venue_id: int, raw: bytes) -> dict[str, int]:
    """Replaces the layout with a CSV file's (``app/manage/layouts.py`` describes the format)."""
    if len(raw) > IMPORT_LIMIT:
        raise PayloadTooLarge("a layout file is at most 8 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the file must be UTF-8 text", lines=[{"line": 0, "message": "not UTF-8"}]) from exc
    return apply_layout(uow, actor, venue_id, parse_csv(text))


@_refusing_bad_layouts
def add_block(uow: UnitOfWork, actor: Actor, venue_id: int, block: RowBlock) -> dict[str, int]:
    """The editor's "add rows": the block goes below what the venue has."""
    seats = get_layout(uow, actor, venue_id, for_change=True)
    top = max((s.y for s in seats), default=-2) + 2
    added = build_block(block, top)
    clashes = sorted({s.seat_id for s in seats} & {s.seat_id for s in added})
    if clashes:
        raise LayoutRejected(
            [
                LineError(
                    0, f"seat ids already in the layout: {', '.join(clashes[:10])}; give this block a seat id prefix"
                )
            ]
        )
    return apply_layout(uow, actor, venue_id, [*seats, *added])


@_refusing_bad_layouts
def remove_section(uow: UnitOfWork, actor: Actor, venue_id: int, section: str) -> dict[str, int]:
    seats = get_layout(uow, actor, venue_id, for_change=True)
    if not any(s.section == section for s in seats):
        raise ValidationFailed(f"the venue has no section {section[:40]!r}")
    return apply_layout(uow, actor, venue_id, [s for s in seats if s.section != section])


@_refusing_bad_layouts
def mark_seats(
    uow: UnitOfWork, actor: Actor, venue_id: int, seat_ids: Sequence[str], changes: dict[str, Any]
) -> dict[str, int]:
    """Sets tier, accessible, companion or sellable on the named seats."""
    seats = get_layout(uow, actor, venue_id, for_change=True)
    known = {s.seat_id for s in seats}
    unknown = sorted(set(seat_ids) - known)
    if unknown:
        raise ValidationFailed("unknown seat ids", seatIds=unknown[:20])
    wanted = set(seat_ids)
    return apply_layout(uow, actor, venue_id, [replace(s, **changes) if s.seat_id in wanted else s for s in seats])


@_refusing_bad_layouts
def add_standing(
    uow: UnitOfWork, actor: Actor, venue_id: int, section: str, tier: str, capacity: int
) -> dict[str, int]:
    """A standing section of ``capacity`` places, drawn below what the venue has (README "General
    admission (standing)"). Its places join every scheduled show at once, like any new seats."""
    seats = get_layout(uow, actor, venue_id, for_change=True)
    if any(s.section == section for s in seats):
        raise ValidationFailed(f"the venue already has a section named {section[:40]!r}")
    if not 1 <= capacity <= MAX_STANDING_PLACES:
        raise LayoutRejected([LineError(0, f"a standing section has from 1 to {MAX_STANDING_PLACES} places")])
    top = max((s.y for s in seats), default=-2) + 2
    places = build_standing(section, tier, 1, capacity, top)
    _refuse_clashes(seats, places)
    return apply_layout(uow, actor, venue_id, [*seats, *places])


@_refusing_bad_layouts
def set_standing_capacity(uow: UnitOfWork, actor: Actor, venue_id: int, section: str, capacity: int) -> dict[str, int]:
    """Grows a standing section by new places at its end, or shrinks it by removing places that no
    show has sold, holds or keeps for the house (the highest-numbered first); refuses with
    ``LAYOUT_IN_USE`` when too few are. Either way the layout's version changes, as for any edit."""
    seats = get_layout(uow, actor, venue_id, for_change=True)
    places = [s for s in seats if s.section == section and s.standing]
    if not places:
        raise ValidationFailed(f"the venue has no standing section {section[:40]!r}")
    if not 1 <= capacity <= MAX_STANDING_PLACES:
        raise LayoutRejected([LineError(0, f"a standing section has from 1 to {MAX_STANDING_PLACES} places")])
    if capacity > len(places):
        first = max(p.number for p in places) + 1
        if first + capacity - len(places) - 1 > MAX_STANDING_PLACES:
            raise LayoutRejected([LineError(0, f"a standing section has from 1 to {MAX_STANDING_PLACES} places")])
        top = places[0].y - (places[0].number - 1) // layouts.STANDING_WIDTH
        added = build_standing(section, places[0].tier, first, capacity - len(places), top)
        _refuse_clashes(seats, added)
        return apply_layout(uow, actor, venue_id, [*seats, *added])
    need = len(places) - capacity
    if need == 0:
        uow.rollback()
        return {"seats": len(seats), "added": 0, "removed": 0, "changed": 0}
    by_number = sorted(places, key=lambda p: p.number, reverse=True)
    removable = seat_state.lock_removable_places(uow, venue_id, [p.seat_id for p in by_number], need)
    if len(removable) < need:
        free = len(removable)
        raise LayoutInUse(
            f"only {free} of the {len(places)} places of {section[:40]} are unsold and unheld in every show: "
            f"its capacity can go down to {len(places) - free}, not {capacity}",
            showIds=[str(i) for i in queries.seats_in_use(uow, venue_id)],
            removedSeats=[],
            changedSeats=[],
            section=section,
            capacity=len(places),
            lowestCapacity=len(places) - free,
        )
    queries.remove_seats(uow, venue_id, removable)
    audit.record(
        uow,
        audit.manager(actor),
        "layout.changed",
        "venue",
        venue_id,
        details={
            "seats": len(seats) - need,
            "added": 0,
            "removed": need,
            "changed": 0,
            "addedSeats": [],
            "removedSeats": removable[:AUDITED_SEAT_IDS],
            "changedSeats": [],
            "standingSection": section,
            "capacity": capacity,
        },
    )
    uow.commit()
    return {"seats": len(seats) - need, "added": 0, "removed": need, "changed": 0}


def _refuse_clashes(seats: Sequence[SeatSpec], added: Sequence[SeatSpec]) -> None:
    clashes = sorted({s.seat_id for s in seats} & {s.seat_id for s in added})
    if clashes:
        raise LayoutRejected(
            [LineError(0, f"seat ids already in the layout: {', '.join(clashes[:10])}; give the section another name")]
        )


def _rejected(exc: LayoutRejected) -> ValidationFailed:
    first = exc.errors[0]
    where = f"line {first.line}: " if first.line else ""
    return ValidationFailed(
        f"the layout was not saved: {where}{first.message}", lines=[e.as_dict() for e in exc.errors]
    )
