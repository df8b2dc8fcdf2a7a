"""Layout building without storage: blocks of rows from the editor, and the CSV format."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.manage.layouts import LayoutRejected, RowBlock, build_block, parse_csv, parse_rows, to_csv

EXAMPLE = Path(__file__).resolve().parents[2] / "app" / "static" / "layout-example.csv"


@pytest.mark.parametrize(
    "spec, rows",
    [
        ("A-C", ("A", "B", "C")),
        ("a-c", ("A", "B", "C")),
        ("1-3", ("1", "2", "3")),
        ("Y-AB", ("Y", "Z", "AA", "AB")),
        ("A, B,C", ("A", "B", "C")),
        ("AA BB", ("AA", "BB")),
    ],
)
def test_row_specs(spec, rows):
    assert parse_rows(spec) == rows


@pytest.mark.parametrize("spec", ["", "C-A", "A-3", "A, A", "waytoolongrowname"])
def test_bad_row_specs(spec):
    with pytest.raises(ValueError):
        parse_rows(spec)


def test_a_block_with_aisles_and_marked_seats():
    block = RowBlock(
        "Stalls",
        ("A", "B"),
        6,
        "standard",
        first_number=101,
        aisles_after=(102, 104),
        accessible=("A101",),
        companion=("A102",),
        not_for_sale=("B106",),
        seat_id_prefix="S-",
    )
    seats = {s.seat_id: s for s in build_block(block, top=4)}
    assert len(seats) == 12
    assert [seats[f"S-A{n}"].x for n in range(101, 107)] == [0, 1, 3, 4, 6, 7]
    assert seats["S-A101"].y == 4 and seats["S-B101"].y == 5
    assert seats["S-A101"].accessible and seats["S-A102"].companion and not seats["S-B106"].sellable
    assert seats["S-B101"].sellable and not seats["S-B101"].accessible


def test_a_block_refuses_marks_outside_it_and_bad_values():
    with pytest.raises(LayoutRejected) as outside:
        build_block(RowBlock("S", ("A",), 2, "std", accessible=("Z9",)), 0)
    assert "not seats of this block: Z9" in outside.value.errors[0].message
    with pytest.raises(LayoutRejected) as rejected:
        build_block(RowBlock("", ("A",), 0, "Bad Tier"), 0)
    assert len(rejected.value.errors) == 3


def test_the_example_file_imports_and_round_trips():
    seats = parse_csv(EXAMPLE.read_text())
    by_id = {s.seat_id: s for s in seats}
    assert len(seats) == 13
    assert by_id["A1"].accessible and by_id["A2"].companion
    assert by_id["Stalls-B1"].x == 1 and by_id["Stalls-B1"].y == 1  # defaults: number along, row order down
    assert not by_id["Stalls-B3"].sellable
    assert by_id["BAL-A1"].y == 3  # a blank row between sections
    assert parse_csv(to_csv(seats)) == seats


def test_one_section_files_get_short_seat_ids_and_a_byte_order_mark_is_ignored():
    seats = parse_csv("\ufeffsection,row,number,tier\nHall,A,1,std\nHall,A,2,std\n")
    assert [s.seat_id for s in seats] == ["A1", "A2"]


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("", 0, "empty"),
        ("section,row,number\n", 1, "missing column"),
        ("section,row,number,tier,colour\n", 1, "unknown column"),
        ("section,row,number,tier\n", 0, "no seats"),
        ("section,row,number,tier\nS,A,0,x\n", 2, "number"),
        ("section,row,number,tier\nS,A,-1,x\n", 2, "number"),
        ("section,row,number,tier\nS,A,1,x\nS,A,1,x\n", 3, "already used on line 2"),
        ("section,row,number,tier,seat_id\nS,A,1,x,Z\nS,A,2,x,Z\n", 3, "already used on line 2"),
        ("section,row,number,tier,accessible\nS,A,1,x,maybe\n", 2, "accessible"),
        ("section,row,number,tier,x\nS,A,1,x,9999999\n", 2, "x and y"),
        ("section,row,number,tier,seat_id\nS,A,1,x,<script>\n", 2, "seat id"),
        ("section,row,number,tier\nS,A,1\n", 2, "expected 4 values"),
        ('section,row,number,tier\n"S,A,1,x\n', 2, "values"),
    ],
)
def test_bad_files_name_the_line(text, line, fragment):
    with pytest.raises(LayoutRejected) as rejected:
        parse_csv(text)
    first = rejected.value.errors[0]
    assert first.line == line and fragment in first.message, rejected.value.errors


def test_every_bad_line_is_reported_up_to_a_limit():
    text = "section,row,number,tier\n" + "".join(f"S,A,x{n},t\n" for n in range(200))
    with pytest.raises(LayoutRejected) as rejected:
        parse_csv(text)
    assert len(rejected.value.errors) == 50 and rejected.value.errors[0].line == 2


def test_exported_labels_never_run_as_spreadsheet_formulas_and_still_round_trip():
    import csv
    import io

    text = (
        "section,row,number,tier,seat_id\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",+1,1,std,S1\n'
        "-Stalls,@row,2,std,S2\n"
        "Plain,A,3,std,S3\n"
    )
    seats = parse_csv(text)
    exported = list(csv.reader(io.StringIO(to_csv(seats))))[1:]
    for cells in exported:
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in cells), cells
    assert exported[0][:2] == ['\'=HYPERLINK("http://evil.example","x")', "'+1"]
    assert exported[1][:2] == ["'-Stalls", "'@row"] and exported[2][:2] == ["Plain", "A"]
    assert parse_csv(to_csv(seats)) == seats
