"""app.py as a user runs it: real processes, a real store file, plain messages, no tracebacks."""
from __future__ import annotations

import json

import pytest

CSV = (
    "dossier_code,agency_code,agency_name,procedure_code,field,channel,received_at,time_limit,time_unit,state,"
    "finished_at,reported_due_at,reported_status\n"
    # Saturday of the Tết 2026 break: counted from Monday 23/02; 5 working days → Monday 02/03.
    "C-1,STP,Sở Tư pháp,P1,Tư pháp,online,2026-02-14 09:00,5,working_days,finished,2026-03-02 10:00,"
    "2026-02-20 17:00,overdue\n"
    # After 15:00 on a same-day procedure: due the next working day.
    "C-2,STP,Sở Tư pháp,P2,Chứng thực,direct,14/04/2026 15:30,0,same_day,processing,,,\n"
    "C-3,STP,Sở Tư pháp,P1,Tư pháp,fax,2026-03-01 09:00,5,working_days,processing,,,\n"
)


def test_help_speaks_plainly(run_app):
    r = run_app("--help")
    assert r.returncode == 0
    for cmd in ("run", "import", "sla", "report", "demo-data", "check-config"):
        assert cmd in r.stdout


def test_sla_explain_computes_without_a_store(run_app, tmp_path, app_env):
    f = tmp_path / "x.csv"
    f.write_text(CSV, encoding="utf-8")
    r = run_app("sla", "explain", str(f), "--as-of", "2026-04-14 16:00", "--json")
    assert r.returncode == 0, r.stderr
    rows = {d["dossier_code"]: d for d in map(json.loads, r.stdout.splitlines())}
    assert rows["C-1"]["due"] == "2026-03-02" and rows["C-1"]["status"] == "on_time"
    assert "Tết" in rows["C-1"]["reason"]
    assert rows["C-2"]["due"] == "2026-04-15" and rows["C-2"]["status"] == "pending_in_time"
    assert "C-3" not in rows and "row 3" in r.stderr and "channel" in r.stderr
    assert not (tmp_path / "data" / "motcua.duckdb").exists()
    text = run_app("sla", "explain", str(f), "--as-of", "2026-04-14 16:00")
    assert text.returncode == 0 and "C-1" in text.stdout and "2026-03-02" in text.stdout


def test_import_then_report_and_audit(run_app, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text(CSV, encoding="utf-8")
    r = run_app("import", str(f), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["inserted"] == 2 and summary["quarantined"] == 1
    assert summary["sla"]["kind"] == "full" and summary["sla"]["full_reason"] == "no complete results stored yet"
    again = run_app("import", str(f))
    # nothing changed, the same day: the figures are refreshed and nothing is judged again
    assert again.returncode == 0 and "inserted:" in again.stdout
    assert "Figures refreshed: 0 of 2 dossiers judged again" in again.stdout, again.stdout
    runs = json.loads(run_app("query", "sla_runs", "--json").stdout)
    assert [dict(zip(runs["columns"], row))["kind"] for row in runs["rows"]] == ["incremental", "full"]

    rep = run_app("report", "--month", "2026-03", "--json")
    assert rep.returncode == 0, rep.stderr
    rows = json.loads(rep.stdout)["rows"]
    stp = next(x for x in rows if x.get("row_kind") == "agency" and x.get("key") == "STP")
    assert stp["resolved_total"] == 1 and stp["resolved_on_time"] == 1 and stp["resolved_overdue"] == 0
    text = run_app("report", "--month", "2026-03")
    assert "Sở Tư pháp" in text.stdout and "Đúng hạn" in text.stdout

    audit = run_app("query", "audit_dossiers", "--json")
    assert audit.returncode == 0, audit.stderr
    t = json.loads(audit.stdout)
    kinds = [dict(zip(t["columns"], row))["kind"] for row in t["rows"]]
    assert "reported_overdue_resolved_on_time" in kinds


def test_bad_input_gives_one_plain_line(run_app, tmp_path):
    cases = [
        (("report", "--month", "March"), "expected YYYY-MM"),
        (("import", str(tmp_path / "missing.csv")), "file not found"),
        (("sla", "explain", str(tmp_path / "missing.csv")), "file not found"),
        (("query", "nope"), "unknown query"),
        (("sla", "explain", "x.csv", "--as-of", "yesterday"), "file not found"),
        (("sla", "recompute", "--as-of", "9999-12-31"), "up to 2100 at the latest"),
    ]
    for args, needle in cases:
        r = run_app(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    r = run_app("import", str(empty))
    assert r.returncode == 2 and "empty" in r.stderr and "Traceback" not in r.stderr


def test_broken_config_is_reported_by_check_config(run_app, tmp_path, app_env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("store:\n  memory_limit: [1]\nservice:\n  host: 10.0.0.1\n", encoding="utf-8")
    r = run_app("--config", str(bad), "check-config")
    assert r.returncode == 2
    assert "store.memory_limit" in r.stderr and "loopback" in r.stderr and "Traceback" not in r.stderr
    ok = run_app("check-config")
    assert ok.returncode == 0, ok.stderr


def test_broken_rule_set_is_reported_by_check_config(run_app, tmp_path, app_env):
    rules = tmp_path / "rules.yaml"
    rules.write_text("name: x\nversions: []\n", encoding="utf-8")
    env = dict(app_env, MOTCUA_SLA__RULE_SET=str(rules))
    r = run_app("check-config", env=env)
    assert r.returncode == 2 and str(rules) in r.stderr and "Traceback" not in r.stderr


def test_query_params_from_the_command_line(run_app, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text(CSV, encoding="utf-8")
    assert run_app("import", str(f)).returncode == 0
    r = run_app("query", "bieu06", "--param", "month=2026-03", "--param", "by=agency", "--json")
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert any("Sở Tư pháp" in str(row) for row in t["rows"])
    bad = run_app("query", "bieu06", "--param", "monthh=2026-03")
    assert bad.returncode == 2 and "no parameter monthh" in bad.stderr and "month" in bad.stderr


def test_output_piped_into_head_is_not_an_error(app_env, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    rows = "".join(f"H-{i},STP,Sở Tư pháp,P1,Tư pháp,online,2026-03-02 08:00,5,working_days,processing,,,\n"
                   for i in range(30000))
    f = tmp_path / "big.csv"
    f.write_text(CSV.splitlines(keepends=True)[0] + rows, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "sla", "explain", str(f)], env=app_env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("H-0")
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert "error" not in err and "Traceback" not in err


def test_testbed_command_serves_the_simulated_portal(app_env, tmp_path):
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "testbed", "--release", "v2.0", "--port", str(port)],
                            env=app_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, r = time.time() + 30, None
        while time.time() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r is not None and r.status_code == 200
        assert r.headers["X-Testbed-Release"] in ("v2.0", "2.0")
        assert "Dịch vụ công" in r.text
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err


def test_check_config_covers_slos_and_alerts(run_app, tmp_path, app_env):
    slo = tmp_path / "slo.yaml"
    slo.write_text("slos:\n  - {name: a, title: A, probe: x, availability: 2}\n", encoding="utf-8")
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("channels:\n  - {name: m, url: 'mailtos://u:hunter2@smtp.example.org'}\n", encoding="utf-8")
    env = dict(app_env, MOTCUA_MONITOR__SLOS=str(slo), MOTCUA_MONITOR__ALERTS=str(alerts))
    r = run_app("check-config", env=env)
    assert r.returncode == 2
    assert "slos.0.availability" in r.stderr and "password is written in the URL" in r.stderr
    assert "hunter2" not in r.stderr


def test_probe_once_against_the_v2_testbed_names_each_failure(run_app, app_env):
    from config.portal import load_profile
    from testbed.portal.server import running

    with running(load_profile("v2.0").scaled(0.25)) as base_url:
        r = run_app("probe", "--once", "--json", "--base-url", base_url)
        assert r.returncode == 1, r.stderr          # something failed: a CI can tell
        rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        failed = {x["name"] for x in rows if not x["ok"] and x["step"] in ("", "*")}
        assert {"citizen-v1-login", "feature-qr-lookup", "dvcqg-sync"} <= failed
        latest = run_app("query", "probe_latest", "--json")
        assert latest.returncode == 0 and "citizen-v1-login" in latest.stdout
        text = run_app("probe", "--once", "--base-url", base_url, "--no-store")
        assert "citizen-v1-login" in text.stdout and "Traceback" not in text.stderr
    with running("v1.0") as base_url:
        ok = run_app("probe", "--once", "--base-url", base_url)
        assert ok.returncode == 0, ok.stdout + ok.stderr


def test_while_the_system_runs(app_env, tmp_path, run_app):
    """With `app.py run` up (as `make run` leaves it): check-config only reads files and says the
    configuration is valid; `app.py testbed` on the port of the system's own testbed says, before
    serving anything, that the port is taken, by what, and names --port; an agency account is
    refused for a code the store does not know, with the close matches, and accepted for the
    README's example, an agency with demo dossiers."""
    import re
    import signal
    import socket
    import subprocess
    import sys

    from store.ops import find_owner
    from tests.system.running import start_system
    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(app_env, MOTCUA_TESTBED__PORT=str(port), MOTCUA_DASHBOARD__ENABLED="false")
    proc = start_system(env, tmp_path)
    try:
        r = run_app("check-config", env=env)
        assert r.returncode == 0, r.stderr
        assert "Configuration is valid" in r.stdout and "in use" not in r.stderr

        r = run_app("testbed", "--port", str(port), env=env, timeout=60)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "Simulated portal" not in r.stdout  # no address printed for a server that never starts
        err = r.stderr
        assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in err
        assert "by the simulated portal (release v2.0)" in err and "app.py run" in err
        assert "`app.py run` (`make run`) already serves the simulated portal there" in err
        assert re.search(r"choose a free port with --port, e\.g\. --port \d+", err) and "Traceback" not in err

        def add(name, code):
            return subprocess.run([sys.executable, str(ROOT / "app.py"), "user", "add", name, "--role", "agency",
                                   "--agency", code, "--password-stdin"], input="a-long-password-9\n", text=True,
                                  capture_output=True, env=env, cwd=tmp_path, timeout=60)

        r = add("stp", "QNG.STPP")
        assert r.returncode == 2 and "--agency QNG.STPP: no agency with that code" in r.stderr, r.stderr
        assert "close matches: QNG.STP (Sở Tư pháp)" in r.stderr
        r = add("stp", "qng.stp")
        assert r.returncode == 2 and "QNG.STP (Sở Tư pháp)" in r.stderr
        r = add("stp", "Sở Tư pháp")  # a name where a code belongs: its code is suggested
        assert r.returncode == 2 and "QNG.STP (Sở Tư pháp)" in r.stderr
        r = add("nothing", "ZZZ-999")
        assert r.returncode == 2 and "app.py query agencies_current" in r.stderr

        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        name, code = re.search(r"app\.py user add (\S+) --role agency --agency (\S+)", readme).groups()
        r = add(name, code)
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
        ops = find_owner(env["MOTCUA_STORE__PATH"])
        months = ops.query("dashboard_months").column("month")
        received = sum(next(x for x in ops.query("bieu06", month=m.strftime("%Y-%m"), agency=code)
                            if x["row_kind"] == "total")["received_total"] for m in months)
        assert received > 0, f"the README's agency account {code} would see no demo dossier"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_due_soon_lists_pending_dossiers_with_their_working_time_left(run_app, tmp_path):
    import datetime as dt

    received = (dt.datetime.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    f = tmp_path / "due.csv"
    f.write_text("dossier_code,agency_code,agency_name,procedure_code,channel,received_at,time_limit,time_unit,state\n"
                 f"D-1,STP,Sở Tư pháp,P1,online,{received},20,working_days,processing\n"
                 f"D-2,STP,Sở Tư pháp,P1,online,{received},40,working_days,processing\n", encoding="utf-8")
    assert run_app("import", str(f)).returncode == 0
    r = run_app("due-soon", "--days", "30", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [row["dossier_code"] for row in doc["rows"]] == ["D-1"] and doc["days"] == 30
    # 20 working days counted from the day after reception: between 19 and 21 office days away
    assert 19 * 480 <= doc["rows"][0]["working_minutes_left"] <= 21 * 480
    text = run_app("due-soon", "--days", "30")
    assert text.returncode == 0 and "D-1" in text.stdout and "ngày làm việc" in text.stdout
    assert "Hồ sơ sắp đến hạn" in text.stdout and "D-2" not in text.stdout
    none = run_app("due-soon", "--lang", "en")
    assert none.returncode == 0 and "No dossier is due soon." in none.stdout
    bad = run_app("due-soon", "--days", "0")
    assert bad.returncode == 2 and "days must be" in bad.stderr and "Traceback" not in bad.stderr
FORECAST_CSV = (
    "dossier_code,agency_code,agency_name,procedure_code,field,channel,received_at,time_limit,time_unit,state,"
    "finished_at\n"
    "F-1,STP,Sở Tư pháp,P1,Tư pháp,online,2026-04-01 09:00,2,working_days,finished,2026-04-02 10:00\n"   # early
    "F-2,STP,Sở Tư pháp,P1,Tư pháp,direct,2026-03-20 09:00,5,working_days,processing,\n"   # overdue at as_of
    "F-3,STP,Sở Tư pháp,P1,Tư pháp,online,2026-04-13 09:00,3,working_days,processing,\n"   # due 16/04
    "F-4,STP,Sở Tư pháp,P2,Tư pháp,online,2026-04-10 09:00,30,working_days,processing,\n"  # due in May
    # finished after as_of: pending at as_of, due 22/04
    "F-5,SXD,Sở Xây dựng,P3,Xây dựng,direct,2026-04-08 09:00,10,working_days,finished,2026-04-30 10:00\n"
)


def test_forecast_json_and_text(run_app, tmp_path):
    f = tmp_path / "f.csv"
    f.write_text(FORECAST_CSV, encoding="utf-8")
    assert run_app("import", str(f)).returncode == 0
    r = run_app("sla", "recompute", "--as-of", "2026-04-14 16:00")
    assert r.returncode == 0, r.stderr

    r = run_app("forecast", "--month", "2026-04", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["month"], doc["as_of"], doc["in_progress"]) == ("2026-04", "2026-04-14T16:00:00", True)
    assert {"as_it_stands", "best", "worst", "unknown", "on_time_ratio", "score_766"} <= set(doc["definitions"])
    assert all(d["vi"] and d["en"] for d in doc["definitions"].values())
    total, stp = doc["rows"][0], next(x for x in doc["rows"] if x["key"] == "STP")
    # 5 dossiers (1 carried over), 1 resolved early; pending: F-2 overdue, F-3 and F-5 due this month, F-4 later
    assert (total["row_kind"], total["received_total"], total["resolved_total"]) == ("total", 5, 1)
    assert (total["pending_in_time"], total["pending_overdue"], total["due_in_month"]) == (3, 1, 2)
    assert (total["on_time_ratio"], total["best_on_time_ratio"], total["worst_on_time_ratio"]) == (1.0, 1.0, 0.25)
    assert (total["score_766"], total["best_score_766"], total["worst_score_766"]) == (4.0, 16.0, 4.0)
    assert (stp["best_score_766"], stp["worst_on_time_ratio"]) == (15.0, pytest.approx(1 / 3))

    text = run_app("forecast", "--month", "2026-04")
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "Dự báo cuối tháng 04/2026" in out and "Số liệu tính đến 16:00:00 14/04/2026" in out
    line = next(x for x in out.splitlines() if x.startswith("Tổng cộng"))
    assert line.split()[2:] == ["1", "3", "1", "2", "100,00", "100,00", "25,00", "4,00", "16,00", "4,00"]
    assert "Sở Xây dựng" in out and "Tốt nhất:" in out and "Xấu nhất:" in out

    one = run_app("forecast", "--month", "2026-04", "--agency", "STP", "--lang", "en")
    assert one.returncode == 0 and "Sở Xây dựng" not in one.stdout and "Best case:" in one.stdout
    over = run_app("forecast", "--month", "2026-03", "--json")
    doc = json.loads(over.stdout)
    assert not doc["in_progress"] and all(x["best_score_766"] == x["score_766"] == x["worst_score_766"]
                                          for x in doc["rows"])
    bad = run_app("forecast", "--month", "2026/04")
    assert bad.returncode == 2 and "expected YYYY-MM" in bad.stderr
