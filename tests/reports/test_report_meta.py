"""`app.py report` says what its figures are: the month, the as_of instant, the rule set and its
versions, and the definitions of the ratios; --as-of computes them at that instant apart; an
agency that resolved nothing has no 766 score (not 0); agencies and fields sort naturally; the
score's denominator is a setting.

The store is real: reference data and a dossier export loaded through Motcua (the importer and
the SLA engine), recomputed, then `app.main` run as a user would, locally or through a running owner.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

import app  # the entry point under test: app.main, as a user runs it
from config.app import Score766Config, load_config
from config.reference import ReferenceData
from metrics.exporter import build_registry
from reports.bieu06 import SCORE_DENOMINATORS as DENOMINATOR_TEXTS
from store.queries import SCORE_DENOMINATORS
from store.reference import natural_key_sql
from store.service import StoreService
from system import Motcua

MONTH = "2026-03"
AS_OF = "2026-03-31 23:59"

REFERENCE = ReferenceData.model_validate({
    "agencies": [
        {"code": "P", "name": "UBND tỉnh Thử nghiệm", "level": "province"},
        {"code": "CQ10", "name": "Cơ quan số 10", "level": "department", "parent": "P"},
        {"code": "CQ9", "name": "Cơ quan số 9", "level": "department", "parent": "P"},
        {"code": "BQL", "name": "Ban Quản lý dự án", "level": "department", "parent": "P"},
    ],
    "procedures": [],
})

# 23/02/2026 is the first working day after the Tết 2026 break; March 2026 has no holiday.
CSV = (
    "dossier_code,agency_code,procedure_code,field,channel,received_at,time_limit,time_unit,state,finished_at\n"
    # carried over into March (3 working days, due in February), resolved late in March
    "D2,CQ9,P1,Lĩnh vực 10,online,2026-02-23 09:00,3,working_days,finished,2026-03-10 10:00\n"
    # received and resolved within days in March
    "D1,CQ9,P1,Lĩnh vực 10,online,2026-03-02 09:00,5,working_days,finished,2026-03-04 10:00\n"
    "D3,CQ10,P1,Lĩnh vực 9,direct,2026-03-03 09:00,5,working_days,finished,2026-03-05 10:00\n"
    # the only dossier of BQL: received late in March, still being processed within its time
    "D4,BQL,P2,Lĩnh vực 2,online,2026-03-20 09:00,10,working_days,processing,\n"
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A store file built once: reference data, the export imported, recomputed at AS_OF."""
    tmp = tmp_path_factory.mktemp("report-meta")
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp / "t.duckdb")})
    (tmp / "x.csv").write_text(CSV, encoding="utf-8")
    m = Motcua(cfg)
    try:
        m.load_reference(REFERENCE)
        res = m.import_file(str(tmp / "x.csv"))
        assert res["inserted"] == 4 and res["quarantined"] == 0, res
        m.recompute(AS_OF)
    finally:
        m.close()
    return tmp / "t.duckdb"


@pytest.fixture
def world(template, app_env, monkeypatch):
    """A private copy of the store, and the environment app.main reads its configuration from."""
    path = app_env["MOTCUA_STORE__PATH"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copy(template, path)
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in app_env.items():
        if k.startswith("MOTCUA_"):
            monkeypatch.setenv(k, v)
    return app_env


def report(capsys, *args: str) -> dict | str:
    rc = app.main(["report", "--month", MONTH, *args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out) if "--json" in args else out


class _closing:
    """A Motcua opened for a few reads, then closed (it holds the store file)."""

    def __init__(self, m: Motcua) -> None:
        self.m = m

    def __enter__(self) -> Motcua:
        return self.m

    def __exit__(self, *exc: object) -> None:
        self.m.close()


def rows_by_key(doc: dict) -> dict[str, dict]:
    return {r["key"]: r for r in doc["rows"] if r["row_kind"] != "total"}


def total(doc: dict) -> dict:
    return next(r for r in doc["rows"] if r["row_kind"] == "total")


# -- what the figures are -----------------------------------------------------------------------

def test_json_says_month_as_of_rules_and_definitions(world, capsys):
    doc = report(capsys, "--json")
    assert doc["month"] == MONTH and doc["by"] == "agency" and doc["agency"] is None
    assert doc["as_of"] == "2026-03-31T23:59:00+07:00" and doc["as_of_source"] == "store"
    assert doc["previous_as_of"] is None and doc["timezone"] == "Asia/Ho_Chi_Minh"
    cfg = load_config()
    with _closing(Motcua(cfg)) as m:
        engine = m.engine
        runs = m.query("sla_runs").one()
    assert doc["rule_set"] == engine.name and doc["run_id"] == runs["run_id"]
    assert [v["rule_version"] for v in doc["rule_versions"]] == [v[0] for v in engine.rule_versions()]
    assert all(dt.datetime.fromisoformat(v["effective_from"]) for v in doc["rule_versions"])
    assert doc["changed_since"] == 0

    d = doc["definitions"]
    assert d["on_time_ratio"]["formula"] == "(resolved_early + resolved_on_time) / resolved_total"
    assert "Tỷ lệ đúng hạn" in d["on_time_ratio"]["vi"] and "On-time ratio" in d["on_time_ratio"]["en"]
    s = d["score_766"]
    assert s["denominator"] == "received_and_carried"
    assert s["denominator_columns"] == ["received_online", "received_direct_postal", "carried_over"]
    assert s["formula"] == ("20 × (resolved_early + resolved_on_time) / "
                            "(received_online + received_direct_postal + carried_over)")
    assert "từ kỳ trước" in s["vi"] and "carried over" in s["en"]
    assert s["source"] == Score766Config().source and "766/QĐ-TTg" in s["source"]

    # the rows are the store's, column for column
    t = total(doc)
    assert (t["received_total"], t["carried_over"], t["resolved_total"], t["resolved_overdue"]) == (4, 1, 3, 1)
    assert t["on_time_ratio"] == pytest.approx(2 / 3) and t["score_766"] == pytest.approx(20 * 2 / 4)


def test_text_report_says_as_of_and_rules(world, capsys):
    text = report(capsys)
    assert "Số liệu tính đến 23:59:00 31/03/2026; bộ quy tắc " in text
    assert "(tính lại theo yêu cầu)" not in text
    assert "tiếp nhận trong kỳ và từ kỳ trước chuyển sang" in text        # the score's denominator, named
    en = report(capsys, "--lang", "en")
    assert "Figures as of 2026-03-31 23:59:00; rule set " in en


# -- --as-of ------------------------------------------------------------------------------------

def test_as_of_computes_apart_and_leaves_the_store_as_it_was(world, capsys):
    assert app.main(["report", "--month", MONTH, "--json", "--as-of", "2026-03-04"]) == 0
    out, err = capsys.readouterr()
    assert "for this report only; the store stays at 2026-03-31 23:59:00" in err
    doc = json.loads(out)
    assert doc["as_of"] == "2026-03-04T23:59:59+07:00" and doc["as_of_source"] == "recomputed"
    assert doc["previous_as_of"] == "2026-03-31T23:59:00+07:00"
    t = total(doc)
    # judged at the end of 4 March: D1 resolved, D2 still pending (overdue), D3 pending, D4 not yet received
    assert (t["resolved_total"], t["pending_total"], t["pending_overdue"], t["received_total"]) == (1, 2, 1, 3)
    # the store (and so the dashboard) keeps its figures and their instant
    stored = report(capsys, "--json")
    assert stored["as_of"] == "2026-03-31T23:59:00+07:00" and stored["as_of_source"] == "store"
    assert total(stored)["received_total"] == 4
    again = report(capsys, "--json", "--as-of", "2026-03-04")
    assert again["rows"] == doc["rows"]
    same = report(capsys, "--json", "--as-of", "2026-03-31 23:59")
    assert same["as_of_source"] == "store" and same["rows"] == stored["rows"]
    text = report(capsys, "--as-of", "2026-03-04 23:59")
    assert ("Số liệu tính đến 23:59:00 04/03/2026 (tính riêng cho báo cáo này, dữ liệu lưu không đổi)"
            in text)


def test_as_of_through_a_running_owner(world, capsys):
    cfg = load_config()
    owner = Motcua(cfg)
    service = StoreService(owner, cfg.store.path, port=0)
    service.start()
    try:
        before = owner.status()["last_recompute_as_of"]
        doc = report(capsys, "--json", "--as-of", "2026-03-10 12:00")
        assert doc["as_of"] == "2026-03-10T12:00:00+07:00" and doc["as_of_source"] == "recomputed"
        assert owner.status()["last_recompute_as_of"] == before  # computed by the owner, not stored
        assert owner.query("figures_provenance").one()["as_of"] == before
    finally:
        service.stop()
        owner.close()


def test_bad_as_of_is_a_plain_message(world, capsys):
    assert app.main(["report", "--month", MONTH, "--as-of", "yesterday"]) == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err


# -- nothing resolved: no score -----------------------------------------------------------------

def test_an_agency_that_resolved_nothing_has_no_score(world, capsys):
    doc = report(capsys, "--json")
    bql = rows_by_key(doc)["BQL"]
    assert (bql["received_total"], bql["resolved_total"], bql["pending_in_time"]) == (1, 0, 1)
    assert bql["on_time_ratio"] is None and bql["score_766"] is None
    cq9 = rows_by_key(doc)["CQ9"]
    assert cq9["score_766"] == pytest.approx(20 * 1 / 2)                 # resolved: a score, even a low one
    line = next(ln for ln in report(capsys).splitlines() if "Ban Quản lý dự án" in ln)
    assert [c.strip() for c in line.strip("|").split("|")][-2:] == ["-", "-"]


def test_no_score_in_the_metrics_and_the_briefing(world, capsys):
    from docx import Document
    from openpyxl import load_workbook

    from reports.files import build_all

    cfg = load_config()
    with _closing(Motcua(cfg)) as m:
        scrape = _scrape(build_registry(m, lambda: dt.datetime(2026, 3, 31, 12)))
        files = dict((name.rsplit(".", 1)[1], data) for name, data in build_all(m, MONTH, cfg=cfg))
        own = dict((name.rsplit(".", 1)[1], data)
                   for name, data in build_all(m, MONTH, ["docx", "pdf"], agency="BQL", cfg=cfg))
    key = (("agency_code", "BQL"), ("agency_name", "Ban Quản lý dự án"), ("period", "month_to_date"))
    assert key in scrape["motcua_pending_overdue_dossiers"]
    assert key not in scrape["motcua_progress_score_766"] and key not in scrape["motcua_ontime_ratio"]
    cq9 = (("agency_code", "CQ9"), ("agency_name", "Cơ quan số 9"), ("period", "month_to_date"))
    assert cq9 in scrape["motcua_progress_score_766"]

    ws = load_workbook(io.BytesIO(files["xlsx"]))["Số liệu cơ quan"]
    header_row = next(r for r in ws.iter_rows(values_only=True) if r and r[0] == "Mã cơ quan")
    col = header_row.index("Điểm tiến độ (QĐ 766)")
    bql = next(r for r in ws.iter_rows(values_only=True) if r and r[0] == "BQL")
    assert bql[col] is None and bql[col - 1] is None
    doc = Document(io.BytesIO(own["docx"]))
    rows = [[c.text for c in row.cells] for t in doc.tables for row in t.rows]
    score_row = next(r for r in rows if r[0].startswith("Điểm tiến độ giải quyết"))
    assert score_row[1] == "-"
    assert own["pdf"].startswith(b"%PDF")
    notes = "\n".join(p.text for p in Document(io.BytesIO(files["docx"])).paragraphs)
    assert "20 × (trước hạn + đúng hạn) / tổng số nhận giải quyết." in notes


def test_no_score_on_the_dashboard(world, monkeypatch, tmp_path):
    """February: D2 was received and is not resolved in it, so the province has no score then."""
    from streamlit.testing.v1 import AppTest

    from dashboard.users import UserFile

    UserFile(tmp_path / "users.json").add("u-lead", "leadership", "correct-horse-1", rounds=4)
    monkeypatch.setenv("MOTCUA_DASHBOARD__USERS_FILE", str(tmp_path / "users.json"))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py"), default_timeout=120).run()
    at.text_input(key="login_user").input("u-lead")
    at.text_input(key="login_password").input("correct-horse-1")
    at.button[0].click().run()
    at.switch_page("pages/overview.py").run()
    at.selectbox(key="ov_month").set_value(dt.date(2026, 2, 1)).run()
    assert not at.exception, [e.value for e in at.exception]
    score = next(m for m in at.metric if m.label.startswith("Điểm tiến độ 766"))
    assert score.value == "–"
    assert next(m for m in at.metric if m.label == "Hồ sơ tiếp nhận").value == "1"


def _scrape(registry) -> dict[str, dict[tuple, float]]:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


# -- natural order ------------------------------------------------------------------------------

def test_agencies_and_fields_sort_naturally(world, capsys):
    doc = report(capsys, "--json")
    assert [r["key"] for r in doc["rows"]] == [None, "P", "BQL", "CQ9", "CQ10"]   # parent first, "số 9" < "số 10"
    text = report(capsys)
    assert text.index("Cơ quan số 9") < text.index("Cơ quan số 10")
    fields = report(capsys, "--json", "--by", "field")
    assert [r["key"] for r in fields["rows"]][1:] == ["Lĩnh vực 2", "Lĩnh vực 9", "Lĩnh vực 10"]


def test_natural_key_orders_numbers_by_value():
    names = ["Xã 10", "Xã 9", "Xã", "Xã 2a", "Xã 2", "Xã 02b", "Tổ 100", "Tổ 20", None, "A1B10", "A1B9",
             "Số 12345678901234567890", "Số 9999999999999999999"]
    con = duckdb.connect()
    got = [r[0] for r in con.execute(
        f"SELECT s FROM unnest($names) t(s) ORDER BY {natural_key_sql('s')}, s NULLS FIRST", {"names": names}
    ).fetchall()]
    assert got == [None, "A1B9", "A1B10", "Số 9999999999999999999", "Số 12345678901234567890", "Tổ 20",
                   "Tổ 100", "Xã", "Xã 2", "Xã 2a", "Xã 02b", "Xã 9", "Xã 10"]


# -- the score's denominator is a setting -------------------------------------------------------

def test_denominator_setting_changes_the_score(world, capsys, monkeypatch):
    default = report(capsys, "--json")
    monkeypatch.setenv("MOTCUA_REPORTS__SCORE_766__DENOMINATOR", "received")
    doc = report(capsys, "--json")
    s = doc["definitions"]["score_766"]
    assert s["denominator"] == "received" and s["denominator_columns"] == ["received_online", "received_direct_postal"]
    assert "không tính hồ sơ từ kỳ trước" in s["vi"] and "not those carried over" in s["en"]
    # CQ9: one on time of one received in March (and one carried over): 20, against 10 by default
    assert rows_by_key(default)["CQ9"]["score_766"] == pytest.approx(10)
    assert rows_by_key(doc)["CQ9"]["score_766"] == pytest.approx(20)
    assert total(doc)["score_766"] == pytest.approx(20 * 2 / 3) and total(default)["score_766"] == pytest.approx(10)
    assert rows_by_key(doc)["BQL"]["score_766"] is None
    assert [r["on_time_ratio"] for r in doc["rows"]] == [r["on_time_ratio"] for r in default["rows"]]
    assert "số hồ sơ tiếp nhận trong kỳ" in report(capsys)

    # every other reader of the score follows the same setting (Motcua passes it to the queries)
    with _closing(Motcua(load_config())) as m:
        prov = m.query("province_month", month=MONTH).one()
        ranked = {r["agency_code"]: r for r in m.query("agency_ratio_month", month=MONTH, min_resolved=0)}
        assert prov["score_766"] == pytest.approx(20 * 2 / 3)
        assert ranked["CQ9"]["score_766"] == pytest.approx(20)
        series = m.query("province_month_series", months=1, end_month=MONTH).one()
        assert series["score_766"] == pytest.approx(20 * 2 / 3)
        # asked explicitly, a query gives the other choice whatever the setting
        explicit = m.query("bieu06", month=MONTH, score_denominator="received_and_carried")
        assert next(r for r in explicit if r["key"] == "CQ9")["score_766"] == pytest.approx(10)
        # the briefing's figures and its note on the score follow its config
        from reports.briefing.collect import collect
        from reports.briefing.document import document
        from reports.briefing.model import Para

        b = collect(m, MONTH, cfg=m.cfg)
        assert b.now["score_766"] == pytest.approx(20 * 2 / 3)
        assert any("/ số hồ sơ tiếp nhận trong kỳ (không tính hồ sơ từ kỳ trước chuyển sang)." in blk.text
                   for blk in document(b) if isinstance(blk, Para))


def test_a_bad_denominator_is_refused(world, capsys, monkeypatch):
    monkeypatch.setenv("MOTCUA_REPORTS__SCORE_766__DENOMINATOR", "resolved")
    assert app.main(["report", "--month", MONTH]) == 2
    assert "score_766.denominator" in capsys.readouterr().err
    with _closing(Motcua(load_config(environ={"MOTCUA_STORE__PATH": world["MOTCUA_STORE__PATH"]}))) as m:
        with pytest.raises(Exception, match="score_denominator must be one of"):
            m.store.query("bieu06", month=MONTH, score_denominator="resolved")


def test_the_choices_agree_between_config_store_and_report():
    from typing import get_args

    choices = set(get_args(Score766Config.model_fields["denominator"].annotation))
    assert choices == set(SCORE_DENOMINATORS) == set(DENOMINATOR_TEXTS)
