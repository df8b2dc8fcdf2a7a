"""The home page's listing: a city's shows as event cards, searched and filtered, a page at a time.

The filters are plain query arguments (``city``, ``q``, ``category``, ``date``, ``from``, ``to``,
``when``, ``page``), so a filtered page is a URL to share and the form works without JavaScript;
htmx asks for the same URL and swaps in the results alone. A bad value is named on the page and the
listing falls back to the defaults for it (README, "Search and filters")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext, lazy_gettext

from app.catalog import queries, services as catalog
from app.catalog.services import local_day_bounds, sale_status
from app.manage.shows import EVENT_CATEGORIES
from app.unit_of_work import UnitOfWork

PAGE_SIZE = 12
# Upcoming shows with no dates chosen: this many days from the city's today.
UPCOMING_DAYS = 30
# The longest range a visitor may ask for, in days.
MAX_RANGE_DAYS = 92
# At most this many shows are read for one listing (the cards are grouped from them): the busiest
# window of the demo data has a few hundred.
MAX_SHOWS = 2000
MAX_SEARCH = 80
TIMES_PER_CARD = 4


# How each of the fixed categories (app/manage/shows.py) is written on the pages.
CATEGORY_LABELS = {
    "concert": lazy_gettext("Concert"),
    "movie": lazy_gettext("Film"),
    "sport": lazy_gettext("Sport"),
    "theatre": lazy_gettext("Theatre"),
    "comedy": lazy_gettext("Comedy"),
    "other": lazy_gettext("Other"),
}


def category_label(category: str) -> str:
    """A category as the pages write it, in the visitor's language (pages: ``category_label``)."""
    label = CATEGORY_LABELS.get(category)
    return str(label) if label is not None else category


@dataclass
class Filters:
    city: str | None = None
    q: str = ""
    category: str = ""
    date: str = ""
    start: str = ""  # the ``from`` argument
    end: str = ""  # the ``to`` argument
    when: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def key(self) -> tuple[Any, ...]:
        return (self.city, self.q, self.category, self.date, self.start, self.end, self.when, self.page)


def read_filters(args: Any) -> Filters:
    """The query arguments as filters; a bad one is dropped and named in ``errors``."""
    f = Filters(city=args.get("city"))
    f.q = " ".join(args.get("q", "").split())[:MAX_SEARCH]
    category = args.get("category", "")
    if category and category not in EVENT_CATEGORIES:
        f.errors.append(gettext("There is no category “%(c)s”: showing every category.", c=category[:40]))
    else:
        f.category = category
    f.date, f.start, f.end = args.get("date", ""), args.get("from", ""), args.get("to", "")
    f.when = args.get("when", "") if args.get("when", "") in ("", "week", "today") else ""
    page = args.get("page", "1")
    f.page = int(page) if page.isdigit() and 0 < len(page) <= 4 and int(page) > 0 else 1
    if page != "1" and f.page == 1 and page != "":
        f.errors.append(gettext("“%(p)s” is not a page number.", p=page[:20]))
    return f


def _parse_day(text: str, what: str, errors: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(gettext("“%(d)s” is not a date (%(what)s): use YYYY-MM-DD.", d=text[:20], what=what))
        return None


def window(f: Filters, today: date, horizon_days: int) -> tuple[date, date, str, bool]:
    """The first and last city-local days listed, and which view that is: ``day`` (one date, as
    ``date`` asks), ``range`` (``from``/``to``), ``week`` (today and the six days after), or
    ``upcoming`` (the default); and whether anything can be on sale then."""
    day = _parse_day(f.date, gettext("date"), f.errors)
    if day is not None:
        if not catalog.in_listing_window(day, horizon_days):
            return day, day, "day", False  # nothing is on sale then (and 9999-12-31 has no next day)
        return day, day, "day", True
    if f.when == "today":
        return today, today, "day", True
    if f.when == "week":
        return today, today + timedelta(days=6), "week", True
    first = _parse_day(f.start, gettext("from"), f.errors)
    last = _parse_day(f.end, gettext("to"), f.errors)
    if first is None and last is None:
        return today, today + timedelta(days=UPCOMING_DAYS - 1), "upcoming", True
    first = first or today
    last = last or first + timedelta(days=UPCOMING_DAYS - 1)
    if last < first:
        f.errors.append(gettext("The end date is before the start date: showing the upcoming shows."))
        return today, today + timedelta(days=UPCOMING_DAYS - 1), "upcoming", True
    if (last - first).days >= MAX_RANGE_DAYS:
        f.errors.append(gettext("That range is too long: showing its first %(n)s days.", n=MAX_RANGE_DAYS))
        last = first + timedelta(days=MAX_RANGE_DAYS - 1)
    if not (catalog.in_listing_window(first, horizon_days) and catalog.in_listing_window(last, horizon_days)):
        f.errors.append(gettext("Those dates are outside the dates on sale: showing the upcoming shows."))
        return today, today + timedelta(days=UPCOMING_DAYS - 1), "upcoming", True
    return first, last, "range", True


def listing(uow: UnitOfWork, f: Filters, city: dict[str, Any], horizon_days: int) -> dict[str, Any]:
    """The cards of the city's events with shows in the window, one page of them, and the figures
    the page shows about it."""
    zone = ZoneInfo(city["timezone"])
    today = datetime.now(zone).date()
    first, last, view, listable = window(f, today, horizon_days)
    shows = []
    if listable:
        start, _ = local_day_bounds(first, zone)
        _, end = local_day_bounds(last, zone)
        shows = queries.browse_shows(
            uow,
            int(city["cityId"]),
            start,
            end,
            search=f.q or None,
            category=f.category or None,
            limit=MAX_SHOWS,
        )
    cards: dict[int, dict[str, Any]] = {}
    for s in shows:
        local = s.starts_at.astimezone(zone)
        card = cards.setdefault(
            s.event_id,
            {
                "eventId": str(s.event_id),
                "title": s.title,
                "category": s.category,
                "poster": s.poster,
                "venueName": s.venue_name,
                "venues": set(),
                "next": local,
                "nextShowId": str(s.id),
                "currency": s.currency,
                "priceFrom": None,
                "shows": [],
                "showCount": 0,
            },
        )
        card["venues"].add(s.venue_name)
        card["showCount"] += 1
        if s.price_from is not None and s.currency == card["currency"]:
            card["priceFrom"] = s.price_from if card["priceFrom"] is None else min(card["priceFrom"], s.price_from)
        if len(card["shows"]) < TIMES_PER_CARD:
            card["shows"].append(
                {
                    "showId": str(s.id),
                    "time": local.strftime("%H:%M"),
                    "day": local.strftime("%a %d %b"),
                    "iso": local.isoformat(),
                    "venueName": s.venue_name,
                    "saleStatus": sale_status(s.status, s.sale_opens_at, s.sale_closes_at, s.db_now),
                    "queueRequired": s.queue_required,
                }
            )
    ordered = list(cards.values())
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    page = min(f.page, pages)
    return {
        "view": view,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "today": today.isoformat(),
        "cards": ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        "total": len(ordered),
        "page": page,
        "pages": pages,
        "truncated": len(shows) >= MAX_SHOWS,
    }
