"""Excel exports as officials produce them: title rows, Vietnamese headers and values, cover sheets."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from imports.dossiers import ImportRefused, import_dossiers, load_staging
from store.db import Store

HEADERS = ["STT", "Mã hồ sơ", "Họ và tên người nộp", "Số CCCD", "Số điện thoại", "Mã cơ quan",
           "Cơ quan / Đơn vị", "Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Kênh nộp", "Ngày tiếp nhận",
           "Thời hạn giải quyết", "Đơn vị tính", "Ngày hẹn trả", "Ngày có kết quả", "Ngày trả kết quả",
           "Trạng thái", "Địa chỉ"]


def q(store: Store, sql: str) -> list[tuple]:
    cur = store.cursor()
    try:
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


def official_workbook(path: Path, rows: list[list], *, cover: bool = True, title_rows: bool = True) -> Path:
    wb = openpyxl.Workbook()
    ws0 = wb.active
    if cover:
        ws0.title = "Hướng dẫn"
        ws0["A1"] = "Danh sách hồ sơ xuất từ hệ thống một cửa điện tử"
        ws0["A2"] = "Cơ quan"
        ws = wb.create_sheet("Danh sách")
    else:
        ws = ws0
        ws.title = "Danh sách"
    if title_rows:
        ws["A1"] = "UBND TỈNH QUẢNG NGÃI"
        ws["D1"] = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
        ws["D2"] = "Độc lập - Tự do - Hạnh phúc"
        ws["A4"] = "DANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 3/2024"
        ws.append([])
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def data_row(n: int, code, **kw) -> list:
    base = {
        "Mã hồ sơ": code, "Họ và tên người nộp": "Phạm Thị Duyên", "Số CCCD": "051190009999",
        "Số điện thoại": "0935111222", "Mã cơ quan": "SXD", "Cơ quan / Đơn vị": "Sở Xây dựng",
        "Mã thủ tục": "1.002", "Tên thủ tục": "Cấp giấy phép xây dựng", "Lĩnh vực": "Hoạt động xây dựng",
        "Kênh nộp": "Trực tuyến", "Ngày tiếp nhận": dt.datetime(2024, 3, 4, 9, 15), "Thời hạn giải quyết": 15,
        "Đơn vị tính": "Ngày làm việc", "Ngày hẹn trả": dt.date(2024, 3, 25), "Ngày có kết quả": None,
        "Ngày trả kết quả": None, "Trạng thái": "Đang xử lý", "Địa chỉ": "45 Hùng Vương, TP Quảng Ngãi",
    }
    base.update(kw)
    return [n] + [base[h] for h in HEADERS[1:]]


def test_official_workbook_with_title_rows_and_cover_sheet(store, tmp_path):
    p = official_workbook(tmp_path / "export.xlsx", [
        data_row(1, "H48.01-240304-0001"),
        data_row(2, 24030400002, **{"Kênh nộp": "Trực tiếp", "Ngày tiếp nhận": "05/03/2024 14:30",
                                    "Trạng thái": "Đã trả kết quả", "Ngày có kết quả": dt.datetime(2024, 3, 20, 10),
                                    "Ngày trả kết quả": "21/03/2024 08:00", "Thời hạn giải quyết": 7.5}),
        data_row(3, "H48.01-240304-0003", **{"Ngày tiếp nhận": "không rõ"}),
        data_row(4, "H48.01-240304-0004", **{"Kênh nộp": "Bưu chính công ích", "Trạng thái": "Từ chối",
                                             # a date typed in a cell without date format: Excel serial
                                             "Ngày tiếp nhận": 45355.385416666664}),
    ])
    s = import_dossiers(store, p)
    assert s.sheet == "Danh sách" and s.header_row == 6
    assert (s.rows_read, s.inserted, s.quarantined) == (4, 3, 1)
    assert s.pii_columns_dropped == ["Họ và tên người nộp", "Số CCCD", "Số điện thoại", "Địa chỉ"]
    assert s.columns_dropped == ["STT"]
    # errors point at the data row and at the row the official sees in Excel
    assert s.errors == [f'{p}: row 3 (sheet "Danh sách" row 9), received_at: not a date: \'không rõ\' '
                        "(expected YYYY-MM-DD[ HH:MM[:SS]] or dd/mm/yyyy [HH:MM[:SS]])"]
    got = q(store, "SELECT dossier_code, channel, received_at, time_limit, time_unit, state, reported_due_at, "
                   "finished_at, returned_at FROM dossiers ORDER BY 1")
    assert got == [
        ("24030400002", "direct", dt.datetime(2024, 3, 5, 14, 30), 7.5, "working_days", "returned",
         dt.datetime(2024, 3, 25), dt.datetime(2024, 3, 20, 10), dt.datetime(2024, 3, 21, 8)),
        ("H48.01-240304-0001", "online", dt.datetime(2024, 3, 4, 9, 15), 15.0, "working_days", "processing",
         dt.datetime(2024, 3, 25), None, None),
        ("H48.01-240304-0004", "postal", dt.datetime(2024, 3, 4, 9, 15), 15.0, "working_days", "rejected",
         dt.datetime(2024, 3, 25), None, None),
    ]
    everything = repr([q(store, f"SELECT * FROM {t}") for t in
                       ("dossiers", "quarantine", "agencies", "procedures", "import_batches")])
    for pii in ("Phạm Thị Duyên", "051190009999", "0935111222", "45 Hùng Vương"):
        assert pii not in everything
    assert "Sở Xây dựng" in everything


def test_workbook_without_title_rows_on_first_sheet(store, tmp_path):
    p = official_workbook(tmp_path / "plain.xlsx", [data_row(1, "A1"), data_row(2, "A2")], cover=False,
                          title_rows=False)
    s = import_dossiers(store, p)
    assert (s.inserted, s.header_row, s.sheet) == (2, 1, "Danh sách")


def test_workbook_reimport_is_idempotent(store, tmp_path):
    p = official_workbook(tmp_path / "e.xlsx", [data_row(1, "A1"), data_row(2, "A2", **{"Kênh nộp": "??"})])
    s1 = import_dossiers(store, p)
    s2 = import_dossiers(store, p)
    assert (s1.inserted, s1.quarantined, s2.unchanged, s2.quarantine_added) == (1, 1, 1, 0)
    assert q(store, "SELECT count(*) FROM quarantine") == [(1,)]


def test_workbook_missing_columns_is_refused(store, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["Báo cáo tổng hợp"])
    ws.append(["Mã hồ sơ", "Ngày tiếp nhận", "Ghi chú"])
    ws.append(["A1", "04/03/2024", "x"])
    p = tmp_path / "m.xlsx"
    wb.save(p)
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    msg = str(e.value)
    assert str(p) in msg and '(sheet "Sheet1")' in msg
    assert "missing required column(s): agency_code, channel, time_unit, state" in msg
    assert "'Mã hồ sơ', 'Ngày tiếp nhận', 'Ghi chú'" in msg
    assert q(store, "SELECT count(*) FROM import_batches") == [(0,)]


def test_workbook_header_only_is_refused(store, tmp_path):
    p = official_workbook(tmp_path / "h.xlsx", [])
    with pytest.raises(ImportRefused, match="no data rows after the header"):
        import_dossiers(store, p)


def test_broken_workbook_is_refused(store, tmp_path):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 100)
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    assert str(p) in str(e.value) and "not a readable Excel" in str(e.value)


def test_load_staging_reads_workbooks(tmp_path):
    import duckdb

    p = official_workbook(tmp_path / "e.xlsx", [data_row(1, "A1"), data_row(2, "A2", **{"Trạng thái": "?"})])
    con = duckdb.connect()
    res = load_staging(con, p)
    assert (res.valid_rows, res.quarantined_rows, res.sheet) == (1, 1, "Danh sách")
    assert res.errors[0].where == 'row 2 (sheet "Danh sách" row 8)'
    vi = load_staging(con, p, lang="vi")
    assert vi.errors[0].where == 'dòng 2 (trang tính "Danh sách" dòng 8)'
    assert "giá trị không hợp lệ '?'" in vi.errors[0].message()
    assert con.execute(f"SELECT dossier_code, time_limit FROM {res.relation}").fetchall() == [("A1", 15.0)]
