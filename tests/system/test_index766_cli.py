"""`app.py index766` as a user runs it, on a store filled through the command line, and
`app.py check-config` refusing a broken rules file."""
from __future__ import annotations

import json

import yaml

from tests.store.test_index766 import AS_OF, EXPECTED, MONTH, REFERENCE, write_export


def test_index766_json_and_text(run_app, tmp_path):
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump(REFERENCE, allow_unicode=True), encoding="utf-8")
    assert run_app("reference", str(ref)).returncode == 0
    imp = run_app("import", str(write_export(tmp_path / "export.csv")))
    assert imp.returncode == 0, imp.stderr
    assert run_app("sla", "recompute", "--as-of", AS_OF).returncode == 0

    out = run_app("index766", "--month", MONTH, "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["label"] == {"vi": "ước tính", "en": "estimate"} and doc["estimate"] is True
    assert doc["month"] == MONTH and doc["as_of"] == "2024-04-01T00:00:00"
    assert doc["score_denominator"] == "received_and_carried" and doc["rating_scale"] == [1, 5]
    defs = doc["definitions"]
    assert list(defs) == ["publicity", "progress", "online_service", "digitisation", "satisfaction"]
    assert defs["online_service"]["max_points"] == 22 and defs["online_service"]["source"]["confirmed"] is False
    assert defs["progress"]["score_766"]["denominator_columns"] == ["received_online", "received_direct_postal",
                                                                    "carried_over"]
    assert "5518/VPCP-KSTT" in doc["revision"]["text"]
    rows = {r["agency_code"]: r for r in doc["rows"]}
    assert doc["rows"][0]["row_kind"] == "total"
    s1 = rows["S1"]
    assert abs(s1["online_service_points"] - EXPECTED["S1"]["online"]) < 1e-9
    assert s1["publicity_points"] is None and s1["publicity_reason"].startswith("not measured:")

    one = json.loads(run_app("index766", "--month", MONTH, "--agency", "X1", "--json").stdout)
    assert [r["agency_code"] for r in one["rows"]] == [None, "X1"] and one["agency"] == "X1"

    text = run_app("index766", "--month", MONTH)
    assert text.returncode == 0
    assert "ước tính" in text.stdout and "Sở Tư pháp (S1)" in text.stdout
    assert "chưa đo được: published_procedures" in text.stdout
    # Vietnamese numbers, month and time: "13,33", "03/2024", never "13.33" or "2024-03"
    s1 = next(line for line in text.stdout.splitlines() if "(S1)" in line)
    assert "6,67" in s1 and "6.67" not in s1
    assert "tháng 03/2024" in text.stdout and "2024-03" not in text.stdout
    english = run_app("index766", "--month", MONTH, "--lang", "en")
    assert "6.67" in next(line for line in english.stdout.splitlines() if "(S1)" in line)

    bad = run_app("index766", "--month", "03/2024")
    assert bad.returncode == 2 and "expected YYYY-MM" in bad.stderr


def test_check_config_refuses_a_broken_rules_file(run_app, app_env, tmp_path):
    from config.index766 import DEFAULT_INDEX766

    data = yaml.safe_load(DEFAULT_INDEX766.read_text(encoding="utf-8"))
    data["digitisation"]["max_points"] = 20
    p = tmp_path / "index766.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    res = run_app("check-config", env={**app_env, "MOTCUA_REPORTS__INDEX766": str(p)})
    assert res.returncode == 2
    assert f"{p}: invalid configuration" in res.stderr
    assert "digitisation: Value error, the components' points add up to 22, not to max_points 20" in res.stderr
    ok = run_app("index766", "--month", MONTH, env={**app_env, "MOTCUA_REPORTS__INDEX766": str(p)})
    assert ok.returncode == 2 and "invalid configuration" in ok.stderr


def test_through_the_owner_the_same_answers(owner, app_cfg, tmp_path):
    """While `app.py run` owns the store, the scorecard comes over its API, rules included."""
    from config.index766 import load_index766
    from system import open_ops

    app, _ = owner
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump(REFERENCE, allow_unicode=True), encoding="utf-8")
    app.load_reference(ref)
    app.import_file(str(write_export(tmp_path / "export.csv")))
    app.recompute(AS_OF)
    rules = load_index766().model_dump(mode="json")
    ops = open_ops(app_cfg)
    try:
        assert ops.remote
        remote = ops.query("index766", month=MONTH, rules=rules)
        losses = ops.query("index766_losses", month=MONTH, agency="S1")
    finally:
        ops.close()
    local = app.query("index766", month=MONTH, rules=rules)
    assert remote.columns == local.columns and remote.rows == local.rows
    assert [r["procedure_code"] for r in losses.to_dicts()] == ["PR-F", "PR-N"]
