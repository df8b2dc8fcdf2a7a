from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.catalog.services import local_day_bounds, sale_status


@pytest.mark.parametrize(
    "zone,day,hours",
    [
        ("Asia/Kolkata", date(2026, 3, 8), 24),
        ("America/New_York", date(2026, 3, 8), 23),  # spring forward
        ("America/New_York", date(2026, 11, 1), 25),  # fall back
        ("Europe/London", date(2026, 3, 29), 23),
        ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),  # a half-hour shift
    ],
)
def test_local_day_lengths(zone, day, hours):
    start, end = local_day_bounds(day, ZoneInfo(zone))
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=hours)


def test_kolkata_day_starts_at_1830_utc_the_day_before():
    start, _ = local_day_bounds(date(2026, 12, 1), ZoneInfo("Asia/Kolkata"))
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 18, 30, tzinfo=UTC)


def test_sale_status_follows_the_window():
    opens = datetime(2026, 1, 1, tzinfo=UTC)
    closes = opens + timedelta(days=1)
    assert sale_status("SCHEDULED", opens, closes, opens - timedelta(seconds=1)) == "NOT_OPEN"
    assert sale_status("SCHEDULED", opens, closes, opens) == "ON_SALE"
    assert sale_status("SCHEDULED", opens, closes, closes) == "CLOSED"
    assert sale_status("CANCELLED", opens, closes, opens) == "CANCELLED"
