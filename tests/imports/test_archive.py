"""What the archive keeps of an imported file: a copy of its canonical columns only, row for row,
masked and neutralised, readable by its owner only; and the retention that deletes it. Real
files, the real reader and import."""
from __future__ import annotations

import csv
import io
import os
import time

from openpyxl import Workbook

from config.mapping import load_mapping
from imports.archive import keep, personal_free_copy, purge, write_report
from imports.dossiers import import_dossiers
from store.db import Store

HEADER = "Mã hồ sơ,Họ tên,Số CCCD,Mã cơ quan,Cơ quan,Kênh nộp,Ngày tiếp nhận,Thời hạn,Đơn vị tính,Trạng thái,Ghi chú"
ROWS = [
    "H48-001,Nguyễn Văn An,079203001234,S1,Sở Tư pháp,Trực tuyến,02/03/2026 09:00,2,Ngày làm việc,Đang xử lý,",
    "H48-002,Trần, Thị Bình,079203005678,S1,Sở Tư pháp,Trực tuyến,02/03/2026 09:00,2,Ngày làm việc,Đang xử lý,",
    "",
    "=1+2,Lê Cường,079203009999,S1,@SUM(1),Trực tuyến,0977 111 222,2,Ngày làm việc,Đang xử lý,gọi lại",
]
PERSONAL = ["Nguyễn Văn An", "Trần", "Thị Bình", "Lê Cường", "079203001234", "079203005678", "079203009999",
            "0977 111 222", "gọi lại"]


def _quarantine(path, tmp_path, name):
    with Store(tmp_path / f"{name}.duckdb") as s:
        import_dossiers(s, path)
        return s.cursor().execute("SELECT row_no, field FROM quarantine ORDER BY row_no, field").fetchall()


def test_the_copy_keeps_the_canonical_columns_row_for_row_and_nothing_personal(tmp_path):
    src = tmp_path / "ho-so.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    dest = personal_free_copy(src, tmp_path / "copy.csv", load_mapping(), "dossiers")
    assert dest.stat().st_mode & 0o777 == 0o600
    text = dest.read_text(encoding="utf-8-sig")
    for value in PERSONAL:
        assert value not in text, value
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["dossier_code", "agency_code", "agency_name", "channel", "received_at", "time_limit",
                       "time_unit", "state"]
    assert rows[1] == ["H48-001", "S1", "Sở Tư pháp", "Trực tuyến", "02/03/2026 09:00", "2", "Ngày làm việc",
                       "Đang xử lý"]
    assert rows[2] == ["H48-002", "", "", "", "", "", "", ""], "a shifted row keeps only what precedes the names"
    assert rows[3] == ["'=1+2", "S1", "'@SUM(1)", "Trực tuyến", "0*******22", "2", "Ngày làm việc", "Đang xử lý"]
    # the quarantine's row numbers point at the same rows in the copy
    assert [r for r, _ in _quarantine(src, tmp_path, "a")] == [2, 3]
    assert [r for r, _ in _quarantine(dest, tmp_path, "b")][:1] == [2]


def test_a_workbook_is_kept_as_the_csv_of_its_canonical_columns_and_deleted(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Danh sách hồ sơ"])
    ws.append(["Mã hồ sơ", "Người nộp", "Điện thoại", "Mã cơ quan", "Kênh nộp", "Ngày tiếp nhận", "Thời hạn",
               "Đơn vị tính", "Trạng thái"])
    ws.append(["H48-9", "Phạm Dũng", "0905123456", "S1", "Trực tuyến", "02/03/2026", 2, "Ngày làm việc", "Đang xử lý"])
    src = tmp_path / "ho-so.xlsx"
    wb.save(src)
    dest = keep(src, tmp_path / "archive", "20261206-101010", load_mapping(), "dossiers")
    assert dest.name == "20261206-101010_ho-so.xlsx.csv" and not src.exists()
    text = dest.read_text(encoding="utf-8-sig")
    assert text.splitlines() == ["dossier_code,agency_code,channel,received_at,time_limit,time_unit,state",
                                 "H48-9,S1,Trực tuyến,02/03/2026,2,Ngày làm việc,Đang xử lý"]
    report = write_report(tmp_path / "archive" / "r.txt", "row 2: not a date: '0905123456'",
                          {"file_sha256": "ab" * 32, "errors": ["0905 123 456"]})
    assert report.stat().st_mode & 0o777 == 0o600
    assert "0905123456" not in report.read_text() and "0905 123 456" not in report.read_text()
    assert "ab" * 32 in report.read_text()


def test_retention_deletes_old_archives_and_forgotten_uploads_only(tmp_path):
    archive, uploads = tmp_path / "archive", tmp_path / "uploads"
    archive.mkdir()
    uploads.mkdir()
    now = time.time()
    files = {archive / "old.csv": 400 * 86400, archive / "new.csv": 300 * 86400,
             uploads / "old.csv": 25 * 3600, uploads / "new.csv": 3600}
    for p, age in files.items():
        p.write_text("x")
        os.utime(p, (now - age, now - age))
    assert purge(archive, uploads, 365, 24, now=now) == {"archive": 1, "uploads": 1}
    assert sorted(p.relative_to(tmp_path).as_posix() for p in files if p.exists()) == ["archive/new.csv",
                                                                                     "uploads/new.csv"]
    assert purge(tmp_path / "none", tmp_path / "none", 1, 1) == {"archive": 0, "uploads": 0}


def test_the_watch_folder_archives_a_file_and_its_events_without_personal_data(tmp_path):
    from config.app import InboxConfig
    from imports.inbox import Inbox

    cfg = InboxConfig(path=tmp_path / "inbox", archive=tmp_path / "archive", rejected=tmp_path / "rejected")
    with Store(tmp_path / "s.duckdb") as store:
        def import_file(path, events):
            s = import_dossiers(store, path, events_path=events)
            return s.to_dict() | {"text": s.render("vi")}

        inbox = Inbox(cfg, import_file)
        (cfg.path / "x.csv").write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
        (cfg.path / "x.events.csv").write_text(
            "Mã hồ sơ,Sự kiện,Thời điểm,Ghi chú,Số điện thoại người nộp\n"
            "H48-001,Yêu cầu bổ sung,03/03/2026 09:00,gọi 0905123456,0912345678\n", encoding="utf-8")
        assert inbox.poll() == []          # first seen: maybe still being copied
        time.sleep(cfg.settle_seconds)     # unchanged that long: taken (with its events file, no more wait)
        [res] = inbox.poll()
    assert res["status"] == "imported" and res["result"]["events"]["inserted"] == 1
    assert not list(cfg.path.iterdir())
    kept = {p.name.split("_", 1)[1]: p for p in cfg.archive.iterdir()}
    assert set(kept) == {"x.csv", "x.events.csv", "x.csv.report.txt"}
    assert kept["x.events.csv"].read_text(encoding="utf-8-sig").splitlines() == [
        "dossier_code,event,at,detail", "H48-001,Yêu cầu bổ sung,03/03/2026 09:00,gọi 0*******56"]
    for p in kept.values():
        assert p.stat().st_mode & 0o777 == 0o600
        text = p.read_text(encoding="utf-8-sig")
        for value in PERSONAL + ["0905123456", "0912345678"]:
            assert value not in text, (p.name, value)
