"""Spreadsheet cells written from the store's data (agency and procedure names, dossier codes…).

A text cell starting with = + - @ (or a tab or carriage return) is read by spreadsheet programs
as a formula: a value from an imported file must never run as one. In CSV the text gets a leading
apostrophe; in XLSX it is stored as text with the quote prefix, so the cell shows it unchanged.
"""
from __future__ import annotations

import re
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The control characters an XLSX cell cannot hold (openpyxl's own ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def formula_like(v: Any) -> bool:
    return isinstance(v, str) and v.startswith(FORMULA_START)


def csv_cell(v: Any) -> Any:
    """The value as a CSV cell: formula-like text with a leading apostrophe, anything else as is."""
    return "'" + v if formula_like(v) else v


def csv_cell_sql(expr: str) -> str:
    """The SQL twin of csv_cell for a text expression (DuckDB): formula-like text gets a leading
    apostrophe, anything else (NULL included) stays as it is. Emitted from FORMULA_START, so the rule
    has one home; tab and carriage return are written as chr(n), never as raw characters in SQL."""
    starts = ", ".join("'" + c.replace("'", "''") + "'" if c.isprintable() else f"chr({ord(c)})"
                       for c in FORMULA_START)
    return f"CASE WHEN left({expr}, 1) IN ({starts}) THEN '''' || {expr} ELSE {expr} END"


def csv_frame(df: Any) -> Any:
    """A copy of a pandas DataFrame whose text cells (and column titles) are safe in CSV."""
    out = df.map(csv_cell)
    out.columns = [csv_cell(c) for c in out.columns]
    return out


def csv_bytes(df: Any) -> bytes:
    """A pandas DataFrame as the bytes of a CSV download: safe text cells (csv_frame), numbers as
    numbers, UTF-8 with a byte-order mark so that spreadsheet programs read Vietnamese right."""
    return csv_frame(df).to_csv(index=False).encode("utf-8-sig")


def xlsx_cell(ws: Any, row: int, column: int, v: Any) -> Any:
    """Write `v` into an openpyxl worksheet's cell; formula-like text stays text, and control
    characters XML cannot hold are left out (openpyxl refuses them: one imported name with such a
    character would stop the whole workbook). Returns the cell."""
    if isinstance(v, str):
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
    c = ws.cell(row, column, v)
    if formula_like(v):
        c.data_type = "s"
        c.quotePrefix = True
    return c
