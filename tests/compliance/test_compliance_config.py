"""Criteria as data (config/compliance.py, config/compliance/tt22-2019.yaml): the shipped file and
the messages a bad file gets."""
from __future__ import annotations

import pytest

from config.compliance import AUDIT_KINDS, DEFAULT_CRITERIA, load_criteria, unknown_checks
from config.errors import ConfigError
from config.probes import load_probes


def test_shipped_criteria_cover_every_annex_and_the_named_function_groups():
    crit = load_criteria()
    assert {c.annex for c in crit.criteria} == {"I", "II", "III", "IV", "province"}
    ids = {c.id for c in crit.criteria}
    assert {"I.status-each-step", "II.statistics-reports", "II.dossier-tracking", "II.dvcqg-integration",
            "IV.avg-response", "IV.max-response", "IV.concurrent-users", "IV.uptime"} <= ids
    for c in crit.criteria:
        if c.annex == "province":
            assert "không thuộc Thông tư 22/2019" in c.legal_ref
        else:  # an annex reference only, no invented article numbers
            assert c.legal_ref == f"TT 22/2019/TT-BTTTT, Phụ lục {c.annex}"
        assert c.title and c.title_en
    sources = {e.source for c in crit.criteria for e in c.evidence}
    assert sources == {"probe_check", "probe_latency", "probe_uptime", "sla_audit", "sync_reconciliation", "loadtest"}
    assert any(c.judged_by == "person" for c in crit.criteria)


def test_shipped_criteria_name_only_checks_of_the_shipped_probes():
    assert unknown_checks(load_criteria(), load_probes()) == []


def test_audit_kinds_match_the_store():
    from store.queries import AUDIT_KINDS as STORE_KINDS

    assert tuple(STORE_KINDS) == AUDIT_KINDS


def write(tmp_path, text: str):
    p = tmp_path / "crit.yaml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = """
criteria:
  - id: IV.avg
    annex: IV
    group: Hiệu năng
    title: Thời gian phản hồi trung bình
    title_en: Average response time
    legal_ref: "TT 22/2019/TT-BTTTT, Phụ lục IV"
    judged_by: automatic
"""


@pytest.mark.parametrize("tail, expected", [
    ("", "criteria.0: Value error, an automatic criterion needs at least one evidence source"),
    ("    evidence: [{source: probe_latency, checks: [home], statistic: mean, max_ms: 3000}]",
     "criteria.0.evidence.0.probe_latency.statistic: Input should be 'avg', 'max' or 'p95'"),
    ("    evidence: [{source: probe_latency, checks: [home], statistic: avg, max_ms: -1}]",
     "criteria.0.evidence.0.probe_latency.max_ms: Input should be greater than 0"),
    ("    evidence: [{source: probe_uptime, min_ratio: 0.99}]",
     "criteria.0.evidence.0.probe_uptime: Value error, name the checks"),
    ("    evidence: [{source: telepathy}]", "criteria.0.evidence.0: Input tag 'telepathy' found using 'source'"),
    ("    evidence: [{source: sla_audit, kinds: [late]}]", "criteria.0.evidence.0.sla_audit.kinds: Value error, kinds must be"),
    ("    evidence: [{source: loadtest, min_users: 500, users: 3}]",
     "criteria.0.evidence.0.loadtest.users: Extra inputs are not permitted"),
])
def test_bad_criteria_files_name_the_file_and_the_field(tmp_path, tail, expected):
    p = write(tmp_path, BASE + tail + "\n")
    with pytest.raises(ConfigError) as e:
        load_criteria(p)
    assert str(p) in str(e.value) and expected in str(e.value), str(e.value)


def test_duplicate_ids_person_with_evidence_and_bad_yaml(tmp_path):
    ev = "    evidence: [{source: probe_check, checks: [home]}]\n"
    with pytest.raises(ConfigError, match="criterion id 'IV.avg' appears twice"):
        load_criteria(write(tmp_path, BASE + ev + BASE.split("criteria:\n")[1] + ev))
    with pytest.raises(ConfigError, match="judged by a person has no automatic evidence"):
        load_criteria(write(tmp_path, BASE.replace("judged_by: automatic", "judged_by: person") + ev))
    with pytest.raises(ConfigError, match=r"crit.yaml: not valid YAML \(line"):
        load_criteria(write(tmp_path, "criteria: [\n  - id: x\n  bad"))
    with pytest.raises(ConfigError, match="file not found"):
        load_criteria(tmp_path / "missing.yaml")


def test_unknown_checks_are_named(tmp_path):
    p = write(tmp_path, BASE + "    evidence: [{source: probe_check, checks: [home, no-such-check, citizen-v1-login/nope]},"
                               " {source: probe_uptime, group: nogroup, min_ratio: 0.9}]\n")
    msgs = unknown_checks(load_criteria(p), load_probes())
    assert msgs == ["criterion IV.avg: evidence.0.checks: no check or journey step 'no-such-check' in the probes file",
                    "criterion IV.avg: evidence.0.checks: no check or journey step 'citizen-v1-login/nope' in the probes file",
                    "criterion IV.avg: evidence.1.group: no probes group 'nogroup'"]


def test_default_path_is_shipped():
    assert DEFAULT_CRITERIA.is_file() and DEFAULT_CRITERIA.parent.name == "compliance"


def test_app_config_section(tmp_path):
    from config.app import load_config

    cfg = load_config(environ={"MOTCUA_COMPLIANCE__FILES_DIR": str(tmp_path / "files")})
    assert cfg.compliance.criteria == DEFAULT_CRITERIA and cfg.compliance.files_dir == tmp_path / "files"
    with pytest.raises(ConfigError, match=r"compliance.criterias: Extra inputs are not permitted"):
        load_config(environ={"MOTCUA_COMPLIANCE__CRITERIAS": "x.yaml"})
