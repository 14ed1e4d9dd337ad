"""Dossiers due soon: the working time left to each pending dossier's deadline (store/due_soon_queries.py),
on a real store recomputed by the real engine, against hand-counted cases and a plain walk over the
calendar written here, apart from the store.

Office hours of the shipped rule set: 07:00-11:30 and 13:30-17:00 (8 hours a day). 30 April and
1 May 2024 are holidays; 29 April 2024 was given off in exchange for Saturday 4 May.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest

from store.db import Store
from store.errors import QueryError
from store.sla import recompute

T = dt.datetime
FRI = T(2024, 3, 8, 10)             # the instant the list is asked for
SESSIONS = [(dt.time(7), dt.time(11, 30)), (dt.time(13, 30), dt.time(17))]

# code: (agency, received_at, limit, unit, finished_at, supplement requested)
CASES = {
    # 5 working days from Monday: due Monday 11 March at the office close. Left from Friday 10:00:
    # 1.5 h of the morning, 3.5 h of the afternoon, then Monday's 8 h = 13 h
    "P-days": ("S1", T(2024, 3, 4, 9), 5, "working_days", None, None),
    # 4 office hours from Friday 09:00: 2.5 h to the lunch break, 1.5 h after it: 15:00; left 3 h
    "P-hours": ("S1", T(2024, 3, 8, 9), 4, "working_hours", None, None),
    # 10 working days from Monday: due 18 March, not within 2 working days
    "P-far": ("S2", T(2024, 3, 4, 9), 10, "working_days", None, None),
    # late already: overdue, not due soon
    "P-late": ("S2", T(2024, 2, 1, 9), 3, "working_days", None, None),
    # resolved: never due soon
    "P-done": ("S1", T(2024, 3, 4, 9), 5, "working_days", T(2024, 3, 7, 9), None),
    # waiting for a supplement: its clock is stopped
    "P-waiting": ("S1", T(2024, 3, 4, 9), 5, "working_days", None, T(2024, 3, 5, 9)),
    # 1 working day from Thursday 14:00: due Friday at 17:00; left 5 h
    "P-one": ("S2", T(2024, 3, 7, 14), 1, "working_days", None, None),
}


def _load(store: Store, rows: dict) -> None:
    with store.transaction() as c:
        c.executemany(
            "INSERT INTO dossiers (dossier_code, agency_code, procedure_code, channel, received_at, time_limit, "
            "time_unit, finished_at, supplement_requested_at, state) VALUES (?, ?, 'TT-1', 'online', ?, ?, ?, ?, ?, ?)",
            [(code, ag, rec, lim, unit, fin, req, "finished" if fin else "processing")
             for code, (ag, rec, lim, unit, fin, req) in rows.items()])
        c.execute("INSERT INTO agencies (code, name, level) VALUES ('S1', 'Sở Tư pháp', 'department'), "
                  "('S2', 'Sở Xây dựng', 'department')")


@pytest.fixture
def built(tmp_path, engine):
    with Store(tmp_path / "due.duckdb") as s:
        _load(s, CASES)
        recompute(s, engine, FRI)
        yield s


def test_the_list_holds_the_pending_dossiers_due_within_two_working_days_most_urgent_first(built):
    rows = built.query("due_soon", as_of=FRI.isoformat()).to_dicts()
    assert [r["dossier_code"] for r in rows] == ["P-hours", "P-one", "P-days"]
    left = {r["dossier_code"]: r["working_minutes_left"] for r in rows}
    assert left == {"P-hours": 180, "P-one": 300, "P-days": 780}
    first = rows[0]
    assert first["agency_name"] == "Sở Tư pháp" and first["office_day_minutes"] == 480
    assert first["due_at"] == T(2024, 3, 8, 15) and first["working_days_left"] == 0.38
    assert rows[-1]["due_at"] == T(2024, 3, 11, 17)


def test_days_widen_the_list_and_an_agency_narrows_it(built):
    assert [r["dossier_code"] for r in built.query("due_soon", as_of=FRI.isoformat(), days=10)] == [
        "P-hours", "P-one", "P-days", "P-far"]
    assert [r["dossier_code"] for r in built.query("due_soon", as_of=FRI.isoformat(), days=0.7)] == [
        "P-hours", "P-one"]
    assert [r["dossier_code"] for r in built.query("due_soon", as_of=FRI.isoformat(), agency="S2")] == ["P-one"]


def test_counts_per_agency_and_the_total(built):
    rows = built.query("due_soon_by_agency", as_of=FRI.isoformat()).to_dicts()
    total = rows[0]
    assert (total["row_kind"], total["due_soon"], total["due_within_one_day"]) == ("total", 3, 2)
    assert total["agency_name"] is None and total["days"] == 2.0 and isinstance(total["days"], float)
    per = {r["agency_code"]: (r["due_soon"], r["due_within_one_day"], r["min_working_minutes_left"])
           for r in rows[1:]}
    assert per == {"S1": (2, 1, 180), "S2": (1, 1, 300)}


def test_time_passes_in_office_hours_only(built):
    # at the lunch break nothing passes: the same time left at 11:30 and at 13:30
    at_1130 = {r["dossier_code"]: r["working_minutes_left"] for r in built.query("due_soon", as_of="2024-03-08T11:30")}
    at_1330 = {r["dossier_code"]: r["working_minutes_left"] for r in built.query("due_soon", as_of="2024-03-08T13:30")}
    assert at_1130 == at_1330 == {"P-hours": 90, "P-one": 210, "P-days": 690}
    # on Saturday, Friday's deadlines have passed and Monday's holds a whole office day
    sat = built.query("due_soon", as_of="2024-03-09T10:00").to_dicts()
    assert [(r["dossier_code"], r["working_minutes_left"]) for r in sat] == [("P-days", 480)]


def test_an_earlier_instant_lists_what_was_pending_then(built):
    # Wednesday 10:00: P-done (finished Thursday) was still pending, P-hours and P-one not received
    wed = built.query("due_soon", as_of="2024-03-06T10:00", days=4).to_dicts()
    assert {r["dossier_code"]: r["working_minutes_left"] for r in wed} == {"P-days": 29 * 60, "P-done": 29 * 60}


def test_bad_parameters_are_refused_plainly(built):
    for days in (0, -1, 61, "x", True):
        with pytest.raises(QueryError, match="days must be"):
            built.query("due_soon", days=days)
    with pytest.raises(QueryError, match="outside the calendar"):
        built.query("due_soon", as_of="2099-01-01T10:00")


def test_a_store_never_recomputed_lists_nothing_or_says_why(tmp_path):
    with Store(tmp_path / "empty.duckdb") as s:
        with pytest.raises(QueryError, match="run a full recompute"):
            s.query("due_soon")


# -- against a plain walk over the calendar ------------------------------------------------------

def _office_minutes(engine, a: T, b: T) -> float:
    """Office time between a and b, walking the days and the sessions (not the store's SQL)."""
    total = 0.0
    d = a.date()
    while d <= b.date():
        if engine.calendar.is_working(d):
            for s, e in SESSIONS:
                lo, hi = max(a, T.combine(d, s)), min(b, T.combine(d, e))
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
        d += dt.timedelta(days=1)
    return total


def test_the_time_left_equals_a_walk_over_the_calendar_across_holidays(tmp_path, engine):
    rnd = random.Random(7)
    now = T(2024, 4, 26, 15, 40)  # Friday before the long weekend of 27 April - 1 May 2024
    units = ["working_days", "working_hours", "calendar_days", "working_days"]
    rows = {}
    for i in range(300):
        rec = now - dt.timedelta(minutes=rnd.randrange(0, 60 * 24 * 12))
        unit = rnd.choice(units)
        lim = rnd.choice([1, 2, 3, 5, 8, 1.5, 2.5, 16]) if unit != "working_hours" else rnd.choice([2, 4, 8, 12, 20])
        rows[f"R{i:03d}"] = ("S1", rec, lim, unit, None, None)
    with Store(tmp_path / "walk.duckdb") as s:
        _load(s, rows)
        recompute(s, engine, now)
        listed = {r["dossier_code"]: r for r in s.query("due_soon", as_of=now.isoformat(), days=3, limit=1000)}
        pending = s.cursor().execute(
            "SELECT dossier_code, late_from FROM dossier_sla WHERE status = 'pending_in_time'").fetchall()
    assert listed, "the sample has dossiers due soon"
    for code, late_from in pending:
        left = _office_minutes(engine, now, late_from)
        if late_from > now and left <= 3 * 480:
            assert code in listed, (code, late_from, left)
            assert listed[code]["working_minutes_left"] == int(left), (code, late_from)
        else:
            assert code not in listed, (code, late_from, left)


# -- in the monthly briefing -------------------------------------------------------------------------

def test_the_briefing_lists_the_dossiers_due_soon_as_it_is_made(built):
    import io

    from docx import Document
    from openpyxl import load_workbook

    from reports.briefing.collect import collect
    from reports.files import render

    b = collect(built, "2024-03", at=FRI)
    assert [r["dossier_code"] for r in b.due_soon_dossiers] == ["P-hours", "P-one", "P-days"]
    doc = Document(io.BytesIO(render(b, "docx")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "4. Hồ sơ sắp đến hạn" in text
    # and where March can still end (the month under way at the recompute)
    assert "5. Dự báo kết quả cuối tháng 03/2024" in text and "Nếu mọi hồ sơ còn trong hạn" in text
    assert "Đến 10:00 08/03/2024, có 3 hồ sơ đang giải quyết còn không quá 2 ngày làm việc đến hạn" in text
    table = next(t for t in doc.tables if t.rows[0].cells[1].text == "Cơ quan, đơn vị"
                 and "Sắp đến hạn" in t.rows[0].cells[2].text)
    assert [[c.text for c in r.cells] for r in table.rows[1:]] == [
        ["1", "Sở Tư pháp", "2", "1", "3 giờ"], ["2", "Sở Xây dựng", "1", "1", "5 giờ"]]
    ws = load_workbook(io.BytesIO(render(b, "xlsx")))["Sắp đến hạn"]
    assert [ws.cell(r, 1).value for r in (3, 4, 5)] == ["P-hours", "P-one", "P-days"]
    assert (ws.cell(5, 8).value, ws.cell(5, 9).value) == ("1 ngày làm việc 5 giờ", 780)
    # an agency's briefing: its own dossiers only
    assert [r["dossier_code"] for r in collect(built, "2024-03", agency="S2", at=FRI).due_soon_dossiers] == ["P-one"]
