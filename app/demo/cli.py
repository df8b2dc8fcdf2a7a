from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.demo.posters import add_posters
from app.demo.seed import DEMO_ADMIN, DEMO_FAN, DEMO_MANAGER, DEMO_ORGANISATION, DEMO_PASSWORD, seed_demo
from app.images.routes import storage
from app.unit_of_work import unit_of_work


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo cities, venues, shows and users (idempotent). Never in production: the demo
    accounts share one published password, one of them an admin."""
    if current_app.extensions["seatline.settings"].is_production:
        raise click.ClickException(
            "seed-demo refuses to run with ENV=production: the demo users share a published password "
            "(one is an admin). Set ENV=development for a demo database."
        )
    with unit_of_work() as uow:
        summary = seed_demo(uow, current_app.extensions["seatline.passwords"])
        drawn = add_posters(uow, storage(), DEMO_ORGANISATION)  # README, "Event images"
    click.echo(
        f"demo data ready: {summary.cities} cities, {summary.venues} venues, {summary.shows} shows"
        f" ({drawn} posters drawn)"
    )
    click.echo(
        f"demo fan: {DEMO_FAN} / {DEMO_PASSWORD}   demo manager: {DEMO_MANAGER} / {DEMO_PASSWORD}"
        f"   demo admin: {DEMO_ADMIN} / {DEMO_PASSWORD}"
    )
