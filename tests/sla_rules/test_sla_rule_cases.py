"""The rules that decide an argument about lateness, each with a worked example and the words a
clerk reads (`sla explain`), on the 2026 calendar: Monday 2 March 2026 09:00 with 2 working days is
due Wednesday 4 March, late from Thursday 5 March 00:00.
"""
from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from config import default_path
from config.ruleset import RuleSet
from sla_rules.constants import (
    FLAG_AFTER_RESULT, FLAG_INCONSISTENT_STATE, FLAG_LATE_REQUEST, FLAG_NEGATIVE_LATE,
    FLAG_STOPPED,
)
from sla_rules.engine import SlaEngine
from sla_rules.explain import explain_rows
from tests.sla_oracle import Dossier, Oracle, load_input

ROOT = Path(__file__).resolve().parents[2]
T = datetime.fromisoformat
AS_OF = T("2026-06-30 12:00")
BASE = dict(received_at=T("2026-03-02 09:00"), time_limit=2, time_unit="working_days")


def judge(engine: SlaEngine, d: Dossier, lang: str = "vi") -> dict:
    """The engine's row, its reason and flags; checked against the per-row oracle."""
    con = duckdb.connect()
    engine.install(con)
    load_input(con, [d])
    rows = explain_rows(con, engine, "input_dossiers", AS_OF, events="input_events", lang=lang)
    cur = con.execute(engine.compute_sql("input_dossiers", AS_OF, events="input_events", internals=("flags",)))
    got = dict(zip([c[0] for c in cur.description], cur.fetchone()))
    exp, flags = Oracle(engine.ruleset, engine.calendar).compute_full(d, AS_OF)
    assert (got["status"], got["late_from"], got["flags"]) == (exp.status, exp.late_from, flags)
    return {**got, "reason": rows[0]["reason"], "findings": rows[0]["findings"]}


def test_a_request_after_the_deadline_restarts_nothing(engine):
    d = Dossier("Q", **BASE, supplement_requested_at=T("2026-03-05 10:00"), supplement_received_at=T("2026-03-06 09:00"),
                finished_at=T("2026-03-10 10:00"), state="finished")
    r = judge(engine, d)
    assert r["late_from"] == T("2026-03-05 00:00") and r["status"] == "overdue"
    assert r["flags"] == FLAG_LATE_REQUEST and r["findings"] == ["late_request"]
    assert "yêu cầu bổ sung sau khi đã quá hạn: không dừng, không tính lại thời hạn" in r["reason"]
    assert "supplement requested after the deadline" in judge(engine, d, "en")["reason"]


def test_a_second_request_after_the_restarted_deadline_restarts_nothing(engine):
    # back on Thursday 5 March 10:00: due Monday 9 March; a second request on Tuesday 10 March is late
    ev = [("supplement_requested", T("2026-03-03 09:00")), ("supplement_received", T("2026-03-05 10:00")),
          ("supplement_requested", T("2026-03-10 09:00")), ("supplement_received", T("2026-03-11 09:00"))]
    r = judge(engine, Dossier("Q2", **BASE, events=ev, finished_at=T("2026-03-12 10:00"), state="finished"))
    assert r["due_date"] == T("2026-03-09").date() and r["status"] == "overdue"
    assert r["flags"] == FLAG_LATE_REQUEST


def test_a_receipt_without_a_request_restarts_nothing(engine):
    r = judge(engine, Dossier("R", **BASE, supplement_received_at=T("2026-03-04 10:00"),
                              finished_at=T("2026-03-06 10:00"), state="finished"))
    assert r["status"] == "overdue" and r["due_date"] == T("2026-03-04").date()
    assert r["findings"] == ["orphan_receipt"]
    assert "nhận bổ sung khi không có yêu cầu bổ sung" in r["reason"]


def test_an_open_second_cycle_is_waiting_with_the_clock_restarted_by_the_first_receipt(engine):
    # an export row: latest request (Monday 9 March) after the latest receipt (Thursday 5 March)
    r = judge(engine, Dossier("W", **BASE, supplement_requested_at=T("2026-03-09 10:00"),
                              supplement_received_at=T("2026-03-05 10:00")))
    assert r["status"] == "waiting_supplement" and r["flags"] == FLAG_STOPPED
    assert r["due_date"] == T("2026-03-09").date()  # two working days from the receipt
    assert "nhận đủ hồ sơ bổ sung" in r["reason"] and "đang chờ bổ sung từ 10:00" in r["reason"]


def test_facts_dated_after_the_result_change_nothing(engine):
    r = judge(engine, Dossier("A", **BASE, supplement_requested_at=T("2026-03-07 09:00"),
                              supplement_received_at=T("2026-03-09 09:00"),
                              finished_at=T("2026-03-06 10:00"), state="finished"))
    assert r["status"] == "overdue" and r["flags"] == FLAG_AFTER_RESULT
    assert "bổ sung ghi sau ngày có kết quả" in r["reason"]


def test_processing_with_a_result_date_is_judged_by_it_and_flagged(engine):
    r = judge(engine, Dossier("P", **BASE, finished_at=T("2026-03-04 16:00"), state="processing"))
    assert r["status"] == "on_time" and r["flags"] == FLAG_INCONSISTENT_STATE
    assert "trạng thái mâu thuẫn" in r["reason"]


@pytest.mark.parametrize("setting, status", [("exclude", "excluded"), ("overdue", "overdue")])
def test_a_refusal_after_the_deadline_is_listed_and_may_count_as_overdue(engine, setting, status):
    data = engine.ruleset.model_dump(mode="json")
    for v in data["versions"]:
        v["settings"]["negative_after_deadline"] = setting
    eng = SlaEngine(RuleSet.model_validate(data), engine.calendar)
    late = judge(eng, Dossier("N", **BASE, finished_at=T("2026-03-06 10:00"), state="rejected"))
    assert late["status"] == status and late["flags"] == FLAG_NEGATIVE_LATE
    assert "từ chối hoặc trả lại hồ sơ sau khi đã quá hạn" in late["reason"]
    in_time = judge(eng, Dossier("N2", **BASE, finished_at=T("2026-03-03 10:00"), state="rejected"))
    assert in_time["status"] == "excluded" and in_time["flags"] == 0


def test_the_reading_of_a_fractional_limit_is_written_in_the_rule_set():
    text = (ROOT / "config" / "rules" / "vn-default.yaml").read_text("utf-8")
    assert "N + f" in text and "negative_after_deadline" in text


# ---- the same through the command line, as an official runs it ---------------------------------
def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_sla_explain_takes_the_events_file(run_app, tmp_path):
    head = ["dossier_code", "agency_code", "channel", "received_at", "time_limit", "time_unit", "finished_at", "state"]
    dossiers = _csv(tmp_path / "d.csv", head, [["E1", "QNG.STP", "online", "02/03/2026 09:00", "2", "working_days",
                                                "10/03/2026 10:00", "finished"]])
    events = _csv(tmp_path / "e.csv", ["dossier_code", "event", "at", "detail"],
                  [["E1", "supplement_requested", "03/03/2026 09:00", ""],
                   ["E1", "supplement_received", "05/03/2026 10:00", ""]])
    cmd = ["sla", "explain", str(dossiers), "--as-of", "2026-06-30", "--json"]
    plain, with_events = run_app(*cmd), run_app(*cmd, "--events", str(events))
    assert plain.returncode == 0 and with_events.returncode == 0, (plain.stderr, with_events.stderr)
    plain, with_events = json.loads(plain.stdout), json.loads(with_events.stdout)
    assert (plain["due"], plain["status"]) == ("2026-03-04", "overdue")
    assert (with_events["due"], with_events["status"]) == ("2026-03-09", "overdue")
    assert with_events["findings"] == [] and "nhận đủ hồ sơ bổ sung" in with_events["reason"]


def test_the_office_time_rule_has_one_home():
    """Whether a deadline is an office-time instant is written once (sla_rules.constants); the
    engine, the store's SQL and the migrations emit it from there, so no copy can drift."""
    from store.db import MIGRATIONS
    from sla_rules.constants import office_time_sql

    copies = []
    for path in [*ROOT.glob("store/**/*.py"), *ROOT.glob("store/migrations/*.sql"), *ROOT.glob("sla_rules/*.py"),
                 *ROOT.glob("reports/*.py"), *ROOT.glob("dashboard/**/*.py")]:
        text = path.read_text("utf-8")
        if path.name != "constants.py" and ("<> floor(" in text or "'working_hours' OR" in text):
            copies.append(str(path.relative_to(ROOT)))
    assert copies == []
    view = next(sql for v, _n, sql in MIGRATIONS if v == 10)
    assert office_time_sql("d.time_unit", "d.time_limit") in view and "OFFICE_TIME(" not in view


def test_the_audit_compares_a_fractional_deadline_to_the_minute(tmp_path, engine):
    """1.5 working days from Monday 2 March 2026 07:00 end Wednesday 4 March 11:00; the vendor's
    17:00 the same day is a different deadline (the audit compared only the day for any limit but
    working hours)."""
    from store.db import Store
    from store.sla import recompute

    with Store(tmp_path / "audit.duckdb") as s:
        with s.transaction() as c:
            c.executemany(
                "INSERT INTO dossiers (dossier_code, agency_code, channel, received_at, time_limit, time_unit, "
                "state, reported_due_at) VALUES (?, 'S1', 'online', ?, ?, 'working_days', 'processing', ?)",
                [("FRAC", T("2026-03-02 07:00"), 1.5, T("2026-03-04 17:00")),
                 ("SAME", T("2026-03-02 07:00"), 1.5, T("2026-03-04 11:00")),
                 ("DAYS", T("2026-03-02 07:00"), 2, T("2026-03-04 08:00"))])
        recompute(s, engine, T("2026-03-03 12:00"))
        kinds = {r["dossier_code"]: r["kind"] for r in s.query("audit_dossiers")}
    assert kinds == {"FRAC": "due_date_differs"}


# --- pauses (tạm dừng) for verification or consultation: off unless the rule set cites a text ------
def _with_pauses(engine: SlaEngine) -> SlaEngine:
    data = engine.ruleset.model_dump(mode="json")
    for v in data["versions"]:
        v["settings"]["pauses"] = {"enabled": True, "legal_basis": "văn bản cho phép tạm dừng (kiểm thử)"}
    return SlaEngine(RuleSet.model_validate(data), engine.calendar)


PAUSED = [("pause", T("2026-03-03 09:00")), ("resume", T("2026-03-05 09:00"))]


def test_pauses_change_nothing_unless_the_rule_set_enables_them(engine):
    r = judge(engine, Dossier("P0", **BASE, events=PAUSED, finished_at=T("2026-03-06 10:00"), state="finished"))
    assert r["status"] == "overdue" and r["due_date"] == T("2026-03-04").date()


def test_a_pause_adds_the_time_paused_and_never_restarts(engine):
    # paused Tuesday 09:00 to Thursday 09:00: two working days added, due Friday 6 March (not a restart,
    # which would give Monday 9 March)
    r = judge(_with_pauses(engine), Dossier("P1", **BASE, events=PAUSED, finished_at=T("2026-03-06 10:00"),
                                            state="finished"))
    assert r["status"] == "on_time" and r["due_date"] == T("2026-03-06").date() and r["flags"] == 0
    assert "thời gian tạm dừng (xác minh, lấy ý kiến) cộng thêm 2 ngày làm việc" in r["reason"]


def test_a_dossier_still_paused_is_pending_in_time(engine):
    r = judge(_with_pauses(engine), Dossier("P2", **BASE, events=PAUSED[:1]))
    assert r["status"] == "pending_in_time" and r["flags"] == FLAG_STOPPED
    assert "đang tạm dừng từ 09:00 thứ Ba 03/03/2026 (thời hạn dừng, còn trong hạn)" in r["reason"]
    done = judge(_with_pauses(engine), Dossier("P3", **BASE, events=PAUSED[:1], finished_at=T("2026-03-20 10:00"),
                                               state="finished"))
    assert done["status"] in ("early", "on_time") and "kết thúc khi đang tạm dừng" in done["reason"]


def test_a_pause_after_the_deadline_stops_nothing(engine):
    late = [("pause", T("2026-03-05 09:00")), ("resume", T("2026-03-09 09:00"))]
    r = judge(_with_pauses(engine), Dossier("P4", **BASE, events=late, finished_at=T("2026-03-09 10:00"),
                                            state="finished"))
    assert r["status"] == "overdue" and r["due_date"] == T("2026-03-04").date() and r["flags"] == 0


def test_a_pause_while_a_supplement_request_is_open_is_none(engine):
    ev = [("supplement_requested", T("2026-03-03 09:00")), ("pause", T("2026-03-04 09:00")),
          ("resume", T("2026-03-06 09:00")), ("supplement_received", T("2026-03-09 09:00"))]
    with_p = judge(_with_pauses(engine), Dossier("P5", **BASE, events=ev))
    without = judge(engine, Dossier("P5", **BASE, events=ev))
    assert (with_p["due_date"], with_p["status"]) == (without["due_date"], without["status"])


def test_pauses_need_a_cited_text(tmp_path):
    from config.errors import ConfigError
    from config.ruleset import load_ruleset

    text = default_path("rules", "vn-default.yaml").read_text(encoding="utf-8")
    assert "pauses" not in text.split("versions:")[1]  # shipped off
    f = tmp_path / "rules.yaml"
    f.write_text(text.replace("negative_after_deadline: exclude\n", "negative_after_deadline: exclude\n"
                              "      pauses: {enabled: true}\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="legal_basis"):
        load_ruleset(f)


def test_the_vietnamese_mapping_reads_pauses(tmp_path):
    from imports.dossiers import load_staging

    f = tmp_path / "events.csv"
    f.write_text("Mã hồ sơ,Sự kiện,Thời điểm\nA-1,Tạm dừng,2026-03-03 09:00\nA-1,Tiếp tục xử lý,2026-03-05 09:00\n",
                 encoding="utf-8")
    con = duckdb.connect()
    st = load_staging(con, f, kind="events")
    assert con.execute(f"SELECT list(event ORDER BY row_no) FROM {st.relation}").fetchone()[0] == ["pause", "resume"]


def test_a_time_unit_declared_in_the_vocabulary_is_counted_by_its_clock(engine, monkeypatch):
    """A unit is its clock and a factor: one declaration makes the engine, the oracle, the office-time
    rule count a week of five working days as five working days."""
    import config.vocabulary as vocabulary
    import sla_rules.constants as constants

    weeks = vocabulary.TimeUnitSpec("working_weeks", "working_days", vocabulary.Label("tuần làm việc", "working weeks"), 5)
    units = (*vocabulary.UNITS, weeks)
    monkeypatch.setattr(vocabulary, "UNITS", units)
    monkeypatch.setattr(constants, "UNITS", units)
    for limit, days in ((1, 5), (0.5, 2.5)):
        w = judge(engine, Dossier("W", **{**BASE, "time_limit": limit, "time_unit": "working_weeks"}))
        d = judge(engine, Dossier("D", **{**BASE, "time_limit": days, "time_unit": "working_days"}))
        assert (w["late_from"], w["status"], w["due_at"]) == (d["late_from"], d["status"], d["due_at"])
        assert w["late_from"] is not None
    con = duckdb.connect()
    unit = "'working_weeks'"
    frac = con.execute(f"SELECT {constants.office_time_sql(unit, '0.5')}, {constants.office_time_sql(unit, '1')}").fetchone()
    assert frac == (True, False)
