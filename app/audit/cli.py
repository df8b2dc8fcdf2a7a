"""`flask audit-log`: what happened to a show, a hold, a booking, a payment or a venue, in order."""

from __future__ import annotations

from typing import Any

import click
import orjson
from flask.cli import with_appcontext

from app.audit.log import entries
from app.unit_of_work import unit_of_work


def _actor(row: Any) -> str:
    return row.actor_kind if row.actor_user_id is None else f"{row.actor_kind}#{row.actor_user_id}"


def format_row(row: Any) -> str:
    show = f"show {row.show_id}" if row.show_id is not None else "-"
    details = orjson.dumps(row.details, option=orjson.OPT_SORT_KEYS).decode()
    return (
        f"{row.at.isoformat(timespec='milliseconds')}  {_actor(row):<14} {row.action:<20} "
        f"{row.subject_type}:{row.subject_id}  {show}  {details}"
    )


def as_json(row: Any) -> str:
    return orjson.dumps(
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "actorUserId": row.actor_user_id,
            "actorKind": row.actor_kind,
            "action": row.action,
            "subjectType": row.subject_type,
            "subjectId": row.subject_id,
            "showId": row.show_id,
            "details": row.details,
        }
    ).decode()


@click.command("audit-log")
@click.option("--show", "show_id", type=int, help="Rows about this show (its holds, bookings, refunds, changes).")
@click.option(
    "--subject",
    help="Rows about one thing, as TYPE:ID (hold:UUID, booking:UUID, payment:pi_..., "
    "venue:7, event:3, show:12), or every thing of a TYPE.",
)
@click.option("--action", help="Only this action, e.g. booking.confirmed.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the latest N rows.")
@click.option("--json", "json_lines", is_flag=True, help="One JSON object per line.")
@with_appcontext
def audit_log_command(
    show_id: int | None, subject: str | None, action: str | None, limit: int | None, json_lines: bool
) -> None:
    """Print the audit log, oldest first: when, who, what, about what, and the details."""
    if show_id is None and subject is None and action is None:
        raise click.UsageError("say what to show: --show ID, --subject TYPE:ID or --action NAME")
    subject_type, subject_id = None, None
    if subject is not None:
        subject_type, _, rest = subject.partition(":")
        subject_id = rest or None
        if not subject_type:
            raise click.BadParameter("expected TYPE:ID or TYPE", param_hint="--subject")
    with unit_of_work() as uow:
        rows = entries(
            uow, show_id=show_id, subject_type=subject_type, subject_id=subject_id, action=action, limit=limit
        )
    for row in rows:
        click.echo(as_json(row) if json_lines else format_row(row))
    if not rows and not json_lines:
        click.echo("no audit rows match", err=True)
