"""What the manager sets up: a fresh database, the venue and the queue-protected show, every fan's
account and token, and the waiting room with the sale's opening."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import psycopg
import redis
import requests

from bench.flash_sale.params import CITY_TZ, DB, PG, REDIS_URL, Params
from devstack import commands
from devstack.processes import ROOT

if TYPE_CHECKING:
    from bench.flash_sale.processes import Ports
    from bench.flash_sale.recording import Recorder


@dataclass
class Sale:
    show_id: int
    other_show_id: int
    event_id: int
    city_id: int
    date: str
    seat_ids: list[str]
    fan_tokens: list[str]
    manager_token: str
    opens_at: datetime | None = None


def create_database(env: dict[str, str]) -> None:
    with psycopg.connect(f"{PG} dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DB}")
    subprocess.run(
        commands.flask("db", "upgrade"),
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    redis.Redis.from_url(REDIS_URL).flushdb()


def make_app(env: dict[str, str]):
    """The app in this process, for set-up and the invariant check (never serves a request)."""
    import logging

    from app import create_app
    from app.config import Settings

    # Configured first, the app's INFO logging (meant for its servers) stays out of this report.
    logging.basicConfig(level=logging.WARNING)
    return create_app(Settings.from_env(env))


def build_sale(app, params: Params) -> Sale:
    from app.accounts.tokens import issue_token
    from app.catalog import scheduling
    from app.demo.layouts import concert_hall
    from app.unit_of_work import unit_of_work

    secret = app.extensions["seatline.settings"].secret_key
    seats = concert_hall()[: params.seats]
    zone = ZoneInfo(CITY_TZ)
    day = (datetime.now(zone) + timedelta(days=3)).date()
    starts = datetime(day.year, day.month, day.day, 19, 30, tzinfo=zone)
    matinee = datetime(day.year, day.month, day.day, 14, 0, tzinfo=zone)
    placeholder_opening = datetime.now(UTC) + timedelta(hours=1)  # re-timed once the fans are in
    with app.app_context(), unit_of_work() as uow:
        org = scheduling.ensure_organisation(uow, "Flash Sale Promotions")
        city = scheduling.ensure_city(uow, "Flashford", "GB", CITY_TZ)
        venue = scheduling.ensure_venue(
            uow, city, "Flashford Concert Hall", "concert_hall", "1 Sale Street", seats, organisation_id=org
        )
        event = scheduling.ensure_event(uow, "The Reunion Tour", "concert", "One night only.", 150, organisation_id=org)
        recital = scheduling.ensure_event(uow, "Sunday Recital", "concert", "Chamber music.", 90, organisation_id=org)
        prices = {"premium": 9500, "standard": 6500, "value": 3500}
        show = scheduling.schedule_show(
            uow,
            event_id=event,
            venue_id=venue,
            starts_at=starts,
            sale_opens_at=placeholder_opening,
            sale_closes_at=starts,
            currency="GBP",
            prices=prices,
            queue_required=True,
        )
        other = scheduling.schedule_show(
            uow,
            event_id=recital,
            venue_id=venue,
            starts_at=matinee,
            sale_opens_at=datetime.now(UTC) - timedelta(days=1),
            sale_closes_at=matinee,
            currency="GBP",
            prices=prices,
        )
        manager = uow.execute(
            "INSERT INTO users (email, name, password_hash, role, organisation_id) "
            "VALUES ('manager@flash.example', 'Flash Manager', 'x', 'manager', :org) RETURNING id",
            {"org": org},
        ).scalar_one()
        # Every fan in one statement.
        fan_ids = (
            uow.execute(
                "INSERT INTO users (email, name, password_hash, role) "
                "SELECT 'fan' || g || '@flash.example', 'Fan ' || g, 'x', 'fan' FROM generate_series(1, :n) g "
                "RETURNING id",
                {"n": params.fans},
            )
            .scalars()
            .all()
        )
        uow.execute("ANALYZE users, venue_seats, show_seats, shows, show_prices")
        uow.commit()
    ttl = 6 * 3600
    return Sale(
        show_id=show,
        other_show_id=other,
        event_id=event,
        city_id=city,
        date=day.isoformat(),
        seat_ids=[s.seat_id for s in seats],
        fan_tokens=[issue_token(secret, i, "fan", ttl) for i in sorted(fan_ids)],
        manager_token=issue_token(secret, manager, "manager", ttl),
    )


def open_waiting_room(
    ports: Ports, sale: Sale, params: Params, opens_at: datetime, rec: Recorder | None = None
) -> dict[str, Any]:
    """What the manager does: the sale's opening on the show, and the waiting room for the event
    (through the edge, like the dashboard; timed as ``manager-queue``)."""
    with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
        c.execute("UPDATE shows SET sale_opens_at = %s WHERE id = %s", (opens_at, sale.show_id))
    for _attempt in range(5):
        start, t = (rec.now() if rec else 0.0), time.perf_counter()
        try:
            r = requests.put(
                f"{ports.front_gate}/gate/v1/queues/{sale.event_id}",
                headers={"Authorization": f"Bearer {sale.manager_token}"},
                json={
                    "batchSize": params.batch,
                    "admissionIntervalSeconds": params.interval,
                    "maxActive": params.cap,
                    "sessionSeconds": params.session,
                    "saleOpensAt": opens_at.isoformat(),
                },
                timeout=60,
            )
        except requests.RequestException as exc:
            if rec:
                rec.transport_errors[("manager-queue", type(exc).__name__)] += 1
            continue
        if rec:
            rec.add("manager-queue", start, time.perf_counter() - t, 0.0, r.status_code, r.content)
        if r.status_code < 500:
            break
    r.raise_for_status()
    sale.opens_at = opens_at
    return r.json()
