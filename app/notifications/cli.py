"""Messages given up after NOTIFICATION_MAX_ATTEMPTS: `flask dead-letters` lists them (and gives one
another go); the manager dashboard shows an organisation its own (``app.manage.queries.dead_letters``)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.background.dispatch import Followups
from app.unit_of_work import unit_of_work


@click.command("dead-letters")
@click.option("--organisation", "organisation_id", type=int, help="Only this organisation's messages.")
@click.option("--requeue", "requeue_id", type=int, help="Give this DEAD message a new set of attempts.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@with_appcontext
def dead_letters_command(organisation_id: int | None, requeue_id: int | None, limit: int) -> None:
    """List DEAD notifications (oldest first) with their last error, or requeue one."""
    with unit_of_work() as uow:
        if requeue_id is not None:
            done = uow.execute(
                "UPDATE notifications SET status = 'PENDING', attempts = 0 WHERE id = :id AND status = 'DEAD' "
                "RETURNING id",
                {"id": requeue_id},
            ).scalar()
            if done is not None:
                uow.after_commit(Followups(notifications=[requeue_id]).run)
            uow.commit()
            if done is None:
                raise click.ClickException(f"notification {requeue_id} is not DEAD")
            click.echo(f"notification {requeue_id} is pending again")
            return
        rows = uow.execute(
            """
            SELECT n.id, n.created_at, n.organisation_id, o.name AS organisation, n.kind, n.channel, n.recipient,
                   n.attempts, n.last_error
            FROM notifications n LEFT JOIN organisations o ON o.id = n.organisation_id
            WHERE n.status = 'DEAD' AND (CAST(:org AS bigint) IS NULL OR n.organisation_id = :org)
            ORDER BY n.created_at, n.id LIMIT :limit
            """,
            {"org": organisation_id, "limit": limit},
        ).all()
        total = uow.execute(
            "SELECT count(*) FROM notifications WHERE status = 'DEAD' "
            "AND (CAST(:org AS bigint) IS NULL OR organisation_id = :org)",
            {"org": organisation_id},
        ).scalar_one()
    for r in rows:
        click.echo(
            f"{r.id}  {r.created_at.isoformat(timespec='seconds')}  {r.organisation or '-'}  {r.kind} "
            f"{r.channel} {r.recipient}  attempts={r.attempts}  {r.last_error or ''}"
        )
    click.echo(f"{total} dead notification(s)")
