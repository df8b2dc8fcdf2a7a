"""Demo content: three cities in three time zones, a cinema, a concert hall, a stadium and a club
with standing room, with shows across the next 14 days, door staff and a presale code. Safe to run
any number of times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.accounts import services as accounts
from app.accounts.passwords import Passwords
from app.catalog import scheduling
from app.demo import layouts
from app.errors import EmailTaken
from app.unit_of_work import UnitOfWork

DEMO_PASSWORD = "seatline-demo"
DEMO_FAN = "fan@example.com"
DEMO_MANAGER = "manager@example.com"
DEMO_ADMIN = "admin@example.com"
DEMO_DOOR = "door@example.com"
# The club night's presale code (README "Presale codes and vouchers"): it opens the sale before the public.
DEMO_PRESALE_CODE = "DOCKFIRST"
DEMO_ORGANISATION = "Seatline Demo Venues"
DAYS = 14

CINEMA_PRICES = {"front": 20000, "standard": 30000, "premium": 50000}  # paise
HALL_PRICES = {"premium": 8500, "standard": 5500, "value": 2500}  # pence
STADIUM_PRICES = {"floor": 25000, "lower": 15000, "upper": 7500}  # cents
CLUB_PRICES = {"floor": 120000, "mezzanine": 180000}  # paise


@dataclass(frozen=True)
class SeedSummary:
    cities: int
    venues: int
    shows: int


def seed_demo(uow: UnitOfWork, passwords: Passwords, today_utc: date | None = None) -> SeedSummary:
    today_utc = today_utc or datetime.now(ZoneInfo("UTC")).date()
    org = scheduling.ensure_organisation(uow, DEMO_ORGANISATION)
    _ensure_user(uow, passwords, DEMO_FAN, "Demo Fan", "fan")
    _ensure_user(uow, passwords, DEMO_MANAGER, "Demo Manager", "manager", org)
    _ensure_user(uow, passwords, DEMO_ADMIN, "Demo Admin", "admin")
    _ensure_user(uow, passwords, DEMO_DOOR, "Demo Door", "door", org)
    # The demo fan gets SMS too (the development SMS backend records them in sms_outbox).
    uow.execute("UPDATE users SET phone = '+15555550100' WHERE email = :e AND phone IS NULL", {"e": DEMO_FAN})

    bengaluru = scheduling.ensure_city(uow, "Bengaluru", "IN", "Asia/Kolkata")
    london = scheduling.ensure_city(uow, "London", "GB", "Europe/London")
    new_york = scheduling.ensure_city(uow, "New York", "US", "America/New_York")

    cinema = scheduling.ensure_venue(
        uow, bengaluru, "Lumen Cinema", "cinema", "12 MG Road, Bengaluru", layouts.cinema(), organisation_id=org
    )
    hall = scheduling.ensure_venue(
        uow,
        london,
        "Riverside Concert Hall",
        "concert_hall",
        "1 Embankment Walk, London",
        layouts.concert_hall(),
        organisation_id=org,
    )
    stadium = scheduling.ensure_venue(
        uow, new_york, "Harbor Stadium", "stadium", "100 Pier Avenue, New York", layouts.stadium(), organisation_id=org
    )

    def event(title: str, category: str, description: str, minutes: int) -> int:
        return scheduling.ensure_event(uow, title, category, description, minutes, organisation_id=org)

    monsoon = event("The Last Monsoon", "movie", "A family drama set over one wet summer.", 142)
    orbit = event("Orbit Nine", "movie", "Six astronauts, one way home.", 128)
    strings = event("Aurora Strings: The Four Seasons", "concert", "Vivaldi by candlelight.", 95)
    jazz = event("Midnight Jazz Orchestra", "concert", "Big-band standards until late.", 120)
    tour = event("Nova: The Starlight Tour", "concert", "The stadium tour of the year.", 180)
    derby = event("Harbor City FC vs Bay United", "sport", "The derby, under the lights.", 120)
    laughs = event("Laugh Track Live", "comedy", "Five comics, one microphone, no safety net.", 90)
    dream = event("A Midsummer Night's Dream", "theatre", "Shakespeare's comedy of lovers lost in the woods.", 150)
    dock = event("Dockside Sessions", "concert", "Live electronic music on a standing floor.", 240)

    shows = 0
    kolkata, london_tz, ny_tz = ZoneInfo("Asia/Kolkata"), ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
    for offset in range(DAYS):
        day = today_utc + timedelta(days=offset)
        # Later shows go on sale a week ahead, so some sales open in the future.
        for slot, (hour, minute) in enumerate(((13, 0), (17, 30), (21, 0))):
            starts = _at(day, hour, minute, kolkata)
            scheduling.schedule_show(
                uow,
                event_id=(monsoon, orbit)[(offset + slot) % 2],
                venue_id=cinema,
                starts_at=starts,
                sale_opens_at=_sale_opens(starts),
                sale_closes_at=starts,
                currency="INR",
                prices=CINEMA_PRICES,
            )
            shows += 1
        if day.weekday() in (4, 5):  # Friday and Saturday nights
            starts = _at(day, 23, 30, kolkata)
            scheduling.schedule_show(
                uow,
                event_id=laughs,
                venue_id=cinema,
                starts_at=starts,
                sale_opens_at=_sale_opens(starts),
                sale_closes_at=starts,
                currency="INR",
                prices=CINEMA_PRICES,
            )
            shows += 1
        if offset % 2 == 0 or offset % 3 == 1:
            starts = _at(day, 19, 30, london_tz)
            scheduling.schedule_show(
                uow,
                event_id=(strings, jazz)[(offset // 2) % 2] if offset % 2 == 0 else dream,
                venue_id=hall,
                starts_at=starts,
                sale_opens_at=_sale_opens(starts),
                sale_closes_at=starts,
                currency="GBP",
                prices=HALL_PRICES,
            )
            shows += 1

    derby_start = _at(today_utc + timedelta(days=3), 19, 0, ny_tz)
    scheduling.schedule_show(
        uow,
        event_id=derby,
        venue_id=stadium,
        starts_at=derby_start,
        sale_opens_at=derby_start - timedelta(days=30),
        sale_closes_at=derby_start,
        currency="USD",
        prices=STADIUM_PRICES,
    )
    # The high-demand sale: queue-protected, open now.
    tour_start = _at(today_utc + timedelta(days=6), 20, 0, ny_tz)
    tour_show = scheduling.schedule_show(
        uow,
        event_id=tour,
        venue_id=stadium,
        starts_at=tour_start,
        sale_opens_at=tour_start - timedelta(days=30),
        sale_closes_at=tour_start,
        currency="USD",
        prices=STADIUM_PRICES,
        queue_required=True,
    )
    shows += 2
    # Its waiting room admits small batches every few seconds, so a newcomer can watch it move.
    uow.execute(
        """
        INSERT INTO gate_queues (event_id, state, batch_size, admission_interval_seconds, max_active,
                                 session_seconds, sale_opens_at)
        SELECT event_id, 'OPEN', 5, 3, 25, 600, now() FROM shows WHERE id = :show
        ON CONFLICT (event_id) DO NOTHING
        """,
        {"show": tour_show},
    )
    # A club night with a standing floor: its public sale opens in five days, but the presale code
    # DOCKFIRST lets fans hold places now (README "Presale codes and vouchers", "General admission").
    club = scheduling.ensure_venue(
        uow, bengaluru, "The Loading Dock", "club", "7 Old Mill Lane, Bengaluru", layouts.club(), organisation_id=org
    )
    dock_start = _at(today_utc + timedelta(days=9), 22, 0, kolkata)
    dock_show = scheduling.schedule_show(
        uow,
        event_id=dock,
        venue_id=club,
        starts_at=dock_start,
        sale_opens_at=dock_start - timedelta(days=4),
        sale_closes_at=dock_start,
        currency="INR",
        prices=CLUB_PRICES,
    )
    shows += 1
    uow.execute(
        """
        INSERT INTO access_codes (show_id, code, kind, max_uses)
        SELECT :show, :code, 'PRESALE', 200
        WHERE NOT EXISTS (SELECT 1 FROM access_codes WHERE show_id = :show AND lower(code) = lower(:code))
        """,
        {"show": dock_show, "code": DEMO_PRESALE_CODE},
    )
    # Fresh statistics after a bulk load, so seat-map queries get good plans from the start.
    uow.execute("ANALYZE venue_seats, show_seats, shows, show_prices")
    uow.commit()
    return SeedSummary(cities=3, venues=4, shows=shows)


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _sale_opens(starts: datetime) -> datetime:
    # Sales open a week ahead: this week's shows are on sale, next week's open later.
    return starts - timedelta(days=7)


def _ensure_user(
    uow: UnitOfWork, passwords: Passwords, email: str, name: str, role: str, organisation_id: int | None = None
) -> None:
    exists = uow.execute("SELECT 1 FROM users WHERE email = :e", {"e": email}).first()
    if exists:
        return
    try:
        accounts.register(uow, passwords, email, DEMO_PASSWORD, name, role=role, organisation_id=organisation_id)
    except EmailTaken:
        pass
