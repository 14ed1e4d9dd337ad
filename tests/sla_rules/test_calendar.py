"""The working-day calendar: 2025–2026 civil-service schedule, names, override files."""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from config import default_path
from config.calendar import load_calendar_overrides
from config.errors import ConfigError
from sla_rules.calendar import HOLIDAY, WEEKEND, WorkCalendar, format_range, holiday_label
from sla_rules.engine import SlaEngine

OVERRIDES = [default_path("calendar", "vn-civil-service.yaml"), default_path("calendar", "quang-ngai.yaml")]


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_files(2024, 2027, OVERRIDES)


def D(s: str) -> date:
    return date.fromisoformat(s)


def off_days(cal: WorkCalendar, a: str, b: str) -> list[str]:
    out, d = [], D(a)
    while d <= D(b):
        if not cal.is_working(d):
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def test_tet_2025_is_27_to_31_january(cal):
    # 25/01 (Sat) .. 02/02 (Sun) closed; Monday 03/02 back at work.
    assert off_days(cal, "2025-01-24", "2025-02-03") == [
        "2025-01-25", "2025-01-26", "2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30",
        "2025-01-31", "2025-02-01", "2025-02-02"]
    assert cal.is_working(D("2025-01-24")) and cal.is_working(D("2025-02-03"))
    for d in ("2025-01-27", "2025-01-31"):
        assert cal.day(D(d)).kind == HOLIDAY
        assert cal.day(D(d)).label_vi == "Tết Nguyên đán"


def test_30_april_2025_with_saturday_26_april_worked(cal):
    assert cal.is_working(D("2025-04-26"))  # Saturday worked in exchange
    assert not cal.is_working(D("2025-05-02"))  # Friday off
    assert off_days(cal, "2025-04-28", "2025-05-05") == [
        "2025-04-30", "2025-05-01", "2025-05-02", "2025-05-03", "2025-05-04"]
    assert "Chiến thắng" in cal.day(D("2025-04-30")).name_vi


def test_new_year_2026_swap_from_override_file(cal):
    # New Year 2026 civil-service swap: Friday 02/01/2026 off, Saturday 10/01/2026 worked.
    assert not cal.is_working(D("2026-01-01"))
    day = cal.day(D("2026-01-02"))
    assert not day.is_working and day.source == "vn-civil-service.yaml"
    assert "Tết Dương lịch" in day.name_vi and "Tết Dương lịch 2026" in day.legal_basis
    assert cal.is_working(D("2026-01-10"))
    assert not cal.is_working(D("2026-01-17"))  # an ordinary Saturday


def test_without_override_the_package_lacks_the_new_year_2026_swap():
    bare = WorkCalendar.build(2026, 2026)
    assert bare.is_working(D("2026-01-02"))
    assert not bare.is_working(D("2026-01-10"))


def test_tet_2026_16_to_20_february(cal):
    assert off_days(cal, "2026-02-13", "2026-02-23") == [
        "2026-02-14", "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
        "2026-02-20", "2026-02-21", "2026-02-22"]
    assert cal.is_working(D("2026-02-13")) and cal.is_working(D("2026-02-23"))
    assert cal.next_working_day(D("2026-02-13")) == D("2026-02-23")


def test_hung_kings_2026_observed_monday_27_april(cal):
    assert cal.day(D("2026-04-26")).kind == HOLIDAY  # a Sunday
    assert not cal.is_working(D("2026-04-27"))
    assert "Hùng Vương" in cal.day(D("2026-04-27")).name_vi
    assert cal.is_working(D("2026-04-28")) and cal.is_working(D("2026-04-29"))


def test_national_day_2026(cal):
    assert cal.is_working(D("2026-08-22"))  # Saturday worked
    assert off_days(cal, "2026-08-28", "2026-09-03") == [
        "2026-08-29", "2026-08-30", "2026-08-31", "2026-09-01", "2026-09-02"]
    runs = {r.first: r for r in cal.off_runs()}
    assert runs[D("2026-08-31")].text() == "nghỉ Quốc khánh 31/08–02/09"


def test_culture_day_24_november_from_2026_only(cal):
    assert not cal.is_working(D("2026-11-24"))
    assert "Văn hóa" in cal.day(D("2026-11-24")).name_vi
    assert cal.is_working(D("2025-11-24"))  # Monday, not yet a holiday


def test_every_non_working_day_has_a_vietnamese_name(cal):
    for c in cal.days():
        if not c.is_working:
            assert c.name_vi and c.name_en, c
            if c.kind == WEEKEND:
                assert c.name_vi.startswith("Nghỉ cuối tuần")


def test_off_runs_are_labelled_and_grouped(cal):
    texts = {r.first.isoformat(): r.text() for r in cal.off_runs() if r.first.year == 2026}
    assert texts["2026-01-01"] == "nghỉ Tết Dương lịch 01–02/01"
    assert texts["2026-02-16"] == "nghỉ Tết Nguyên đán 16–20/02"
    assert texts["2026-04-30"] == "nghỉ Ngày Chiến thắng, Quốc tế Lao động 30/04–01/05"
    en = {r.first.isoformat(): r.text("en") for r in cal.off_runs()}
    assert en["2026-02-16"] == "Lunar New Year (Tết) holiday 16–20/02"


def test_format_range_and_labels():
    assert format_range(D("2026-02-16"), D("2026-02-20")) == "16–20/02"
    assert format_range(D("2025-04-30"), D("2025-05-02")) == "30/04–02/05"
    assert format_range(D("2026-01-02"), D("2026-01-02")) == "02/01"
    assert holiday_label("Ngày nghỉ (thay cho ngày 22/08/2026)") == (None, None)
    assert holiday_label("Mùng hai Tết Nguyên Đán")[0] == "Tết Nguyên đán"
    assert holiday_label("Nghỉ tránh bão số 5", "Typhoon No. 5") == ("Nghỉ tránh bão số 5", "Typhoon No. 5")


def test_working_day_arithmetic(cal):
    # 5 working days after Friday 13/02/2026, across Tết: 23, 24, 25, 26, 27 February.
    assert cal.add_working_days(D("2026-02-13"), 5) == D("2026-02-27")
    assert cal.wd_index(D("2026-02-23")) == cal.wd_index(D("2026-02-13")) + 1
    assert cal.working_day(cal.wd_index(D("2026-02-27"))) == D("2026-02-27")
    with pytest.raises(KeyError):
        cal.day(D("2030-01-01"))


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_province_override_closes_a_day_and_later_file_wins(tmp_path):
    typhoon = _write(tmp_path, "qn.yaml", """
entries:
  - date: 2025-10-27
    kind: off
    reason: "Nghỉ tránh bão (thử nghiệm)"
    legal_basis: "Công văn thử nghiệm"
  - date: 2026-01-02
    kind: working
    reason: "Làm việc (thử nghiệm ghi đè)"
    legal_basis: "Công văn thử nghiệm"
""")
    cal = WorkCalendar.from_files(2025, 2026, [*OVERRIDES[:1], typhoon])
    assert not cal.is_working(D("2025-10-27"))
    assert cal.day(D("2025-10-27")).source == "qn.yaml"
    assert cal.off_note(D("2025-10-27")) == "nghỉ Nghỉ tránh bão (thử nghiệm)"
    assert cal.is_working(D("2026-01-02"))  # the later file wins


def test_entries_outside_the_horizon_are_ignored(tmp_path):
    p = _write(tmp_path, "far.yaml", """
entries:
  - {date: 2040-01-02, kind: "off", reason: "Xa", legal_basis: "x"}
""")
    cal = WorkCalendar.from_files(2025, 2025, [p])
    assert cal.last == D("2025-12-31")


def test_shipped_override_files_are_valid():
    civil = load_calendar_overrides(OVERRIDES[0])
    assert {e.date for e in civil.entries} >= {D("2026-01-02"), D("2026-01-10")}
    assert all(e.legal_basis for e in civil.entries)
    assert load_calendar_overrides(OVERRIDES[1]).entries == []


@pytest.mark.parametrize("body, field", [
    ("entries:\n  - {date: 2026-13-01, kind: \"off\", reason: x, legal_basis: y}\n", "month must be in 1..12"),
    ("entries:\n  - {date: 2026-02-30x, kind: \"off\", reason: x, legal_basis: y}\n", "entries.0.date"),
    ("entries:\n  - {date: 2026-01-05, kind: closed, reason: x, legal_basis: y}\n", "entries.0.kind"),
    ("entries:\n  - {date: 2026-01-05, kind: working, reason: '  ', legal_basis: y}\n", "entries.0.reason"),
    ("entries:\n  - {date: 2026-01-05, kind: working, reason: x}\n", "entries.0.legal_basis"),
    ("entries:\n  - {date: 2026-01-05, kind: working, reason: x, legal_basis: y, note: z}\n", "entries.0.note"),
    ("entries:\n  - {date: 2026-01-05, kind: on, reason: x, legal_basis: y}\n", "entries.0.kind"),
])
def test_bad_override_entries_name_file_and_field(tmp_path, body, field):
    p = _write(tmp_path, "bad.yaml", body)
    with pytest.raises(ConfigError) as ei:
        load_calendar_overrides(p)
    assert str(p) in str(ei.value) and field in str(ei.value)


def test_unquoted_off_is_accepted(tmp_path):
    p = _write(tmp_path, "ok.yaml", "entries:\n  - {date: 2026-01-05, kind: off, reason: x, legal_basis: y}\n")
    assert load_calendar_overrides(p).entries[0].kind == "off"


def test_duplicate_dates_rejected(tmp_path):
    p = _write(tmp_path, "dup.yaml", """
entries:
  - {date: 2026-01-05, kind: "off", reason: a, legal_basis: y}
  - {date: 2026-01-05, kind: working, reason: b, legal_basis: y}
""")
    with pytest.raises(ConfigError, match="listed twice"):
        load_calendar_overrides(p)


def test_calendar_tables_match_the_calendar_facts(cal):
    """The TEMP tables the engine installs agree with WorkCalendar day by day."""
    from config.ruleset import RuleSet

    rs = RuleSet.model_validate({"name": "t", "calendar_horizon": {"first_year": 2024, "last_year": 2027},
                                 "versions": [{"id": "v1", "effective_from": "2018-01-01", "legal_basis": "x"}]})
    eng = SlaEngine(rs, cal)
    con = duckdb.connect()
    eng.install(con)
    eng.install(con)  # idempotent
    t = eng.tables
    rows = con.execute(f"SELECT d, is_working, wd_index, next_dn FROM {t['day']} ORDER BY d").fetchall()
    assert len(rows) == len(cal.days())
    for d, w, idx, nx in rows:
        assert w == cal.is_working(d)
        assert idx == cal.wd_index(d)
        nwd = cal.next_working_day(d)
        assert nx == ((nwd - date(1970, 1, 1)).days if nwd else None)
    # key table: -i -> i-th working day; dn -> first working day on/after
    k = dict(con.execute(f"SELECT k, d FROM {t['key']}").fetchall())
    assert k[-cal.wd_index(D("2026-02-23"))] == D("2026-02-23")
    assert k[(D("2026-02-14") - date(1970, 1, 1)).days] == D("2026-02-23")
    assert k[(D("2026-01-10") - date(1970, 1, 1)).days] == D("2026-01-10")
