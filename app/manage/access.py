"""Who may manage what. Every manager service call takes an ``Actor`` and scopes its SQL by it.

A manager sees and changes only what their organisation owns; an admin sees all.
Something owned by another organisation answers exactly like something that does
not exist (404), so ids in URLs reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from app.errors import EventNotFound, Forbidden, ShowNotFound, ValidationFailed, VenueNotFound
from app.unit_of_work import UnitOfWork

MANAGING_ROLES = ("manager", "admin")
# Who may check tickets in at a show's door (README "Door check-in"): door staff, for their organisation.
CHECKIN_ROLES = (*MANAGING_ROLES, "door")


@dataclass(frozen=True)
class Actor:
    user_id: int
    role: str
    organisation_id: int | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scope(self) -> dict[str, Any]:
        """Parameters for ``OWNED`` clauses."""
        return {"actor_admin": self.is_admin, "actor_org": self.organisation_id}


def owned(alias: str) -> str:
    """SQL that keeps only rows of ``alias`` (with an organisation_id) the actor may see."""
    return f"(CAST(:actor_admin AS boolean) OR {alias}.organisation_id = :actor_org)"


def load_actor(uow: UnitOfWork, user_id: int, roles: tuple[str, ...] = MANAGING_ROLES) -> Actor:
    """The user as a manager (or, with ``CHECKIN_ROLES``, door staff), from the database (a role in an
    old token does not count)."""
    row = uow.execute("SELECT id, role, organisation_id FROM users WHERE id = :id", {"id": user_id}).first()
    if row is None or row.role not in roles:
        raise Forbidden("only venue managers can do this" if roles == MANAGING_ROLES else "only door staff can do this")
    return Actor(row.id, row.role, row.organisation_id)


def owning_organisation(uow: UnitOfWork, actor: Actor, organisation_id: int | None) -> int:
    """Who will own what the actor creates: a manager's own organisation; the one an admin names."""
    owner = actor.organisation_id if not actor.is_admin else organisation_id
    if owner is None:
        raise ValidationFailed(
            "an admin must say which organisation will own it",
            fields=[{"field": "organisationId", "message": "required for admins"}],
        )
    if not uow.execute("SELECT EXISTS (SELECT 1 FROM organisations WHERE id = :id)", {"id": owner}).scalar_one():
        raise ValidationFailed(
            "no organisation has that id", fields=[{"field": "organisationId", "message": "unknown"}]
        )
    return owner


def venue(uow: UnitOfWork, actor: Actor, venue_id: int, *, lock: bool = False) -> Row[Any]:
    row = uow.execute(
        f"""
        SELECT v.id, v.name, v.kind, v.address, v.city_id, v.organisation_id, v.layout_version,
               c.name AS city_name, c.timezone
        FROM venues v JOIN cities c ON c.id = v.city_id
        WHERE v.id = :id AND {owned("v")} {"FOR UPDATE OF v" if lock else ""}
        """,
        {"id": venue_id, **actor.scope},
    ).first()
    if row is None:
        raise VenueNotFound(f"venue {venue_id} does not exist")
    return row


def event(uow: UnitOfWork, actor: Actor, event_id: int) -> Row[Any]:
    row = uow.execute(
        f"SELECT e.id, e.title, e.organisation_id FROM events e WHERE e.id = :id AND {owned('e')}",
        {"id": event_id, **actor.scope},
    ).first()
    if row is None:
        raise EventNotFound(f"event {event_id} does not exist")
    return row


def show(uow: UnitOfWork, actor: Actor, show_id: int, *, lock: bool = False) -> Row[Any]:
    row = uow.execute(
        f"""
        SELECT s.id, s.event_id, s.venue_id, s.status, s.starts_at, s.sale_opens_at, s.sale_closes_at, s.currency,
               s.queue_required, s.refund_policy, s.transfer_cutoff_minutes, s.cancelled_at, s.cancel_reason, e.title,
               s.ticket_codes, s.static_codes_allowed, s.rotation_key_sealed IS NOT NULL AS has_rotation_key,
               v.name AS venue_name, v.organisation_id, c.timezone, c.name AS city_name, now() AS db_now
        FROM shows s JOIN events e ON e.id = s.event_id JOIN venues v ON v.id = s.venue_id
        JOIN cities c ON c.id = v.city_id
        WHERE s.id = :id AND {owned("v")} {"FOR UPDATE OF s" if lock else ""}
        """,
        {"id": show_id, **actor.scope},
    ).first()
    if row is None:
        raise ShowNotFound(f"show {show_id} does not exist")
    return row
