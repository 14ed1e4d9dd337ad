"""Probe configuration (config/probes.py), secrets (steps/secrets.py) and the runner's pure helpers."""
from __future__ import annotations

import datetime as dt
import ssl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import default_path
from config.errors import ConfigError
from config.probes import PROBE_KINDS, Assertions, ProbesFile, load_probes
from probes.runner import RUNS, cert_days_left
from steps.checks import MISSING, evaluate, json_path, substitute
from steps.secrets import ENV_FILE, ENV_PREFIX, SecretMissing, Secrets, load_secrets


def write(tmp_path, text: str, name: str = "probes.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- shipped files ----------------------------------------------------------------------------------
def test_shipped_probe_files_load():
    cfg = load_probes()
    names = {c.name for c in cfg.checks} | {j.name for j in cfg.journeys}
    assert {"citizen-v2-submission", "citizen-v1-login", "officer-dossier-list", "dvcqg-sync"} <= names
    inventory = [c for c in cfg.checks if c.group == "feature-inventory"]
    paths = {c.url.replace("${base_url}", "") for c in inventory}
    assert {"/vi/tra-cuu-qr", "/vi/thanh-toan", "/vi/danh-gia"} <= paths
    assert all(c.title for c in inventory)
    assert cfg.secrets_file is not None and cfg.secrets_file.exists()
    real = load_probes(default_path("probes.example-real.yaml"))
    assert real.variables["base_url"].startswith("https://")
    assert real.secrets_file is None  # credentials of a real portal: env or a file outside the repo


def test_shipped_yaml_holds_no_credential_value():
    text = default_path("probes.yaml").read_text(encoding="utf-8")
    secrets = load_secrets(default_path("probes.testbed-secrets.yaml"), env={})
    for name in ("CITIZEN_V1_PASSWORD", "CITIZEN_V2_PASSWORD", "OFFICER_PASSWORD"):
        assert secrets.get(name) not in text
        assert f"${{secret:{name}}}" in text


# -- validation messages name the file and the field ----------------------------------------------
@pytest.mark.parametrize("body, expected", [
    ("checks:\n  - {name: a, url: 'http://x/', expect: {status: 999}}\n", "checks.0.expect.status"),
    ("checks:\n  - {name: a, url: 'http://x/', bogus: 1}\n", "checks.0.bogus"),
    ("checks:\n  - {name: a, url: '${nope}/x'}\n", "unknown variable ${nope}"),
    ("checks:\n  - {name: a, url: 'http://x/'}\n  - {name: a, url: 'http://y/'}\n", "used twice: a"),
    ("checks:\n  - {name: a, url: 'http://x/', expect: {body_regex: '(unclosed'}}\n", "checks.0.expect.body_regex"),
    ("journeys:\n  - name: j\n    steps:\n      - {name: s, url: 'http://x/', form: {password: hunter2}}\n",
     "never the value itself"),
    ("journeys:\n  - name: j\n    steps:\n      - {name: s, url: 'http://x/', headers: {Authorization: 'Basic abc'}}\n",
     "carries a credential"),
    ("journeys:\n  - name: j\n    steps:\n      - {name: s, url: 'http://x/', extract: [{name: v, regex: 'a', json: b}]}\n",
     "exactly one of regex, json, cookie"),
    ("journeys:\n  - name: j\n    steps:\n      - {name: s, url: 'http://x/${later}'}\n"
     "      - {name: t, url: 'http://x/', extract: [{name: later, cookie: c}]}\n", "unknown variable ${later}"),
    ("checks:\n  - {name: a, url: 'http://x/', expect: {json: [{path: a}]}}\n", "checks.0.expect.json.0"),
    ("checks: []\n", "no checks and no journeys"),
    ("defaults: {ca_file: no-such-ca.pem}\nchecks:\n  - {name: a, url: 'https://x/'}\n",
     "defaults.ca_file: file not found"),
    ("checks: [\n", "not valid YAML"),
])
def test_bad_probe_files_name_file_and_field(tmp_path, body, expected):
    p = write(tmp_path, body)
    with pytest.raises(ConfigError) as e:
        load_probes(p)
    assert str(p) in str(e.value)
    assert expected in str(e.value)


def test_variables_extracted_earlier_are_known(tmp_path):
    p = write(tmp_path, "journeys:\n  - name: j\n    steps:\n"
                        "      - {name: s, url: 'http://x/', extract: [{name: tok, regex: 't=(\\w+)'}]}\n"
                        "      - {name: t, url: 'http://x/${tok}', form: {password: '${secret:PW}'}}\n")
    cfg = load_probes(p)
    assert cfg.journeys[0].steps[1].form == {"password": "${secret:PW}"}


def test_every_kind_of_probe_is_listed_once_and_has_a_run_function(tmp_path):
    p = write(tmp_path, "checks:\n  - {name: c1, url: 'http://x/'}\n  - {name: c2, url: 'http://x/'}\n"
                        "journeys:\n  - name: j\n    steps:\n      - {name: s, url: 'http://x/'}\n"
                        "      - {name: t, url: 'http://y/'}\n")
    cfg = load_probes(p)
    # checks first, then journeys: the order they run, are scheduled and are declared as metrics
    assert [(x.kind, x.name) for x in cfg.probes()] == [("check", "c1"), ("check", "c2"), ("journey", "j")]
    assert [x.step_names() for x in cfg.probes()] == [[""], [""], ["s", "t"]]
    assert [s.url for s in cfg.probes()[2].http_steps()] == ["http://x/", "http://y/"]
    kinds = {ProbesFile.model_fields[f].annotation.__args__[0].kind for f in PROBE_KINDS}
    assert kinds == set(RUNS) == {"check", "journey"}


# -- secrets ----------------------------------------------------------------------------------------
def test_secrets_env_first_then_file_and_redaction(tmp_path):
    f = write(tmp_path, "PW: from-file-pass\nUSER: someone\n", "s.yaml")
    s = load_secrets(f, env={ENV_PREFIX + "PW": "from-env-pass"})
    assert s.get("PW") == "from-env-pass"
    assert s.get("USER") == "someone"
    with pytest.raises(SecretMissing) as e:
        s.get("NOPE")
    assert "MOTCUA_SECRET_NOPE" in str(e.value)
    msg = s.redact("login as someone with from-env-pass failed")
    assert "from-env-pass" not in msg and "someone" not in msg and "***" in msg
    assert "from-env-pass" not in repr(s) and "from-file-pass" not in repr(s)


def test_secrets_file_from_env_overrides_config(tmp_path):
    a = write(tmp_path, "PW: a-pass\n", "a.yaml")
    b = write(tmp_path, "PW: b-pass\n", "b.yaml")
    assert load_secrets(a, env={ENV_FILE: str(b)}).get("PW") == "b-pass"
    assert load_secrets(None, env={}).source == ""


def test_bad_secrets_file_messages_do_not_echo_content(tmp_path):
    p = write(tmp_path, "PW: [unclosed-secret-value\n", "s.yaml")
    with pytest.raises(ConfigError) as e:
        load_secrets(p, env={})
    assert str(p) in str(e.value) and "unclosed-secret-value" not in str(e.value)
    with pytest.raises(ConfigError, match="not found"):
        load_secrets(tmp_path / "missing.yaml", env={})
    with pytest.raises(ConfigError, match="must be text"):
        load_secrets(write(tmp_path, "PW: {a: 1}\n", "t.yaml"), env={})


def test_substitute_variables_and_secrets():
    s = Secrets({"PW": "p@ss"}, env={})
    assert substitute("${base}/x?p=${secret:PW}", {"base": "http://h"}, s) == "http://h/x?p=p@ss"
    with pytest.raises(SecretMissing):
        substitute("${secret:NOPE}", {}, s)


# -- JSON paths -------------------------------------------------------------------------------------
def test_json_path():
    data = {"data": {"items": [{"code": "A"}, {"code": "B", "n": [1, 2]}]}, "total": 2, "x.y": 1}
    assert json_path(data, "data.items[0].code") == "A"
    assert json_path(data, "data.items[-1].n[1]") == 2
    assert json_path(data, "data.items.1.code") == "B"
    assert json_path(data, "total") == 2
    assert json_path(data, "data.items[5].code") is MISSING
    assert json_path(data, "data.nope") is MISSING
    assert json_path(data, "total.x") is MISSING
    assert json_path([1, 2], "[1]") == 2


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(), min_size=1, max_size=8), st.data())
def test_json_path_index_property(xs, data):
    i = data.draw(st.integers(min_value=-len(xs), max_value=len(xs) - 1))
    assert json_path({"a": {"b": xs}}, f"a.b[{i}]") == xs[i]
    assert json_path({"a": {"b": xs}}, f"a.b[{len(xs)}]") is MISSING


# -- TLS certificate days left --------------------------------------------------------------------
def test_cert_days_left():
    now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert cert_days_left("Jun  1 12:00:00 2026 GMT", now) == pytest.approx(31.0)
    assert cert_days_left("May  1 00:00:00 2026 GMT", now) == pytest.approx(-0.5)
    assert cert_days_left("May  2 12:00:00 2026 GMT", now.replace(tzinfo=None)) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cert_days_left("not a date", now)
    # the format ssl produces for real certificates round-trips
    assert ssl.cert_time_to_seconds("Jan  5 09:34:43 2030 GMT") > 0


def test_cert_days_assertion():
    a = Assertions(cert_days_min=21)
    ident = lambda s: s  # noqa: E731
    assert evaluate(a, 200, "", 5.0, 30.0, ident) == []
    assert evaluate(a, 200, "", 5.0, None, ident) == []  # plain http: no figure, no failure
    assert evaluate(a, 200, "", 5.0, 3.2, ident) == ["TLS certificate expires in 3.2 days (minimum 21)"]


# -- assertions in plain words ----------------------------------------------------------------------
def test_evaluate_reasons():
    ident = lambda s: s  # noqa: E731
    a = Assertions(status=200, body_contains=["Đăng xuất"], body_not_contains=["lỗi"], body_regex=r"H48-\d+",
                   max_ms=100)
    assert evaluate(a, 502, "", 5, None, ident) == ["expected status 200, got 502"]
    fails = evaluate(a, 200, "có lỗi", 250, None, ident)
    assert fails == ["too slow: 250 ms, limit 100 ms", "text 'lỗi' found", "text 'Đăng xuất' not found",
                     r"pattern 'H48-\d+' not found"]
    assert evaluate(a, 200, "Đăng xuất H48-1", 5, None, ident) == []
    j = Assertions.model_validate({"json": [{"path": "a.b", "equals": 1}, {"path": "n", "max": 0},
                                            {"path": "items", "where": {"ok": False, "s": ["x", "y"]}, "max": 0}]})
    assert evaluate(j, 200, "<html>", 5, None, ident) == ["response is not JSON"]
    fails = evaluate(j, 200, '{"a": {"b": 2}, "n": 3, "items": [{"ok": false, "s": "x"}, {"ok": true, "s": "x"}]}',
                     5, None, ident)
    assert fails == ["a.b: expected 1, got 2", "n: 3, expected at most 0",
                     "items where ok=false, s in [x, y]: 1, expected at most 0"]
    assert evaluate(j, 200, '{"a": {"b": 1}, "n": 0, "items": []}', 5, None, ident) == []
    assert evaluate(j, 200, '{"n": 0, "items": 5}', 5, None, ident) == [
        "a.b: not found in the JSON response", "items: expected a list, found int"]


def test_server_timing_header_is_read():
    from probes.runner import server_timing_ms

    assert server_timing_ms("app;dur=12.5") == 12.5
    assert server_timing_ms("app;dur=12.5, db;desc=\"x\";dur=3") == 15.5
    assert server_timing_ms("cache;desc=hit") is None and server_timing_ms(None) is None
