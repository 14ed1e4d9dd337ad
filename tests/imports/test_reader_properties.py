"""Properties of the reader and the staging (imports/reader.py, load_staging) over random input:
random bytes, random CSV rows and random workbook rows never crash the test process; a file is
either refused as a whole (ImportRefused, naming it) or staged, and then every non-blank row is
either valid or quarantined, and the counts add up."""
from __future__ import annotations

import csv
import itertools
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.mapping import DOSSIER_COLUMNS
from imports.dossiers import load_staging
from imports.errors import ImportRefused

_n = itertools.count()
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# values a column may hold: right ones, near misses, formula-like text, and anything
VALUES = {
    "channel": ["online", "direct", "Trực tuyến", "fax", ""],
    "time_unit": ["working_days", "days", "Ngày làm việc", "weeks", ""],
    "state": ["processing", "finished", "Đang xử lý", "lost", ""],
    "received_at": ["2024-03-04 09:15", "04/03/2024", "31/02/2024", "9999-12-31", "soon", ""],
    "time_limit": ["10", "0", "-3", "7.5", "many", ""],
}
XLSX_ILLEGAL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"}
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24)
_formula = st.sampled_from(["=1+1", "+84905", "-5", "@SUM(A1)", '"quoted, text"', "a\nb", "x\r\ny"])


def _cell(column: str) -> st.SearchStrategy[str]:
    known = st.sampled_from(VALUES.get(column, ["STP", "Sở Tư pháp", "HS-1", ""]))
    return st.one_of(known, known, _text, _formula)


ROW = st.fixed_dictionaries({c: _cell(c) for c in DOSSIER_COLUMNS})
ROWS = st.lists(ROW, min_size=0, max_size=25)


def _file(tmp_path_factory, suffix: str) -> Path:
    return tmp_path_factory.getbasetemp() / f"prop-{next(_n)}{suffix}"


def _check(f: Path, expected_rows: int | None = None) -> None:
    """Staged or refused; when staged, rows read = valid + quarantined, and each relation agrees."""
    con = duckdb.connect()
    try:
        res = load_staging(con, f, max_errors=10_000)
    except ImportRefused as e:
        assert str(e).startswith(str(f)) and len(str(e)) < 5000
        if expected_rows:
            assert e.reason not in ("no_rows", "empty"), str(e)
        return
    assert res.rows_read == res.valid_rows + res.quarantined_rows
    assert con.execute(f"SELECT count(*) FROM {res.relation}").fetchone()[0] == res.valid_rows
    bad = con.execute(f"SELECT count(DISTINCT row_no), count(*) FROM {res.errors_relation}").fetchone()
    assert (bad[0], bad[1]) == (res.quarantined_rows, res.error_count)
    both = con.execute(f"SELECT count(*) FROM {res.relation} v JOIN {res.errors_relation} e USING (row_no)").fetchone()
    assert both[0] == 0, "a row is valid or quarantined, never both"
    if expected_rows is not None:
        assert res.rows_read == expected_rows


def _non_blank(rows: list[dict[str, str]]) -> int:
    return sum(1 for r in rows if any(v != "" for v in r.values()))


@settings(max_examples=60, **SETTINGS)
@given(data=st.binary(max_size=3000))
def test_random_bytes_are_staged_or_refused(tmp_path_factory, data):
    f = _file(tmp_path_factory, ".csv")
    f.write_bytes(data)
    _check(f)


@settings(max_examples=12, **SETTINGS)
@given(data=st.binary(max_size=3000))
def test_random_bytes_that_look_like_a_workbook_are_refused(tmp_path_factory, data):
    f = _file(tmp_path_factory, ".xlsx")
    f.write_bytes(b"PK\x03\x04" + data)
    _check(f)


@settings(max_examples=60, **SETTINGS)
@given(rows=ROWS)
def test_random_csv_rows_are_each_valid_or_quarantined(tmp_path_factory, rows):
    f = _file(tmp_path_factory, ".csv")
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(DOSSIER_COLUMNS)
        for r in rows:
            w.writerow([r[c] for c in DOSSIER_COLUMNS])
    _check(f, _non_blank(rows))


@settings(max_examples=10, **SETTINGS)
@given(rows=ROWS)
def test_random_workbook_rows_are_each_valid_or_quarantined(tmp_path_factory, rows):
    from openpyxl import Workbook

    rows = [{c: "".join(ch for ch in v if ch not in XLSX_ILLEGAL) for c, v in r.items()} for r in rows]
    f = _file(tmp_path_factory, ".xlsx")
    wb = Workbook()
    ws = wb.active
    ws.append(list(DOSSIER_COLUMNS))
    for r in rows:
        ws.append([r[c] or None for c in DOSSIER_COLUMNS])
    wb.save(f)
    _check(f, _non_blank(rows))


def test_a_workbook_cell_holding_a_bare_carriage_return_stays_in_its_row(tmp_path):
    """Found by the property above: the workbook's CSV split such a row in two."""
    from openpyxl import Workbook

    f = tmp_path / "cr.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["dossier_code", "agency_code", "channel", "received_at", "time_unit", "state", "field"])
    ws.append(["CR-1", "STP", "online", "2024-03-04 09:15", "working_days", "processing", "a\rb"])
    ws.append(["CR-2", "STP", "online", "2024-03-04 09:15", "working_days", "processing", "\r"])
    wb.save(f)
    con = duckdb.connect()
    res = load_staging(con, f)
    assert (res.rows_read, res.valid_rows) == (2, 2)
    assert con.execute(f"SELECT dossier_code, field FROM {res.relation} ORDER BY 1").fetchall() == \
        [("CR-1", "a\rb"), ("CR-2", "\r")]
