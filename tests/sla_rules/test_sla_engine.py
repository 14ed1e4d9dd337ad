"""The SQL deadline engine, rule by rule, with hand-worked examples on the 2025–2026 calendar.

Calendar facts used below: Tết 2026 closed Sat 14/02–Sun 22/02 (holidays 16–20/02); New Year
2026 closed Thu 01/01–Sun 04/01, Saturday 10/01/2026 worked; 02/03/2026 is a Monday.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from config.ruleset import RuleSet, load_ruleset
from sla_rules.engine import OUTPUT_COLUMNS, SlaEngine
from sla_rules.explain import explain_rows, format_lines
from tests.sla_oracle import Dossier, Oracle, load_input

T = datetime.fromisoformat
D = date.fromisoformat
AS_OF = T("2026-06-30 12:00")


def variant(engine: SlaEngine, **settings) -> SlaEngine:
    """The default rule set with other settings for every version (same calendar)."""
    data = engine.ruleset.model_dump(mode="json")
    for v in data["versions"]:
        v["settings"].update(settings)
    return SlaEngine(RuleSet.model_validate(data), engine.calendar)


def compute(engine: SlaEngine, dossiers: list[Dossier], as_of: datetime = AS_OF, *, events: bool = False,
            reasons: bool = False, lang: str = "vi") -> dict[str, dict]:
    con = duckdb.connect()
    engine.install(con)
    load_input(con, dossiers)
    sql = engine.compute_sql("input_dossiers", as_of, events="input_events" if events else None,
                             with_reasons=reasons, lang=lang)
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    out = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
    assert len(out) == len(dossiers)
    # every hand-worked example is also checked against the per-row oracle
    orc = Oracle(engine.ruleset, engine.calendar)
    for d in dossiers:
        if not events and d.events:
            d = Dossier(**{**asdict(d), "events": []})
        exp = orc.compute(d, as_of)
        got = out[d.dossier_code]
        for k in ("rule_version", "clock_start_at", "due_date", "due_at", "late_from", "final_status", "status"):
            assert got[k] == getattr(exp, k), (d.dossier_code, k, got[k], getattr(exp, k))
    return out


def one(engine, as_of=AS_OF, **kw) -> dict:
    d = Dossier(dossier_code=kw.pop("code", "X"), **kw)
    return compute(engine, [d], as_of)[d.dossier_code]


# ---- output shape ----------------------------------------------------------------------------
def test_output_columns_fit_table_dossier_sla(engine):
    schema = (Path(__file__).resolve().parents[2] / "store" / "migrations" / "001_initial.sql").read_text("utf-8")
    con = duckdb.connect()
    con.execute(schema)
    engine.install(con)
    load_input(con, [Dossier("A", T("2026-03-02 09:00"), 5, "working_days")])
    sql = engine.compute_sql("input_dossiers", AS_OF)
    cur = con.execute(sql)
    assert tuple(d[0] for d in cur.description) == OUTPUT_COLUMNS
    con.execute(f"INSERT INTO dossier_sla {sql}")
    row = con.execute("SELECT rule_version, due_date, status, computed_as_of FROM dossier_sla").fetchone()
    assert row == ("nd118-2025", D("2026-03-09"), "pending_overdue", AS_OF)
    cur = con.execute(engine.compute_sql("input_dossiers", AS_OF, with_reasons=True))
    assert tuple(d[0] for d in cur.description) == OUTPUT_COLUMNS + ("reason", "flags")


# ---- reception shift and working days -------------------------------------------------------------
def test_received_saturday_before_tet_counts_from_next_working_day(engine):
    r = one(engine, received_at=T("2026-02-14 10:00"), time_limit=5, time_unit="working_days")
    assert r["clock_start_at"] == T("2026-02-23 07:00")
    assert r["due_date"] == D("2026-03-02")  # 24, 25, 26, 27/02, 02/03
    assert r["due_at"] == T("2026-03-02 17:00")
    assert r["late_from"] == T("2026-03-03 00:00")


@pytest.mark.parametrize("received, due", [
    ("2026-03-06 16:59", "2026-03-10"),  # Friday in office hours: Friday is day 0
    ("2026-03-06 17:00", "2026-03-11"),  # at close: counts as Monday
    ("2026-03-06 17:30", "2026-03-11"),
    ("2026-03-09 06:00", "2026-03-11"),  # before opening: that day
    ("2026-03-08 10:00", "2026-03-11"),  # Sunday
])
def test_after_close_and_before_opening(engine, received, due):
    r = one(engine, received_at=T(received), time_limit=2, time_unit="working_days")
    assert r["due_date"] == D(due)


def test_working_days_skip_tet_and_new_year(engine):
    assert one(engine, received_at=T("2026-02-12 09:00"), time_limit=3,
               time_unit="working_days")["due_date"] == D("2026-02-24")
    # 01–04/01/2026 closed: the 2nd working day after 31/12/2025 is Tuesday 06/01
    assert one(engine, received_at=T("2025-12-31 10:00"), time_limit=2,
               time_unit="working_days")["due_date"] == D("2026-01-06")
    # Saturday 10/01/2026 is worked
    assert one(engine, received_at=T("2026-01-09 10:00"), time_limit=1,
               time_unit="working_days")["due_date"] == D("2026-01-10")


def test_received_on_worked_saturday_counts_that_day(engine):
    r = one(engine, received_at=T("2026-01-10 09:00"), time_limit=1, time_unit="working_days")
    assert r["clock_start_at"] == T("2026-01-10 09:00") and r["due_date"] == D("2026-01-12")


# ---- same day --------------------------------------------------------------------------------------
@pytest.mark.parametrize("received, due", [
    ("2026-03-09 14:59", "2026-03-09"),
    ("2026-03-09 15:00", "2026-03-09"),   # at 15:00 is not after 15:00
    ("2026-03-09 15:01", "2026-03-10"),
    ("2026-03-09 06:30", "2026-03-09"),
    ("2026-02-13 16:00", "2026-02-23"),   # Friday after 15:00 before Tết
    ("2026-03-07 09:00", "2026-03-09"),   # Saturday
])
def test_same_day_cutoff(engine, received, due):
    r = one(engine, received_at=T(received), time_limit=None, time_unit="same_day")
    assert r["due_date"] == D(due)
    assert r["due_at"] == datetime.combine(D(due), datetime.min.time()) + timedelta(hours=17)


def test_same_day_finished_next_morning_is_overdue(engine):
    r = one(engine, received_at=T("2026-03-09 10:00"), time_limit=1, time_unit="same_day",
            finished_at=T("2026-03-10 08:00"), state="finished")
    assert r["final_status"] == "overdue"
    r = one(engine, received_at=T("2026-03-09 16:00"), time_limit=1, time_unit="same_day",
            finished_at=T("2026-03-10 08:00"), state="finished")
    assert r["final_status"] == "on_time"


# ---- calendar days -------------------------------------------------------------------------------
def test_calendar_days(engine):
    # 31/12/2025 + 10 = Saturday 10/01/2026, a worked Saturday
    assert one(engine, received_at=T("2025-12-31 09:00"), time_limit=10,
               time_unit="calendar_days")["due_date"] == D("2026-01-10")
    # Monday 02/03 + 5 = Saturday 07/03 -> Monday 09/03
    assert one(engine, received_at=T("2026-03-02 09:00"), time_limit=5,
               time_unit="calendar_days")["due_date"] == D("2026-03-09")
    # Friday 06/03 after close -> Monday 09/03 + 3 = Thursday 12/03
    assert one(engine, received_at=T("2026-03-06 18:00"), time_limit=3,
               time_unit="calendar_days")["due_date"] == D("2026-03-12")
    # ends inside Tết -> first working day after it
    assert one(engine, received_at=T("2026-02-10 09:00"), time_limit=7,
               time_unit="calendar_days")["due_date"] == D("2026-02-23")


# ---- working hours -------------------------------------------------------------------------------
@pytest.mark.parametrize("received, hours, start, due", [
    ("2026-03-09 12:00", 8, "2026-03-09 13:30", "2026-03-10 11:30"),   # lunch; ends at a session end
    ("2026-03-09 10:00", 2, "2026-03-09 10:00", "2026-03-09 14:00"),   # across lunch
    ("2026-03-09 16:00", 4, "2026-03-09 16:00", "2026-03-10 10:00"),   # across the night
    ("2026-03-07 09:00", 4.5, "2026-03-09 07:00", "2026-03-09 11:30"),  # Saturday
    ("2026-02-13 16:30", 1, "2026-02-13 16:30", "2026-02-23 07:30"),   # across Tết
    ("2026-03-09 18:00", 0.25, "2026-03-10 07:00", "2026-03-10 07:15"),
    ("2026-03-09 06:00", 3.5, "2026-03-09 07:00", "2026-03-09 10:30"),
])
def test_working_hours(engine, received, hours, start, due):
    r = one(engine, received_at=T(received), time_limit=hours, time_unit="working_hours")
    assert r["clock_start_at"] == T(start)
    assert r["due_at"] == T(due)
    assert r["due_date"] == T(due).date()
    assert r["late_from"] == T(due) + timedelta(microseconds=1)


@pytest.mark.parametrize("finished, verdict", [
    ("2026-03-09 16:00", "early"),                 # an earlier date
    ("2026-03-10 08:00", "on_time"),               # same date, earlier hour: on time
    ("2026-03-10 11:30", "on_time"),
    ("2026-03-10 11:30:00.000001", "overdue"),
    ("2026-03-10 13:30", "overdue"),
])
def test_working_hours_judging(engine, finished, verdict):
    r = one(engine, received_at=T("2026-03-09 12:00"), time_limit=8, time_unit="working_hours",
            finished_at=T(finished), state="finished")
    assert r["final_status"] == verdict and r["status"] == verdict


# ---- fractional and missing limits ---------------------------------------------------------------
def test_fractional_working_days_end_a_fraction_into_the_next_working_day(engine):
    # N + f: f of an office day (07:00-11:30, 13:30-17:00) into the working day after the N-th
    r = one(engine, received_at=T("2026-03-09 09:00"), time_limit=0.5, time_unit="working_days")
    assert r["due_at"] == T("2026-03-10 11:00")  # 4 office hours into Tuesday
    r = one(engine, received_at=T("2026-03-09 07:00"), time_limit=1.5, time_unit="working_days")
    assert r["due_at"] == T("2026-03-11 11:00")
    r = one(engine, received_at=T("2026-03-09 07:00"), time_limit=1.75, time_unit="working_days")
    assert r["due_at"] == T("2026-03-11 15:00")  # 6 office hours: the morning's 4.5 and 1.5 after the break
    # 2.5 working days never end before 2 do (Thursday close), nor after 3 do
    due = {lim: one(engine, received_at=T("2026-03-09 16:00"), time_limit=lim, time_unit="working_days")["late_from"]
           for lim in (2, 2.5, 3)}
    assert due[2] < due[2.5] < due[3]
    assert due[2.5] == T("2026-03-12 11:00:00.000001")
    r = one(engine, received_at=T("2026-03-09 07:00"), time_limit=2.5, time_unit="calendar_days")
    assert r["due_date"] == D("2026-03-12")  # rounded up to 3 days


@pytest.mark.parametrize("limit", [None, 0, -3, float("nan"), float("inf")])
def test_missing_or_zero_limit_means_no_deadline(engine, limit):
    r = one(engine, received_at=T("2026-03-09 09:00"), time_limit=limit, time_unit="working_days")
    assert (r["due_date"], r["due_at"], r["late_from"], r["final_status"]) == (None, None, None, None)
    assert r["status"] == "no_deadline"
    r = one(engine, received_at=T("2026-03-09 09:00"), time_limit=limit, time_unit="working_hours",
            finished_at=T("2026-03-20 09:00"), state="finished")
    assert r["status"] == "no_deadline" and r["final_status"] is None


def test_unknown_unit_and_out_of_horizon_have_no_deadline(engine):
    assert one(engine, received_at=T("2026-03-09 09:00"), time_limit=3, time_unit="fortnights")["status"] == "no_deadline"
    r = one(engine, received_at=T("2040-03-09 09:00"), time_limit=3, time_unit="working_days")
    assert r["status"] == "no_deadline" and r["due_date"] is None and r["clock_start_at"] is None


# ---- supplements ---------------------------------------------------------------------------------
SUPP = dict(received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
            supplement_requested_at=T("2026-03-03 09:00"), supplement_received_at=T("2026-03-05 18:00"))


def test_supplement_restarts_the_clock(engine):
    r = one(engine, **SUPP, finished_at=T("2026-03-12 10:00"), state="finished")
    assert r["clock_start_at"] == T("2026-03-06 07:00")  # back after close -> Friday 06/03
    assert r["due_date"] == D("2026-03-13")
    assert r["final_status"] == "early"


def test_supplement_resume_adds_the_paused_working_days(engine):
    resume = variant(engine, supplement_mode="resume")
    r = one(resume, **SUPP, finished_at=T("2026-03-12 10:00"), state="finished")
    # paused Tue 03/03 -> (Fri 06/03): 3 working days; 5 + 3 after Mon 02/03 = Thu 12/03
    assert r["clock_start_at"] == T("2026-03-02 09:00")
    assert r["due_date"] == D("2026-03-12")
    assert r["final_status"] == "on_time"


def test_supplement_resume_hours(engine):
    resume = variant(engine, supplement_mode="resume")
    r = one(resume, received_at=T("2026-03-09 09:00"), time_limit=8, time_unit="working_hours",
            supplement_requested_at=T("2026-03-09 10:00"), supplement_received_at=T("2026-03-09 14:30"))
    # paused 10:00-11:30 + 13:30-14:30 = 2.5 office hours -> 10.5 hours from 09:00 Monday
    assert r["due_at"] == T("2026-03-10 11:30")


def test_waiting_supplement(engine):
    kw = dict(received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
              supplement_requested_at=T("2026-03-03 09:00"))
    r = one(engine, **kw)
    assert r["status"] == "waiting_supplement" and r["final_status"] is None
    assert r["due_date"] == D("2026-03-09")  # the deadline running when the clock stopped
    # the receipt comes after as_of: still waiting at as_of
    r = one(engine, as_of=T("2026-03-04 12:00"), **kw, supplement_received_at=T("2026-03-05 08:00"))
    assert r["status"] == "waiting_supplement"
    # the request comes after as_of: not yet known
    r = one(engine, as_of=T("2026-03-03 08:00"), **kw)
    assert r["status"] == "pending_in_time"


def test_resolved_while_waiting_is_judged_when_the_clock_stopped(engine):
    r = one(engine, received_at=T("2026-03-02 09:00"), time_limit=2, time_unit="working_days",
            supplement_requested_at=T("2026-03-04 10:00"), returned_at=T("2026-03-20 10:00"), state="returned")
    assert r["due_date"] == D("2026-03-04")
    assert r["final_status"] == "on_time"  # stopped on the due date


def test_multiple_supplement_cycles_from_events(engine):
    ev = [("supplement_requested", T("2026-03-03 09:00")), ("supplement_received", T("2026-03-04 10:00")),
          ("supplement_requested", T("2026-03-05 09:00")), ("supplement_received", T("2026-03-10 10:00"))]
    base = dict(received_at=T("2026-03-02 09:00"), time_limit=3, time_unit="working_days",
                # the columns carry the latest cycle, as exports do
                supplement_requested_at=T("2026-03-05 09:00"), supplement_received_at=T("2026-03-10 10:00"))
    d = Dossier("M", events=ev, **base)
    r = compute(engine, [d], events=True)["M"]
    assert r["clock_start_at"] == T("2026-03-10 10:00") and r["due_date"] == D("2026-03-13")
    resume = variant(engine, supplement_mode="resume")
    r = compute(resume, [Dossier("M", events=ev, **base)], events=True)["M"]
    # pauses: 03/03->04/03 (1 working day) and 05/03->10/03 (3) -> 3 + 4 after 02/03 = 11/03
    assert r["due_date"] == D("2026-03-11")
    # a third request, still open
    ev3 = ev + [("supplement_requested", T("2026-03-11 09:00")), ("supplement_requested", T("2026-03-12 09:00"))]
    r = compute(engine, [Dossier("M", events=ev3, **base)], events=True)["M"]
    assert r["status"] == "waiting_supplement"
    r = compute(engine, [Dossier("M", events=ev3, **base, finished_at=T("2026-03-20 08:00"), state="finished")],
                events=True)["M"]
    assert r["final_status"] == "early"  # judged at the open request (11/03) against 13/03


def test_events_without_matching_columns(engine):
    ev = [("supplement_requested", T("2026-03-03 09:00")), ("supplement_received", T("2026-03-04 10:00")),
          ("extended", T("2026-03-05 10:00"))]
    d = Dossier("E", T("2026-03-02 09:00"), 3, "working_days", events=ev)
    assert compute(engine, [d], events=True)["E"]["due_date"] == D("2026-03-09")
    d = Dossier("E", T("2026-03-02 09:00"), 3, "working_days", events=ev)
    assert compute(engine, [d], events=False)["E"]["due_date"] == D("2026-03-05")


# ---- extension, exclusion, pending -----------------------------------------------------------------
def test_extension_is_ignored(engine):
    r = one(engine, received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
            extended_due_at=T("2026-03-20 17:00"), finished_at=T("2026-03-12 09:00"), state="finished")
    assert r["due_date"] == D("2026-03-09") and r["final_status"] == "overdue"


@pytest.mark.parametrize("state", ["withdrawn", "rejected"])
def test_excluded(engine, state):
    r = one(engine, received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
            finished_at=T("2026-03-20 09:00"), state=state)
    assert r["status"] == "excluded" and r["final_status"] is None


@pytest.mark.parametrize("as_of, status", [
    ("2026-03-09 23:59:59", "pending_in_time"),
    ("2026-03-10 00:00", "pending_overdue"),
])
def test_pending_at_as_of(engine, as_of, status):
    r = one(engine, as_of=T(as_of), received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days")
    assert r["status"] == status and r["computed_as_of"] == T(as_of)


def test_finished_after_as_of_is_pending(engine):
    kw = dict(received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
              finished_at=T("2026-03-06 09:00"), state="finished")
    r = one(engine, as_of=T("2026-03-05 12:00"), **kw)
    assert r["status"] == "pending_in_time" and r["final_status"] is None
    assert one(engine, **kw)["final_status"] == "early"


def test_on_time_on_the_due_date_even_late_evening(engine):
    r = one(engine, received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
            finished_at=T("2026-03-09 22:00"), state="finished")
    assert r["final_status"] == "on_time"


def test_returned_falls_back_to_returned_at(engine):
    r = one(engine, received_at=T("2026-03-02 09:00"), time_limit=5, time_unit="working_days",
            returned_at=T("2026-03-11 09:00"), state="returned")
    assert r["final_status"] == "overdue"


def test_date_as_of_means_end_of_day(engine):
    con = duckdb.connect()
    engine.install(con)
    load_input(con, [Dossier("A", T("2026-03-02 09:00"), 5, "working_days",
                             finished_at=T("2026-03-09 16:00"), state="finished")])
    row = con.execute(engine.compute_sql("input_dossiers", D("2026-03-09"))).fetchone()
    assert row[OUTPUT_COLUMNS.index("status")] == "on_time"


# ---- rule versions -----------------------------------------------------------------------------
def test_rule_version_switch_on_2025_07_01(engine):
    out = compute(engine, [Dossier("OLD", T("2025-06-30 23:59:59"), 1, "working_days"),
                           Dossier("NEW", T("2025-07-01 00:00"), 1, "working_days")])
    assert out["OLD"]["rule_version"] == "nd61-2018"
    assert out["NEW"]["rule_version"] == "nd118-2025"


def test_versions_with_different_settings_use_their_own(engine, tmp_path):
    p = tmp_path / "rules.yaml"
    p.write_text("""
name: two
calendar_horizon: {first_year: 2015, last_year: 2035}
versions:
  - {id: old, effective_from: 2018-06-21, legal_basis: a}
  - id: new
    effective_from: 2025-07-01
    legal_basis: b
    settings: {office_hours: ["08:00-12:00", "13:00-17:30"], same_day_cutoff: "16:00", supplement_mode: resume}
""", encoding="utf-8")
    eng = SlaEngine(load_ruleset(p), engine.calendar)
    sql = eng.compute_sql("input_dossiers", AS_OF)
    assert "UNION ALL" in sql
    out = compute(eng, [
        Dossier("OLD", T("2025-06-30 15:30"), None, "same_day"),
        Dossier("NEW", T("2025-07-01 15:30"), None, "same_day"),
        Dossier("NEWH", T("2025-07-01 12:30"), 1, "working_hours"),
        Dossier("OLDH", T("2025-06-30 12:30"), 1, "working_hours"),
        Dossier("NEWR", T("2025-07-01 09:00"), 3, "working_days", supplement_requested_at=T("2025-07-02 09:00"),
                supplement_received_at=T("2025-07-03 09:00")),
    ])
    assert out["OLD"]["due_date"] == D("2025-07-01")
    assert out["NEW"]["due_date"] == D("2025-07-01")
    assert out["NEWH"]["clock_start_at"] == T("2025-07-01 13:00") and out["NEWH"]["due_at"] == T("2025-07-01 14:00")
    assert out["OLDH"]["due_at"] == T("2025-06-30 14:30")
    assert out["NEWR"]["due_date"] == D("2025-07-07")  # resume: 3 + 1 working days after 01/07
    assert out["NEW"]["due_at"] == T("2025-07-01 17:30")


def test_single_branch_when_versions_share_settings(engine):
    sql = engine.compute_sql("t", AS_OF)
    assert "sx0" in sql and "sx1" not in sql  # one group: one pair of SELECTs


def test_bad_relation_names(engine):
    with pytest.raises(ValueError):
        engine.compute_sql("t; DROP TABLE x", AS_OF)
    with pytest.raises(ValueError):
        engine.compute_sql("t", AS_OF, lang="fr")
    assert "(SELECT" in engine.compute_sql("(SELECT * FROM t)", AS_OF)


# ---- reasons and explain ---------------------------------------------------------------------------
def test_reasons_vietnamese_and_english(engine):
    ds = [Dossier("TET", T("2026-02-14 10:00"), 5, "working_days", finished_at=T("2026-02-27 10:00"),
                  state="finished"),
          Dossier("LATE", T("2026-03-06 17:30"), 2, "same_day", extended_due_at=T("2026-03-20 10:00")),
          Dossier("SUP", **SUPP),
          Dossier("WD", T("2026-03-02 09:00"), 5, "working_days", state="withdrawn"),
          Dossier("H", T("2026-03-09 12:00"), 8, "working_hours")]
    vi = compute(engine, ds, reasons=True)
    r = vi["TET"]["reason"]
    assert "nhận 10:00 thứ Bảy 14/02/2026 (ngày nghỉ cuối tuần), coi như nhận thứ Hai 23/02/2026" in r
    assert "nghỉ Tết Nguyên đán 16–20/02" in r and "hạn thứ Hai 02/03/2026" in r and "trước hạn" in r
    assert "(sau 15:00)" in vi["LATE"]["reason"]
    assert "phiếu xin lỗi" in vi["LATE"]["reason"] and "không tính" in vi["LATE"]["reason"]
    assert "thời hạn tính lại từ đầu" in vi["SUP"]["reason"]
    assert "(sau giờ làm việc), coi như nhận thứ Sáu 06/03/2026" in vi["SUP"]["reason"]
    assert "đã rút" in vi["WD"]["reason"]
    assert "(giờ nghỉ giữa ca), tính giờ từ 13:30" in vi["H"]["reason"] and "hạn 11:30 thứ Ba 10/03/2026" in vi["H"]["reason"]
    en = compute(engine, ds, reasons=True, lang="en")
    assert "received 10:00 Saturday 14/02/2026 (weekend), counted as received Monday 23/02/2026" in en["TET"]["reason"]
    assert "Lunar New Year (Tết) holiday 16–20/02" in en["TET"]["reason"] and "early" in en["TET"]["reason"]
    assert "restarts from zero" in en["SUP"]["reason"]


def test_reason_names_the_holiday_a_dossier_was_received_on(engine):
    r = compute(engine, [Dossier("H", T("2026-01-02 09:00"), 1, "working_days")], reasons=True)["H"]["reason"]
    assert "(nghỉ Tết Dương lịch)" in r and "coi như nhận thứ Hai 05/01/2026" in r


def test_explain_rows_and_lines(engine):
    con = duckdb.connect()
    load_input(con, [Dossier("B", T("2026-03-09 12:00"), 8, "working_hours"),
                     Dossier("A", T("2026-02-14 10:00"), 5, "working_days"),
                     Dossier("C", T("2026-03-09 12:00"), None, "working_days"),
                     Dossier("D", T("2026-03-09 09:00"), 0.5, "working_days")])
    rows = explain_rows(con, engine, "input_dossiers", T("2026-03-01 12:00"))
    assert [r["dossier_code"] for r in rows] == ["A", "B", "C", "D"]
    assert rows[0]["due"] == "2026-03-02" and rows[0]["status"] == "pending_in_time"
    assert rows[1]["due"] == "2026-03-10 11:30"
    assert rows[2]["due"] == "" and rows[2]["status"] == "no_deadline"
    assert rows[3]["due"] == "2026-03-10 11:00"
    lines = format_lines(rows).splitlines()
    assert len(lines) == 4 and lines[0].startswith("A  2026-03-02") and "nghỉ Tết" in lines[0]
    assert lines[2].startswith("C  -  ")
    assert format_lines([]) == ""
    # file order when the relation carries row numbers (as the import staging relation does)
    con.execute("CREATE TABLE staged AS SELECT *, CASE dossier_code WHEN 'D' THEN 1 WHEN 'B' THEN 2 "
                "WHEN 'C' THEN 3 ELSE 4 END AS row_no FROM input_dossiers")
    assert [r["dossier_code"] for r in explain_rows(con, engine, "staged", T("2026-03-01 12:00"))] == ["D", "B", "C", "A"]
    en = explain_rows(con, engine, "input_dossiers", T("2026-03-01 12:00"), lang="en")
    assert "received" in en[0]["reason"]


def test_install_is_per_connection_and_idempotent(engine):
    con = duckdb.connect()
    engine.install(con)
    n = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0]
    engine.install(con)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == n == len(engine.tables)
    assert engine.name == "vn-default"


def test_install_inside_an_open_transaction_keeps_it_usable(engine):
    # The recompute installs the calendar inside its own transaction: checking for the tables
    # must not raise (a failed statement aborts the whole transaction).
    con = duckdb.connect()
    con.execute("BEGIN")
    engine.install(con)
    engine.install(con)
    con.execute("CREATE TEMP TABLE after_install AS SELECT 1 AS x")
    con.execute("COMMIT")
    assert con.execute("SELECT count(*) FROM temp.after_install").fetchone()[0] == 1
