"""`app.py calendar YEAR`: the engine's own calendar for a year, each day with its source."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from config import default_path
from config.ruleset import load_ruleset
from sla_rules.engine import SlaEngine

CIVIL = default_path("calendar", "vn-civil-service.yaml")
CIVIL_SHOWN = "config/calendar/vn-civil-service.yaml"


def line_of(path, needle: str) -> int:
    """1-based line of the first line of a file containing needle."""
    for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in text:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def horizon(cfg) -> tuple[int, int]:
    h = load_ruleset(cfg.sla.rule_set).calendar_horizon
    return h.first_year, h.last_year


def year_days(year: int):
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += timedelta(days=1)


def test_2026_text_names_each_day_and_its_source(run_app):
    r = run_app("calendar", "2026")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # A line's own date is its first one (a reason may name another date).
    by_date = {m.group(): text for text in lines if (m := re.search(r"\d\d/\d\d/\d{4}", text))}
    friday = by_date["02/01/2026"]
    assert friday.startswith("Thứ Sáu") and " nghỉ " in friday and "Tết Dương lịch" in friday
    assert f"{CIVIL_SHOWN}:{line_of(CIVIL, 'date: 2026-01-02')}" in friday
    assert "12729/VPCP-KGVX" in friday
    saturday = by_date["10/01/2026"]
    assert saturday.startswith("Thứ Bảy") and " làm việc " in saturday
    assert f"{CIVIL_SHOWN}:{line_of(CIVIL, 'date: 2026-01-10')}" in saturday
    for d in ("01/01/2026", "17/02/2026", "22/08/2026", "31/08/2026"):
        assert "gói holidays (mặc định)" in by_date[d], by_date[d]
    assert " làm việc " in by_date["22/08/2026"] and " nghỉ " in by_date["31/08/2026"]
    assert "chỉ có mặc định" not in r.stdout
    assert "Traceback" not in r.stderr


def test_2026_json(run_app):
    r = run_app("calendar", "2026", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["year"] == 2026 and doc["package_defaults_only"] is False
    days = {x["date"]: x for x in doc["days"]}
    friday = days["2026-01-02"]
    assert friday["weekday"] == "Thứ Sáu" and friday["working"] is False
    assert friday["source"] == "override" and friday["file"] == CIVIL_SHOWN
    assert friday["line"] == line_of(CIVIL, "date: 2026-01-02")
    assert "12729/VPCP-KGVX" in friday["legal_basis"]
    saturday = days["2026-01-10"]
    assert saturday["weekday"] == "Thứ Bảy" and saturday["working"] is True and saturday["source"] == "override"
    new_year = days["2026-01-01"]
    assert new_year["source"] == "holidays" and new_year["file"] is None and new_year["line"] is None
    assert days["2026-08-22"]["working"] is True and days["2026-08-22"]["source"] == "holidays"
    en = json.loads(run_app("calendar", "2026", "--json", "--lang", "en").stdout)
    assert {x["date"]: x["weekday"] for x in en["days"]}["2026-01-02"] == "Friday"


@pytest.mark.parametrize("year", [2026, 2030])
def test_listed_days_are_exactly_the_engines_departures_from_the_week(run_app, app_cfg, year):
    """Every weekday the engine does not count and every weekend day it does, and nothing else."""
    cal = SlaEngine.from_files(app_cfg.sla.rule_set, app_cfg.sla.calendar_overrides).calendar
    r = run_app("calendar", str(year), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    listed = {x["date"]: x["working"] for x in doc["days"]}
    expected = {d.isoformat(): cal.is_working(d) for d in year_days(year) if cal.is_working(d) != (d.weekday() < 5)}
    assert listed == expected
    assert doc["working_days"] == sum(cal.is_working(d) for d in year_days(year))
    assert [x["date"] for x in doc["days"]] == sorted(listed)


def test_a_year_without_decisions_says_package_defaults_only(run_app, app_cfg):
    first, last = horizon(app_cfg)
    assert first <= 2030 <= last
    r = run_app("calendar", "2030")
    assert r.returncode == 0, r.stderr
    assert "chỉ có mặc định của gói holidays, chưa có quyết định nào được nhập" in r.stdout
    doc = json.loads(run_app("calendar", "2030", "--json").stdout)
    assert doc["package_defaults_only"] is True and doc["days"]
    assert {x["source"] for x in doc["days"]} == {"holidays"}
    en = run_app("calendar", "2030", "--lang", "en")
    assert "package defaults only" in en.stdout and "holidays package default" in en.stdout


def test_a_year_outside_the_horizon_is_refused(run_app, app_cfg):
    first, last = horizon(app_cfg)
    for year in (last + 1, first - 1):
        r = run_app("calendar", str(year))
        assert r.returncode == 2, r.stderr
        assert str(year) in r.stderr and f"{first}–{last}" in r.stderr
        assert r.stdout == "" and "Traceback" not in r.stderr
    r = run_app("calendar", str(last + 5), "--json", "--lang", "en")
    assert r.returncode == 2 and "outside the calendar horizon" in r.stderr and f"{first}–{last}" in r.stderr


def test_provincial_override_files_from_the_config_are_listed(run_app, tmp_path):
    province = tmp_path / "tinh.yaml"
    province.write_text("""description: thử nghiệm
entries:
  - date: 2027-10-15
    kind: "off"
    reason: "Nghỉ tránh bão (thử nghiệm)"
    legal_basis: "Công văn thử nghiệm của UBND tỉnh"
  - date: 2027-10-18
    kind: working
    reason: "Làm việc bình thường (thử nghiệm)"
    legal_basis: "Công văn thử nghiệm của UBND tỉnh"
""", encoding="utf-8")
    cfg = tmp_path / "motcua.yaml"
    cfg.write_text(f"sla:\n  calendar_overrides:\n    - {CIVIL}\n    - {province}\n", encoding="utf-8")
    r = run_app("--config", str(cfg), "calendar", "2027", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["package_defaults_only"] is False
    storm = {x["date"]: x for x in doc["days"]}["2027-10-15"]
    assert storm["working"] is False and storm["source"] == "override"
    assert storm["file"] == str(province) and storm["line"] == 3 and storm["legal_basis"].startswith("Công văn")
    # A working Monday changes nothing in the week, but it is a decision: shown apart.
    assert [x["date"] for x in doc["other_overrides"]] == ["2027-10-18"]
    text = run_app("--config", str(cfg), "calendar", "2027").stdout
    assert f"{province}:3" in text and f"{province}:7" in text
