"""Agencies' requests: import from CSV/XLSX with per-row errors and no duplicates on re-import,
entry and changes with their history, evidence files kept by SHA-256, the resolve rule, and
person-judged criteria."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from openpyxl import Workbook

from compliance import Period, register_rows, request_rows
from compliance.actions import ComplianceRefused, content_key, files_dir
from system import Motcua

CSV = """BÁO CÁO TỔNG HỢP KIẾN NGHỊ CỦA CÁC CƠ QUAN, ĐƠN VỊ;;;;;;
Mã yêu cầu;Cơ quan;Ngày đề nghị;Nội dung kiến nghị;Tiêu chí;Kiểm tra;Trạng thái;Số điện thoại người dân
YC-01;Sở Tư pháp;05/07/2022;Khôi phục tra cứu hồ sơ theo mã QR;PROV.v1-features;feature-qr-lookup;Mới tiếp nhận;0905123456
YC-02;UBND huyện Sơn Tịnh;2022-07-06;Tài khoản 1.0 không đăng nhập được;PROV.v1-accounts;citizen-v1-login;Đang xử lý;
;Sở Y tế;07/07/2022;Hồ sơ đúng hạn bị hiển thị quá hạn;I.status-each-step;;;
YC-04;Sở Xây dựng;31/02/2022;Ngày sai;;;;0905999888
YC-05;;08/07/2022;Thiếu cơ quan;;;Mới;
YC-06;Sở Nội vụ;09/07/2022;Trạng thái lạ;;;Đang chờ xem xét;
YC-07;Sở Công Thương;10/07/2022;Tiêu chí không có;IV.khong-co;;;
YC-08;Sở Tài chính;11/07/2022;Báo đã khắc phục nhưng chưa có minh chứng;;;Đã khắc phục;
;;;;;;;
"""


def imp(app, path):
    return app.compliance("import_requests", actor="vp-ubnd", via="import", path=str(path))


def test_csv_import_reports_each_bad_row_and_re_import_adds_nothing(app, tmp_path):
    f = tmp_path / "kien-nghi.csv"
    f.write_text(CSV, encoding="utf-8-sig")
    res = imp(app, f)
    assert (res["rows"], res["created"], res["updated"], res["unchanged"], res["rejected"]) == (8, 3, 0, 0, 5)
    errs = "\n".join(res["errors"])
    assert f"{f}, row 6, Ngày đề nghị: expected a date DD/MM/YYYY" in errs
    assert f"{f}, row 7, Cơ quan: required, but empty" in errs
    assert f"{f}, row 8, Trạng thái: unknown status" in errs
    assert f"{f}, row 9, Tiêu chí: criterion: no criterion 'IV.khong-co'" in errs
    assert f"{f}, row 10, Trạng thái: status: a new request cannot be marked resolved without evidence" in errs
    reqs = {r["request_id"]: r for r in app.query("compliance_requests")}
    key = content_key("Sở Y tế", dt.date(2022, 7, 7), "Hồ sơ đúng hạn bị hiển thị quá hạn")
    assert set(reqs) == {"YC-01", "YC-02", key}
    assert reqs["YC-02"]["status"] == "in_progress" and reqs["YC-02"]["check_name"] == "citizen-v1-login"
    assert reqs["YC-01"]["requested_on"] == dt.date(2022, 7, 5) and reqs["YC-01"]["created_by"] == "vp-ubnd"
    # bad rows are kept, with the row as read
    rej = app.query("compliance_import_rejects").to_dicts()
    assert sorted({r["row_no"] for r in rej}) == [6, 7, 8, 9, 10]
    assert any(r["row_no"] == 6 and json.loads(r["raw"])["Nội dung kiến nghị"] == "Ngày sai" for r in rej)
    # a citizen's phone number in the sheet reaches neither the store nor the result
    assert res["personal_columns_dropped"] == ["Số điện thoại người dân"]
    assert not any("0905999888" in (r["raw"] or "") for r in rej)
    assert not any("0905123456" in (e["data"] or "") for e in app.query("compliance_history", limit=100_000))
    # the same file again: nothing new, nothing duplicated
    n_events = len(app.query("compliance_history", limit=100_000))
    res2 = imp(app, f)
    assert (res2["created"], res2["updated"], res2["unchanged"]) == (0, 0, 3)
    assert len(app.query("compliance_history", limit=100_000)) == n_events
    assert len(app.query("compliance_import_rejects")) == len(rej)
    # a corrected file: fixed rows come in, a changed row becomes one event with what changed
    fixed = CSV.replace("31/02/2022", "28/02/2022").replace("Đang xử lý", "Đã trả lời") \
               .replace(";Đang chờ xem xét", ";Đang xử lý")
    f2 = tmp_path / "kien-nghi-sua.csv"
    f2.write_text(fixed, encoding="utf-8")
    res3 = imp(app, f2)
    assert (res3["created"], res3["updated"], res3["unchanged"]) == (2, 1, 2)
    last = app.query("compliance_history", item_id="YC-02").to_dicts()[-1]
    assert last["action"] == "imported" and last["data"] == '{"status":"answered"}' and last["via"] == "import"


def test_xlsx_import_with_date_cells_and_an_old_sheet_never_moves_a_request_back(app, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Danh sách kiến nghị"])
    ws.append(["Mã yêu cầu", "Đơn vị", "Ngày yêu cầu", "Nội dung", "Trạng thái", "Trả lời của nhà cung cấp"])
    ws.append(["YC-10", "Sở Tư pháp", dt.date(2022, 7, 5), "Khôi phục thanh toán trực tuyến", "Mới", None])
    ws.append(["YC-11", "Sở Y tế", dt.datetime(2022, 7, 6, 9, 30), "Khôi phục đánh giá hài lòng", "Đang xử lý", None])
    ws.append(["YC-12", "Sở Y tế", "không rõ", "Ngày sai", "Mới", None])
    path = tmp_path / "kien-nghi.xlsx"
    wb.save(path)
    res = imp(app, path)
    assert (res["created"], res["rejected"]) == (2, 1)
    assert res["errors"] == [f"{path}, row 5, Ngày yêu cầu: expected a date DD/MM/YYYY"]
    reqs = {r["request_id"]: r for r in app.query("compliance_requests")}
    assert reqs["YC-11"]["requested_on"] == dt.date(2022, 7, 6)
    app.compliance("answer_request", actor="vnpt", via="cli", request_id="YC-10", answer="Đã khôi phục ở bản 2.0.3")
    res = imp(app, path)  # the old sheet still says "Mới": the answered request stays answered
    assert res["updated"] == 0
    assert app.query("compliance_requests", request_id="YC-10").one()["status"] == "answered"


def test_whole_file_problems_are_one_plain_message(app, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ComplianceRefused, match=r"x.csv: no header row with the columns for the agency"):
        imp(app, f)
    f.write_bytes("Cơ quan,Ngày,Nội dung\n".encode("cp1258", errors="replace") + b"\xff\xfe\x00bad\n")
    with pytest.raises(ComplianceRefused, match=r"not UTF-8 text \(line 1\)"):
        imp(app, f)
    with pytest.raises(ComplianceRefused, match="file not found"):
        imp(app, tmp_path / "missing.csv")
    f.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ComplianceRefused, match="cannot read the workbook"):
        imp(app, f)


def test_entered_requests_changes_and_their_history(app):
    r = app.compliance("add_request", actor="lan", via="cli", agency="Sở Tư pháp", requested_on="05/07/2022",
                       description="Khôi phục tra cứu QR", criterion="PROV.v1-features")
    rid = r["request_id"]
    assert rid == content_key("Sở Tư pháp", dt.date(2022, 7, 5), "Khôi phục tra cứu QR")
    with pytest.raises(ComplianceRefused, match="already in the register .same agency, date and description"):
        app.compliance("add_request", actor="lan", via="cli", agency="SỞ TƯ PHÁP", requested_on="2022-07-05",
                       description="khôi phục  tra cứu QR")
    for bad, msg in (({"requested_on": "2099-01-01"}, "in the future"), ({"requested_on": "hôm qua"}, "expected a date"),
                     ({"description": " "}, "description: required"), ({"check": "no-such"}, "no check 'no-such'"),
                     ({"request_id": "YC 1"}, "may hold letters")):
        kw = dict(agency="Sở Y tế", requested_on="2022-07-05", description="x") | bad
        with pytest.raises(ComplianceRefused, match=msg):
            app.compliance("add_request", actor="lan", via="cli", **kw)
    assert app.compliance("update_request", actor="lan", via="cli", request_id=rid, criterion="PROV.v1-features") \
        == {"request_id": rid, "changed": False}
    app.compliance("update_request", actor="lan", via="cli", request_id=rid, criterion="", status="in_progress",
                   note="gỡ liên kết")
    app.compliance("answer_request", actor="vnpt", via="cli", request_id=rid, answer="Đã khôi phục")
    cur = app.query("compliance_requests", request_id=rid).one()
    assert (cur["criterion"], cur["status"], cur["vendor_answer"], cur["updated_by"], cur["changes"]) == \
        (None, "answered", "Đã khôi phục", "vnpt", 3)
    with pytest.raises(ComplianceRefused, match="YC-NONE: no such request"):
        app.compliance("answer_request", actor="vnpt", via="cli", request_id="YC-NONE", answer="?")


def test_file_evidence_is_kept_by_sha256_and_allows_resolving(app, tmp_path):
    rid = app.compliance("add_request", actor="lan", via="cli", agency="Sở Tư pháp", requested_on="2022-07-05",
                         description="Khôi phục tra cứu QR", request_id="YC-01")["request_id"]
    with pytest.raises(ComplianceRefused, match="note: required"):
        app.compliance("attach_file", actor="vnpt", via="cli", request_id=rid, path=str(tmp_path), note="")
    doc = tmp_path / "bien-ban.pdf"
    doc.write_bytes(b"%PDF-1.4 bien ban nghiem thu")
    sha = hashlib.sha256(doc.read_bytes()).hexdigest()
    res = app.compliance("attach_file", actor="vnpt", via="cli", request_id=rid, path=str(doc),
                         note="Biên bản nghiệm thu bản vá 2.0.3")
    assert res["sha256"] == sha
    kept = files_dir(app) / sha[:2] / sha
    assert kept.read_bytes() == doc.read_bytes() and str(kept).startswith(str(app.cfg.store.path.parent))
    # the same bytes uploaded again (as the dashboard would send them) are stored once
    app.compliance("attach_file", actor="vnpt", via="dashboard", request_id=rid, file_name="copy.pdf",
                   content_b64=base64.b64encode(doc.read_bytes()).decode(), note="bản sao")
    assert len(app.query("compliance_files")) == 1
    assert app.query("compliance_files").one()["file_name"] == "bien-ban.pdf"
    res = app.compliance("resolve_request", actor="vnpt", via="cli", request_id=rid)
    assert res["changed"]
    r = request_rows(app)[0]
    assert r["status"] == "resolved" and r["evidence_holds"] and len(r["evidence"]) == 2
    assert r["evidence"][0]["detail"].startswith("Tệp bien-ban.pdf")


def test_person_judged_criteria(app, tmp_path):
    period = Period.parse()
    with pytest.raises(ComplianceRefused, match="judged automatically from its evidence"):
        app.compliance("judge_criterion", actor="stttt", via="cli", criterion="IV.uptime", status="met", note="x")
    with pytest.raises(ComplianceRefused, match="needs its evidence: a note"):
        app.compliance("judge_criterion", actor="stttt", via="cli", criterion="III.access-logs", status="met")
    row = next(r for r in register_rows(app, period) if r["id"] == "III.access-logs")
    assert row["status"] == "not_measured" and "Chờ người có thẩm quyền đánh giá" in row["evidence"]
    app.compliance("judge_criterion", actor="stttt", via="cli", criterion="III.access-logs", status="not_met",
                   note="Nhà cung cấp chưa cung cấp nhật ký")
    log = tmp_path / "nhat-ky.txt"
    log.write_text("2022-08-01 ... access log extract", encoding="utf-8")
    app.compliance("judge_criterion", actor="stttt", via="cli", criterion="III.access-logs", status="met",
                   note="Đã nhận trích xuất nhật ký ngày 01/08", path=str(log))
    row = next(r for r in register_rows(app, period) if r["id"] == "III.access-logs")
    assert row["status"] == "met" and "stttt" in row["evidence"] and "[nhat-ky.txt]" in row["evidence"]
    j = app.query("compliance_judgements", criterion="III.access-logs").one()
    assert j["judgements"] == 2 and j["status"] == "met" and row["since"] == j["at"]


def test_a_requests_workbook_is_read_within_the_configured_memory_limit(app_env, tmp_path, monkeypatch):
    """`compliance import` reads a workbook in the guarded child with the limit the dossier import
    has (imports.reader_memory_mb), not the reader's default."""
    import compliance.spreadsheet as sp

    seen = []
    real = sp.run_isolated

    def spy(*args, **kwargs):  # the real child process runs; only its limits are noted
        seen.append(kwargs["limits"].memory_mb)
        return real(*args, **kwargs)

    monkeypatch.setattr(sp, "run_isolated", spy)
    wb = Workbook()
    wb.active.append(["Mã yêu cầu", "Đơn vị", "Ngày yêu cầu", "Nội dung", "Trạng thái"])
    wb.active.append(["YC-20", "Sở Tư pháp", dt.date(2022, 7, 5), "Khôi phục thanh toán trực tuyến", "Mới"])
    path = tmp_path / "kien-nghi.xlsx"
    wb.save(path)
    from config.app import load_config

    app = Motcua(load_config(environ={**app_env, "MOTCUA_IMPORTS__READER_MEMORY_MB": "1024"}))
    try:
        assert imp(app, path)["created"] == 1
    finally:
        app.close()
    assert seen == [1024]
