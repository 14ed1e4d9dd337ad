"""The 766 scorecard's optional import columns: paid online, dossier and result digitised (yes/no)
and the citizen's rating (1-5), mapped from officials' Vietnamese headers, validated, stored; an
export without them imports as before."""
from __future__ import annotations

import csv
from pathlib import Path

from imports.dossiers import import_dossiers
from store.db import Store

BASE = ["Mã hồ sơ", "Mã cơ quan", "Kênh nộp", "Ngày tiếp nhận", "Thời hạn giải quyết", "Đơn vị tính", "Trạng thái"]


def write(path: Path, headers: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(BASE + headers)
        for code, *rest in rows:
            w.writerow([code, "STP", "Trực tuyến", "04/03/2024 09:00", "10", "Ngày làm việc", "Đang xử lý", *rest])
    return path


def stored(store: Store) -> dict[str, tuple]:
    cur = store.cursor()
    try:
        return {r[0]: r[1:] for r in cur.execute(
            "SELECT dossier_code, paid_online, dossier_digitised, result_digitised, satisfaction_rating "
            "FROM dossiers ORDER BY 1").fetchall()}
    finally:
        cur.close()


def quarantine(store: Store) -> list[tuple]:
    cur = store.cursor()
    try:
        return [(Path(f).name, *rest) for f, *rest in cur.execute(
            "SELECT file_name, row_no, field, value FROM quarantine ORDER BY row_no, field").fetchall()]
    finally:
        cur.close()


def test_vietnamese_headers_and_their_variants_are_mapped(store, tmp_path):
    p = write(tmp_path / "a.csv", ["Thanh toán trực tuyến", "Đã số hoá hồ sơ", "Số hoá kết quả", "Đánh giá mức độ hài lòng"],
              [["A1", "Có", "Có", "Không", "5"], ["A2", "Không", "x", "", "4.0"], ["A3", "", "", "", ""]])
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined, s.columns_dropped) == (3, 0, [])
    assert stored(store) == {"A1": (True, True, False, 5), "A2": (False, True, None, 4),
                             "A3": (None, None, None, None)}
    # other wordings: diacritics placed differently, shorter headers, canonical yes/no values
    q = write(tmp_path / "b.csv", ["Đã thanh toán trực tuyến", "Số hóa hồ sơ", "Đã số hóa kết quả", "Mức độ hài lòng"],
              [["B1", "true", "Chưa", "Rồi", "1"]])
    assert import_dossiers(store, q).inserted == 1
    assert stored(store)["B1"] == (True, False, True, 1)


def test_a_bad_rating_or_yes_no_is_a_quarantined_row_error(store, tmp_path):
    p = write(tmp_path / "bad.csv", ["Thanh toán trực tuyến", "Đánh giá mức độ hài lòng"],
              [["A1", "Có", "5"], ["A2", "Có", "6"], ["A3", "Có", "0"], ["A4", "Có", "3.5"], ["A5", "có lẽ", "4"]])
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined) == (1, 4)
    assert quarantine(store) == [
        ("bad.csv", 2, "satisfaction_rating", "6"), ("bad.csv", 3, "satisfaction_rating", "0"),
        ("bad.csv", 4, "satisfaction_rating", "3.5"), ("bad.csv", 5, "paid_online", "có lẽ")]
    assert any("row 2, satisfaction_rating: a rating is a whole number from 1 to 5, got '6'" in e for e in s.errors)
    assert list(stored(store)) == ["A1"]


def test_reimport_does_not_duplicate(store, tmp_path):
    p = write(tmp_path / "a.csv", ["Thanh toán trực tuyến", "Đánh giá mức độ hài lòng"],
              [["A1", "Có", "5"], ["A2", "Không", "9"]])
    first = import_dossiers(store, p)
    again = import_dossiers(store, p)
    assert (first.inserted, first.quarantined) == (1, 1)
    assert (again.inserted, again.updated, again.unchanged, again.quarantine_added) == (0, 0, 1, 0)
    assert stored(store) == {"A1": (True, None, None, 5)}
    assert len(quarantine(store)) == 1


def test_an_export_without_the_columns_imports_as_before_and_erases_nothing(store, tmp_path):
    plain = write(tmp_path / "plain.csv", [], [["A1"], ["A2"]])
    s = import_dossiers(store, plain)
    assert (s.inserted, s.updated, s.quarantined) == (2, 0, 0)
    assert stored(store) == {"A1": (None, None, None, None), "A2": (None, None, None, None)}
    rich = write(tmp_path / "rich.csv", ["Thanh toán trực tuyến", "Đánh giá mức độ hài lòng"], [["A1", "Có", "4"]])
    assert import_dossiers(store, rich).updated == 1
    # the plain export again: nothing it says changed, and what it does not say is kept
    again = import_dossiers(store, plain)
    assert (again.updated, again.unchanged) == (0, 2)
    assert stored(store)["A1"] == (True, None, None, 4)
    # a later answer replaces an earlier one
    import_dossiers(store, write(tmp_path / "later.csv", ["Thanh toán trực tuyến"], [["A1", "Không"]]))
    assert stored(store)["A1"] == (False, None, None, 4)


def test_a_workbook_carries_them_too(store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(BASE + ["Thanh toán trực tuyến", "Đã số hoá hồ sơ", "Đánh giá mức độ hài lòng"])
    ws.append(["W1", "STP", "Trực tuyến", "04/03/2024 09:00", 10, "Ngày làm việc", "Đang xử lý", True, "Có", 5])
    ws.append(["W2", "STP", "Trực tuyến", "04/03/2024 09:00", 10, "Ngày làm việc", "Đang xử lý", False, None, 7])
    wb.save(tmp_path / "w.xlsx")
    s = import_dossiers(store, tmp_path / "w.xlsx")
    assert (s.inserted, s.quarantined) == (1, 1)
    assert stored(store) == {"W1": (True, True, None, 5)}
    assert quarantine(store) == [("w.xlsx", 2, "satisfaction_rating", "7")]
