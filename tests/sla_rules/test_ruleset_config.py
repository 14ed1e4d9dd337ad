"""The rule set file: shipped default, validation with clear messages naming file and field."""
from __future__ import annotations

from datetime import date, time

import pytest

from config.errors import ConfigError
from config.ruleset import DEFAULT_RULE_SET, RuleSet, load_ruleset
from sla_rules.engine import SlaEngine


def test_shipped_rule_set_has_two_versions_with_same_defaults():
    rs = load_ruleset(DEFAULT_RULE_SET)
    assert rs.name == "vn-default"
    assert [v.id for v in rs.versions] == ["nd61-2018", "nd118-2025"]
    assert rs.versions[1].effective_from == date(2025, 7, 1)
    assert "61/2018" in rs.versions[0].legal_basis and "118/2025" in rs.versions[1].legal_basis
    s0, s1 = rs.versions[0].settings, rs.versions[1].settings
    assert s0 == s1
    assert [(x.start, x.end) for x in s0.office_hours] == [(time(7), time(11, 30)), (time(13, 30), time(17))]
    assert s0.same_day_cutoff == time(15) and s0.supplement_mode == "restart"
    assert s0.office_seconds == 8 * 3600


def test_version_for_dates():
    rs = load_ruleset(DEFAULT_RULE_SET)
    assert rs.version_for(date(2025, 6, 30)).id == "nd61-2018"
    assert rs.version_for(date(2025, 7, 1)).id == "nd118-2025"
    assert rs.version_for(date(2010, 1, 1)).id == "nd61-2018"  # older than the first: the first


def test_defaults_fill_missing_settings(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: mini\nversions:\n  - {id: v1, effective_from: 2020-01-01, legal_basis: x}\n", encoding="utf-8")
    rs = load_ruleset(p)
    assert rs.versions[0].settings.same_day_cutoff == time(15)
    assert rs.calendar_horizon.first_year == 2015


def _bad(tmp_path, text: str) -> str:
    p = tmp_path / "rules.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_ruleset(p)
    msg = str(ei.value)
    assert str(p) in msg
    return msg


V = "  - id: v1\n    effective_from: 2020-01-01\n    legal_basis: x\n"


@pytest.mark.parametrize("text, expected", [
    ("name: a\nversions: []\n", "versions"),
    ("name: a\n", "versions"),
    ("name: 'bad name!'\nversions:\n" + V, "name"),
    ("name: a\nversion:\n" + V, "version"),                       # typo: extra key
    ("name: a\nversions:\n" + V + "    settings: {supplement_mode: pause}\n", "versions.0.settings.supplement_mode"),
    ("name: a\nversions:\n" + V + "    settings: {same_day_cutoff: 15:00}\n", "quoted"),
    ("name: a\nversions:\n" + V + "    settings: {same_day_cutoff: '25:00'}\n", "same_day_cutoff"),
    ("name: a\nversions:\n" + V + "    settings: {same_day_cutoff: '18:00'}\n", "outside office hours"),
    ("name: a\nversions:\n" + V + "    settings: {office_hours: ['11:30-07:00']}\n", "before it starts"),
    ("name: a\nversions:\n" + V + "    settings: {office_hours: ['07:00-12:00', '11:00-17:00']}\n", "overlap"),
    ("name: a\nversions:\n" + V + "    settings: {office_hours: ['7h-11h']}\n", "versions.0.settings.office_hours.0"),
    ("name: a\nversions:\n" + V + "    settings: {office_hours: []}\n", "office_hours"),
    ("name: a\nversions:\n" + V + "    settings: {typo: 1}\n", "versions.0.settings.typo"),
    ("name: a\nversions:\n" + V + V, "duplicate id v1"),
    ("name: a\nversions:\n" + V + "  - {id: v2, effective_from: 2019-01-01, legal_basis: y}\n", "date order"),
    ("name: a\nversions:\n  - {id: v1, effective_from: 2020-01-01, legal_basis: '  '}\n", "legal_basis"),
    ("name: a\nversions:\n  - {id: v1, effective_from: 2020-02-31, legal_basis: x}\n", "not valid YAML"),
    ("name: a\ncalendar_horizon: {first_year: 2030, last_year: 2020}\nversions:\n" + V, "before first_year"),
    ("name: a\ncalendar_horizon: {first_year: 1900}\nversions:\n" + V, "calendar_horizon.first_year"),
    ("name: [a\n", "not valid YAML (line"),
    ("- a\n- b\n", "mapping"),
])
def test_bad_rule_sets_give_clear_errors(tmp_path, text, expected):
    assert expected in _bad(tmp_path, text)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_ruleset(tmp_path / "none.yaml")


def test_engine_from_files_reports_bad_calendar_file(tmp_path):
    cal = tmp_path / "cal.yaml"
    cal.write_text("entries:\n  - {date: 2026-01-05, kind: maybe, reason: x, legal_basis: y}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        SlaEngine.from_files(DEFAULT_RULE_SET, [cal])
    assert str(cal) in str(ei.value) and "entries.0.kind" in str(ei.value)


def test_model_is_strict_and_frozen():
    rs = RuleSet.model_validate({"name": "x", "versions": [{"id": "v", "effective_from": "2020-01-01",
                                                             "legal_basis": "b"}]})
    with pytest.raises(Exception):
        rs.name = "y"  # type: ignore[misc]
