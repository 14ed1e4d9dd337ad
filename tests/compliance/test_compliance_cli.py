"""`python app.py compliance ...` as a user runs it, with and without the store's owner running;
the XLSX export and the briefing section."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from python_calamine import CalamineWorkbook

from compliance import Period, briefing_section
from store.service import StoreService
from system import Motcua


def test_register_json_text_and_xlsx_on_an_empty_store(run_app, tmp_path):
    r = run_app("compliance", "--json", "--from", "01/11/2026", "--to", "2026-11-30")
    assert r.returncode == 0, r.stderr
    reg = json.loads(r.stdout)
    assert reg["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert len(reg["criteria"]) == 12 and {c["status"] for c in reg["criteria"]} == {"not_measured"}
    assert reg["history"]["intact"] is True
    r = run_app("compliance", "--lang", "en")
    assert r.returncode == 0 and "Not measured" in r.stdout and "IV.concurrent-users" in r.stdout
    r = run_app("compliance")
    assert "Chưa đo được" in r.stdout and "Đạt 0, không đạt 0, chưa đo được 12." in r.stdout
    r = run_app("compliance", "--from", "2026-12-01", "--to", "2026-11-01")
    assert r.returncode == 2 and "--from 2026-12-01 is after --to 2026-11-01" in r.stderr
    r = run_app("compliance", "--to", "31/02/2026")
    assert r.returncode == 2 and "not a real date" in r.stderr and "Traceback" not in r.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run_app("compliance", "--xlsx", str(blocker / "so.xlsx"))
    assert r.returncode == 2 and f"{blocker / 'so.xlsx'}: cannot write the workbook" in r.stderr


def test_requests_through_the_running_owner(app_cfg, run_app, tmp_path):
    """While the owner holds the store file, the command line's changes go through its API."""
    app = Motcua(app_cfg)
    service = StoreService(app, app_cfg.store.path, "127.0.0.1", 0)
    service.start()
    try:
        sheet = tmp_path / "yc.csv"
        sheet.write_text("Mã yêu cầu,Cơ quan,Ngày đề nghị,Nội dung,Tiêu chí\n"
                         "YC-01,Sở Tư pháp,05/07/2022,Khôi phục tra cứu QR,PROV.v1-features\n"
                         "YC-02,Sở Y tế,06/07/2022,Sai tiêu chí,KHONG-CO\n", encoding="utf-8")
        r = run_app("compliance", "import", str(sheet), "--by", "vp-ubnd")
        assert r.returncode == 1  # some rows were not imported
        assert "2 rows: 1 new, 0 updated, 0 unchanged, 1 not imported" in r.stdout
        assert f"{sheet}, row 3, Tiêu chí: criterion: no criterion 'KHONG-CO'" in r.stdout
        r = run_app("compliance", "resolve", "YC-01", "--by", "vnpt")
        assert r.returncode == 2 and "YC-01: cannot be marked resolved without evidence" in r.stderr
        doc = tmp_path / "bien-ban.pdf"
        doc.write_bytes(b"%PDF-1.4 minutes")
        r = run_app("compliance", "attach", "YC-01", "--file", str(doc), "--by", "vnpt")
        assert r.returncode == 2 and "--note" in r.stderr
        r = run_app("compliance", "attach", "YC-01", "--file", str(doc), "--note", "Biên bản nghiệm thu", "--by", "vnpt")
        assert r.returncode == 0, r.stderr
        r = run_app("compliance", "answer", "YC-01", "Đã khôi phục ở bản 2.0.3", "--by", "vnpt")
        assert r.returncode == 0, r.stderr
        r = run_app("compliance", "resolve", "YC-01", "--by", "vnpt", "--note", "đã kiểm tra")
        assert r.returncode == 0 and "YC-01: resolved" in r.stdout, r.stderr
        # the owner did the writes: its own connection sees them
        cur = app.query("compliance_requests", request_id="YC-01").one()
        assert cur["status"] == "resolved" and cur["updated_by"] == "vnpt"
        sha = hashlib.sha256(doc.read_bytes()).hexdigest()
        assert (app_cfg.store.path.parent / "compliance-files" / sha[:2] / sha).is_file()
        r = run_app("compliance", "history", "YC-01")
        lines = r.stdout.splitlines()
        assert [ln.split()[5] for ln in lines] == ["imported", "evidence_added", "answered", "resolved"]
        assert "vp-ubnd (import)" in lines[0] and "vnpt (cli)" in lines[3] and "— đã kiểm tra" in lines[3]
        r = run_app("compliance", "requests", "--json")
        rows = json.loads(r.stdout)
        assert rows[0]["evidence"][0]["holds"] is True and rows[0]["status_label"] == "Đã khắc phục"
        out = tmp_path / "so-dang-ky.xlsx"
        r = run_app("compliance", "--xlsx", str(out))
        assert r.returncode == 0, r.stderr
        wb = CalamineWorkbook.from_path(str(out))
        assert wb.sheet_names == ["Tiêu chí", "Yêu cầu", "Lịch sử"]
        crit = wb.get_sheet_by_name("Tiêu chí").to_python()
        assert crit[4][:3] == ["Mã", "Phụ lục", "Nhóm chức năng"] and len(crit) == 5 + 12
        req = wb.get_sheet_by_name("Yêu cầu").to_python()
        row = next(x for x in req if x[0] == "YC-01")
        assert row[2] == dt.date(2022, 7, 5) and row[6] == "Đã khắc phục" and "bien-ban.pdf" in row[8] and row[9] == "Có"
        hist = wb.get_sheet_by_name("Lịch sử").to_python()
        assert [x[6] for x in hist[3:]] == ["nhập từ bảng tính", "thêm minh chứng", "nhà cung cấp trả lời", "đã khắc phục"]
    finally:
        service.stop()
        app.close()


def test_briefing_section(app_cfg, tmp_path):
    app = Motcua(app_cfg)
    try:
        app.compliance("add_request", actor="lan", via="cli", agency="Sở Tư pháp", requested_on="2022-07-05",
                       description="Khôi phục tra cứu QR", request_id="YC-01")
        app.compliance("judge_criterion", actor="stttt", via="cli", criterion="III.access-logs", status="not_met",
                       note="chưa có nhật ký")
        period = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
        s = briefing_section(app, period)
        assert s["title"].startswith("Đánh giá theo Thông tư 22/2019/TT-BTTTT")
        assert s["paragraphs"][0] == "Trong kỳ 01/11/2026 – 30/11/2026, trên 12 tiêu chí: 0 đạt, 0 không đạt, 12 chưa đo được."
        assert s["paragraphs"][1] == "Kiến nghị của các cơ quan: 1, trong đó 0 đã khắc phục có minh chứng, 1 chưa hoàn thành."
        assert s["table"]["columns"] == ["Tiêu chí", "Căn cứ", "Trạng thái", "Từ", "Số liệu"] and len(s["table"]["rows"]) == 12
        # judged after the period's end: not part of November's briefing; part of a period that includes today
        today = Period.parse()
        s = briefing_section(app, today, lang="en")
        assert "1 not met" in s["paragraphs"][0] and s["paragraphs"][2].startswith("Not met: The portal keeps access logs")
    finally:
        app.close()


def test_check_config_names_criteria_that_point_at_missing_checks(run_app, app_env, tmp_path):
    bad = tmp_path / "crit.yaml"
    bad.write_text("criteria:\n  - {id: X.1, annex: IV, group: g, title: t, title_en: t, legal_ref: r, "
                   "judged_by: automatic, evidence: [{source: probe_check, checks: [no-such-check]}]}\n", encoding="utf-8")
    env = dict(app_env, MOTCUA_COMPLIANCE__CRITERIA=str(bad))
    r = run_app("check-config", env=env)
    assert r.returncode == 2 and "no check or journey step 'no-such-check'" in r.stderr
    r = run_app("compliance", env=env)
    assert r.returncode == 0 and "X.1" in r.stdout
