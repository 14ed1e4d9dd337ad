"""Exports carry no live formulas. A real store whose dossiers have formula-like codes, agency
names and procedure names ("=1+2", "=cmd|' /C calc'!A0", "@SUM(1)", "+1", "-2x") is filled by the
real import and the real recompute; then the monthly briefing's workbook, the compliance
register's workbook and the agency page's CSV download (captured from the real page, run by
Streamlit's AppTest) are read back cell by cell: no cell is a formula, every text cell starting
with = + - @ tab or CR is stored as text with its quote prefix (CSV: a leading apostrophe), and
counts stay numbers."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from compliance import Period, write_xlsx
from config import cells
from config.app import load_config
from config.cells import FORMULA_START
from dashboard.launcher import Dashboard
from dashboard.users import UserFile
from reports.files import build
from system import Motcua

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-1"
EVIL = ["=1+2", "=cmd|' /C calc'!A0", "@SUM(1)", "+1", "-2x"]
HEADER = ("dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,"
          "time_limit,time_unit,state,finished_at")


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"'


def _dossiers(path: Path) -> None:
    """Five overdue dossiers of agency EV1 (name, procedures and fields formula-like), received
    Monday 2 March 2026 with 2 working days: three resolved late, two still pending at the month's
    end."""
    lines = [HEADER]
    for i, code in enumerate(EVIL):
        name = EVIL[(i + 1) % len(EVIL)]
        state, finished = ("finished", "2026-03-10 10:00") if i < 3 else ("processing", "")
        field = "Hộ\x02 tịch" if i == 0 else EVIL[i]  # a control character XML cannot hold, too
        lines.append(",".join([_quote(code), "EV1", _quote(EVIL[1]), f"EVP{i}", _quote(name), _quote(field),
                               "online", "2026-03-02 09:00", "2", "working_days", state, finished]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _check_workbook(data: bytes, where: str) -> set[str]:
    """Every cell of every sheet: never a formula; formula-like text is text with its quote prefix.
    Returns the formula-like texts seen."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(n).decode("utf-8") and "<f " not in z.read(n).decode("utf-8"), (where, n)
    wb = load_workbook(io.BytesIO(data))
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (where, ws.title, c.coordinate, c.value)
                if isinstance(c.value, str) and c.value.startswith(FORMULA_START):
                    assert c.data_type == "s" and c.quotePrefix, (where, ws.title, c.coordinate, c.value)
                    seen.add(c.value)
    return seen


def _column(ws, title: str) -> list:
    for row in ws.iter_rows():
        for c in row:
            if c.value == title:
                return [ws.cell(r, c.column).value for r in range(c.row + 1, ws.max_row + 1)]
    raise AssertionError(f"no column {title!r} in {ws.title}")


def test_no_export_carries_a_live_formula(tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    env = {"MOTCUA_STORE__PATH": str(tmp_path / "data" / "motcua.duckdb"),
           "MOTCUA_INBOX__PATH": str(tmp_path / "inbox"), "MOTCUA_INBOX__ARCHIVE": str(tmp_path / "archive"),
           "MOTCUA_INBOX__REJECTED": str(tmp_path / "rejected"),
           "MOTCUA_DASHBOARD__USERS_FILE": str(tmp_path / "users.json")}
    cfg = load_config(environ=env)
    f = tmp_path / "ho-so.csv"
    _dossiers(f)
    app = Motcua(cfg)
    try:
        res = app.import_file(str(f))
        assert (res["inserted"], res["quarantined"]) == (5, 0), res["errors"]
        app.recompute("2026-04-30 12:00")
        app.compliance("add_request", actor="lan", via="cli", agency=EVIL[1], requested_on="2026-03-05",
                       description=EVIL[2], request_id="YC-1")

        # the monthly briefing's workbook
        _, data = build(app, "2026-03", "xlsx", cfg=cfg)
        seen = _check_workbook(data, "briefing")
        assert set(EVIL) <= seen, seen
        wb = load_workbook(io.BytesIO(data))
        od = wb["Hồ sơ quá hạn"]
        assert sorted(v for v in _column(od, "Mã hồ sơ") if v) == sorted(EVIL)
        late = [v for v in _column(od, "Số ngày quá hạn") if v is not None]
        assert len(late) == 5 and all(isinstance(v, int) and v > 0 for v in late)
        assert "Hộ tịch" in {c.value for row in wb["Biểu 06 - lĩnh vực"].iter_rows() for c in row}
        b06 = wb["Biểu 06 - cơ quan"]
        counts = [c.value for row in b06.iter_rows(min_row=10) for c in row[2:] if c.value is not None]
        assert counts and all(isinstance(v, int) for v in counts) and 5 in counts

        # the same briefing as a document and a PDF: the control character in a name is left out
        for fmt, head in (("docx", b"PK"), ("pdf", b"%PDF")):
            _, doc = build(app, "2026-03", fmt, cfg=cfg)
            assert doc.startswith(head), fmt

        # the compliance register's workbook
        path = write_xlsx(app, Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)), tmp_path / "so-dang-ky.xlsx")
        assert {EVIL[1], EVIL[2]} <= _check_workbook(path.read_bytes(), "compliance")
    finally:
        app.close()

    # the agency page's CSV download, as the page builds it
    captured: list[bytes] = []

    def csv_bytes(df):
        out = real(df)
        captured.append(out)
        return out

    real = cells.csv_bytes
    monkeypatch.setattr(cells, "csv_bytes", csv_bytes)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    UserFile(tmp_path / "users.json").add("u-lead", "leadership", PASSWORD, rounds=4)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    at.text_input(key="login_user").input("u-lead")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    at.switch_page("pages/agency.py").run()
    at.selectbox(key="ag_agency").set_value("EV1").run()
    at.selectbox(key="ag_month").set_value(dt.date(2026, 3, 1)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert captured, "the page offers its CSV"
    rows = list(csv.reader(io.StringIO(captured[-1].decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == 5
    for r in rows:
        for v in r:
            assert not v.startswith(FORMULA_START), v
    cols = dict(zip(header, zip(*body)))
    assert sorted(cols["Mã hồ sơ"]) == sorted("'" + e for e in EVIL)
    assert set(cols["Cơ quan"]) == {"'" + EVIL[1]}
    assert {"'" + e for e in EVIL} == set(cols["Thủ tục"])
    assert all(re.fullmatch(r"\d+", v) for v in cols["Số ngày trễ"]), cols["Số ngày trễ"]
    # Streamlit's own CSV export of a table writes the cells as they are: it is switched off
    cmd = Dashboard(cfg).command()
    assert cmd[cmd.index("--client.disableDataExport") + 1] == "true"


def test_a_control_character_in_a_name_never_stops_the_briefing(tmp_path, monkeypatch):
    """A name carrying a control character (an export's stray byte) reaches the document and the
    PDF without it: python-docx refuses a whole document for one."""
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    env = {"MOTCUA_STORE__PATH": str(tmp_path / "data" / "motcua.duckdb"),
           "MOTCUA_INBOX__PATH": str(tmp_path / "inbox"), "MOTCUA_INBOX__ARCHIVE": str(tmp_path / "archive"),
           "MOTCUA_INBOX__REJECTED": str(tmp_path / "rejected")}
    cfg = load_config(environ=env)
    f = tmp_path / "ho-so.csv"
    f.write_text(HEADER + "\n" + "\n".join(
        f'CC-{i},CC1,"Sở\x02 Tư pháp",CCP{i},"Thủ\x03 tục {i}",Hộ tịch,online,2026-03-02 09:00,2,working_days,'
        f'{"finished,2026-03-10 10:00" if i else "processing,"}' for i in range(3)) + "\n", encoding="utf-8")
    app = Motcua(cfg)
    try:
        res = app.import_file(str(f))
        assert res["inserted"] == 3, res["errors"]
        app.recompute("2026-04-30 12:00")
        for fmt, head in (("docx", b"PK"), ("pdf", b"%PDF")):
            _, doc = build(app, "2026-03", fmt, cfg=cfg)
            assert doc.startswith(head), fmt
        _, doc = build(app, "2026-03", "docx", cfg=cfg)
        with zipfile.ZipFile(io.BytesIO(doc)) as z:
            xml = z.read("word/document.xml").decode("utf-8")
        assert "Sở Tư pháp" in xml and "\x02" not in xml
    finally:
        app.close()
