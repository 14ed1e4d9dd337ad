"""The engine's findings in the vendor's facts, in the audit: audit_by_agency's count per finding
(per agency and month, both from the recompute's precomputed counts and from the dossiers),
audit_findings' list, the agency scope, the Cơ quan page, the monthly briefing and the import
summary. A real store file, recomputed by the real SLA engine.

Every dossier is received on Monday 2 March 2026 09:00 with 2 working days: due Wednesday 4 March
(no holiday in March 2026), late from Thursday 5 March 00:00.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import pytest
import yaml
from docx import Document
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from config.app import AppConfig
from config.cells import csv_cell, csv_frame
from config.mapping import DOSSIER_COLUMNS
from config.reference import ReferenceData
from config.ruleset import RuleSet
from dashboard.access import AccessDenied, ScopedOps
from dashboard.users import User, UserFile
from imports.dossiers import import_dossiers
from reports.briefing.collect import collect
from reports.files import build_all
from reports.render_xlsx import render_xlsx
from sla_rules.engine import SlaEngine
from store.sla import recompute
from store.db import Store
import store.queries as sq
from store.errors import QueryError
from store.queries import AUDIT_FINDINGS
from store.reference import load_reference

T = dt.datetime
MON = T(2026, 3, 2, 9)
AS_OF = T(2026, 4, 30, 12)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-1"

REFERENCE = ReferenceData.model_validate({
    "agencies": [
        {"code": "P", "name": "UBND tỉnh Quảng Ngãi", "level": "province"},
        {"code": "S1", "name": "Sở Tư pháp", "level": "department", "parent": "P"},
        {"code": "S1A", "name": "Trung tâm Trợ giúp pháp lý", "level": "unit", "parent": "S1"},
        {"code": "X1", "name": "UBND xã Bình Hiệp", "level": "commune", "parent": "P"},
    ],
    "procedures": [{"code": "PR-A", "name": "Đăng ký khai sinh", "field": "Hộ tịch", "time_limit": 2,
                    "time_unit": "working_days"}],
})
# code: (agency, received, supplement requested, supplement received, finished_at, state)
DOSSIERS = {
    "F-LATE-REQ": ("S1", MON, T(2026, 3, 5, 10), None, T(2026, 3, 6, 10), "finished"),    # request after the deadline
    "F-ORPHAN": ("S1A", MON, None, T(2026, 3, 3, 10), T(2026, 3, 4, 10), "finished"),     # a receipt, no request
    "F-AFTER": ("X1", MON, T(2026, 3, 4, 9), None, T(2026, 3, 3, 15), "finished"),        # request after the result
    "F-INCONS": ("X1", MON, None, None, T(2026, 3, 4, 10), "processing"),                # processing, with a result
    "F-NEG": ("S1", MON, None, None, T(2026, 3, 6, 10), "rejected"),                     # refused after the deadline
    "OK-NEG": ("S1", MON, None, None, T(2026, 3, 3, 10), "rejected"),                    # refused in time: no finding
    "OK-S1": ("S1", MON, None, None, T(2026, 3, 3, 10), "finished"),
    "OK-X1": ("X1", MON, None, None, T(2026, 3, 4, 10), "finished"),
    # April: received Monday 13, due Wednesday 15, a request on Thursday 16
    "F-APR": ("X1", T(2026, 4, 13, 9), T(2026, 4, 16, 10), None, T(2026, 4, 17, 10), "finished"),
}
FINDING_OF = {"F-LATE-REQ": "late_request", "F-ORPHAN": "orphan_receipt", "F-AFTER": "after_result",
              "F-INCONS": "inconsistent_state", "F-NEG": "negative_after_deadline", "F-APR": "late_request"}
NONE = dict.fromkeys(AUDIT_FINDINGS, 0)
# audit_by_agency's finding columns per month and agency (own dossiers)
EXPECTED = {
    "2026-03": {"S1": NONE | {"late_request": 1, "negative_after_deadline": 1, "findings": 2},
                "S1A": NONE | {"orphan_receipt": 1, "findings": 1},
                "X1": NONE | {"after_result": 1, "inconsistent_state": 1, "findings": 2}},
    "2026-04": {"X1": NONE | {"late_request": 1, "findings": 1}},
}
COLUMNS = [*AUDIT_FINDINGS, "findings", "negative_counted_overdue"]


def _engine(negative: str | None = None) -> SlaEngine:
    cfg = AppConfig()
    engine = SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)
    if negative is None:
        return engine
    data = engine.ruleset.model_dump(mode="json")
    for v in data["versions"]:
        v["settings"]["negative_after_deadline"] = negative
    return SlaEngine(RuleSet.model_validate(data), engine.calendar)


def _build(path: Path, engine: SlaEngine) -> Path:
    with Store(path) as s:
        load_reference(s, REFERENCE)
        with s.transaction() as c:
            c.executemany(
                "INSERT INTO dossiers (dossier_code, agency_code, procedure_code, channel, received_at, time_limit, "
                "time_unit, supplement_requested_at, supplement_received_at, finished_at, state, reported_status) "
                "VALUES (?, ?, 'PR-A', 'online', ?, 2, 'working_days', ?, ?, ?, ?, 'Đúng hạn')",
                [(code, *row) for code, row in DOSSIERS.items()])
        recompute(s, engine, AS_OF)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("findings") / "motcua.duckdb", _engine())


@pytest.fixture
def store(world):
    with Store(world) as s:
        yield s


def _findings(row: dict) -> dict:
    return {c: row[c] for c in COLUMNS if c != "negative_counted_overdue"}


def _by_agency(t) -> dict:
    return {r["agency_code"]: _findings(r) for r in t if r["row_kind"] == "agency" and r["findings"]}


# -- the store -------------------------------------------------------------------------------------

def test_the_engine_flags_each_dossier_as_the_scenario_says(store):
    found = {r["dossier_code"]: r["findings"] for r in store.query("audit_findings", limit=100)}
    assert found == {code: [name] for code, name in FINDING_OF.items()}


@pytest.mark.parametrize("month", ["2026-03", "2026-04"])
def test_audit_counts_each_finding_per_agency_and_month(store, month):
    t = store.query("audit_by_agency", month=month)
    assert _by_agency(t) == EXPECTED[month]
    total = next(r for r in t if r["row_kind"] == "total")
    for c in [*AUDIT_FINDINGS, "findings"]:
        assert total[c] == sum(row[c] for row in EXPECTED[month].values()), c
    assert total["negative_counted_overdue"] == 0     # the default rule set leaves them out of the ratios
    # the vendor comparison still counts the audited dossiers only: refusals are not among them
    assert total["dossiers"] == sum(1 for code, row in DOSSIERS.items()
                                    if row[-1] != "rejected" and row[4].strftime("%Y-%m") == month)


def test_all_months_add_up(store):
    t = store.query("audit_by_agency")
    assert _by_agency(t)["X1"] == NONE | {"late_request": 1, "after_result": 1, "inconsistent_state": 1,
                                          "findings": 3}


def test_precomputed_counts_and_counting_from_the_dossiers_agree(store, monkeypatch):
    cur = store.cursor()
    assert cur.execute("SELECT count(*) FROM agency_month_findings").fetchone()[0] == 4   # (month, agency) pairs
    assert sq._dashboard_counts_valid(cur)
    calls = [dict(month=m, agency=a) for m in (None, "2026-03", "2026-04", "2026-05") for a in (None, "S1", "X1")]
    fast = [store.query("audit_by_agency", **c) for c in calls]
    monkeypatch.setattr(sq, "USE_DASHBOARD_COUNTS", False)
    slow = [store.query("audit_by_agency", **c) for c in calls]
    for c, a, b in zip(calls, fast, slow):
        assert a.columns == b.columns and a.rows == b.rows, c


def test_an_agency_rolls_up_its_subtree(store):
    t = store.query("audit_by_agency", month="2026-03", agency="S1")
    assert {r["agency_code"] for r in t if r["row_kind"] == "agency"} == {"S1", "S1A"}
    total = next(r for r in t if r["row_kind"] == "total")
    assert _findings(total) == NONE | {"late_request": 1, "orphan_receipt": 1, "negative_after_deadline": 1,
                                       "findings": 3}


def test_the_list_behind_a_finding(store):
    march = store.query("audit_findings", month="2026-03")
    assert march.column("dossier_code") == ["F-LATE-REQ", "F-NEG", "F-ORPHAN", "F-AFTER", "F-INCONS"]
    neg = next(r for r in march if r["dossier_code"] == "F-NEG")
    assert (neg["state"], neg["recomputed_status"], neg["procedure_name"]) == ("rejected", "excluded",
                                                                               "Đăng ký khai sinh")
    assert neg["due_date"] == dt.date(2026, 3, 4) and neg["resolved_at"] == T(2026, 3, 6, 10)
    late = store.query("audit_findings", finding="late_request")
    assert late.column("dossier_code") == ["F-LATE-REQ", "F-APR"]
    assert store.query("audit_findings", agency="S1").column("dossier_code") == ["F-LATE-REQ", "F-NEG", "F-ORPHAN"]
    assert store.query("audit_findings", agency="S1", rollup=False).column("dossier_code") == ["F-LATE-REQ", "F-NEG"]
    assert len(store.query("audit_findings", month="2026-03", limit=2)) == 2
    with pytest.raises(QueryError, match="finding must be one of"):
        store.query("audit_findings", finding="late")


def test_an_agency_account_sees_only_its_subtree(store):
    def subtree(code: str) -> set[str]:
        return set(store.query("agency_scope", agency=code).column("code"))

    scoped = ScopedOps(store, User("stp", "agency", agency="S1"), subtree)
    assert set(scoped.query("audit_findings", limit=100).column("agency_code")) == {"S1", "S1A"}
    assert scoped.query("audit_findings", agency="S1A").column("dossier_code") == ["F-ORPHAN"]
    rows = [r for r in scoped.query("audit_by_agency", month="2026-03") if r["row_kind"] == "agency"]
    assert {r["agency_code"] for r in rows} == {"S1", "S1A"}
    for name in ("audit_findings", "audit_by_agency"):
        with pytest.raises(AccessDenied):
            scoped.query(name, agency="X1")


def test_a_rule_set_counting_refusals_as_overdue(tmp_path):
    path = _build(tmp_path / "overdue.duckdb", _engine("overdue"))
    with Store(path) as s:
        total = next(r for r in s.query("audit_by_agency", month="2026-03") if r["row_kind"] == "total")
        assert (total["negative_after_deadline"], total["negative_counted_overdue"]) == (1, 1)
        b = collect(s, "2026-03")
        assert b.refusals_overdue
        text = _docx_text(dict(_files(s, "2026-03"))["docx"])
    assert ("Theo bộ quy tắc đang áp dụng, hồ sơ từ chối giải quyết hoặc trả lại hồ sơ sau khi đã quá hạn được "
            "tính là giải quyết quá hạn trong tỷ lệ giải quyết đúng hạn") in text


# -- the briefing ----------------------------------------------------------------------------------

def _files(ops, month: str, **kw) -> list[tuple[str, bytes]]:
    return [(n.rsplit(".", 1)[1], d) for n, d in build_all(ops, month, ["docx", "xlsx"], issued=dt.date(2026, 5, 4),
                                                           **kw)]


def _docx_text(data: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)


DEFAULT_REFUSALS = ("Hồ sơ từ chối giải quyết hoặc trả lại hồ sơ sau khi đã quá hạn không được tính vào tỷ lệ giải "
                    "quyết đúng hạn (mặc định của bộ quy tắc, như mọi hồ sơ từ chối); chưa có văn bản quy định rõ "
                    "các hồ sơ này có phải tính là giải quyết quá hạn hay không.")


def test_the_briefing_lists_the_findings_per_agency(store):
    files = dict(_files(store, "2026-03"))
    text = _docx_text(files["docx"])
    section = text[text.index("II. ĐỐI CHIẾU"):text.index("III. ĐỒNG BỘ")]
    for line in ("- Yêu cầu bổ sung sau khi đã quá hạn: 1 hồ sơ (Sở Tư pháp 1); yêu cầu này không được tính khi "
                 "xét thời hạn.",
                 "- Nhận bổ sung khi không có yêu cầu bổ sung: 1 hồ sơ (Trung tâm Trợ giúp pháp lý 1); lần nhận bổ "
                 "sung này không được tính khi xét thời hạn.",
                 "- Bổ sung ghi sau ngày có kết quả: 1 hồ sơ (UBND xã Bình Hiệp 1); các ngày bổ sung này không được "
                 "tính khi xét thời hạn.",
                 "- Trạng thái mâu thuẫn: 1 hồ sơ (UBND xã Bình Hiệp 1); hồ sơ đang xử lý nhưng có ngày có kết quả, "
                 "được xét theo ngày đó.",
                 "- Từ chối hoặc trả lại hồ sơ sau khi đã quá hạn: 1 hồ sơ (Sở Tư pháp 1).",
                 DEFAULT_REFUSALS):
        assert line in section, line
    ws = load_workbook(io.BytesIO(files["xlsx"]))["Dữ kiện bất thường"]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert rows == [("S1", "Sở Tư pháp", 1, 0, 0, 0, 1, 2), ("X1", "UBND xã Bình Hiệp", 0, 0, 1, 1, 0, 2),
                    ("S1A", "Trung tâm Trợ giúp pháp lý", 0, 1, 0, 0, 0, 1), (None, "Tổng cộng", 1, 1, 1, 1, 1, 5)]
    assert DEFAULT_REFUSALS in ws.cell(1, 1).value


def test_an_agency_briefing_has_its_subtree_only_and_a_quiet_month_says_so(store):
    text = _docx_text(dict(_files(store, "2026-03", agency="S1"))["docx"])
    assert "- Yêu cầu bổ sung sau khi đã quá hạn: 1 hồ sơ (Sở Tư pháp 1)" in text
    assert "(Trung tâm Trợ giúp pháp lý 1)" in text
    assert "UBND xã Bình Hiệp" not in text and "Bổ sung ghi sau ngày có kết quả" not in text
    text = _docx_text(dict(_files(store, "2026-04", agency="S1"))["docx"])
    assert "Không có hồ sơ nào có dữ kiện bất thường trong tháng 04/2026." in text
    assert DEFAULT_REFUSALS in text


def test_without_refusals_in_the_month_the_configured_rule_set_speaks(store, tmp_path):
    rules = tmp_path / "rules.yaml"
    data = _engine("overdue").ruleset.model_dump(mode="json")
    rules.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cfg = AppConfig()
    cfg = cfg.model_copy(update={"sla": cfg.sla.model_copy(update={"rule_set": rules})})
    assert collect(store, "2026-04", cfg=cfg).refusals_overdue
    assert not collect(store, "2026-04").refusals_overdue
    assert not collect(store, "2026-03", cfg=cfg).refusals_overdue   # the stored results left F-NEG out


def test_text_from_the_data_never_becomes_a_formula(store):
    b = collect(store, "2026-03")
    b.findings_agencies[0]["agency_name"] = '=HYPERLINK("http://example.invalid","x")'
    ws = load_workbook(io.BytesIO(render_xlsx(b)))["Dữ kiện bất thường"]
    cell = ws.cell(3, 2)
    assert cell.value == '=HYPERLINK("http://example.invalid","x")' and cell.data_type == "s" and cell.quotePrefix
    assert [csv_cell(v) for v in ("=1+2", "+1", "-1", "@x", "Sở Tư pháp", 3)] == ["'=1+2", "'+1", "'-1", "'@x",
                                                                                  "Sở Tư pháp", 3]
    import pandas as pd

    assert csv_frame(pd.DataFrame({"@a": ["=x", "y"]})).to_csv(index=False) == "'@a\n'=x\ny\n"


# -- the import summary ----------------------------------------------------------------------------

def test_the_import_summary_counts_inconsistent_states(tmp_path):
    base = {"agency_code": "S1", "agency_name": "Sở Tư pháp", "procedure_code": "PR-A",
            "procedure_name": "Đăng ký khai sinh", "channel": "online", "received_at": "2026-03-02 09:00",
            "time_limit": "2", "time_unit": "working_days"}
    rows = [base | {"dossier_code": "I1", "state": "Đang xử lý", "finished_at": "2026-03-04 10:00"},
            base | {"dossier_code": "I2", "state": "processing", "returned_at": "2026-03-05 10:00"},
            base | {"dossier_code": "I3", "state": "processing"},
            base | {"dossier_code": "I4", "state": "finished", "finished_at": "2026-03-04 10:00"}]
    p = tmp_path / "d.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(DOSSIER_COLUMNS)
        w.writerows([[r.get(c, "") for c in DOSSIER_COLUMNS] for r in rows])
    with Store(tmp_path / "s.duckdb") as s:
        summary = import_dossiers(s, p)
    assert summary.inconsistent_states == 2 and summary.to_dict()["inconsistent_states"] == 2
    assert ("Trạng thái mâu thuẫn: 2 hồ sơ đang xử lý nhưng có ngày có kết quả, được xét theo ngày đó"
            in summary.render("vi"))
    assert "inconsistent state: 2 dossiers processing but with a result date, judged by that date" in summary.render()


# -- the dashboard ---------------------------------------------------------------------------------

@pytest.fixture
def dashboard(world, tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    env = {"MOTCUA_STORE__PATH": str(world), "MOTCUA_INBOX__PATH": str(tmp_path / "inbox"),
           "MOTCUA_INBOX__ARCHIVE": str(tmp_path / "archive"), "MOTCUA_INBOX__REJECTED": str(tmp_path / "rejected"),
           "MOTCUA_DASHBOARD__USERS_FILE": str(tmp_path / "users.json")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    uf = UserFile(tmp_path / "users.json")
    uf.add("u-leadership", "leadership", PASSWORD, rounds=4)
    uf.add("u-agency", "agency", PASSWORD, agency="S1", rounds=4)
    return env


def _login(username: str, lang: str = "vi") -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    if lang == "en":
        at.radio(key="lang_choice").set_value("English").run()
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def _page(at: AppTest, page: str, agency: str | None = None) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    if agency:
        at.selectbox(key="ag_agency").set_value(agency).run()
    if page == "agency":
        at.selectbox(key="ag_month").set_value(dt.date(2026, 3, 1)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _metric(at: AppTest, label: str) -> str:
    """The count beside a finding in the page's table of counts."""
    df = next(df.value for df in at.dataframe if {"Số hồ sơ", "Dossiers"} & set(df.value.columns))
    finding, count = df.columns
    return str(dict(zip(df[finding], df[count]))[label])


def _findings_table(at: AppTest, column: str):
    return next(df.value for df in at.dataframe
                if column in df.value.columns and {"Mã hồ sơ", "Dossier"} & set(df.value.columns))


def test_the_agency_page_shows_the_findings_in_vietnamese(dashboard):
    at = _page(_login("u-leadership"), "agency", agency="S1")
    assert any(s.value == "Dữ kiện bất thường trong số liệu của hệ thống" for s in at.subheader)
    assert _metric(at, "Yêu cầu bổ sung sau khi đã quá hạn") == "1"
    assert _metric(at, "Nhận bổ sung khi không có yêu cầu bổ sung") == "1"
    assert _metric(at, "Từ chối hoặc trả lại hồ sơ sau khi đã quá hạn") == "1"
    assert _metric(at, "Trạng thái mâu thuẫn") == "0"
    shown = _findings_table(at, "Dữ kiện bất thường")
    assert dict(zip(shown["Mã hồ sơ"], shown["Dữ kiện bất thường"])) == {
        "F-LATE-REQ": "Yêu cầu bổ sung sau khi đã quá hạn",
        "F-NEG": "Từ chối hoặc trả lại hồ sơ sau khi đã quá hạn",
        "F-ORPHAN": "Nhận bổ sung khi không có yêu cầu bổ sung"}
    assert set(shown["Thủ tục"]) == {"Đăng ký khai sinh"}
    assert any("không được tính vào tỷ lệ đúng hạn" in c.value for c in at.caption)


def test_the_agency_page_in_english_and_for_an_agency_account(dashboard):
    at = _page(_login("u-leadership", lang="en"), "agency", agency="X1")
    assert _metric(at, "Inconsistent state (processing, with a result date)") == "1"
    shown = _findings_table(at, "Finding")
    assert list(shown["Dossier"]) == ["F-AFTER", "F-INCONS"]
    at = _page(_login("u-agency"), "agency")
    shown = _findings_table(at, "Dữ kiện bất thường")
    assert set(shown["Mã hồ sơ"]) == {"F-LATE-REQ", "F-NEG", "F-ORPHAN"}
    text = " ".join(df.value.to_csv() for df in at.dataframe)
    assert "F-AFTER" not in text and "F-INCONS" not in text


def test_the_overview_shows_the_provinces_findings(dashboard):
    at = _page(_login("u-leadership"), "overview")
    at.selectbox(key="ov_month").set_value(dt.date(2026, 3, 1)).run()
    assert any(c.value.startswith("Dữ kiện bất thường trong tháng (số hồ sơ): Yêu cầu bổ sung sau khi đã quá hạn: 1 · ")
               for c in at.caption), [c.value for c in at.caption]


def test_the_import_summary_writes_the_count_as_vietnamese_numbers_are_written():
    from imports.dossiers import ImportSummary

    s = ImportSummary(file="x.csv", batch_id=1, inconsistent_states=3251)
    assert "Trạng thái mâu thuẫn: 3.251 hồ sơ đang xử lý nhưng có ngày có kết quả, được xét" in s.render("vi")
    assert "inconsistent state: 3,251 dossiers" in s.render("en")
