"""The compliance page ("Tuân thủ") under Streamlit's AppTest on a real DuckDB store (the demo
province, real probe results against the testbed, requests entered through the register's own
actions): the figures shown equal compliance.register's, leadership reads, ict and admin change
the register through forms (add, answer, attach a file, link a check, resolve), a resolve without
evidence is refused with a clear message, and nothing on the page can rewrite the history."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from compliance import Period, register
from compliance.actions import ComplianceRefused
from config.app import load_config
from dashboard.access import COMPLIANCE_ACTIONS, AccessDenied, ScopedOps
from dashboard.backend import Backend
from dashboard.i18n import in_text
from dashboard.users import User
from system import Motcua
from testbed.portal.server import running
from tests.dashboard.apptest import END, add_users, env_for, login, metric, open_page, table

PAGE = "pages/compliance.py"


@pytest.fixture(scope="module")
def cp_world(tmp_path_factory):
    from probes.runner import run_once

    tmp = tmp_path_factory.mktemp("cpdash")
    env = env_for(tmp, tmp / "data" / "motcua.duckdb")
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    app.demo_data(months=2, per_month=300, end=END)
    with running("v2.0", port=0) as base:
        run_once(cfg.monitor.probes, store=app.store, base_url=base)
    app.compliance("add_request", actor="vp-ubnd", agency="Sở Tư pháp", requested_on="2026-11-05",
                   description="Khôi phục tra cứu hồ sơ theo mã", request_id="YC-01", check="home")
    app.compliance("add_request", actor="vp-ubnd", agency="UBND xã Tịnh Khê", requested_on="2026-11-06",
                   description="Tài khoản 1.0 không đăng nhập được", request_id="YC-02", criterion="PROV.v1-accounts")
    app.compliance("answer_request", actor="vendor-pm", request_id="YC-01", answer="Đã khôi phục ở bản 2.0.3")
    app.compliance("judge_criterion", actor="so-tttt", criterion="III.access-logs", status="met",
                   note="Đã kiểm tra nhật ký truy cập tháng 11")
    app.close()
    add_users(tmp / "users.json")
    return {"tmp": tmp, "env": env, "cfg": cfg}


def _use(env: dict, monkeypatch) -> None:
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def cp_env(cp_world, monkeypatch):
    _use(cp_world["env"], monkeypatch)
    return cp_world


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A store of its own (the write tests change it): probe results and one request."""
    from probes.runner import run_once

    env = env_for(tmp_path, tmp_path / "data" / "w.duckdb")
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    with running("v1.0", port=0) as base:
        run_once(cfg.monitor.probes, store=app.store, base_url=base)
    app.compliance("add_request", actor="vp-ubnd", agency="Sở Tư pháp", requested_on="2026-11-05",
                   description="Trang chủ chậm", request_id="YC-09")
    app.close()
    add_users(tmp_path / "users.json")
    _use(env, monkeypatch)
    return {"cfg": cfg}


def _register(cfg, days: int = 30):
    from config.clock import local_today

    end = local_today()
    ops = Backend(cfg)
    return register(ScopedOps(ops, User("t", "admin"), lambda c: {c}), Period(end - dt.timedelta(days=days - 1), end))


def _history(cfg) -> list[dict]:
    return Backend(cfg).query("compliance_history", limit=100_000).to_dicts()


@pytest.mark.parametrize("role", ["leadership", "ict", "admin", "vendor", "agency"])
def test_the_page_for_every_role(cp_env, role):
    at = login(role)
    if role in ("vendor", "agency"):
        with pytest.raises(ValueError):
            at.switch_page(PAGE)
        return
    open_page(at, "compliance")
    assert at.title[0].value == "Sổ theo dõi tuân thủ Thông tư 22/2019/TT-BTTTT"
    assert any(d.proto.label == "Tải sổ tuân thủ (XLSX)" for d in at.get("download_button"))
    submits = {b.key for b in at.button if b.key}
    if role == "leadership":
        assert not {k for k in submits if k.startswith("cp_")}, "leadership reads only"
        assert any("Chỉ cán bộ CNTT" in c.value for c in at.caption)
    else:
        assert {"cp_add_submit", "cp_answer_submit", "cp_file_submit", "cp_check_submit", "cp_resolve_submit"} <= submits


def test_figures_equal_the_register(cp_env):
    at = open_page(login("leadership"), "compliance")
    reg = _register(cp_env["cfg"])
    s = reg["summary"]["criteria"]
    assert (metric(at, "Tiêu chí đạt"), metric(at, "Tiêu chí không đạt"), metric(at, "Chưa đo được")) == \
        (str(s["met"]), str(s["not_met"]), str(s["not_measured"]))
    assert s["met"] + s["not_met"] > 0, "probes and dossiers give verdicts"
    shown = table(at, "Căn cứ")
    assert list(shown["Mã"]) == [r["id"] for r in reg["criteria"]]
    assert list(shown["Trạng thái"]) == [r["status_label"] for r in reg["criteria"]]
    assert list(shown["Căn cứ"]) == [r["legal_ref"] for r in reg["criteria"]]
    # the probes' reasons quoted in the evidence read in Vietnamese
    assert list(shown["Số liệu, minh chứng"]) == [in_text(r["evidence"]) for r in reg["criteria"]]
    assert not any("expected status" in v for v in shown["Số liệu, minh chứng"])
    reqs = table(at, "Trả lời của nhà cung cấp")
    assert list(reqs["Mã"]) == ["YC-01", "YC-02"]
    assert list(reqs["Trả lời của nhà cung cấp"]) == ["Đã khôi phục ở bản 2.0.3", "–"]  # nothing: a dash, never "None"
    assert list(reqs["Trạng thái"]) == [r["status_label"] for r in reg["requests"]]
    # the per-item history: every event of the request, oldest first
    at.selectbox(key="cp_request").set_value("YC-01").run()
    hist = table(at, "Người thực hiện")
    assert list(hist["#"]) == [e["event_id"] for e in _history(cp_env["cfg"]) if e["item_id"] == "YC-01"]
    assert list(hist["Người thực hiện"]) == ["vp-ubnd", "vendor-pm"]
    assert "Cơ quan: Sở Tư pháp" in hist["Nội dung thay đổi"][0] and "Trạng thái: Mới tiếp nhận" in hist["Nội dung thay đổi"][0]
    assert "Trả lời của nhà cung cấp: Đã khôi phục ở bản 2.0.3" in hist["Nội dung thay đổi"][1]
    # a person-judged criterion: its judgement and its history
    at.selectbox(key="cp_criterion").set_value("III.access-logs").run()
    chist = table(at, "Nội dung thay đổi")
    assert list(chist["Người thực hiện"]) == ["so-tttt"] and list(chist["Thao tác"]) == ["đánh giá"]
    assert "Đã kiểm tra nhật ký truy cập tháng 11" in " ".join(chist["Nội dung thay đổi"]) + " ".join(chist["Ghi chú"])
    assert any("Đạt" in s.value for s in at.success) and "Trạng thái: Đạt" in chist["Nội dung thay đổi"][0]
    # another period: the figures follow the register for that period
    from config.clock import local_today

    at.date_input(key="cp_from").set_value(local_today()).run()
    assert not at.exception
    short = _register(cp_env["cfg"], days=1)["summary"]["criteria"]
    assert metric(at, "Tiêu chí đạt") == str(short["met"])


def test_english_switch(cp_env):
    at = open_page(login("admin", lang="en"), "compliance")
    assert at.title[0].value == "Compliance register (Thông tư 22/2019/TT-BTTTT)"
    assert "Legal reference" in table(at, "Legal reference").columns


def test_forms_append_to_the_history_and_resolve_needs_evidence(fresh):
    cfg = fresh["cfg"]
    at = open_page(login("ict"), "compliance")
    before = _history(cfg)
    # resolving without evidence is refused, plainly, and changes nothing
    at.selectbox(key="cp_resolve_id").set_value("YC-09")
    at.button(key="cp_resolve_submit").click().run()
    assert any("Không thể đánh dấu đã khắc phục khi chưa có minh chứng" in e.value for e in at.error)
    assert _history(cfg) == before
    # add a request
    at.text_input(key="cp_add_agency").input("Sở Y tế")
    at.text_area(key="cp_add_description").input("Hồ sơ đúng hạn bị hiển thị quá hạn")
    at.text_input(key="cp_add_id").input("YC-10")
    at.button(key="cp_add_submit").click().run()
    assert not at.exception
    assert any("Đã thêm kiến nghị YC-10" in s.value for s in at.success)
    req = Backend(cfg).query("compliance_requests", request_id="YC-10").one()
    assert req["agency"] == "Sở Y tế" and req["created_by"] == "u-ict"
    # the vendor's answer
    at.selectbox(key="cp_answer_id").set_value("YC-09")
    at.text_area(key="cp_answer_text").input("Đã tối ưu truy vấn trang chủ")
    at.button(key="cp_answer_submit").click().run()
    assert Backend(cfg).query("compliance_requests", request_id="YC-09").one()["vendor_answer"] == \
        "Đã tối ưu truy vấn trang chủ"
    # link a check that has passed since today (the v1.0 testbed's home page answers)
    at.selectbox(key="cp_check_id").set_value("YC-09")
    at.radio(key="cp_check_kind").set_value("check")
    at.selectbox(key="cp_check_name").set_value("home")
    at.button(key="cp_check_submit").click().run()
    ev = Backend(cfg).query("compliance_evidence", request_id="YC-09").to_dicts()
    assert [(e["kind"], e["check_name"], e["actor"]) for e in ev] == [("check", "home", "u-ict")]
    # attach a file with a note (the uploader: its bytes reach the register as content_b64)
    at.selectbox(key="cp_file_id").set_value("YC-10")
    at.file_uploader(key="cp_file_upload").set_value(("bien-ban.pdf", b"%PDF-1.4 bien ban nghiem thu", "application/pdf"))
    at.text_input(key="cp_file_note").input("Biên bản nghiệm thu ngày 20/11")
    at.button(key="cp_file_submit").click().run()
    assert not at.exception
    ev = Backend(cfg).query("compliance_evidence", request_id="YC-10").one()
    assert ev["kind"] == "file" and ev["file_name"] == "bien-ban.pdf" and ev["note"] == "Biên bản nghiệm thu ngày 20/11"
    import hashlib

    assert ev["sha256"] == hashlib.sha256(b"%PDF-1.4 bien ban nghiem thu").hexdigest()
    # now the file is evidence: resolve
    at.selectbox(key="cp_resolve_id").set_value("YC-10")
    at.button(key="cp_resolve_submit").click().run()
    assert any("Đã đánh dấu YC-10 là đã khắc phục" in s.value for s in at.success)
    assert Backend(cfg).query("compliance_requests", request_id="YC-10").one()["status"] == "resolved"
    # every change was appended, in the account's name, through the dashboard; the earlier events are untouched
    after = _history(cfg)
    assert after[: len(before)] == before
    new = after[len(before):]
    assert [e["action"] for e in new] == ["created", "answered", "evidence_added", "evidence_added", "resolved"]
    assert {(e["actor"], e["via"]) for e in new} == {("u-ict", "dashboard")}
    assert Backend(cfg).query("compliance_history_verify").one()["intact"]
    shown = table(at, "Minh chứng còn đúng")
    assert dict(zip(shown["Mã"], shown["Minh chứng còn đúng"])) == {"YC-09": True, "YC-10": True}


def test_the_page_cannot_rewrite_history(fresh):
    cfg = fresh["cfg"]
    at = open_page(login("admin"), "compliance")
    labels = " ".join(b.label for b in at.button).lower()
    assert not any(w in labels for w in ("sửa", "xoá", "xóa", "edit", "delete", "remove")), labels
    before = _history(cfg)
    b = Backend(cfg)
    admin = ScopedOps(b, User("u-admin", "admin"), lambda c: {c})
    # only appending actions are offered; the actor is the signed-in account, never a parameter
    assert COMPLIANCE_ACTIONS == {"add_request", "answer_request", "attach_check", "attach_file", "resolve_request"}
    for action in ("update_request", "judge_criterion", "import_requests", "delete_event", "edit_event"):
        with pytest.raises(AccessDenied):
            admin.compliance(action, request_id="YC-09")
    with pytest.raises(AccessDenied):
        admin.compliance("answer_request", request_id="YC-09", answer="x", actor="someone-else")
    # an event's time or id cannot be given (no back-dating, no overwriting)
    for extra in ({"at": "2020-01-01 00:00"}, {"event_id": 1}):
        with pytest.raises(ComplianceRefused, match="history cannot be back-dated or rewritten"):
            admin.compliance("answer_request", request_id="YC-09", answer="x", **extra)
    # leadership reads only, even through the ops call
    with pytest.raises(AccessDenied):
        ScopedOps(b, User("u-leadership", "leadership"), lambda c: {c}).compliance(
            "answer_request", request_id="YC-09", answer="x")
    assert _history(cfg) == before
