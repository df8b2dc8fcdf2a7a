"""Cells of the CSV files managers open in a spreadsheet (bookings, layouts).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula: text someone else typed (a fan's name, a section name) must
stay text. A leading ``'`` makes the spreadsheet show the rest as it is.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    return "'" + text if text[:1] in FORMULA_STARTS else text


def unsafe_cell(text: str) -> str:
    """What ``safe_cell`` was given, for a cell read back from a file it wrote."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS else text
