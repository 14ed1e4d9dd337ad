"""The dashboard under Streamlit's AppTest, on a real DuckDB store built from the demo province and
real probe results against the testbed: every page for every role, figures shown = the store's,
an agency account never sees another agency's dossiers, and failures are plain messages."""
from __future__ import annotations

import datetime as dt
import os
import socket
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from config.app import load_config
from dashboard.access import PAGE_ROLES, AccessDenied, ScopedOps, pages_for
from dashboard.backend import Backend
from dashboard.i18n import num, pct
from dashboard.users import ROLES, User, UserFile
from system import Motcua
from tests.dashboard.apptest import (AGENCY, PAGE_FILE, SCRIPT, add_users, backend_query, env_for, login, metric,
                                     open_page, table)

ROOT = Path(__file__).resolve().parents[2]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- sign-in -----------------------------------------------------------------------------------

def test_login_is_required_and_wrong_password_is_refused(store_env):
    at = AppTest.from_file(SCRIPT, default_timeout=60).run()
    assert at.text_input(key="login_password") is not None
    assert not at.metric and not at.dataframe, "nothing but the sign-in form before login"
    at.text_input(key="login_user").input("u-admin")
    at.text_input(key="login_password").input("wrong-password-x")
    at.button[0].click().run()
    assert "user" not in at.session_state
    assert any("không đúng" in e.value for e in at.error)
    with pytest.raises(ValueError):  # no page is even registered before login
        at.switch_page("pages/overview.py")


def test_each_role_gets_its_pages():
    for role in ROLES:
        u = User("x", role, agency=AGENCY if role == "agency" else None)
        assert pages_for(u) == [p for p, roles in PAGE_ROLES.items() if role in roles]
    assert pages_for(User("x", "vendor")) == ["system", "loadtests"]
    assert "data" not in pages_for(User("x", "leadership"))


def test_each_page_declares_itself_once_beside_its_code():
    """A page is its module's `PAGE = Page(...)`, listed in dashboard/pages ORDER: the access rules
    and the navigation read that alone. A module left out of ORDER is no page for anyone."""
    from dashboard import pages
    from dashboard.access import PAGES, can_see
    from dashboard.i18n import TEXT

    modules = sorted(p.stem for p in Path(pages.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert sorted(pages.ORDER) == modules, "every page module is listed once in ORDER"
    assert PAGES == pages.ORDER and list(PAGE_ROLES) == list(pages.ORDER)
    for page in pages.DECLARED:
        source = (Path(pages.__file__).parent / f"{page.id}.py").read_text(encoding="utf-8")
        assert "common.require_page(PAGE.id)" in source, f"{page.id}.py stops a visitor it is not for"
        assert set(TEXT[page.title_key]) == {"vi", "en"}, page.id
        assert page.icon.startswith(":material/") and page.url and page.roles, page.id
    for role in ROLES:
        assert not can_see(User("x", role, agency=AGENCY if role == "agency" else None), "undeclared")


@pytest.mark.parametrize("text, needle", [
    ('PAGE = Page(id="p", roles=ROLES, title_key="page_p", icon=":material/x:", url="p")', "literals"),
    ('PAGE = Page("p", ("admin",), "page_p", ":material/x:", "p")', "PAGE = Page(id="),
    ('PAGE = Page(id="p", roles=("admin",), title_key="page_p", icon=":material/x:")', "literals"),
    ('TITLE = "p"', "declares no PAGE"),
])
def test_a_page_declaration_that_cannot_be_read_is_refused(tmp_path, text, needle):
    from dashboard.pages import declaration

    f = tmp_path / "p.py"
    f.write_text("import streamlit as st\n" + text + "\nst.title('never run')\n", encoding="utf-8")
    with pytest.raises(ValueError) as e:
        declaration(f)
    assert needle in str(e.value)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(store_env, role):
    """Every page the role may see opens without an exception or error; the others are not
    registered at all (a switch to them fails)."""
    at = login(role)
    for page in PAGE_ROLES:
        if role in PAGE_ROLES[page]:
            open_page(at, page)
            assert at.title, page
        else:
            with pytest.raises(ValueError):
                at.switch_page(PAGE_FILE[page])


def shown_cells(df_element) -> list[str]:
    """What a table's cells show: the display values Streamlit sends beside the data (a Styler's)."""
    import pyarrow as pa

    proto = df_element.proto.arrow_data
    assert proto.HasField("styler") and proto.styler.display_values, "a table written the page's way"
    shown = pa.ipc.open_stream(proto.styler.display_values).read_all().to_pandas()
    return [str(v) for col in shown.columns for v in shown[col]]


@pytest.mark.parametrize("role", ["admin", "agency", "vendor"])
def test_every_table_cell_reads_vietnamese(store_env, role):
    """The browser cannot read a table's numbers (they are drawn on a canvas): here every cell of
    every table of every page, as shown, is checked for English words and English numbers."""
    from tests.dashboard.test_dashboard_browser import ENGLISH_NUMBER, NAMES

    at = login(role)
    seen = 0
    for page in PAGE_ROLES:
        if role not in PAGE_ROLES[page]:
            continue
        open_page(at, page)
        for df in at.dataframe:
            cells = shown_cells(df)
            seen += len(cells)
            bad = [c for c in cells if c in ("None", "nan", "NaN", "NaT") or ENGLISH_NUMBER.search(NAMES.sub(" ", c))]
            assert not bad, (page, bad[:10])
    assert seen > 20


# -- figures against the store ------------------------------------------------------------------

@pytest.mark.parametrize("role", ["leadership", "ict", "admin"])
def test_overview_figures_equal_the_store(store_env, role):
    at = open_page(login(role), "overview")
    month = at.selectbox(key="ov_month").value
    m = month.strftime("%Y-%m")
    prov = backend_query(store_env, "province_month", month=m).one()
    assert metric(at, "Đúng hạn") == pct(prov["on_time_ratio"])
    assert metric(at, "Điểm tiến độ 766") == num(prov["score_766"], digits=2)
    assert metric(at, "Hồ sơ tiếp nhận") == num(prov["received_total"])
    assert metric(at, "Đã giải quyết") == num(prov["resolved_total"])
    prev = (month - dt.timedelta(days=1)).replace(day=1)
    assert metric(at, "Tháng trước") == pct(backend_query(store_env, "province_month", month=prev.strftime("%Y-%m")).one()["on_time_ratio"])
    rank = backend_query(store_env, "agency_ratio_month", month=m, limit=200, worst_first=True)
    shown = table(at, "Điểm 766")
    assert list(shown["Cơ quan"]) == rank.column("agency_name")
    audit = next(r for r in backend_query(store_env, "audit_by_agency", month=m) if r["row_kind"] == "total")
    assert metric(at, "NCC báo quá hạn") == num(audit["reported_overdue"])
    assert metric(at, "Thực sự quá hạn") == num(audit["recomputed_overdue"])
    assert metric(at, "Báo sai quá hạn") == num(audit["reported_overdue_resolved_on_time"])
    sync = next(r for r in backend_query(store_env, "sync_by_agency", month=m) if r["row_kind"] == "total")
    assert metric(at, "Chưa đồng bộ") == num(sync["unsynced"])
    # the month-end forecast of the month under way: the province's figures, then the agencies
    as_of = backend_query(store_env, "dashboard_status").one()["last_recompute_as_of"]
    fc = backend_query(store_env, "month_forecast", month=as_of.strftime("%Y-%m")).to_dicts()
    total = fc[0]
    assert total["row_kind"] == "total" and total["in_progress"]
    cards = {m.label: m for m in at.metric}
    for label, p in (("Hiện tại", ""), ("Tốt nhất", "best_"), ("Xấu nhất", "worst_")):
        assert cards[label].value == pct(total[f"{p}on_time_ratio"], digits=2)
        assert cards[label].delta == f"Điểm 766: {num(total[f'{p}score_766'], digits=2)}"
    assert total["best_on_time_ratio"] > total["worst_on_time_ratio"]
    shown = table(at, "Có thể trễ trong tháng")
    agencies = [r for r in fc if r["row_kind"] == "agency" and r["received_total"]]
    # the agencies with the most dossiers that may still end late first
    agencies.sort(key=lambda r: (-(r["pending_overdue"] + r["due_in_month"]), r["worst_on_time_ratio"] or 0,
                                 r["name"] or r["key"]))
    assert list(shown["Cơ quan"]) == [r["name"] or r["key"] for r in agencies]
    assert list(shown["Có thể trễ trong tháng"]) == [r["pending_overdue"] + r["due_in_month"] for r in agencies]
    # the level filter narrows the ranking and the forecast's table to that level
    at.selectbox(key="ov_level").set_value("commune").run()
    assert len(table(at, "Có thể trễ trong tháng")) == sum(
        1 for r in fc if r["row_kind"] == "agency" and r["received_total"] and r["level"] == "commune")
    levels = {r["level"] for r in backend_query(store_env, "agency_ratio_month", month=m, limit=200, level="commune")}
    assert levels == {"commune"}
    assert len(table(at, "Điểm 766")) == len(
        backend_query(store_env, "agency_ratio_month", month=m, limit=200, level="commune"))


def test_overview_in_english(store_env):
    at = open_page(login("leadership", lang="en"), "overview")
    assert at.title[0].value == "Province overview"
    m = at.selectbox(key="ov_month").value.strftime("%Y-%m")
    prov = backend_query(store_env, "province_month", month=m).one()
    assert metric(at, "On time") == pct(prov["on_time_ratio"], "en")
    assert metric(at, "Worst case").endswith("%") and "Month-end forecast" in at.subheader[0].value


def test_agency_page_figures_and_explanations(store_env):
    at = open_page(login("leadership"), "agency")
    at.selectbox(key="ag_agency").set_value(AGENCY).run()
    m = at.selectbox(key="ag_month").value.strftime("%Y-%m")
    total = next(r for r in backend_query(store_env, "bieu06", month=m, by="procedure", agency=AGENCY) if r["row_kind"] == "total")
    assert metric(at, "Tiếp nhận") == num(total["received_total"])
    assert metric(at, "Tỷ lệ đúng hạn") == pct(total["on_time_ratio"])
    assert metric(at, "Đang quá hạn") == num(total["pending_overdue"])
    od = backend_query(store_env, "dossiers_overdue", agency=AGENCY, month=m, limit=500)
    assert od.rows, "the demo has overdue dossiers in this agency"
    shown = table(at, "Giải thích của bộ tính hạn")
    assert list(shown["Mã hồ sơ"]) == od.column("dossier_code")
    assert all(shown["Giải thích của bộ tính hạn"].str.len() > 20), "every dossier has the engine's explanation"
    assert shown["Giải thích của bộ tính hạn"].str.contains("hạn").all()
    assert at.get("download_button"), "the list is downloadable as CSV"


def test_agency_account_sees_only_its_own_agency(store_env):
    at = open_page(login("agency"), "agency")
    subtree = set(backend_query(store_env, "agency_scope", agency=AGENCY).column("code"))
    assert set(at.selectbox(key="ag_agency").options) <= {o for o in at.selectbox(key="ag_agency").options}
    assert at.selectbox(key="ag_agency").value == AGENCY
    opts = at.selectbox(key="ag_agency").options
    assert all(AGENCY in o or any(c in o for c in subtree) for o in opts), opts
    mine = {r["dossier_code"] for r in backend_query(store_env, "dossiers_overdue", agency=AGENCY, limit=100000)}
    everyone = {r["dossier_code"]: r["agency_code"] for r in backend_query(store_env, "dossiers_overdue", limit=100000)}
    others = {c for c, a in everyone.items() if a not in subtree}
    assert others, "other agencies have overdue dossiers the account must not see"
    for month in at.selectbox(key="ag_month").options:
        at.selectbox(key="ag_month").set_value(month).run()
        assert not at.exception
        try:
            shown = set(table(at, "Giải thích của bộ tính hạn")["Mã hồ sơ"])
        except (KeyError, IndexError):
            shown = set()
        assert shown <= mine and not shown & others
        # nothing anywhere on the page names another agency's dossier
        text = " ".join(str(df.value.to_csv()) for df in at.dataframe) + " ".join(m.value for m in at.markdown)
        assert not [c for c in others if c in text]
    # reports page: nothing from other agencies either
    open_page(at, "reports")
    text = " ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)
    assert not [c for c in others if c in text]


def test_agency_scope_is_enforced_in_the_ops_call(store_env):
    """Not only hidden in the UI: the query layer refuses or rewrites another agency's scope."""
    b = Backend(store_env["cfg"])
    subtree = set(b.query("agency_scope", agency=AGENCY).column("code"))
    scoped = ScopedOps(b, User("a", "agency", agency=AGENCY), lambda c: subtree if c == AGENCY else {c})
    with pytest.raises(AccessDenied):
        scoped.query("dossiers_overdue", agency="QNG.SNNMT")
    with pytest.raises(AccessDenied):
        scoped.explain_dossiers(["X"], agency="QNG.SNNMT")
    for name in ("quarantine_list", "agency_ratio_month", "dossier_detail", "compliance_requests"):
        with pytest.raises(AccessDenied):
            scoped.query(name)
    with pytest.raises(AccessDenied):
        scoped.import_file("x.csv", dry_run=True)
    rows = scoped.query("dossiers_overdue", limit=100000)  # no agency given: its own is forced
    assert rows.rows and set(rows.column("agency_code")) <= subtree
    other = [r["dossier_code"] for r in b.query("dossiers_overdue", limit=50) if r["agency_code"] not in subtree]
    assert scoped.explain_dossiers(other) == {}, "explanations are limited to the account's agency too"
    assert scoped.scoped_params("sync_unsynced", {"agency": None})["agency"] == AGENCY
    for name in ("audit_by_agency", "sync_by_agency"):  # the briefing's per-agency figures: the subtree only
        with pytest.raises(AccessDenied):
            scoped.query(name, month="2026-10", agency="QNG.SNNMT")
        rows = [r for r in scoped.query(name, month="2026-10") if r["row_kind"] == "agency"]
        assert rows and {r["agency_code"] for r in rows} <= subtree


def test_system_page_figures_equal_the_store(store_env):
    at = open_page(login("ict"), "system")
    shown = table(at, "Phép kiểm tra")
    from zoneinfo import ZoneInfo

    now = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None, microsecond=0)
    since = (now - dt.timedelta(hours=24)).replace(second=0)
    since = since.replace(minute=since.minute - since.minute % 5)
    s = backend_query(store_env, "probe_summary", since=since.isoformat())
    assert list(shown["Phép kiểm tra"]) == s.column("name")
    assert list(shown["Số lần chạy"]) == s.column("runs")
    assert list(shown["Lỗi"]) == s.column("failures")
    failing = [r for r in s if r["step"] in ("", "*") and not r["last_ok"]]
    assert failing, "release 2.0 of the testbed has failing checks (refused 1.0 accounts, missing features)"
    assert any(f"{len(failing)} phép kiểm tra đang thất bại" in w.value for w in at.warning)
    assert table(at, "Tốc độ tiêu hao") is not None


def test_data_page_validates_before_import_then_imports(store_env, tmp_path):
    at = open_page(login("ict"), "data")
    before = Backend(store_env["cfg"]).status()["dossiers"]
    csv = ("dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,time_limit,"
           "time_unit,state,finished_at,reported_status,ho_ten\n"
           "UP-0001,QNG.STP,Sở Tư pháp,P1,Thủ tục 1,Hộ tịch,online,2026-11-03 09:00,5,working_days,finished,"
           "2026-11-05 10:00,Đúng hạn,Nguyễn Văn A\n"
           "UP-0002,QNG.STP,Sở Tư pháp,P1,Thủ tục 1,Hộ tịch,online,not-a-date,5,working_days,processing,,,Trần B\n")
    at.file_uploader(key="data_file").set_value(("upload.csv", csv.encode("utf-8"), "text/csv"))
    at.button[0].click().run()  # the form's "check" button
    assert not at.exception
    assert metric(at, "Số dòng đọc") == "2"
    assert metric(at, "Sẽ thêm mới") == "1"
    assert metric(at, "Dòng lỗi") == "1"
    assert any("received_at" in str(df.value.to_csv()) for df in at.dataframe)
    assert Backend(store_env["cfg"]).status()["dossiers"] == before, "nothing is stored by the check"
    assert not any("Nguyễn Văn A" in str(df.value.to_csv()) for df in at.dataframe), "personal data never shown"
    at.button(key="data_do_import").click().run()
    assert not at.exception
    assert any("Đã nhập" in s.value for s in at.success)
    assert Backend(store_env["cfg"]).status()["dossiers"] == before + 1
    q = table(at, "Giá trị")
    assert (q["Trường"] == "Ngày tiếp nhận (received_at)").any()
    # the upload is gone; the archive keeps its copy without the personal-data column, and the report
    cfg = store_env["cfg"]
    assert not list((cfg.store.path.parent / "uploads").iterdir())
    kept = {p.name.split("_", 1)[1]: p for p in cfg.inbox.archive.iterdir()}
    assert set(kept) == {"upload.csv", "upload.csv.report.txt"}
    copy = kept["upload.csv"].read_text(encoding="utf-8-sig")
    assert copy.splitlines()[0].split(",")[:3] == ["dossier_code", "agency_code", "agency_name"]
    assert "UP-0001" in copy and "UP-0002" in copy and "ho_ten" not in copy
    assert "received_at" in kept["upload.csv.report.txt"].read_text(encoding="utf-8")
    for p in kept.values():
        assert p.stat().st_mode & 0o777 == 0o600
        assert "Nguyễn Văn A" not in p.read_text(encoding="utf-8") and "Trần B" not in p.read_text(encoding="utf-8")


@pytest.mark.parametrize("page, needle", [("loadtests", "Chưa có lần kiểm thử tải nào")])
def test_pages_without_data_say_so(store_env, page, needle):
    at = open_page(login("admin"), page)
    assert any(needle in i.value for i in at.info)
    assert not at.metric, "no stand-in figures"


# -- failures are messages -----------------------------------------------------------------------

def test_empty_store_says_so(tmp_path, monkeypatch):
    env = env_for(tmp_path, tmp_path / "data" / "empty.duckdb")
    Motcua(load_config(environ=env)).store.close()
    add_users(tmp_path / "users.json")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = login("admin")
    for page in ("overview", "agency"):
        at.switch_page(PAGE_FILE[page]).run()
        assert not at.exception
        assert any("chưa có hồ sơ nào" in i.value for i in at.info), page
    open_page(at, "data")  # the data page still lets you import the first file


def test_first_sign_in_with_the_initial_password_asks_for_a_new_one(tmp_path, monkeypatch):
    """The account a first start creates: signing in with the generated password opens no page,
    only the form that replaces it; the new password must be valid, typed twice, and not the
    initial one; once changed, the pages open and the initial password's file is gone."""
    env = env_for(tmp_path, tmp_path / "data" / "empty.duckdb")
    Motcua(load_config(environ=env)).store.close()
    users = UserFile(tmp_path / "users.json")
    pw_file = tmp_path / "data" / "initial-admin-password.txt"
    assert users.ensure_first_admin(pw_file) == pw_file
    initial = pw_file.read_text(encoding="utf-8").strip()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(SCRIPT, default_timeout=120).run()
    at.text_input(key="login_user").input("admin")
    at.text_input(key="login_password").input(initial)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "user" not in at.session_state, "not signed in before the password is changed"
    assert at.subheader[0].value == "Đặt mật khẩu mới"
    assert any("mật khẩu khởi tạo" in i.value for i in at.info)
    with pytest.raises(ValueError):  # no page is reachable meanwhile
        at.switch_page(PAGE_FILE["overview"])

    def change(new, again=None):
        at.text_input(key="pw_new").input(new)
        at.text_input(key="pw_again").input(new if again is None else again)
        at.button(key="pw_change").click().run()
        assert not at.exception, at.exception
        return [e.value for e in at.error]

    assert change("a-new-password-1", "a-new-password-2") == ["Hai mật khẩu không khớp nhau."]
    assert change("short") == ["Mật khẩu phải có ít nhất 10 ký tự."]
    assert change(initial) == ["Hãy chọn mật khẩu khác mật khẩu khởi tạo."]
    assert pw_file.exists() and users.load()["admin"].must_change_password
    assert change("a-new-password-1") == []
    assert at.session_state["user"].username == "admin" and not at.session_state["user"].must_change_password
    assert not pw_file.exists()
    assert users.authenticate("admin", "a-new-password-1") and users.authenticate("admin", initial) is None
    assert not users.load()["admin"].must_change_password
    assert at.button(key="logout") is not None  # the pages, with the sidebar
    open_page(at, "data")


def test_broken_config_says_what_is_wrong(tmp_path, monkeypatch):
    bad = tmp_path / "motcua.yaml"
    bad.write_text("store:\n  memory_limit: [1, 2]\n", encoding="utf-8")
    monkeypatch.setenv("MOTCUA_CONFIG", str(bad))
    at = AppTest.from_file(SCRIPT, default_timeout=60).run()
    assert not at.exception
    assert any("Cấu hình không hợp lệ" in e.value and "store.memory_limit" in e.value for e in at.error)


def test_stopped_testbed_shows_a_clear_message(tmp_path, monkeypatch):
    from probes.runner import run_once

    env = env_for(tmp_path, tmp_path / "data" / "probes.duckdb")
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    run_once(cfg.monitor.probes, store=app.store, base_url=f"http://127.0.0.1:{_dead_port()}")
    app.close()
    add_users(tmp_path / "users.json")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = login("ict")
    at.switch_page(PAGE_FILE["system"]).run()
    assert not at.exception
    assert any("Cổng không phản hồi" in e.value for e in at.error)


def test_store_errors_are_messages_not_tracebacks(store_env, monkeypatch):
    monkeypatch.setenv("MOTCUA_STORE__PATH", str(store_env["tmp"] / "missing" / "none.duckdb"))
    at = login("admin")
    at.switch_page(PAGE_FILE["overview"]).run()
    assert not at.exception
    assert any("Không đọc được kho dữ liệu" in e.value for e in at.error)


def test_oidc_sign_in_is_offered_when_configured(store_env, monkeypatch):
    monkeypatch.setenv("MOTCUA_DASHBOARD__OIDC__ENABLED", "true")
    monkeypatch.setenv("MOTCUA_DASHBOARD__OIDC__PROVIDER_LABEL", "VNeID")
    monkeypatch.setenv("MOTCUA_DASHBOARD__OIDC__SERVER_METADATA_URL", "https://sso.example/.well-known/openid-configuration")
    monkeypatch.setenv("MOTCUA_DASHBOARD__OIDC__CLIENT_ID", "motcua")
    monkeypatch.setenv("MOTCUA_DASHBOARD__OIDC__REDIRECT_URI", "http://localhost:8501/oauth2callback")
    at = AppTest.from_file(SCRIPT, default_timeout=60).run()
    assert not at.exception
    assert any(b.label == "Đăng nhập bằng VNeID" for b in at.button)
    assert at.text_input(key="login_password") is not None, "local accounts still sign in"


def test_the_dashboard_never_keeps_the_store_file_open(store_env):
    """Without a running owner the dashboard opens the file per call and closes it: another
    process (the CLI, or a later `app.py run`) can take the file right after a page was shown."""
    import subprocess
    import sys

    at = open_page(login("admin"), "overview")
    assert at.metric
    env = {k: v for k, v in os.environ.items()}
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "status", "--json"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert '"dossiers"' in r.stdout


def test_agency_page_with_dossiers_without_a_procedure_code(tmp_path, monkeypatch):
    """Dossiers exported without a procedure code are counted, charted and listed, not a TypeError."""
    store = tmp_path / "data" / "motcua.duckdb"
    env = env_for(tmp_path, store)
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    f = tmp_path / "export.csv"
    f.write_text("dossier_code,agency_code,agency_name,channel,received_at,time_limit,time_unit,finished_at,state\n"
                 "NP-1,QNG.STP,Sở Tư pháp,online,2026-11-02 09:00,2,working_days,2026-11-10 10:00,finished\n"
                 "NP-2,QNG.STP,Sở Tư pháp,direct,2026-11-03 09:00,2,working_days,,processing\n", encoding="utf-8")
    app = Motcua(load_config(environ=env))
    try:
        app.import_file(str(f))
        app.recompute("2026-11-30 12:00")
    finally:
        app.close()
    add_users(tmp_path / "users.json")
    at = open_page(login("leadership"), "agency")
    at.selectbox(key="ag_agency").set_value("QNG.STP").run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Tiếp nhận") == "2"
    assert sorted(table(at, "Mã hồ sơ")["Mã hồ sơ"]) == ["NP-1", "NP-2"]


def test_a_page_reloaded_after_an_import_shows_the_new_figures(store_env, tmp_path, monkeypatch):
    """The answers are kept for 30 s, but keyed on the data's version: a reload right after an
    import and its refresh shows the new figures, not the ones kept."""
    import shutil

    import duckdb

    src = Path(store_env["env"]["MOTCUA_STORE__PATH"])
    store = tmp_path / "data" / "motcua.duckdb"
    store.parent.mkdir()
    shutil.copy(src, store)
    env = {**store_env["env"], **env_for(tmp_path, store),
           "MOTCUA_DASHBOARD__USERS_FILE": store_env["env"]["MOTCUA_DASHBOARD__USERS_FILE"]}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = open_page(login("leadership"), "overview")
    m = at.selectbox(key="ov_month").value.strftime("%Y-%m")
    before = metric(at, "Hồ sơ tiếp nhận")
    export = tmp_path / "more.csv"
    con = duckdb.connect(str(store))
    con.execute(f"""COPY (SELECT 'MORE' || dossier_code AS dossier_code, agency_code, procedure_code, field,
                               CAST(channel AS VARCHAR) AS channel, received_at, time_limit,
                               CAST(time_unit AS VARCHAR) AS time_unit, CAST(state AS VARCHAR) AS state, finished_at
                         FROM dossiers WHERE strftime(received_at, '%Y-%m') = '{m}' LIMIT 37) TO '{export}' (HEADER)""")
    con.close()
    app = Motcua(load_config(environ=env))
    app.import_file(str(export))
    app.recompute(full=False)
    app.close()
    time.sleep(1.1)  # the version itself is asked again once a second
    at.run()  # a reload, well within the 30 s an answer is kept
    after = backend_query({"cfg": load_config(environ=env)}, "province_month", month=m).one()["received_total"]
    assert metric(at, "Hồ sơ tiếp nhận") == num(after) != before
