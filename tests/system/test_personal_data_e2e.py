"""Proof that citizens' personal data never stays on disk: exports with personal-data columns,
rows shifted by an unquoted delimiter and citizens' numbers typed into other fields are imported
through the real paths (`app.py import` in a subprocess, alone and through a running owner, and
the watch folder of a real `app.py run`), then every file under the private data folder is read
(the DuckDB store through DuckDB: every text column of every table, and its bytes; the archive,
rejected/, uploads, logs, anything else) and none of the planted values is found."""
from __future__ import annotations

import codecs
import json
import signal
import time
import zipfile
from pathlib import Path

import duckdb
from openpyxl import Workbook

from tests.system.running import start_system


NAMES = ["Quách Thị Xuyến", "Quách", "Văn Khải", "Hứa Thị Ngọc Diệp", "Mạc", "Thị Duyên", "Tôn Nữ Hằng",
         "Ninh", "Thị Quyên"]
IDS = ["079203001234", "079203005678", "051190009999", "051188007777", "051186003333", "212345678",
       "051199001122"]
PHONES = ["0905123456", "0912 345 678", "0912345678", "+84 935 222 333", "+84935222333", "0977.111.222",
          "0977111222", "0905000111", "0988 765 432", "0988765432", "0966111333"]
OTHER = ["xuyen.quach@example.vn", "Số 7 ngõ Quỳnh", "12 Lê Lợi, phường Nghĩa Chánh"]
PLANTED = NAMES + IDS + PHONES + OTHER

VI_HEADER = ["Mã hồ sơ", "Họ tên", "Số CCCD", "Số điện thoại", "Địa chỉ", "Email", "Mã cơ quan", "Cơ quan",
             "Mã thủ tục", "Tên thủ tục", "Kênh nộp", "Ngày tiếp nhận", "Thời hạn", "Đơn vị tính", "Trạng thái",
             "Ngày có kết quả", "Ghi chú"]
DOSSIERS_A = "\n".join([
    ",".join(VI_HEADER),
    # a clean row: every personal-data column filled
    "PD-A1,Quách Thị Xuyến,079203001234,0905123456,Số 7 ngõ Quỳnh,xuyen.quach@example.vn,QNG.STP,Sở Tư pháp,"
    "1.001,Đăng ký khai sinh,Trực tuyến,02/03/2026 09:00,3,Ngày làm việc,Đã có kết quả,04/03/2026 10:00,",
    # an unquoted comma in the name: every later value one column to the right, the note empty
    "PD-A2,Quách, Văn Khải,079203005678,0912 345 678,\"12 Lê Lợi, phường Nghĩa Chánh\",,QNG.STP,Sở Tư pháp,"
    "1.001,Đăng ký khai sinh,Trực tuyến,02/03/2026 09:00,3,Ngày làm việc,Đang xử lý,,",
    # a phone typed into the date column, an ID number into the agency's name
    "PD-A3,Tôn Nữ Hằng,051186003333,0966111333,,,QNG.STP,CCCD 051190009999,1.001,Đăng ký khai sinh,Trực tuyến,"
    "0977.111.222,3,Ngày làm việc,Đang xử lý,,CMND 212345678",
    # a valid row whose procedure name carries a phone: stored masked
    "PD-A4,,,,,,QNG.STP,Sở Tư pháp,1.002,Khai tử (hỏi +84 935 222 333),Trực tiếp,02/03/2026 10:00,3,"
    "Ngày làm việc,Đang xử lý,,",
]) + "\n"
EVENTS_A = "\n".join([
    "Mã hồ sơ,Sự kiện,Thời điểm,Ghi chú,Số điện thoại người nộp",
    "PD-A1,Yêu cầu bổ sung,03/03/2026 09:00,đã gọi 0988 765 432 và gửi xuyen.quach@example.vn,0988765432",
    "0905000111,Yêu cầu bổ sung,03/03/2026 09:00,,",   # a phone in the code column: an unknown dossier
]) + "\n"
DOSSIERS_D = "\n".join([
    ",".join(VI_HEADER),
    "PD-D1,Ninh, Thị Quyên,051199001122,0966111333,,,QNG.STP,Sở Tư pháp,1.001,Đăng ký khai sinh,Trực tuyến,"
    "05/03/2026 09:00,3,Ngày làm việc,Đang xử lý,,",
]) + "\n"


def _xlsx(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["DANH SÁCH HỒ SƠ"])
    ws.append(["Mã hồ sơ", "Người nộp", "CMND/CCCD", "Điện thoại", "Mã cơ quan", "Cơ quan", "Kênh nộp",
               "Ngày tiếp nhận", "Thời hạn", "Đơn vị tính", "Trạng thái"])
    ws.append(["PD-B1", "Hứa Thị Ngọc Diệp", "051188007777", "0905123456", "QNG.STP", "Sở Tư pháp", "Trực tuyến",
               "06/03/2026 09:00", 3, "Ngày làm việc", "Đang xử lý"])
    ws.append(["PD-B2", "Hứa Thị Ngọc Diệp", "051188007777", "0905123456", "QNG.STP", "Sở Tư pháp", "Trực tuyến",
               "051188007777", 3, "Ngày làm việc", "Đang xử lý"])
    wb.save(path)


def _utf16_semicolons(path: Path) -> None:
    rows = [";".join(VI_HEADER[:4] + VI_HEADER[6:16]),
            "PD-C1;Mạc; Thị Duyên;051186003333;+84 935 222 333;QNG.STP;Sở Tư pháp;1.001;Đăng ký khai sinh;"
            "Trực tuyến;07/03/2026 09:00;3;Ngày làm việc;Đang xử lý;",
            "PD-C2;Tôn Nữ Hằng;051186003333;0966111333;QNG.STP;Sở Tư pháp;1.001;Đăng ký khai sinh;"
            "Trực tuyến;07/03/2026 09:00;3;Ngày làm việc;Đang xử lý;"]
    path.write_bytes(codecs.BOM_UTF16_LE + ("\r\n".join(rows) + "\r\n").encode("utf-16-le"))


def _store_texts(path: Path) -> list[str]:
    """Every value of every column of every table, as text, read through DuckDB."""
    texts = []
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE'").fetchall()
        assert any(t == "quarantine" for _, t in tables)
        for schema, table in tables:
            cols = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                               "AND table_name = ?", [schema, table]).fetchall()
            for (col,) in cols:
                texts += [v for (v,) in con.execute(
                    f'SELECT DISTINCT CAST("{col}" AS VARCHAR) FROM "{schema}"."{table}"').fetchall() if v]
    return texts


def _found(haystack: str) -> list[str]:
    return [v for v in PLANTED if v in haystack]


def test_no_planted_personal_value_is_anywhere_under_the_data_folder(app_env, tmp_path, run_app):
    env = dict(app_env, MOTCUA_DASHBOARD__ENABLED="false")
    data = tmp_path / "data"
    src = tmp_path / "exports"
    src.mkdir()
    (src / "ho-so-a.csv").write_text(DOSSIERS_A, encoding="utf-8")
    (src / "ho-so-a.events.csv").write_text(EVENTS_A, encoding="utf-8-sig")
    (src / "ho-so-d.csv").write_text(DOSSIERS_D, encoding="utf-8")

    # 1. `app.py import`, the store not running: the command owns the store itself
    imp = run_app("import", str(src / "ho-so-a.csv"), "--events", str(src / "ho-so-a.events.csv"), "--json",
                  env=env)
    assert imp.returncode == 0, imp.stderr
    res = json.loads(imp.stdout)
    assert (res["inserted"], res["quarantined"]) == (2, 2) and res["events"]["quarantined"] == 1
    assert {"Họ tên", "Số CCCD", "Số điện thoại", "Địa chỉ", "Email"} <= set(res["pii_columns_dropped"])
    assert not _found(imp.stdout + imp.stderr)

    # 2. a real owner: `app.py import` through it, and files dropped into its watch folder
    proc = start_system(env, tmp_path)
    try:
        imp = run_app("import", str(src / "ho-so-d.csv"), "--json", env=env)
        assert imp.returncode == 0, imp.stderr
        assert json.loads(imp.stdout)["quarantined"] == 1 and not _found(imp.stdout + imp.stderr)
        inbox, archive = Path(env["MOTCUA_INBOX__PATH"]), Path(env["MOTCUA_INBOX__ARCHIVE"])
        _xlsx(inbox / "ho-so-b.xlsx")
        _utf16_semicolons(inbox / "ho-so-c.csv")
        deadline = time.time() + 60
        while time.time() < deadline and len(list(archive.glob("*.report.txt"))) < 2:
            time.sleep(0.2)
        reports = sorted(p.name.split("_", 1)[1] for p in archive.glob("*.report.txt"))
        assert reports == ["ho-so-b.xlsx.report.txt", "ho-so-c.csv.report.txt"]
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
    assert not _found(rest)

    # what was kept: the imports, and in the archive copies of the canonical columns with reports
    kept = sorted(p.name.split("_", 1)[1] for p in archive.iterdir())
    assert kept == ["ho-so-b.xlsx.csv", "ho-so-b.xlsx.report.txt", "ho-so-c.csv", "ho-so-c.csv.report.txt"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in archive.iterdir())
    assert "PD-C1" in next(archive.glob("*ho-so-c.csv")).read_text(encoding="utf-8-sig")
    assert not list(inbox.iterdir()) and not list(Path(env["MOTCUA_INBOX__REJECTED"]).iterdir())
    texts = _store_texts(data / "motcua.duckdb")
    stored = "\n".join(texts)
    for code in ("PD-A1", "PD-A4", "PD-B1", "PD-C2"):
        assert code in stored
    for quarantined in ("PD-A2", "PD-A3", "PD-B2", "PD-C1", "PD-D1"):
        assert f'"dossier_code":"{quarantined}"' in stored   # found again by file, row and code
    assert "+84*******33" in stored and "0*********99" in stored  # masked, not dropped

    # 3. every file under the data folder
    walked = []
    for p in sorted(data.rglob("*")):
        if not p.is_file():
            continue
        walked.append(p.relative_to(data).as_posix())
        raw = p.read_bytes()
        texts = [p.name, raw.decode("utf-8", "ignore"), raw.decode("utf-16-le", "ignore"),
                 raw[1:].decode("utf-16-le", "ignore")]
        if p.suffix == ".duckdb":
            texts += _store_texts(p)
        if zipfile.is_zipfile(p):  # a workbook's cells are compressed
            with zipfile.ZipFile(p) as z:
                texts += [z.read(n).decode("utf-8", "ignore") for n in z.namelist()]
        for t in texts:
            assert not _found(t), (p, _found(t))
    assert "motcua.duckdb" in walked and any(w.startswith("archive/") for w in walked)
