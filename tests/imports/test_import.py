"""Dossier import: files, encodings, validation, quarantine, upsert, personal data, atomicity."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from config.mapping import BOOLEAN_COLUMNS, DOSSIER_COLUMNS, RATING_COLUMNS
from imports.dossiers import ImportRefused, import_dossiers, import_events, load_staging
from imports.sample import write_dossier_csv
from store.db import Store

FULL = list(DOSSIER_COLUMNS)
# the columns before the 766 scorecard's optional ones (rows below written field by field have this width)
BASIC = [c for c in DOSSIER_COLUMNS if c not in (*BOOLEAN_COLUMNS, *RATING_COLUMNS)]


# -- helpers ----------------------------------------------------------------------------------
def row(code: str, **kw: str) -> dict[str, str]:
    base = {
        "dossier_code": code, "agency_code": "STP", "agency_name": "Sở Tư pháp", "procedure_code": "1.001",
        "procedure_name": "Cấp phiếu lý lịch tư pháp", "field": "Lý lịch tư pháp", "channel": "online",
        "received_at": "2024-03-04 09:15:00", "time_limit": "10", "time_unit": "working_days",
        "state": "processing",
    }
    base.update(kw)
    return base


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None, *,
              encoding: str = "utf-8", delimiter: str = ",", before: list[list[str]] | None = None) -> Path:
    columns = columns or FULL
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        for r in before or []:
            w.writerow(r)
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    return path


def q(store: Store, sql: str, params=None) -> list[tuple]:
    cur = store.cursor()
    try:
        return cur.execute(sql, params).fetchall() if params is not None else cur.execute(sql).fetchall()
    finally:
        cur.close()


def count(store: Store, table: str) -> int:
    return q(store, f"SELECT count(*) FROM {table}")[0][0]


def snapshot(store: Store) -> dict[str, list[tuple]]:
    tables = ["agencies", "procedures", "import_batches", "dossiers", "dossier_events", "quarantine"]
    return {t: sorted(q(store, f"SELECT * FROM {t}"), key=repr) for t in tables}


def quarantine(store: Store) -> list[tuple]:
    return q(store, "SELECT row_no, field, reason, value FROM quarantine ORDER BY row_no, field")


# -- a canonical CSV --------------------------------------------------------------------------
def test_canonical_csv_imports_typed_rows(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [
        row("HS1"),
        row("HS2", channel="direct", received_at="05/03/2024 14:20", state="returned",
            finished_at="2024-03-10T10:00:00", returned_at="11/03/2024", time_limit="0,5",
            time_unit="working_hours", reported_due_at="2024-03-18", reported_status="on_time",
            source_system="2.0", synced_at="2024-03-11 12:00", synced_status="ok"),
        row("HS3", agency_code="SXD", agency_name="Sở Xây dựng", procedure_code="1.002",
            procedure_name="Cấp giấy phép xây dựng", field="Xây dựng", time_limit="15",
            supplement_requested_at="2024-03-06 08:00", supplement_received_at="2024-03-08 16:30"),
    ])
    s = import_dossiers(store, p)
    assert (s.rows_read, s.inserted, s.updated, s.unchanged, s.quarantined) == (3, 3, 0, 0, 0)
    assert s.batch_id is not None and s.errors == [] and s.pii_columns_dropped == [] and s.columns_dropped == []
    hs2 = q(store, "SELECT channel, received_at, time_limit, time_unit, state, finished_at, returned_at, "
                   "reported_due_at, reported_status, source_system, synced_at, synced_status, batch_id "
                   "FROM dossiers WHERE dossier_code = 'HS2'")[0]
    assert hs2 == ("direct", dt.datetime(2024, 3, 5, 14, 20), 0.5, "working_hours", "returned",
                   dt.datetime(2024, 3, 10, 10), dt.datetime(2024, 3, 11), dt.datetime(2024, 3, 18), "on_time",
                   "2.0", dt.datetime(2024, 3, 11, 12), "ok", s.batch_id)
    assert q(store, "SELECT supplement_requested_at, supplement_received_at FROM dossiers "
                    "WHERE dossier_code = 'HS3'")[0] == (dt.datetime(2024, 3, 6, 8), dt.datetime(2024, 3, 8, 16, 30))
    # unknown agencies and procedures are created from the file
    assert q(store, "SELECT code, name, level FROM agencies ORDER BY code") == [
        ("STP", "Sở Tư pháp", "unit"), ("SXD", "Sở Xây dựng", "unit")]
    assert q(store, "SELECT code, name, field, time_limit, time_unit FROM procedures ORDER BY code") == [
        ("1.001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", 10.0, "working_days"),
        ("1.002", "Cấp giấy phép xây dựng", "Xây dựng", 15.0, "working_days")]
    batch = q(store, "SELECT kind, file_name, file_sha256, rows_read, rows_inserted, status, finished_at "
                     "FROM import_batches")
    assert len(batch) == 1
    assert batch[0][0] == "dossiers" and batch[0][1] == str(p) and len(batch[0][2]) == 64
    assert batch[0][3:6] == (3, 3, "done") and batch[0][6] is not None


def test_existing_agency_is_not_overwritten(store, tmp_path):
    with store.transaction() as con:
        con.execute("INSERT INTO agencies (code, name, level) VALUES ('STP', 'Sở Tư pháp tỉnh', 'department')")
    s = import_dossiers(store, write_csv(tmp_path / "d.csv", [row("A1", agency_name="Tên khác")]))
    assert s.agencies_created == 0
    assert q(store, "SELECT code, name, level FROM agencies") == [("STP", "Sở Tư pháp tỉnh", "department")]


def test_only_required_columns_is_enough(store, tmp_path):
    cols = ["dossier_code", "agency_code", "channel", "received_at", "time_unit", "state"]
    s = import_dossiers(store, write_csv(tmp_path / "d.csv", [row("A1"), row("A2")], cols))
    assert s.inserted == 2
    # no agency name in the file: the code stands in for it (agencies.name is NOT NULL)
    assert q(store, "SELECT code, name FROM agencies") == [("STP", "STP")]
    assert count(store, "procedures") == 0


# -- encodings and formats --------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_bom_and_utf16_files(store, tmp_path, encoding):
    p = tmp_path / "d.csv"
    if encoding in ("utf-16-le", "utf-16-be"):  # explicit BOM, then the text in that byte order
        bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
        tmp = write_csv(tmp_path / "plain.csv", [row("HS1"), row("HS2", agency_name="Sở Tư pháp")])
        p.write_bytes(bom + tmp.read_text(encoding="utf-8").encode(encoding))
    else:
        write_csv(p, [row("HS1"), row("HS2")], encoding=encoding)
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined) == (2, 0)
    assert q(store, "SELECT DISTINCT agency_code FROM dossiers") == [("STP",)]
    assert q(store, "SELECT name FROM agencies") == [("Sở Tư pháp",)]


def test_windows_1258_is_refused_clearly(store, tmp_path):
    src = write_csv(tmp_path / "src.csv", [row("HS1", agency_name="AGENCY")])
    p = tmp_path / "cp1258.csv"
    # "Sở Tư pháp" in Windows-1258: ơ = F5, combining hook above = D2, ư = FD, á = E1
    p.write_bytes(src.read_bytes().replace(b"AGENCY", b"S\xf5\xd2 T\xfd ph\xe1p"))
    assert b"S\xf5\xd2".decode("cp1258") == "Sơ\u0309"
    before = snapshot(store)
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    msg = str(e.value)
    assert str(p) in msg and "not UTF-8 or UTF-16" in msg and "line 2" in msg
    assert snapshot(store) == before


def test_binary_garbage_is_refused(store, tmp_path):
    p = tmp_path / "garbage.csv"
    p.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    assert str(p) in str(e.value) and "not a text file" in str(e.value)
    p2 = tmp_path / "garbage2.csv"
    p2.write_bytes(bytes(range(128, 256)) * 40)  # no NUL, not UTF-8 either
    with pytest.raises(ImportRefused, match="not UTF-8 or UTF-16"):
        import_dossiers(store, p2)
    assert count(store, "import_batches") == 0


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n  \r\n", codecs.BOM_UTF16_LE])
def test_empty_file_is_refused(store, tmp_path, content):
    p = tmp_path / "empty.csv"
    p.write_bytes(content)
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    assert str(p) in str(e.value) and "empty" in str(e.value)
    assert count(store, "import_batches") == 0


def test_header_only_is_refused(store, tmp_path):
    p = write_csv(tmp_path / "h.csv", [])
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    assert str(p) in str(e.value) and "no data rows" in str(e.value)
    assert snapshot(store) == snapshot(store) and count(store, "import_batches") == 0


def test_missing_required_columns_refuses_the_file(store, tmp_path):
    cols = ["dossier_code", "agency_code", "received_at", "Ghi chú"]
    p = write_csv(tmp_path / "m.csv", [row("HS1")], cols)
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    msg = str(e.value)
    assert str(p) in msg
    assert "missing required column(s): channel, time_unit, state" in msg
    assert "'dossier_code', 'agency_code', 'received_at', 'Ghi chú'" in msg
    assert count(store, "dossiers") == 0 and count(store, "import_batches") == 0


def test_file_without_any_header_is_refused(store, tmp_path):
    p = tmp_path / "noheader.csv"
    p.write_text("1,2,3\n4,5,6\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="missing required column"):
        import_dossiers(store, p)


def test_missing_file_is_refused(store, tmp_path):
    with pytest.raises(ImportRefused, match="file not found"):
        import_dossiers(store, tmp_path / "nope.csv")


def test_semicolon_csv_with_title_rows(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [row("HS1"), row("HS2")], delimiter=";",
                  before=[["BÁO CÁO DANH SÁCH HỒ SƠ"], ["Từ ngày 01/03/2024 đến ngày 31/03/2024"], []])
    s = import_dossiers(store, p)
    assert (s.inserted, s.header_row) == (2, 4)
    assert q(store, "SELECT dossier_code FROM dossiers ORDER BY 1") == [("HS1",), ("HS2",)]


def test_vietnamese_headers_and_values(store, tmp_path):
    cols = ["STT", "Mã hồ sơ", "Cơ quan / Đơn vị", "Mã cơ quan", "Mã thủ tục", "Tên thủ tục", "Lĩnh vực",
            "Kênh nộp", "Ngày tiếp nhận", "Thời hạn giải quyết", "Đơn vị tính", "Ngày hẹn trả",
            "Ngày có kết quả", "Ngày trả kết quả", "TRẠNG THÁI", "Kết quả xử lý"]
    p = tmp_path / "vi.csv"
    with p.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerow(["1", "000.00.01.H48-240304-0001", "Sở Tư pháp", "STP", "1.001", "Cấp phiếu LLTP",
                    "Lý lịch tư pháp", "Trực tuyến", "04/03/2024 09:15", "10", "Ngày làm việc", "18/03/2024",
                    "15/03/2024 10:00", "15/03/2024 15:00", "Đã trả kết quả", "Trước hạn"])
        w.writerow(["2", "000.00.01.H48-240304-0002", "Sở Tư pháp", "STP", "1.001", "Cấp phiếu LLTP",
                    "Lý lịch tư pháp", "Bưu chính công ích", "04/03/2024 16:00", "4", "giờ làm việc", "",
                    "", "", "đang xử lý", "Đang xử lý quá hạn"])
        w.writerow(["3", "000.00.01.H48-240304-0003", "Sở Tư pháp", "STP", "1.001", "Cấp phiếu LLTP",
                    "Lý lịch tư pháp", "  TRỰC TIẾP ", "05/03/2024", "10", "Ngày", "", "", "", "Đã rút", ""])
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined) == (3, 0), s.errors
    assert s.columns_dropped == ["STT"]
    got = q(store, "SELECT dossier_code, channel, time_unit, state, reported_status, reported_due_at, returned_at "
                   "FROM dossiers ORDER BY 1")
    assert got == [
        ("000.00.01.H48-240304-0001", "online", "working_days", "returned", "early", dt.datetime(2024, 3, 18),
         dt.datetime(2024, 3, 15, 15)),
        ("000.00.01.H48-240304-0002", "postal", "working_hours", "processing", "pending_overdue", None, None),
        ("000.00.01.H48-240304-0003", "direct", "working_days", "withdrawn", None, None, None),
    ]


# -- validation and quarantine ----------------------------------------------------------------
def test_bad_rows_are_quarantined_with_file_row_and_field(store, tmp_path):
    rows = [
        row("OK1"),
        row("BAD-DATE", received_at="2024-13-45"),
        row("BAD-ENUM", channel="fax", state="lost"),
        row("BAD-LIMIT", time_limit="-3"),
        row("BAD-LIMIT2", time_limit="mười"),
        row("EARLY-FINISH", state="finished", finished_at="2024-03-01 08:00"),
        row("SUPPL", supplement_requested_at="2024-03-10", supplement_received_at="2024-03-09"),  # no error
        row("", agency_code=""),
        row("OK1", agency_code="SXD"),  # duplicate of row 1
        row("NO-DATES", state="returned"),
        row("OLD", received_at="01/01/0024"),
        row("OK2", received_at="2024-03-04T10:00"),
    ]
    p = write_csv(tmp_path / "bad.csv", rows)
    s = import_dossiers(store, p)
    assert s.rows_read == 12
    assert (s.inserted, s.quarantined) == (3, 9)
    # a latest request after the latest receipt: waiting for the citizen again, stored and counted
    assert q(store, "SELECT dossier_code FROM dossiers ORDER BY 1") == [("OK1",), ("OK2",), ("SUPPL",)]
    assert q(store, "SELECT agency_code FROM dossiers WHERE dossier_code = 'OK1'") == [("STP",)]  # first wins
    got = {(r, f): (reason, value) for r, f, reason, value in quarantine(store)}
    assert set(got) == {(2, "received_at"), (3, "channel"), (3, "state"), (4, "time_limit"), (5, "time_limit"),
                        (6, "finished_at"), (8, "dossier_code"),
                        (8, "agency_code"), (9, "dossier_code"), (10, "finished_at"), (11, "received_at")}
    assert got[(2, "received_at")][0].startswith("not a date: '2024-13-45'")
    assert got[(2, "received_at")][1] == "2024-13-45"
    assert "unknown value 'fax'" in got[(3, "channel")][0]
    assert "expected online, direct, postal" in got[(3, "channel")][0]
    assert "number >= 0" in got[(4, "time_limit")][0] and got[(5, "time_limit")][1] == "mười"
    assert "before received_at" in got[(6, "finished_at")][0]
    assert got[(8, "dossier_code")][0] == "required value is empty"
    assert got[(9, "dossier_code")][0] == "duplicate dossier_code in this file: duplicate of row 1"
    assert "neither finished_at nor returned_at" in got[(10, "finished_at")][0]
    assert "out of range" in got[(11, "received_at")][0]
    # messages name the file, the row and the field
    assert f"{p}: row 2, received_at: not a date: '2024-13-45'" in s.errors[0]
    assert s.error_count == 11 and len(s.errors) == 11
    # quarantine keeps file identity and raw JSON of the canonical columns
    raw = json.loads(q(store, "SELECT raw FROM quarantine WHERE row_no = 3 AND field = 'channel'")[0][0])
    assert raw["dossier_code"] == "BAD-ENUM" and raw["channel"] == "fax" and "agency_name" in raw
    assert q(store, "SELECT DISTINCT file_name, file_sha256 FROM quarantine") == [
        (str(p), s.file_sha256)]


def test_row_with_too_many_fields_is_quarantined(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [row("A1"), row("A2")], BASIC)
    with p.open("a", encoding="utf-8") as f:
        f.write("A3,STP,,,,,online,2024-03-04,1,working_days,,,,,,processing,,,,,,EXTRA,MORE\n")
        f.write('"A4\nmultiline",STP,,,,,online,2024-03-04,1,working_days,,,,,,processing,,,,,\n')
    s = import_dossiers(store, p)
    assert (s.rows_read, s.inserted, s.quarantined) == (4, 3, 1)
    assert [(r, f) for r, f, _, _ in quarantine(store)] == [(3, "")]
    assert "more fields than the header" in s.errors[0]
    assert q(store, "SELECT count(*) FROM dossiers WHERE dossier_code = 'A4\nmultiline'") == [(1,)]


def test_reimport_same_file_is_idempotent(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [row("A1"), row("A2"), row("A3", received_at="nope"), row("A1")])
    s1 = import_dossiers(store, p)
    snap = snapshot(store)
    s2 = import_dossiers(store, p)
    assert (s1.inserted, s1.updated, s1.unchanged, s1.quarantined) == (2, 0, 0, 2)
    assert (s2.inserted, s2.updated, s2.unchanged, s2.quarantined) == (0, 0, 2, 2)
    assert s1.quarantine_added == 2 and s2.quarantine_added == 0
    after = snapshot(store)
    for t in ("dossiers", "quarantine", "agencies", "procedures"):
        assert after[t] == snap[t], t
    assert count(store, "import_batches") == 2
    assert q(store, "SELECT batch_id, rows_unchanged, rows_quarantined FROM import_batches ORDER BY 1") == [
        (s1.batch_id, 0, 2), (s2.batch_id, 2, 2)]


def test_updated_file_updates_rows(store, tmp_path):
    import_dossiers(store, write_csv(tmp_path / "v1.csv", [row("A1"), row("A2"), row("A3")]))
    v2 = write_csv(tmp_path / "v2.csv", [
        row("A1"),  # unchanged
        row("A2", state="returned", finished_at="2024-03-12 10:00", returned_at="2024-03-12 15:00"),
        row("A4", channel="postal"),
    ])
    s = import_dossiers(store, v2)
    assert (s.inserted, s.updated, s.unchanged) == (1, 1, 1)
    assert count(store, "dossiers") == 4
    a2 = q(store, "SELECT state, finished_at, batch_id FROM dossiers WHERE dossier_code = 'A2'")[0]
    assert a2 == ("returned", dt.datetime(2024, 3, 12, 10), s.batch_id)
    assert q(store, "SELECT batch_id FROM dossiers WHERE dossier_code = 'A1'")[0][0] != s.batch_id
    # A3 is not in the new file: it stays as it was
    assert q(store, "SELECT state FROM dossiers WHERE dossier_code = 'A3'") == [("processing",)]


# -- personal data ----------------------------------------------------------------------------
PII_VALUES = ["Nguyễn Văn Bình", "079203001234", "0905123456", "12 Lê Lợi, phường Nghĩa Chánh",
              "binh.nguyen@example.vn", "Trần Thị Cúc"]


def _all_text_in_store(store: Store) -> str:
    chunks = []
    tables = [t for (t,) in q(store, "SELECT table_name FROM information_schema.tables "
                                     "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'")]
    for t in tables:
        for r in q(store, f"SELECT * FROM {t}"):
            chunks.append(repr(r))
    return "\n".join(chunks)


def test_personal_data_is_never_stored(store, tmp_path):
    cols = ["Mã hồ sơ", "Họ tên người nộp", "Số CCCD", "Điện thoại", "Địa chỉ", "Email", "Mã cơ quan",
            "Kênh nộp", "Ngày tiếp nhận", "Đơn vị tính", "Trạng thái", "Chủ hồ sơ", "Ghi chú nội bộ"]
    p = tmp_path / "pii.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerow(["HS1", PII_VALUES[0], PII_VALUES[1], PII_VALUES[2], PII_VALUES[3], PII_VALUES[4], "STP",
                    "Trực tuyến", "04/03/2024 08:00", "Ngày làm việc", "Đang xử lý", PII_VALUES[5], "x"])
        # a bad row: goes to quarantine, whose raw JSON must not carry personal data either
        w.writerow(["HS2", PII_VALUES[0], PII_VALUES[1], PII_VALUES[2], PII_VALUES[3], PII_VALUES[4], "STP",
                    "Fax", "bad date", "Ngày làm việc", "Đang xử lý", PII_VALUES[5], "y"])
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined) == (1, 1)
    assert s.pii_columns_dropped == ["Họ tên người nộp", "Số CCCD", "Điện thoại", "Địa chỉ", "Email", "Chủ hồ sơ"]
    assert s.columns_dropped == ["Ghi chú nội bộ"]
    text = _all_text_in_store(store)
    assert "HS1" in text and "Fax" in text  # the scan does see the data
    for v in PII_VALUES:
        assert v not in text
        assert v not in s.render() and v not in s.render("vi") and v not in json.dumps(s.to_dict())
    assert q(store, "SELECT pii_columns_dropped FROM import_batches")[0][0] == s.pii_columns_dropped
    # and not in the file itself (after a checkpoint, in any storage form we can grep)
    with store.transaction() as con:
        con.execute("SELECT 1")
    store.cursor().execute("CHECKPOINT")
    blob = (tmp_path / "store.duckdb").read_bytes()
    for v in PII_VALUES:
        assert v.encode("utf-8") not in blob


# -- atomicity --------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["validate:dossiers", "write:references", "write:dossiers:inserted",
                                   "write:dossiers:updated", "write:quarantine"])
def test_interrupt_leaves_the_store_unchanged(store, tmp_path, stage):
    import_dossiers(store, write_csv(tmp_path / "v1.csv", [row("A1"), row("A2"), row("A3", channel="x")]))
    before = snapshot(store)
    v2 = write_csv(tmp_path / "v2.csv", [
        row("A1", state="withdrawn"), row("A9", agency_code="NEW", procedure_code="9.9"),
        row("A2", received_at="bad"),
    ])

    def hook(name: str) -> None:
        if name == stage:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_dossiers(store, v2, on_stage=hook)
    assert snapshot(store) == before
    # and the store still works afterwards
    s = import_dossiers(store, v2)
    assert (s.inserted, s.updated, s.quarantined) == (1, 1, 1)


# -- events -----------------------------------------------------------------------------------
def write_events(path: Path, rows: list[tuple[str, str, str, str]], header=("dossier_code", "event", "at", "detail")):
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_events_upsert_and_latest_supplement_cycle(store, tmp_path):
    d = write_csv(tmp_path / "d.csv", [row("A1"), row("A2"), row("A3")])
    ev = write_events(tmp_path / "ev.csv", [
        ("A1", "supplement_requested", "2024-03-05 08:00", "thiếu bản sao"),
        ("A1", "supplement_received", "2024-03-07 09:00", ""),
        ("A1", "supplement_requested", "2024-03-12 08:00", "lần 2"),
        ("A1", "supplement_received", "2024-03-14 10:30", ""),
        ("A2", "Yêu cầu bổ sung", "06/03/2024 10:00", "gọi 0905 123 456 hoặc a.b@mail.vn, CCCD 079203001234"),
        ("ZZ9", "supplement_requested", "2024-03-05 08:00", ""),   # unknown dossier
        ("A1", "supplement_received", "not a date", ""),
        ("A1", "supplement_requested", "2024-03-05 08:00", "dup"),  # duplicate of row 1
    ])
    s = import_dossiers(store, d, events_path=ev)
    e = s.events
    assert e is not None and e.kind == "events" and e.batch_id != s.batch_id
    assert (e.rows_read, e.inserted, e.updated, e.unchanged, e.quarantined) == (8, 5, 0, 0, 3)
    qr = q(store, "SELECT row_no, field, reason FROM quarantine WHERE file_sha256 = ? ORDER BY row_no",
           [e.file_sha256])
    assert [(r, f) for r, f, _ in qr] == [(6, "dossier_code"), (7, "at"), (8, "dossier_code")]
    assert "unknown dossier: ZZ9" in qr[0][2] and "duplicate of row 1" in qr[2][2]
    # latest cycle
    assert q(store, "SELECT dossier_code, supplement_requested_at, supplement_received_at FROM dossiers "
                    "ORDER BY 1") == [
        ("A1", dt.datetime(2024, 3, 12, 8), dt.datetime(2024, 3, 14, 10, 30)),
        ("A2", dt.datetime(2024, 3, 6, 10), None),
        ("A3", None, None)]
    # Vietnamese event name mapped; personal data scrubbed from free text
    assert q(store, "SELECT event, detail FROM dossier_events WHERE dossier_code = 'A2'") == [
        ("supplement_requested", "gọi [số] hoặc [email], CCCD [số]")]
    # re-run: nothing new
    s2 = import_dossiers(store, d, events_path=ev)
    assert (s2.events.inserted, s2.events.unchanged, s2.events.quarantine_added) == (0, 5, 0)
    assert count(store, "dossier_events") == 5


def test_events_only_import_updates_stored_dossiers(store, tmp_path):
    import_dossiers(store, write_csv(tmp_path / "d.csv", [
        row("A1"), row("A2", supplement_requested_at="2024-03-20 08:00", supplement_received_at="2024-03-21")]))
    ev = write_events(tmp_path / "ev.csv", [
        ("A1", "supplement_requested", "2024-03-05 08:00", "x"),
        ("A2", "supplement_requested", "2024-03-06 08:00", "older than the file's cycle"),
    ], header=("Mã hồ sơ", "Sự kiện", "Thời điểm", "Ghi chú"))
    s = import_events(store, ev)
    assert (s.kind, s.inserted, s.quarantined, s.dossiers_updated_from_events) == ("events", 2, 0, 1)
    assert q(store, "SELECT dossier_code, supplement_requested_at, supplement_received_at FROM dossiers "
                    "ORDER BY 1") == [
        ("A1", dt.datetime(2024, 3, 5, 8), None),
        ("A2", dt.datetime(2024, 3, 20, 8), dt.datetime(2024, 3, 21))]  # the file's later cycle stays
    # changed detail updates the event; a later dossier re-import keeps the events' cycle
    ev2 = write_events(tmp_path / "ev2.csv", [("A1", "supplement_requested", "2024-03-05 08:00", "y"),
                                              ("A1", "supplement_received", "2024-03-08 08:00", "")])
    s2 = import_events(store, ev2)
    assert (s2.inserted, s2.updated, s2.unchanged) == (1, 1, 0)
    s3 = import_dossiers(store, tmp_path / "d.csv")
    assert (s3.updated, s3.unchanged) == (0, 2)
    assert q(store, "SELECT supplement_requested_at, supplement_received_at FROM dossiers "
                    "WHERE dossier_code = 'A1'") == [(dt.datetime(2024, 3, 5, 8), dt.datetime(2024, 3, 8, 8))]


def test_events_file_with_missing_columns_is_refused(store, tmp_path):
    d = write_csv(tmp_path / "d.csv", [row("A1")])
    ev = write_events(tmp_path / "ev.csv", [("A1", "x", "y", "z")], header=("dossier_code", "when", "what", "detail"))
    with pytest.raises(ImportRefused, match="missing required column.*event, at"):
        import_dossiers(store, d, events_path=ev)
    assert count(store, "dossiers") == 0  # the dossier file is not imported either


# -- staging without a store ------------------------------------------------------------------
def test_load_staging_into_memory_connection(tmp_path):
    p = write_csv(tmp_path / "d.csv", [row("A1", received_at="04/03/2024 16:30"), row("A2", state="??")])
    con = duckdb.connect()
    res = load_staging(con, p)
    assert (res.rows_read, res.valid_rows, res.quarantined_rows) == (2, 1, 1)
    assert [(e.row, e.field) for e in res.errors] == [(2, "state")]
    assert str(p) in res.errors[0].message() and "row 2, state" in res.errors[0].message()
    types = dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                             f"WHERE table_name = '{res.relation}'").fetchall())
    expected = {"dossier_code": "VARCHAR", "received_at": "TIMESTAMP", "time_limit": "DOUBLE",
                "time_unit": "VARCHAR", "supplement_requested_at": "TIMESTAMP",
                "supplement_received_at": "TIMESTAMP", "extended_due_at": "TIMESTAMP", "finished_at": "TIMESTAMP",
                "returned_at": "TIMESTAMP", "state": "VARCHAR", "agency_code": "VARCHAR", "channel": "VARCHAR"}
    for col, typ in expected.items():
        assert types[col] == typ, col
    assert con.execute(f"SELECT dossier_code, received_at FROM {res.relation}").fetchall() == [
        ("A1", dt.datetime(2024, 3, 4, 16, 30))]
    # nothing of the store exists in that connection
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'dossiers'").fetchone() == (0,)


# -- summary ------------------------------------------------------------------------------------
def test_summary_render_and_dict(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [row("A1"), row("A2", channel="fax")],
                  FULL + ["Họ tên", "Cột lạ"])
    s = import_dossiers(store, p)
    d = s.to_dict()
    assert d["rows_read"] == 2 and d["inserted"] == 1 and d["quarantined"] == 1 and d["events"] is None
    assert d["pii_columns_dropped"] == ["Họ tên"] and d["columns_dropped"] == ["Cột lạ"]
    en, vi = s.render(), s.render("vi")
    assert "inserted:" in en and "personal-data columns dropped (never stored): Họ tên" in en
    assert "unknown columns dropped: Cột lạ" in en and "row 2, channel" in en
    assert "Thêm mới:" in vi and "Cột dữ liệu cá nhân đã bỏ (không lưu): Họ tên" in vi
    assert "dòng 2, channel: giá trị không hợp lệ 'fax'" in vi and "row 2" not in vi


def test_vietnamese_error_messages(store, tmp_path):
    s = import_dossiers(store, write_csv(tmp_path / "d.csv", [row("A1", received_at="hôm qua")]), lang="vi")
    assert "ngày giờ không hợp lệ: 'hôm qua'" in s.errors[0]
    # the quarantine keeps the English reason
    assert quarantine(store)[0][2].startswith("not a date")


def test_progress_bar_runs(store, tmp_path, capsys):
    s = import_dossiers(store, write_csv(tmp_path / "d.csv", [row("A1")]), progress=True)
    assert s.inserted == 1
    err = capsys.readouterr().err
    assert "done" in err


# -- larger file ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_fifty_thousand_rows_counts(store, tmp_path):
    p = write_dossier_csv(tmp_path / "big.csv", 50_000, seed=7)
    # inject faults: 3 bad dates, 2 duplicates, 1 bad channel
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    for i in (10, 20_000, 49_999):
        parts = lines[i].split(",")
        parts[7] = "31/02/2024"
        lines[i] = ",".join(parts)
    lines.append(lines[5])
    lines.append(lines[6])
    parts = lines[100].split(",")
    parts[6] = "pigeon"
    lines[100] = ",".join(parts)
    p.write_text("".join(lines), encoding="utf-8")
    s = import_dossiers(store, p)
    assert (s.rows_read, s.inserted, s.quarantined) == (50_002, 49_996, 6)
    assert count(store, "dossiers") == 49_996
    assert q(store, "SELECT row_no FROM quarantine ORDER BY 1") == [(10,), (100,), (20_000,), (49_999,),
                                                                  (50_001,), (50_002,)]
    s2 = import_dossiers(store, p)
    assert (s2.inserted, s2.updated, s2.unchanged, s2.quarantine_added) == (0, 0, 49_996, 0)
    assert count(store, "quarantine") == 6


def test_iso_times_with_offsets_become_local_time(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [
        row("Z1", received_at="2024-03-04T01:30:00Z"),
        row("Z2", received_at="2024-03-04T08:30:00+07:00"),
        row("Z3", received_at="2024-03-04 02:30:00+08"),
        row("Z4", received_at="2024-03-04 08:30"),
        row("Z5", received_at="2024-03-04T08:30:00.250"),
    ])
    s = import_dossiers(store, p)
    assert s.inserted == 5, s.errors
    assert q(store, "SELECT dossier_code, received_at FROM dossiers ORDER BY 1") == [
        ("Z1", dt.datetime(2024, 3, 4, 8, 30)), ("Z2", dt.datetime(2024, 3, 4, 8, 30)),
        ("Z3", dt.datetime(2024, 3, 4, 1, 30)), ("Z4", dt.datetime(2024, 3, 4, 8, 30)),
        ("Z5", dt.datetime(2024, 3, 4, 8, 30, 0, 250000))]


# -- round trip of awkward text through every reader path --------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = st.text(alphabet=st.sampled_from(list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĐƠỳỹỷạảấầẩẫậ0123456789 ,;\"'\n\t|-/")),
                min_size=0, max_size=25).map(lambda s: s.strip(" \t\n"))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_TEXT, min_size=1, max_size=6),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
       delimiter=st.sampled_from([",", ";", "\t"]),
       title=st.booleans(),
       minutes=st.lists(st.integers(min_value=0, max_value=60 * 24 * 365 * 5), min_size=6, max_size=6))
def test_text_and_dates_round_trip(tmp_path, names, encoding, delimiter, title, minutes):
    base = dt.datetime(2021, 1, 1)
    rows = []
    for i, name in enumerate(names):
        t = base + dt.timedelta(minutes=minutes[i])
        received = t.strftime("%d/%m/%Y %H:%M") if i % 2 else t.strftime("%Y-%m-%dT%H:%M:%S")
        rows.append(row(f"R{i}", agency_name=name, procedure_name=name[::-1], received_at=received))
    p = write_csv(tmp_path / f"rt-{encoding}-{ord(delimiter)}.csv", rows, encoding=encoding, delimiter=delimiter,
                  before=[["Báo cáo, tháng 3", "", "x"]] if title else None)
    con = duckdb.connect()
    res = load_staging(con, p)
    assert res.errors == [] and res.valid_rows == len(names)
    got = con.execute(f"SELECT dossier_code, agency_name, procedure_name, received_at FROM {res.relation} "
                      "ORDER BY row_no").fetchall()
    want = [(f"R{i}", n or None, n[::-1] or None, base + dt.timedelta(minutes=minutes[i]))
            for i, n in enumerate(names)]
    assert got == want


def test_crlf_line_endings(store, tmp_path):
    src = write_csv(tmp_path / "lf.csv", [row("C1"), row("C2", agency_name="Sở Y tế")],
                    before=[["Danh sách hồ sơ"]])
    p = tmp_path / "crlf.csv"
    p.write_bytes(src.read_bytes().replace(b"\n", b"\r\n"))
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined) == (2, 0), s.errors
    assert q(store, "SELECT dossier_code, state FROM dossiers ORDER BY 1") == [("C1", "processing"),
                                                                             ("C2", "processing")]
    assert q(store, "SELECT name FROM agencies") == [("Sở Tư pháp",)]


def test_blank_padded_values_are_trimmed(store, tmp_path):
    p = write_csv(tmp_path / "d.csv", [row("  P1 ", agency_code=" STP", channel=" online ", state="processing  ",
                                           received_at=" 2024-03-04 08:00 ", time_limit=" 3 "),
                                       row("   ", agency_code="STP")])
    s = import_dossiers(store, p)
    assert (s.inserted, s.quarantined) == (1, 1)
    assert q(store, "SELECT dossier_code, agency_code, channel, state, received_at, time_limit FROM dossiers") == [
        ("P1", "STP", "online", "processing", dt.datetime(2024, 3, 4, 8), 3.0)]
    assert [(r, f) for r, f, _, _ in quarantine(store)] == [(2, "dossier_code")]


def test_headerless_file_message_does_not_echo_personal_values(store, tmp_path):
    p = tmp_path / "data-only.csv"
    p.write_text("HS1,0905123456,binh@example.vn,079203001234,Trực tuyến\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as e:
        import_dossiers(store, p)
    msg = str(e.value)
    assert "missing required column(s): dossier_code, agency_code, channel" in msg and str(p) in msg
    for v in ("0905123456", "binh@example.vn", "079203001234"):
        assert v not in msg
