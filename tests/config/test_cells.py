"""config/cells: the SQL twin of csv_cell gives, run in DuckDB, exactly what csv_cell gives."""
from __future__ import annotations

import duckdb
from hypothesis import given, settings, strategies as st

from config.cells import FORMULA_START, csv_cell, csv_cell_sql

CASES = [
    "=1+2", "=cmd|' /C calc'!A0", "+1", "-1", "-2x", "@SUM(1)", "\t=1", "\r=1", "=",
    "Sở Tư pháp", "", " =1", "\n=1", "'=1", "a=1", "=\u0301x", "\u00a0=1", "1-2", "'", "''-",
    "UBND xã Bình Hiệp", "\U0001F600=",
]
CON = duckdb.connect()  # one in-memory database for the property's many examples


def _sql(con: duckdb.DuckDBPyConnection, values: list[str | None]) -> list[str | None]:
    return [r[0] for r in con.execute(
        f"SELECT {csv_cell_sql('v')} FROM unnest(?) WITH ORDINALITY AS t(v, i) ORDER BY i", [values]).fetchall()]


def test_the_sql_twin_gives_what_csv_cell_gives():
    con = duckdb.connect()
    got = _sql(con, [*CASES, None])
    assert got == [csv_cell(v) for v in CASES] + [None]
    # the cases reach both branches, every formula start among them
    assert {c[0] for c in CASES if c and c[0] in FORMULA_START} == set(FORMULA_START)
    assert sum(g != c for g, c in zip(got, CASES)) == sum(c.startswith(FORMULA_START) for c in CASES)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from([*FORMULA_START, "'", '"', "a", "1", "ở", "\u0301", "\n", " "]),
                        max_size=4), max_size=40))
def test_the_sql_twin_agrees_on_any_text(values):
    assert _sql(CON, values) == [csv_cell(v) for v in values]


def test_the_sql_twin_holds_for_an_expression():
    """The expression is used as given (a cast of an ENUM column, say), not only a column name."""
    con = duckdb.connect()
    con.execute("CREATE TYPE mood AS ENUM ('-sad', 'happy')")
    rows = con.execute(f"SELECT {csv_cell_sql('CAST(m AS VARCHAR)')} FROM (VALUES ('-sad'::mood), ('happy'::mood)) t(m)"
                       ).fetchall()
    assert rows == [("'-sad",), ("happy",)]
