"""Citizens' numbers typed where they do not belong: masked as values shaped like an ID or a
phone, in Python and in DuckDB alike, without touching dossier codes or dates; and rows shifted
by an unquoted comma keep no value of a dropped personal-data column in the quarantine. Real
DuckDB, the real import."""
from __future__ import annotations

import logging

import duckdb
import pytest

from config.redact import RedactFilter, install, log_exception, mask_text, sql_mask
from imports.dossiers import import_dossiers
from store.db import Store

MASKED = [
    ("079203001234", "0*********34"),
    ("123456789", "1******89"),
    ("0905123456", "0*******56"),
    ("0912 345 678", "0*******78"),
    ("0912.345.678", "0*******78"),
    ("+84 905 123 456", "+84*******56"),
    ("+84905123456", "+84*******56"),
    ("Gọi 0905123456.", "Gọi 0*******56."),
    ("SĐT:0912345678, CCCD 079203001234", "SĐT:0*******78, CCCD 0*********34"),
    ("079203001234 0905123456 123456789", "0*********34 0*******56 1******89"),
    ("not a date: '0977 111 222' (expected …)", "not a date: '0*******22' (expected …)"),
    ('{"a":"0905123456","b":"079203001234"}', '{"a":"0*******56","b":"0*********34"}'),
    ("dòng 1\n0905123456\n", "dòng 1\n0*******56\n"),
]
KEPT = [
    "000.00.20.H48-220615-0003", "H48.21-220301-000123456", "G01-123456789", "H48/123456789",
    "HS_079203001234", "2026-03-02 09:00:00", "02/03/2026 09:00", "1234567890123", "12345678",
    "0905-123-456", "abc0905123456", "0905123456abc", "12.345.678.901", "Sở Tư pháp", "", None,
]


def _sql(text: str | None) -> str | None:
    with duckdb.connect() as con:
        return con.execute(f"SELECT {sql_mask('$t::VARCHAR')}", {"t": text}).fetchone()[0]


@pytest.mark.parametrize("text, masked", MASKED)
def test_id_and_phone_shapes_are_masked_the_same_in_python_and_duckdb(text, masked):
    assert mask_text(text) == masked
    assert _sql(text) == masked


@pytest.mark.parametrize("text", KEPT)
def test_dossier_codes_dates_and_other_numbers_are_left_alone(text):
    assert mask_text(text) == text
    assert _sql(text) == text


HEADER = "Mã hồ sơ,Họ tên,Số CCCD,Số điện thoại,Mã cơ quan,Cơ quan,Kênh nộp,Ngày tiếp nhận,Thời hạn,Đơn vị tính,Trạng thái,Ghi chú"
ROWS = [
    "H48-001,Nguyễn Văn An,079203001234,0905123456,S1,Sở Tư pháp,Trực tuyến,02/03/2026 09:00,2,Ngày làm việc,Đang xử lý,",
    # an unquoted comma in the name: every later value one column to the right, the note empty
    "H48-002,Trần, Thị Bình,079203005678,0912 345 678,S1,Sở Tư pháp,Trực tuyến,02/03/2026 09:00,2,Ngày làm việc,Đang xử lý,",
    # a phone typed into the date column, an ID number into the agency's name
    "H48-003,Lê Văn Cường,079203009999,0987654321,S1,CCCD 079203004321,Trực tuyến,0977 111 222,2,Ngày làm việc,Đang xử lý,",
]
PLANTED = ["Trần", "Thị Bình", "079203005678", "0912 345 678", "0912345678", "0977 111 222", "0977111222",
           "079203004321", "Nguyễn Văn An", "079203001234", "0905123456", "Lê Văn Cường", "079203009999", "0987654321"]


def test_a_shifted_row_keeps_no_personal_value_in_the_quarantine_or_the_report(tmp_path):
    f = tmp_path / "ho-so.csv"
    f.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as s:
        summary = import_dossiers(s, f)
        rows = s.cursor().execute("SELECT row_no, field, value, reason, CAST(raw AS VARCHAR) FROM quarantine "
                                  "ORDER BY row_no, field").fetchall()
    assert summary.inserted == 1 and summary.quarantined == 2
    assert summary.pii_columns_dropped == ["Họ tên", "Số CCCD", "Số điện thoại"]
    # the shifted row: its own error only, with what finds it (file, row, the dossier code)
    assert [(r[0], r[1]) for r in rows] == [(2, ""), (3, "received_at")]
    assert '"dossier_code":"H48-002"' in rows[0][4] and '"agency_code":null' in rows[0][4]
    assert rows[1][2] == "0*******22" and "0*******22" in rows[1][3] and "CCCD 0*********21" in rows[1][4]
    report = summary.render("vi") + summary.render("en") + repr(summary.to_dict())
    stored = repr(rows)
    for value in PLANTED:
        assert value not in stored and value not in report, value


def test_a_number_typed_into_a_name_is_stored_masked_and_codes_are_kept(tmp_path):
    f = tmp_path / "ho-so.csv"
    f.write_text("dossier_code,agency_code,agency_name,procedure_code,procedure_name,channel,received_at,"
                 "time_limit,time_unit,state,reported_status\n"
                 "079203001234,S1,Sở Tư pháp (Nguyễn An 0905123456),P1,Khai sinh CCCD 079203001234,online,"
                 "2026-03-02 09:00,2,working_days,processing,gọi 0912345678\n", encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as s:
        assert import_dossiers(s, f).inserted == 1
        con = s.cursor()
        assert con.execute("SELECT dossier_code, reported_status FROM dossiers").fetchall() == [
            ("079203001234", "gọi 0*******78")]
        assert con.execute("SELECT name FROM agencies").fetchall() == [("Sở Tư pháp (Nguyễn An 0*******56)",)]
        assert con.execute("SELECT name FROM procedures").fetchall() == [("Khai sinh CCCD 0*********34",)]


def test_a_trailing_delimiter_is_still_harmless_where_every_column_is_read(tmp_path):
    f = tmp_path / "canonical.csv"
    f.write_text("dossier_code,agency_code,channel,received_at,time_limit,time_unit,state\n"
                 "C1,S1,online,2026-03-02 09:00,2,working_days,processing,\n", encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as s:
        summary = import_dossiers(s, f)
    assert (summary.inserted, summary.quarantined) == (1, 0)


def test_the_log_filter_masks_messages_arguments_and_tracebacks(tmp_path):
    path = tmp_path / "logs" / "motcua.log"
    install(path, logger="motcua.test-redact")
    log = logging.getLogger("motcua.test-redact.inbox")
    try:
        log.warning("inbox: %s refused: %s", "ho-so.csv", "SĐT 0905123456 in received_at")
        try:
            raise ValueError("not a date: '079203001234'")
        except ValueError:
            log.exception("import failed")
            log_exception(path, "--- dashboard")
    finally:
        parent = logging.getLogger("motcua.test-redact")
        for h in list(parent.handlers):
            parent.removeHandler(h)
            h.close()
    text = path.read_text(encoding="utf-8")
    assert "0*******56" in text and text.count("0*********34") >= 2 and "--- dashboard" in text and "ValueError" in text
    assert "0905123456" not in text and "079203001234" not in text
    assert path.stat().st_mode & 0o777 == 0o600
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("0905123456",), None)
    assert RedactFilter().filter(rec) and rec.getMessage() == "0*******56"


def test_the_dashboards_own_output_is_masked_in_its_log(tmp_path):
    """Streamlit's output (the dashboard child's stdout and stderr) reaches data/logs/dashboard.log
    through the same masking as every log, in a file only its owner reads."""
    import os
    import stat

    from dashboard.launcher import _copy_masked

    r, w = os.pipe()
    os.write(w, "Lỗi khi xử lý hồ sơ của 0912 345 678, CCCD 012345678901\nstarted\n".encode("utf-8"))
    os.close(w)
    log = tmp_path / "dashboard.log"
    _copy_masked(os.fdopen(r, "rb"), log)
    text = log.read_text(encoding="utf-8")
    assert "0912 345 678" not in text and "012345678901" not in text and "started" in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
