"""What the dashboard stands on: accounts (bcrypt, the users file, `app.py user`), the dry-run
import, the owner's answers kept until the next write, explanations, alert events, the dashboard
config section and `check-config`."""
from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from config.app import load_config
from config.errors import ConfigError
from dashboard.users import UserError, UserFile
from system import Motcua

PW = "a-long-password-9"


# -- accounts -------------------------------------------------------------------------------------

def test_users_file_keeps_only_bcrypt_hashes_with_mode_0600(tmp_path):
    uf = UserFile(tmp_path / "users.json")
    uf.add("lanhdao", "leadership", PW, display_name="Lãnh đạo tỉnh", rounds=4)
    text = (tmp_path / "users.json").read_text(encoding="utf-8")
    assert PW not in text and "$2b$04$" in text
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert uf.authenticate("lanhdao", PW).role == "leadership"
    assert uf.authenticate("lanhdao", PW + "x") is None
    assert uf.authenticate("nobody", PW) is None
    uf.passwd("lanhdao", "another-password-2", rounds=4)
    assert uf.authenticate("lanhdao", PW) is None and uf.authenticate("lanhdao", "another-password-2")
    uf.remove("lanhdao")
    assert uf.load() == {}


def test_first_admin_must_replace_its_generated_password(tmp_path):
    """The account of a first start: flagged until its password is changed; the change refuses
    the generated password itself and deletes its file, whether made by the dashboard or by
    `app.py user passwd` (both call UserFile.passwd)."""
    uf = UserFile(tmp_path / "users.json")
    pw_file = tmp_path / "initial-admin-password.txt"
    assert uf.ensure_first_admin(pw_file) == pw_file
    initial = pw_file.read_text(encoding="utf-8").strip()
    admin = uf.authenticate("admin", initial)
    assert admin.role == "admin" and admin.must_change_password
    assert admin.public()["password"].startswith("initial") and "initial_password_file" not in admin.public()
    with pytest.raises(UserError, match="other than the initial one"):
        uf.passwd("admin", initial, rounds=4)
    with pytest.raises(UserError, match="at least 10"):
        uf.passwd("admin", "short", rounds=4)
    assert pw_file.exists() and uf.load()["admin"].must_change_password
    assert uf.passwd("admin", PW, rounds=4) == pw_file.resolve()
    assert not pw_file.exists()
    admin = uf.authenticate("admin", PW)
    assert admin is not None and not admin.must_change_password
    assert "initial_password_file" not in (tmp_path / "users.json").read_text(encoding="utf-8")
    assert uf.passwd("admin", PW, rounds=4) is None  # an ordinary account: the same password is allowed


@pytest.mark.parametrize("args, needle", [
    (("xy", "agency", PW), "needs --agency"),
    (("xy", "chief", PW), "role 'chief'"),
    (("xy", "admin", "short"), "at least 10"),
    (("bad name!", "admin", PW), "user name"),
    (("xy", "admin", None), "give a password"),
])
def test_bad_accounts_are_refused_in_plain_words(tmp_path, args, needle):
    with pytest.raises(UserError, match=needle):
        UserFile(tmp_path / "u.json").add(*args, rounds=4)
    assert not (tmp_path / "u.json").exists()


def test_broken_users_file_is_a_plain_message(tmp_path):
    p = tmp_path / "u.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="cannot be read"):
        UserFile(p).load()


def test_user_command_never_prints_the_password(run_app, app_env, tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]

    def user(*args, stdin=""):
        return subprocess.run([sys.executable, str(root / "app.py"), "user", *args], input=stdin, text=True,
                              capture_output=True, env=app_env, cwd=tmp_path, timeout=60)

    r = user("add", "cq1", "--role", "agency", "--agency", "QNG.STP", "--password-stdin", stdin=PW + "\n")
    assert r.returncode == 0, r.stderr
    # no store yet: the code cannot be checked, and the command says so (and creates no store)
    assert "warning: agency code QNG.STP not checked" in r.stderr
    assert not Path(app_env["MOTCUA_STORE__PATH"]).exists()
    assert PW not in r.stdout + r.stderr
    r = user("add", "cq1", "--role", "admin", "--password-stdin", stdin=PW + "\n")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = user("add", "sso", "--role", "ict", "--email", "ict@quangngai.gov.vn", "--sso-only")
    assert r.returncode == 0, r.stderr
    listed = json.loads(user("list", "--json").stdout)
    assert {u["username"]: u["role"] for u in listed} == {"cq1": "agency", "sso": "ict"}
    assert all("password_hash" not in u for u in listed)
    r = user("passwd", "cq1", "--password-stdin", stdin="new-password-77\n")
    assert r.returncode == 0 and "new-password-77" not in r.stdout + r.stderr
    users = UserFile(Path(app_env["MOTCUA_STORE__PATH"]).parent / "users.json")
    assert users.authenticate("cq1", "new-password-77").agency == "QNG.STP"
    assert users.by_email("ICT@quangngai.gov.vn").username == "sso"
    r = user("passwd", "cq1")  # no terminal: a plain message, not a hang
    assert r.returncode == 2 and "--password-stdin" in r.stderr
    assert user("remove", "cq1").returncode == 0


# -- config ---------------------------------------------------------------------------------------

def test_dashboard_config_defaults_and_overrides(tmp_path):
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp_path / "s.duckdb"), "MOTCUA_DASHBOARD__PORT": "9999"})
    assert cfg.dashboard.port == 9999 and cfg.dashboard.host == "localhost"
    assert cfg.users_file == tmp_path / "users.json"
    assert load_config(environ={}).dashboard.port == 8501


def test_oidc_enabled_without_its_settings_is_refused(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("dashboard:\n  oidc:\n    enabled: true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="server_metadata_url, client_id, redirect_uri"):
        load_config(p, environ={})


def test_check_config_covers_the_dashboard(run_app, app_env, tmp_path):
    users = Path(app_env["MOTCUA_STORE__PATH"]).parent / "users.json"
    users.parent.mkdir(parents=True, exist_ok=True)
    r = run_app("check-config")
    assert r.returncode == 0 and "Dashboard: localhost, a free port chosen at start, 0 account(s)" in r.stdout
    users.write_text("[", encoding="utf-8")
    r = run_app("check-config")
    assert r.returncode == 2 and "dashboard.users_file" in r.stderr and "Traceback" not in r.stderr
    users.unlink()
    cfg = tmp_path / "oidc.yaml"
    cfg.write_text("dashboard:\n  oidc:\n    enabled: true\n    server_metadata_url: https://sso.example/.well-known/"
                   "openid-configuration\n    client_id: motcua\n    redirect_uri: http://localhost:8501/oauth2callback\n",
                   encoding="utf-8")
    r = run_app("--config", str(cfg), "check-config")
    assert r.returncode == 2 and "MOTCUA_OIDC_CLIENT_SECRET is not set" in r.stderr


def test_oidc_secrets_go_to_a_private_file_removed_on_stop(tmp_path):
    from dashboard.launcher import Dashboard, DashboardStartError, _secrets_file

    p = tmp_path / "m.yaml"
    p.write_text("dashboard:\n  oidc:\n    enabled: true\n    server_metadata_url: https://sso.example/x\n"
                 "    client_id: motcua\n    redirect_uri: http://localhost:8501/oauth2callback\n", encoding="utf-8")
    cfg = load_config(p, environ={"MOTCUA_STORE__PATH": str(tmp_path / "s.duckdb")})
    with pytest.raises(DashboardStartError, match="MOTCUA_OIDC_CLIENT_SECRET"):
        _secrets_file(cfg, {})
    f = _secrets_file(cfg, {"MOTCUA_OIDC_CLIENT_SECRET": "s3cr3t", "MOTCUA_OIDC_COOKIE_SECRET": "c00kie"})
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert 'client_secret = "s3cr3t"' in f.read_text() and "[auth]" in f.read_text()
    d = Dashboard(cfg)
    d._secrets = f
    assert "--secrets.files" in d.command() and "--client.toolbarMode" in d.command()
    d.stop()
    assert not f.exists()


# -- store operations for the dashboard -----------------------------------------------------------

@pytest.fixture
def demo(app_cfg):
    app = Motcua(app_cfg)
    app.demo_data(months=2, per_month=300, end=dt.date(2026, 11, 20))
    yield app
    app.close()


CSV = ("dossier_code,agency_code,channel,received_at,time_limit,time_unit,state,finished_at\n"
       "DRY-1,QNG.STP,online,2026-11-03 09:00,5,working_days,finished,2026-11-05 10:00\n"
       "DRY-2,QNG.STP,online,31/02/2026,5,working_days,processing,\n")


def test_dry_run_import_counts_and_stores_nothing(demo, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text(CSV, encoding="utf-8")
    before = demo.status()
    rep = demo.import_file(str(f), dry_run=True, lang="vi")
    assert rep["dry_run"] and rep["batch_id"] is None
    assert (rep["rows_read"], rep["inserted"], rep["quarantined"]) == (2, 1, 1)
    assert any("received_at" in e for e in rep["errors"]) and "chưa nhập" in rep["text"]
    after = demo.status()
    assert (after["dossiers"], after["quarantined_rows"], after["imports"]) == (
        before["dossiers"], before["quarantined_rows"], before["imports"])
    real = demo.import_file(str(f))
    assert (real["inserted"], real["quarantined"]) == (1, 1) and not real["dry_run"]
    assert demo.status()["dossiers"] == before["dossiers"] + 1


def test_kept_answers_never_outlive_a_write(demo, tmp_path):
    month = "2026-11"
    first = demo.query("bieu06", month=month, agency="QNG.STP").one()
    assert demo.query("bieu06", month=month, agency="QNG.STP") is demo.query("bieu06", month=month, agency="QNG.STP")
    f = tmp_path / "x.csv"
    f.write_text(CSV, encoding="utf-8")
    demo.import_file(str(f))
    demo.recompute("2026-11-20 00:00")
    again = demo.query("bieu06", month=month, agency="QNG.STP").one()
    assert again["received_total"] == first["received_total"] + 1
    # probe results are never kept: they change every minute
    from store.catalog import QUERIES

    assert QUERIES["probe_summary"].cache == "none"


def test_explanations_are_limited_to_the_agency(demo):
    od = demo.query("dossiers_overdue", limit=100000)
    row = od.to_dicts()[0]
    why = demo.explain_dossiers([row["dossier_code"]], agency=row["agency_code"])
    assert why[row["dossier_code"]]["reason"] and "hạn" in why[row["dossier_code"]]["reason"]
    other = next(r["code"] for r in demo.query("agency_scope") if r["code"] not in (row["agency_code"], "QNG"))
    assert demo.explain_dossiers([row["dossier_code"]], agency=other) == {}


def test_alert_notifications_are_kept_for_the_timeline(demo):
    from alerting.alerts import Sent
    from alerting.notify import Delivery
    from store.alert_writes import record_alerts

    at = dt.datetime(2026, 11, 20, 9, 30)
    record_alerts(demo.store, [Sent("firing", "check:x", "Kiểm tra «x» thất bại", "Từ 09:30",
                                    [Delivery("webhook", True), Delivery("email", False, "refused")])], at)
    t = demo.query("alert_timeline", since="2026-11-20")
    assert t.to_dicts() == [{"at": at, "kind": "firing", "key": "check:x", "title": "Kiểm tra «x» thất bại",
                             "body": "Từ 09:30", "delivered": 1, "failed": 1}]


def test_dashboard_port_in_use_is_a_plain_message(app_env, run_app):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = dict(app_env, MOTCUA_DASHBOARD__PORT=str(busy.getsockname()[1]), MOTCUA_DASHBOARD__HOST="127.0.0.1")
        r = run_app("run", env=env, timeout=240)
    assert r.returncode == 2, r.stderr
    assert "dashboard" in r.stderr and "MOTCUA_DASHBOARD__PORT" in r.stderr and "Traceback" not in r.stderr
    from store.ops import owner_file

    assert not owner_file(Path(app_env["MOTCUA_STORE__PATH"])).exists()


def test_prewarm_computes_the_default_views(demo):
    demo.prewarm_dashboard()
    kept = {name for name, _, _ in demo._answers}
    assert {"dashboard_status", "dashboard_months", "province_month_series", "agency_ratio_month",
            "audit_by_agency", "sync_by_agency", "bieu06", "dossiers_overdue"} <= kept
    from dashboard.warm import overview_queries

    month = next(p["end_month"] for n, p in overview_queries(demo.query) if n == "province_month_series")
    assert month == "2026-11"  # the demo's recompute is on 20/11: the current month


def test_explanations_see_every_supplement_cycle(demo):
    """The agency page's explanations run the engine with the dossiers' events, as the recompute
    does: a dossier with several supplement cycles is explained with the status it is counted with."""
    con = demo.store.cursor()
    codes = [r[0] for r in con.execute(
        "SELECT dossier_code FROM dossier_events WHERE event = 'supplement_requested' "
        "GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 40").fetchall()]
    assert codes
    stored = {c: str(s) for c, s in con.execute(
        "SELECT dossier_code, status FROM dossier_sla WHERE dossier_code IN (SELECT unnest(?::VARCHAR[]))",
        [codes]).fetchall()}
    why = demo.explain_dossiers(codes)
    assert {c: why[c]["status"] for c in codes} == stored
