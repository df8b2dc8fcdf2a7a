"""What the database holds, as one comparable value: a rejected request must leave it unchanged."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.unit_of_work import unit_of_work

_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1"
_SEATS = "SELECT status, count(*) AS n FROM show_seats GROUP BY status ORDER BY status"


def _digest(table: str) -> str:
    return (
        f"(SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
        f'FROM "{table}" t) AS "{table}"'
    )


def snapshot(app: Flask) -> dict[str, Any]:
    """Every table of the schema (those added later too) by row count and a digest of its rows, so a
    changed value (a title, a seat's status, an expiry) shows as well as an added or removed row;
    and the seats per status, to read in a failure message."""
    with app.app_context(), unit_of_work() as uow:
        tables = [r.tablename for r in uow.execute(_TABLES)]
        row = uow.execute("SELECT " + ", ".join(_digest(t) for t in tables)).one()
        seats = {r.status: r.n for r in uow.execute(_SEATS)}
    return {**row._asdict(), "show_seats by status": seats}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The tables whose rows changed between two snapshots, for an assertion message."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
