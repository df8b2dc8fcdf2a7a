"""Sales reports across the shows a manager may see (README "Sales reports"): per day, per show and per
tier, with refunds, over a range of dates.

A day is a UTC calendar day; ``from`` and ``to`` are both included. Sales are the bookings made in the
range (what was paid, also for bookings cancelled since); refunds are the refunds of bookings decided in
the range (pending or paid; a refund the gateway refused is not counted). Money is in minor units and
never added across currencies: every figure is per currency. A manager sees their organisation's
shows, an admin every show (``access.owned``).

A booking keeps one amount for all its seats, so the per-tier figures give a tier the amount of the
bookings whose seats are all of that tier; a booking of seats of several tiers counts under
``tier = None`` ("several tiers").
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response

from app.errors import ValidationFailed
from app.manage.access import Actor, owned
from app.spreadsheet import safe_cell
from app.unit_of_work import UnitOfWork

DEFAULT_DAYS = 30
MAX_DAYS = 366
CSV_HEADER = ("date", "show_id", "title", "venue", "currency", "bookings", "seats", "sales", "refunds", "refunded")


def date_range(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date]:
    """The report's first and last day from the query's ``from`` and ``to`` (``YYYY-MM-DD``, both optional:
    the last DEFAULT_DAYS days up to today, UTC; given but empty is refused)."""
    problems = []
    parsed: dict[str, date | None] = {}
    for field, raw in (("from", raw_from), ("to", raw_to)):
        parsed[field] = None
        if raw is None:  # an empty value is not a date: the page's form sends none for an empty field
            continue
        try:
            if len(raw) != 10:
                raise ValueError(raw)
            parsed[field] = date.fromisoformat(raw)
        except ValueError:
            problems.append({"field": field, "message": "a date as YYYY-MM-DD"})
    if problems:
        raise ValidationFailed("the report's dates are not dates", fields=problems)
    last = parsed["to"] or today
    first = parsed["from"] or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationFailed(
            "the report starts after it ends", fields=[{"field": "from", "message": "on or before `to`"}]
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(
            f"a report covers at most {MAX_DAYS} days", fields=[{"field": "to", "message": f"at most {MAX_DAYS} days"}]
        )
    return first, last


def _bounds(first: date, last: date) -> dict[str, datetime]:
    return {
        "start": datetime.combine(first, datetime.min.time(), UTC),
        "end": datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC),
    }


# The range's bookings of the shows the actor may see, by day and show; the organisation's shows first
# (through their venues), then each show's bookings in the range by ``ix_bookings_show_created``.
_SALES = f"""
    SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day, b.show_id, b.currency,
           count(*) AS bookings, sum(cardinality(b.seat_ids)) AS seats, sum(b.amount) AS sales
    FROM shows s JOIN venues v ON v.id = s.venue_id
    JOIN bookings b ON b.show_id = s.id AND b.created_at >= :start AND b.created_at < :end
    WHERE {owned("v")}
    GROUP BY 1, 2, 3
"""
# The range's refunds of those shows' bookings (the booking gives the currency), by day and show.
_REFUNDS = f"""
    SELECT (r.created_at AT TIME ZONE 'UTC')::date AS day, b.show_id, b.currency,
           count(*) AS refunds, sum(r.amount) AS refunded
    FROM refunds r JOIN bookings b ON b.id = r.booking_id
    JOIN shows s ON s.id = b.show_id JOIN venues v ON v.id = s.venue_id
    WHERE r.created_at >= :start AND r.created_at < :end AND r.status <> 'FAILED' AND {owned("v")}
    GROUP BY 1, 2, 3
"""
_TIERS = f"""
    WITH booked AS (
        SELECT b.id, b.currency, b.amount, cardinality(b.seat_ids) AS seats,
               (SELECT CASE WHEN count(DISTINCT vs.tier) = 1 THEN min(vs.tier) END FROM unnest(b.seat_ids) AS u(seat_id)
                JOIN venue_seats vs ON vs.venue_id = s.venue_id AND vs.seat_id = u.seat_id) AS tier
        FROM shows s JOIN venues v ON v.id = s.venue_id
        JOIN bookings b ON b.show_id = s.id AND b.created_at >= :start AND b.created_at < :end
        WHERE {owned("v")}
    )
    SELECT tier, currency,
           count(*) AS bookings, sum(seats) AS seats, sum(amount) AS sales
    FROM booked GROUP BY 1, 2 ORDER BY 2, 1 NULLS LAST
"""


def _show_names(uow: UnitOfWork, show_ids: set[int]) -> dict[int, Any]:
    if not show_ids:
        return {}
    rows = uow.execute(
        """
        SELECT s.id, e.title, v.name AS venue, s.starts_at, c.timezone FROM shows s
        JOIN events e ON e.id = s.event_id JOIN venues v ON v.id = s.venue_id JOIN cities c ON c.id = v.city_id
        WHERE s.id = ANY(:ids)
        """,
        {"ids": sorted(show_ids)},
    )
    return {r.id: r for r in rows}


def _lines(uow: UnitOfWork, actor: Actor, first: date, last: date) -> list[dict[str, Any]]:
    """One line per day, show and currency with bookings or refunds in the range."""
    params = {**_bounds(first, last), **actor.scope}
    lines: dict[tuple[date, int, str], dict[str, Any]] = {}
    zero = {"bookings": 0, "seats": 0, "sales": 0, "refunds": 0, "refunded": 0}
    for r in uow.execute(_SALES, params):
        line = lines.setdefault((r.day, r.show_id, r.currency), dict(zero))
        line.update(bookings=r.bookings, seats=int(r.seats), sales=int(r.sales))
    for r in uow.execute(_REFUNDS, params):
        line = lines.setdefault((r.day, r.show_id, r.currency), dict(zero))
        line.update(refunds=r.refunds, refunded=int(r.refunded))
    return [
        {"day": day, "showId": show_id, "currency": currency, **figures}
        for (day, show_id, currency), figures in sorted(lines.items())
    ]


def _summed(lines: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    for line in lines:
        k = key(line)
        total = out.setdefault(k, {"bookings": 0, "seats": 0, "sales": 0, "refunds": 0, "refunded": 0})
        for figure in total:
            total[figure] += line[figure]
    return [{"key": k, **v} for k, v in out.items()]


def sales(uow: UnitOfWork, actor: Actor, first: date, last: date) -> dict[str, Any]:
    """The JSON report (``GET /api/v1/manage/reports/sales``)."""
    lines = _lines(uow, actor, first, last)
    names = _show_names(uow, {line["showId"] for line in lines})
    days = [
        {"date": k[0].isoformat(), "currency": k[1], **v}
        for k, v in ((t.pop("key"), t) for t in _summed(lines, lambda ln: (ln["day"], ln["currency"])))
    ]
    days.sort(key=lambda d: (d["date"], d["currency"]))
    shows = []
    for t in _summed(lines, lambda ln: (ln["showId"], ln["currency"])):
        show_id, currency = t.pop("key")
        n = names[show_id]
        shows.append(
            {
                "showId": str(show_id),
                "title": n.title,
                "venueName": n.venue,
                "startTime": n.starts_at.astimezone(ZoneInfo(n.timezone)).isoformat(),
                "currency": currency,
                **t,
            }
        )
    shows.sort(key=lambda s: (s["startTime"], s["showId"]))
    totals = [{"currency": k, **v} for k, v in ((t.pop("key"), t) for t in _summed(lines, lambda ln: ln["currency"]))]
    totals.sort(key=lambda t: t["currency"])
    tiers = [
        {"tier": r.tier, "currency": r.currency, "bookings": r.bookings, "seats": int(r.seats), "sales": int(r.sales)}
        for r in uow.execute(_TIERS, {**_bounds(first, last), **actor.scope})
    ]
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": "UTC",
        "totals": totals,
        "days": days,
        "shows": shows,
        "tiers": tiers,
    }


def sales_csv(uow: UnitOfWork, actor: Actor, first: date, last: date) -> str:
    """The CSV report (``GET /api/v1/manage/reports/sales.csv``): a header line, then one line per day, show
    and currency; money in minor units; titles and venue names that a spreadsheet would run as a formula
    start with ``'`` (``app/spreadsheet.py``)."""
    lines = _lines(uow, actor, first, last)
    names = _show_names(uow, {line["showId"] for line in lines})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for ln in lines:
        n = names[ln["showId"]]
        writer.writerow(
            (
                ln["day"].isoformat(),
                ln["showId"],
                safe_cell(n.title),
                safe_cell(n.venue),
                ln["currency"],
                ln["bookings"],
                ln["seats"],
                ln["sales"],
                ln["refunds"],
                ln["refunded"],
            )
        )
    return out.getvalue()


def charts(
    report: dict[str, Any], first: date, last: date, width: int = 600, height: int = 160
) -> list[dict[str, Any]]:
    """For the report page: per currency, a bar of sales for every day of the range (days without any
    are empty), scaled to the box for an inline SVG as the show dashboard draws its chart
    (``dashboard.chart``)."""
    span = (last - first).days + 1
    step = width / span
    out = []
    for total in report["totals"]:
        currency = total["currency"]
        by_day = {d["date"]: d["sales"] for d in report["days"] if d["currency"] == currency}
        top = max([*by_day.values(), 1])
        bars = []
        for i in range(span):
            day = (first + timedelta(days=i)).isoformat()
            amount = by_day.get(day, 0)
            h = amount / top * (height - 20)
            if amount:
                bars.append(
                    {
                        "x": round(i * step + 1, 1),
                        "y": round(height - h, 1),
                        "w": round(max(step - 2, 1), 1),
                        "h": round(h, 1),
                        "day": day,
                        "sales": amount,
                    }
                )
        out.append({"currency": currency, "width": width, "height": height, "bars": bars, "total": total["sales"]})
    return out


def sales_csv_download(body: str, first: date, last: date) -> Response:
    """The report's CSV as the API and the dashboard send it: an attachment named for its days, never cached."""
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="sales-{first.isoformat()}-{last.isoformat()}.csv"',
            "Cache-Control": "no-store",
        },
    )
