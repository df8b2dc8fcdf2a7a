"""Building seat layouts: blocks of rows from the editor, and CSV files. Pure functions, no storage.

CSV format (a header line, then one seat per line; see ``docs/layout-example.csv``)::

    section,row,number,tier[,seat_id][,x][,y][,accessible][,companion][,sellable]

- ``section``, ``row``, ``number`` (a whole number from 1) and ``tier`` are required.
- ``seat_id`` defaults to row + number (``A12``) when the file has one section, and to
  section-row+number (``Balcony-A12``) when it has several.
- ``x``/``y`` place the seat on the drawn map, in seat widths, from 0 to 999 (the map is at most
  1000 × 1000 seat widths: room for the demo's 62,400-seat stadium, about 620 × 630, with plenty
  to spare, and a bound on what a seat map page draws). By default a seat sits at
  its number along its row (so gaps in numbering are aisles) and rows stack in the order
  they first appear, with a blank row between sections.
- ``accessible``, ``companion`` and ``sellable`` take yes/no, true/false or 1/0; default
  no, no, yes. A seat with sellable = no exists on the map but is never sold.
- ``standing`` (yes/no, default no) marks an admission place of a standing section (README
  "General admission (standing)"); an exported layout has the column only when it has such places.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from app.catalog.layout import SeatSpec
from app.spreadsheet import safe_cell, unsafe_cell

MAX_SEATS = 100_000
MAX_ERRORS = 50
REQUIRED = ("section", "row", "number", "tier")
OPTIONAL = ("seat_id", "x", "y", "accessible", "companion", "sellable", "standing")
SEAT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
LABEL = re.compile(r"^[^\x00-\x1f]{1,40}$")
TIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TRUE, FALSE = {"yes", "y", "true", "t", "1"}, {"no", "n", "false", "f", "0", ""}
# x and y run from 0 to this: the drawn map is at most (MAX_COORDINATE + 1) seat widths each way.
MAX_COORDINATE = 999


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "message": self.message}


class LayoutRejected(Exception):
    """The layout has problems; ``errors`` say where (line 0: the file as a whole)."""

    def __init__(self, errors: Sequence[LineError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the layout")
        self.errors = list(errors)[:MAX_ERRORS]


def _flag(raw: str, default: bool) -> bool | None:
    value = raw.strip().lower()
    if value == "":
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return None


def parse_csv(text: str) -> list[SeatSpec]:
    """Seats in file order, or ``LayoutRejected`` naming every bad line (up to 50)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise LayoutRejected([LineError(0, "the file is empty; the first line must name the columns")]) from None
    except csv.Error as exc:
        raise LayoutRejected([LineError(1, f"not valid CSV: {exc}")]) from None
    errors: list[LineError] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing:
        errors.append(LineError(1, f"missing column(s): {', '.join(missing)}"))
    if unknown:
        errors.append(LineError(1, f"unknown column(s): {', '.join(u[:30] for u in unknown)}"))
    if len(set(header)) != len(header):
        errors.append(LineError(1, "a column is named twice"))
    if errors:
        raise LayoutRejected(errors)

    raw_rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                errors.append(LineError(line, f"expected {len(header)} values, found {len(values)}"))
                continue
            # unsafe_cell: a label to_csv kept from running as a formula comes back as it was.
            raw_rows.append((line, {k: unsafe_cell(v.strip()) for k, v in zip(header, values)}))
            if len(raw_rows) > MAX_SEATS:
                raise LayoutRejected([LineError(line, f"a layout has at most {MAX_SEATS} seats")])
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"not valid CSV: {exc}"))
    if not raw_rows and not errors:
        errors.append(LineError(0, "the file has no seats"))

    sections = list(dict.fromkeys(r["section"] for _, r in raw_rows))
    single_section = len(sections) == 1
    row_y: dict[tuple[str, str], int] = {}
    next_y = 0
    seats: list[SeatSpec] = []
    for line, r in raw_rows:
        problems = []
        section, row, tier = r["section"], r["row"], r["tier"].lower()
        if not LABEL.match(section):
            problems.append("section must be 1 to 40 characters")
        if not LABEL.match(row):
            problems.append("row must be 1 to 40 characters")
        if not TIER.match(tier):
            problems.append("tier must be 1 to 32 letters, digits, '-' or '_'")
        number = _int(r["number"], 1, 9999)
        if number is None:
            problems.append(f"number must be a whole number from 1 to 9999, not {r['number'][:20]!r}")
        flags = {}
        for name, default in (("accessible", False), ("companion", False), ("sellable", True), ("standing", False)):
            flags[name] = _flag(r.get(name, ""), default)
            if flags[name] is None:
                problems.append(f"{name} must be yes or no, not {r[name][:20]!r}")
        if (section, row) not in row_y:
            if row_y and not any(s == section for s, _ in row_y):
                next_y += 1  # a blank row between sections
            row_y[(section, row)] = next_y
            next_y += 1
        x = _int(r["x"], 0, MAX_COORDINATE) if r.get("x") else number
        y = _int(r["y"], 0, MAX_COORDINATE) if r.get("y") else row_y[(section, row)]
        if x is None or y is None:
            problems.append(
                f"x and y must be whole numbers from 0 to {MAX_COORDINATE} (the drawn map is at most "
                f"{MAX_COORDINATE + 1} x {MAX_COORDINATE + 1} seat widths)"
            )
        seat_id = r.get("seat_id") or (f"{row}{number}" if single_section else f"{section}-{row}{number}")
        seat_id = seat_id.replace(" ", "")
        if not SEAT_ID.match(seat_id):
            problems.append(f"seat id {seat_id[:40]!r} must be 1 to 32 letters, digits, '.', '-' or '_'")
        if problems or number is None or x is None or y is None:  # (each None has its problem above)
            errors.append(LineError(line, "; ".join(problems)))
            continue
        seats.append(
            SeatSpec(
                seat_id,
                section,
                row,
                number,
                x,
                y,
                tier,
                bool(flags["accessible"]),
                bool(flags["companion"]),
                bool(flags["sellable"]),
                bool(flags["standing"]),
            )
        )
    lines = [line for line, _ in raw_rows]
    if not errors:
        errors += _duplicates(seats, lines)
    if errors:
        raise LayoutRejected(sorted(errors, key=lambda e: e.line))
    return seats


def outside_drawn_area(seats: Iterable[SeatSpec]) -> LineError | None:
    """The first seat placed outside the drawn map, as the error that says so; None if all fit."""
    for n, seat in enumerate(seats, start=1):
        if not (0 <= seat.x <= MAX_COORDINATE and 0 <= seat.y <= MAX_COORDINATE):
            return LineError(
                0,
                f"seat {seat.seat_id} (number {n}) is at x={seat.x}, y={seat.y}: x and y must be from 0 "
                f"to {MAX_COORDINATE} (the drawn map is at most {MAX_COORDINATE + 1} x "
                f"{MAX_COORDINATE + 1} seat widths)",
            )
    return None


def _int(raw: str, low: int, high: int) -> int | None:
    raw = raw.strip()
    if not re.fullmatch(r"\d{1,7}", raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _duplicates(seats: Sequence[SeatSpec], lines: Sequence[int]) -> list[LineError]:
    errors = []
    by_id: dict[str, int] = {}
    by_place: dict[tuple[str, str, int], int] = {}
    for seat, line in zip(seats, lines):
        if seat.seat_id in by_id:
            errors.append(LineError(line, f"seat id {seat.seat_id} is already used on line {by_id[seat.seat_id]}"))
        by_id.setdefault(seat.seat_id, line)
        place = (seat.section, seat.row, seat.number)
        if place in by_place:
            errors.append(
                LineError(
                    line, f"{seat.section} row {seat.row} seat {seat.number} is already on line {by_place[place]}"
                )
            )
        by_place.setdefault(place, line)
    return errors


def to_csv(seats: Iterable[SeatSpec]) -> str:
    """The layout in the import format, so an exported layout imports back unchanged (a text cell that
    would start a spreadsheet formula gets a leading ``'``, which ``parse_csv`` takes off again)."""
    seats = list(seats)
    # The standing column only when the layout has standing places: other layouts export as before.
    standing = any(s.standing for s in seats)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ("section", "row", "number", "tier", "seat_id", "x", "y", "accessible", "companion", "sellable")
    writer.writerow(header + (("standing",) if standing else ()))
    for s in seats:
        # Section and row names are free text: never a formula when the file is opened in a spreadsheet.
        writer.writerow(
            (
                safe_cell(s.section),
                safe_cell(s.row),
                s.number,
                safe_cell(s.tier),
                safe_cell(s.seat_id),
                s.x,
                s.y,
                _yes(s.accessible),
                _yes(s.companion),
                _yes(s.sellable),
                *((_yes(s.standing),) if standing else ()),
            )
        )
    return out.getvalue()


def _yes(value: bool) -> str:
    return "yes" if value else "no"


# ---------------------------------------------------------------- the editor's blocks of rows


@dataclass(frozen=True)
class RowBlock:
    """Rows of seats the editor adds at once: e.g. rows A-J, 20 seats each, an aisle after seats 5 and 15."""

    section: str
    rows: tuple[str, ...]
    seats_per_row: int
    tier: str
    first_number: int = 1
    aisles_after: tuple[int, ...] = ()
    accessible: tuple[str, ...] = ()  # seat ids in this block
    companion: tuple[str, ...] = ()
    not_for_sale: tuple[str, ...] = ()
    seat_id_prefix: str = ""


def parse_rows(spec: str) -> tuple[str, ...]:
    """``A-J``, ``1-20``, ``AA-AD`` or a list ``A, B, C`` (spaces or commas); ValueError otherwise."""
    spec = spec.strip()
    ranged = re.fullmatch(r"([A-Za-z]{1,2}|\d{1,3})\s*-\s*([A-Za-z]{1,2}|\d{1,3})", spec)
    if ranged:
        first, last = ranged.groups()
        if first.isdigit() != last.isdigit():
            raise ValueError("a row range goes from letters to letters or numbers to numbers")
        if first.isdigit():
            rows = [str(n) for n in range(int(first), int(last) + 1)]
        else:
            rows = _letter_range(first.upper(), last.upper())
        if not rows:
            raise ValueError(f"the row range {spec!r} is empty")
        return tuple(rows)
    rows = [r for r in re.split(r"[\s,]+", spec) if r]
    if not rows:
        raise ValueError("name at least one row")
    if len(set(rows)) != len(rows):
        raise ValueError("a row is named twice")
    for r in rows:
        if not LABEL.match(r) or len(r) > 8:
            raise ValueError(f"row {r[:20]!r} must be 1 to 8 characters")
    return tuple(rows)


def _letter_range(first: str, last: str) -> list[str]:
    def index(label: str) -> int:
        value = 0
        for ch in label:
            value = value * 26 + (ord(ch) - 64)
        return value

    def label(i: int) -> str:
        out = ""
        while i:
            i, rem = divmod(i - 1, 26)
            out = chr(65 + rem) + out
        return out

    return [label(i) for i in range(index(first), index(last) + 1)]


def build_block(block: RowBlock, top: int) -> list[SeatSpec]:
    """The block's seats, drawn from row ``top`` down; aisles are missing x positions."""
    problems = []
    if not LABEL.match(block.section):
        problems.append("section must be 1 to 40 characters")
    if not TIER.match(block.tier):
        problems.append("tier must be 1 to 32 lower-case letters, digits, '-' or '_'")
    if not 1 <= block.seats_per_row <= 500:
        problems.append("seats per row must be from 1 to 500")
    if not 1 <= block.first_number <= 9000:
        problems.append("the first seat number must be from 1 to 9000")
    if len(block.rows) * max(block.seats_per_row, 0) > MAX_SEATS:
        problems.append(f"a layout has at most {MAX_SEATS} seats")
    if problems:
        raise LayoutRejected([LineError(0, p) for p in problems])
    seats = []
    for r, row in enumerate(block.rows):
        for i in range(block.seats_per_row):
            number = block.first_number + i
            x = i + sum(1 for a in block.aisles_after if a < number)
            seat_id = f"{block.seat_id_prefix}{row}{number}"
            seats.append(SeatSpec(seat_id, block.section, row, number, x, top + r, block.tier, False))
    ids = {s.seat_id for s in seats}

    def named(given: tuple[str, ...]) -> set[str]:
        # Seats may be named with or without the block's prefix.
        return {g if g in ids else block.seat_id_prefix + g for g in given}

    accessible, companion, not_for_sale = named(block.accessible), named(block.companion), named(block.not_for_sale)
    bad = [s for s in (*accessible, *companion, *not_for_sale) if s not in ids]
    if bad:
        raise LayoutRejected([LineError(0, f"not seats of this block: {', '.join(sorted(set(bad))[:10])}")])
    invalid = sorted(i for i in ids if not SEAT_ID.match(i))
    if invalid:
        raise LayoutRejected(
            [
                LineError(
                    0,
                    f"seat id {invalid[0][:40]!r} must be 1 to 32 letters, digits, '.', '-' or '_' (check the prefix)",
                )
            ]
        )
    return [
        replace(
            s,
            accessible=s.seat_id in accessible,
            companion=s.seat_id in companion,
            sellable=s.seat_id not in not_for_sale,
        )
        for s in seats
    ]


def seat_list(raw: str) -> tuple[str, ...]:
    """Seat ids typed into a form: separated by spaces or commas."""
    return tuple(s for s in re.split(r"[\s,]+", raw.strip()) if s)


# ---------------------------------------------------------------- standing sections

# README "General admission (standing)": a standing section is this many numbered admission places at most.
MAX_STANDING_PLACES = 10_000
# Places of a standing section share this row label; their number is the place's.
STANDING_ROW = "GA"
# Places are drawn this many to a line of the map (the fan's page draws the section as one block).
STANDING_WIDTH = 50


def standing_prefix(section: str) -> str:
    """The seat-id prefix of a standing section's places: its letters and digits, upper case (``FLOOR``)."""
    return re.sub(r"[^A-Za-z0-9]", "", section).upper()[:20] or "GA"


def build_standing(section: str, tier: str, first_number: int, count: int, top: int) -> list[SeatSpec]:
    """``count`` places of a standing section numbered from ``first_number`` (ids ``FLOOR-0001``…),
    drawn ``STANDING_WIDTH`` to a line from row ``top`` (where place 1 is)."""
    problems = []
    if not LABEL.match(section) or not section.strip():
        problems.append("section must be 1 to 40 characters")
    if not TIER.match(tier):
        problems.append("tier must be 1 to 32 lower-case letters, digits, '-' or '_'")
    if not 1 <= first_number + count - 1 <= MAX_STANDING_PLACES or count < 0:
        problems.append(f"a standing section has from 1 to {MAX_STANDING_PLACES} places")
    if problems:
        raise LayoutRejected([LineError(0, p) for p in problems])
    prefix = standing_prefix(section)
    return [
        SeatSpec(
            f"{prefix}-{n:04d}",
            section,
            STANDING_ROW,
            n,
            (n - 1) % STANDING_WIDTH,
            top + (n - 1) // STANDING_WIDTH,
            tier,
            False,
            standing=True,
        )
        for n in range(first_number, first_number + count)
    ]
