"""Seat state has one writer: nothing but app/inventory/seat_state.py changes ``show_seats``.

The scan reads the Python sources of app/, queue_gate/ and workers/: SQL that inserts into,
updates, deletes from, merges into, truncates or copies ``show_seats`` (any case, any spacing or
line breaks, in plain, triple-quoted, f- or implicitly joined strings), and any use of the ORM
model ``ShowSeat`` beyond its definition (an ORM object loaded elsewhere could be changed and
flushed). A new seat change belongs in seat_state.py as a named operation.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("app", "queue_gate", "workers")
WRITER = "app/inventory/seat_state.py"
MODEL_HOME = "app/inventory/models.py"

SQL_WRITE = re.compile(
    r"\b(?:insert\s+into|update|delete\s+from|merge\s+into|truncate(?:\s+table)?|copy)\s+(?:only\s+)?"
    r"(?:\"?\w+\"?\s*\.\s*)?\"?show_seats\b",
    re.IGNORECASE,
)


def _strings(tree: ast.AST) -> list[tuple[int, int, str]]:
    """Every string literal as (first line, last line, text); an f-string's fields read as a space."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.end_lineno or node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else " " for v in node.values)
            found.append((node.lineno, node.end_lineno or node.lineno, text))
    return found


def _orm_uses(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "ShowSeat")
        or (isinstance(node, ast.Attribute) and node.attr == "ShowSeat")
    ]


def writes_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for each place in ``source`` that writes show_seats."""
    hits = [(source.count("\n", 0, m.start()) + 1, " ".join(m.group().split())) for m in SQL_WRITE.finditer(source)]
    tree = ast.parse(source)
    for first, last, text in _strings(tree):
        match = SQL_WRITE.search(text)
        if match and not any(first <= line <= last for line, _ in hits):
            hits.append((first, " ".join(match.group().split())))
    hits += [(line, "the ShowSeat model") for line in _orm_uses(tree)]
    return sorted(hits)


def scan() -> dict[str, list[tuple[int, str]]]:
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == MODEL_HOME:
                continue
            hits = writes_in(path.read_text(encoding="utf-8"))
            if hits:
                found[relative] = hits
    return found


def test_only_seat_state_writes_show_seats():
    others = {path: hits for path, hits in scan().items() if path != WRITER}
    assert not others, (
        "show_seats is written outside app/inventory/seat_state.py; add a named operation there instead:\n"
        + "\n".join(f"  {path}:{line}: {what}" for path, hits in others.items() for line, what in hits)
    )


def test_the_scan_sees_the_writer_itself():
    """The scan is not blind: it finds seat_state.py's own inserts, updates and the delete."""
    kinds = {what.split()[0].upper() for _, what in scan().get(WRITER, [])}
    assert kinds == {"INSERT", "UPDATE", "DELETE"}


@pytest.mark.parametrize(
    "source",
    [
        "uow.execute(\"UPDATE show_seats SET status = 'AVAILABLE'\")",
        'uow.execute("""\n    update\n        show_seats ss set status = :s\n""")',
        'uow.execute(f"""WITH x AS (SELECT 1) Insert   Into\tshow_seats (show_id) SELECT {n}""")',
        'uow.execute("DELETE FROM "\n            "show_seats WHERE show_id = :s")',
        'sql = f"delete from public.\\"show_seats\\" where show_id = {show}"',
        'uow.execute("TRUNCATE show_seats")',
        'uow.execute("MERGE INTO show_seats USING x ON true WHEN MATCHED THEN DELETE")',
        "# UPDATE show_seats by hand here\nx = 1",
        'db.session.add(ShowSeat(show_id=1, seat_id="A1", venue_id=1))',
        'db.session.execute(update(models.ShowSeat).values(status="HELD"))',
        "db.session.query(ShowSeat).filter_by(show_id=1).delete()",
    ],
)
def test_the_scan_catches_a_write(source):
    assert writes_in(source)


@pytest.mark.parametrize(
    "source",
    [
        'uow.execute("SELECT seat_id FROM show_seats WHERE show_id = :s FOR UPDATE")',
        "uow.execute(\"UPDATE holds h SET status = 'EXPIRED' FROM show_seats ss WHERE ss.hold_id = h.id\")",
        'uow.execute("UPDATE show_seats_archive SET x = 1")',
        "queries.sync_show_seats(uow, venue_id)",
        '"""Seats change only in app/inventory/seat_state.py, the one writer of show_seats."""',
    ],
)
def test_the_scan_leaves_reads_alone(source):
    assert writes_in(source) == []
