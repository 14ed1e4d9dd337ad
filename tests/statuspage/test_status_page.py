"""The public status page on a real store, served by its real server on loopback: each service's
status from the latest probe results, the 90 daily bars from the rollups (figures written the
Vietnamese way), incidents opened by alerts and changed by people with every change kept, the Atom
feed, the English switch, caching, a store that stops answering, and no dossier data anywhere."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from config.alerts import MaintenanceWindow
from config.clock import local_now
from config.errors import ConfigError
from config.status_page import load_status_page
from statuspage.incidents import IncidentInvalid
from statuspage.server import StatusPageServer
from store.status_writes import IncidentRefused
from store.probe_writes import write_results
from tests.statuspage.conftest import check, write_day

ATOM = "{http://www.w3.org/2005/Atom}"
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "status_page.yaml"


def _html(app, lang: str = "vi") -> str:
    sp = app.status_page
    sp.invalidate()
    sp.refresh()
    return sp.docs[("html", lang)].body.decode("utf-8")


def _card(html: str, sid: str) -> str:
    m = re.search(rf'<div class="card svc" id="dv-{sid}">(.*?)</div></div>', html + "</div>", re.S)
    assert m, f"no card for {sid}"
    return m.group(0)


def _state(html: str, sid: str) -> str:
    return re.search(r'class="st s-(\w+)"', _card(html, sid)).group(1)


def _bars(html: str, sid: str) -> list[tuple[str, str]]:
    return re.findall(r'<span class="l-(\w+)" title="([^"]*)"></span>', _card(html, sid))


def _history(app) -> list[dict]:
    return app.query("status_incident_updates").to_dicts()


def test_each_service_is_judged_by_its_probes_now(sp_app):
    html = _html(sp_app)
    assert _state(html, "trang-chu") == "operational"
    assert _state(html, "dang-nhap-tai-khoan-cu") == "outage"          # the old accounts are refused
    assert _state(html, "dang-nhap-tai-khoan-moi") == "operational"    # the login step passed
    # the upload failed: form and details passed, confirm was not reached (counts as failing)
    assert _state(html, "nop-ho-so-truc-tuyen") == "degraded"
    assert _state(html, "tra-cuu-ho-so") == "degraded"                 # QR look-up gone, code look-up works
    assert _state(html, "thanh-toan-truc-tuyen") == "unknown"          # no recent result
    assert _state(html, "dong-bo-dvcqg") == "outage"
    assert "Hoạt động bình thường" in _card(html, "trang-chu")
    assert "Chưa có số liệu mới" in _card(html, "thanh-toan-truc-tuyen")
    assert 'class="banner b-outage"' in html and "Một số dịch vụ đang bị gián đoạn" in html


def test_old_results_say_nothing_about_now(sp_app):
    sp = sp_app.status_page
    later = local_now() + dt.timedelta(minutes=sp.page.stale_minutes + 5)
    sp.now = lambda: later
    html = _html(sp_app)
    assert {_state(html, s.id) for s in sp.page.services} == {"unknown"}
    assert 'class="banner b-unknown"' in html


def test_ninety_daily_bars_with_vietnamese_figures(sp_app):
    html = _html(sp_app)
    bars = _bars(html, "trang-chu")
    assert len(bars) == 90
    today = local_now().date()
    by_day = {title.split(":")[0]: (level, title) for level, title in bars}
    d3, d2 = (today - dt.timedelta(days=n) for n in (3, 2))
    assert by_day[d3.strftime("%d/%m/%Y")] == ("good", f"{d3:%d/%m/%Y}: 99,5\u00a0% lượt kiểm tra đạt (199/200)")
    assert by_day[d2.strftime("%d/%m/%Y")] == ("fair", f"{d2:%d/%m/%Y}: 95\u00a0% lượt kiểm tra đạt (190/200)")
    assert by_day[(today - dt.timedelta(days=1)).strftime("%d/%m/%Y")][0] == "bad"
    first = today - dt.timedelta(days=89)
    assert bars[0] == ("none", f"{first:%d/%m/%Y}: chưa có số liệu")
    assert bars[-1][1].startswith(today.strftime("%d/%m/%Y"))
    # the 90 days' figure, never rounded up: (199 + 190 + 100 + 1) / 601 passed; the phone's 30 days
    # (the same days here) beside it
    assert re.search(r'<span class="d">81,53\u00a0% lượt kiểm tra đạt</span>'
                     r'<span class="m">81,53\u00a0% lượt kiểm tra đạt</span>', _card(html, "trang-chu"))
    # a thousand runs are written with the Vietnamese thousands dot
    write_day(sp_app.store, today - dt.timedelta(days=5), 1500, 0)
    d5 = today - dt.timedelta(days=5)
    assert f"{d5:%d/%m/%Y}: 100\u00a0% lượt kiểm tra đạt (1.500/1.500)" in _html(sp_app)
    # a bad day 40 days ago counts in the 90 days, not in the phone's 30
    write_day(sp_app.store, today - dt.timedelta(days=40), 100, 100)
    card = _card(_html(sp_app), "trang-chu")
    assert '<span class="d">90,41\u00a0% lượt kiểm tra đạt</span>' in card     # 1990 / 2201
    assert '<span class="m">94,71\u00a0% lượt kiểm tra đạt</span>' in card     # 1990 / 2101


def test_a_service_without_probes_is_not_monitored(sp_app, tmp_path):
    from config.probes import load_probes
    from config.status_page import StatusPageFile
    from statuspage.model import build, journeys_of, service_refs

    shipped = load_status_page(sp_app.cfg.status_page.file)
    data = shipped.model_dump()
    data["services"].append({"id": "danh-gia", "name": {"vi": "Đánh giá mức độ hài lòng", "en": "Rating"},
                             "probes": [], "incident": data["services"][0]["incident"]})
    page = StatusPageFile.model_validate(data)
    probes = load_probes(sp_app.cfg.monitor.probes)
    pd = build(sp_app.query, page, service_refs(page, journeys_of(page, probes)), [], local_now())
    from statuspage.render import html_page

    html = html_page(pd, "vi")
    card = _card(html, "danh-gia")
    assert _state(html, "danh-gia") == "not_monitored" and "Chưa theo dõi" in card
    assert "l-" not in card, "no bars for a service nothing checks"


def test_unknown_probes_are_refused_at_load_and_by_check_config(tmp_path, run_app, app_env):
    from config.probes import load_probes

    bad = tmp_path / "status_page.yaml"
    text = SHIPPED.read_text("utf-8")
    bad.write_text(text.replace("probes: [home]", "probes: [home, trang-chu-cu, citizen-v2-submission/pay]"),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"trang-chu: trang-chu-cu; trang-chu: citizen-v2-submission/pay"):
        load_status_page(bad, load_probes(None))
    r = run_app("check-config", env={**app_env, "MOTCUA_STATUS_PAGE__FILE": str(bad)})
    assert r.returncode == 2
    assert "trang-chu-cu" in r.stderr and "citizen-v2-submission/pay" in r.stderr


def test_incident_lifecycle_from_an_alert_with_every_change_kept(sp_app):
    keeper = sp_app.incident_keeper
    since = local_now().replace(microsecond=0) - dt.timedelta(minutes=5)
    done = keeper.update({"check:citizen-v1-login": since, "check:home": since})
    # the old-accounts service fails: an incident with its template; home works: none for it
    assert [(d["action"], d["service"]) for d in done] == [("open", "dang-nhap-tai-khoan-cu")]
    assert keeper.update({"check:citizen-v1-login": since}) == [], "one alert episode opens one incident"
    inc = sp_app.query("status_incidents").one()
    assert inc["status"] == "investigating" and inc["source"] == "alert" and inc["opened_by"] == "monitor"
    assert inc["message_vi"].startswith("Tài khoản đăng ký trên hệ thống cũ tạm thời chưa đăng nhập được;")
    html = _html(sp_app)
    assert "Sự cố đang xử lý" in html and "Đang xử lý" in html
    assert "Tài khoản đăng ký trên hệ thống cũ chưa đăng nhập được" in html
    iid = inc["incident_id"]
    kept = []

    def step(action, **params):
        before = _history(sp_app)
        assert before[: len(kept)] == kept, "an earlier change was altered"
        kept[:] = before
        return sp_app.status_incident(action, actor="quantri", via="library", incident_id=iid, **params)

    step("post", status="identified", message_vi="Đã xác định nguyên nhân: tài khoản cũ chưa được chuyển sang hệ thống mới.")
    step("edit", message_vi="Đã xác định nguyên nhân: tài khoản cũ chưa được chuyển sang hệ thống mới; dự kiến xong trong hôm nay.")
    step("resolve")
    history = _history(sp_app)
    assert history[: len(kept)] == kept
    assert [(h["action"], h["actor"], h["status"], h["public"]) for h in history] == [
        ("open", "monitor", "investigating", True), ("post", "quantri", "identified", True),
        ("edit", "quantri", "identified", False), ("resolve", "quantri", "resolved", True)]
    assert '"status": ["investigating", "identified"]' in history[1]["changed"]
    assert history[3]["message_vi"].startswith("Sự cố đã được khắc phục")
    html = _html(sp_app)
    assert "Sự cố đang xử lý" not in html
    past = html.split("Sự cố đã khắc phục trong 7 ngày qua", 1)[1]
    assert "Tài khoản đăng ký trên hệ thống cũ chưa đăng nhập được" in past and "Đã khắc phục" in past
    assert "dự kiến xong trong hôm nay" in past and "đã sửa lúc" in past
    # resolved: no more posts; the same alert episode does not open it again, a new one does
    with pytest.raises(IncidentRefused, match="already resolved"):
        step("post", message_vi="x")
    assert keeper.update({"check:citizen-v1-login": since}) == []
    later = since + dt.timedelta(minutes=3)
    assert [d["action"] for d in keeper.update({"check:citizen-v1-login": later})] == ["open"]


def test_a_person_opens_one_by_hand_and_joins_are_not_public(sp_app):
    res = sp_app.status_incident("open", actor="quantri", service="dang-nhap-tai-khoan-cu", impact="outage")
    inc = sp_app.query("status_incidents", incident_id=res["incident_id"]).one()
    assert inc["source"] == "manual" and not inc["auto_resolve"] and inc["title_en"]   # the template's words
    since = local_now().replace(microsecond=0)
    done = sp_app.incident_keeper.update({"check:citizen-v1-login": since})
    assert [(d["action"], d["incident_id"]) for d in done] == [("join", res["incident_id"])]
    html = _html(sp_app)
    assert html.count('class="card inc open') == 1
    # refused: an unknown service, a back-dated change, no actor, a control character
    with pytest.raises(IncidentInvalid, match="unknown service"):
        sp_app.status_incident("open", actor="quantri", service="khong-co")
    with pytest.raises(IncidentInvalid, match="no parameter at"):
        sp_app.status_incident("post", actor="quantri", incident_id=res["incident_id"], message_vi="x",
                               at="2020-01-01 00:00")
    with pytest.raises(IncidentInvalid, match="actor"):
        sp_app.status_incident("post", actor=" ", incident_id=res["incident_id"], message_vi="x")
    with pytest.raises(IncidentInvalid, match="control"):
        sp_app.status_incident("post", actor="quantri", incident_id=res["incident_id"], message_vi="a\x00b")


def test_the_monitor_resolves_only_what_nobody_took_over(sp_app):
    keeper = sp_app.incident_keeper
    t = local_now().replace(microsecond=0)
    since = t - dt.timedelta(minutes=10)
    write_results(sp_app.store, [check("dvcqg-sync", since, ok=False)], raw_retention_days=100)
    keeper.update({"check:dvcqg-sync": since, "check:feature-qr-lookup": since})
    by_service = {r["service"]: r for r in sp_app.query("status_incidents")}
    assert set(by_service) == {"dong-bo-dvcqg", "tra-cuu-ho-so"}
    assert by_service["tra-cuu-ho-so"]["impact"] == "degraded" and by_service["dong-bo-dvcqg"]["impact"] == "outage"
    # a person posts on the look-up incident: from then on only a person resolves it
    sp_app.status_incident("post", actor="quantri", incident_id=by_service["tra-cuu-ho-so"]["incident_id"],
                           message_vi="Đang khôi phục chức năng tra cứu theo mã QR.")
    # both services work again; the failures are older than auto_resolve_minutes (30) an hour later
    write_results(sp_app.store, [check("dvcqg-sync", t + dt.timedelta(minutes=40)),
                                 check("feature-qr-lookup", t + dt.timedelta(minutes=40))], raw_retention_days=100)
    assert keeper.update({}, at=t + dt.timedelta(minutes=20)) == [], "the last failure is too recent"
    done = keeper.update({}, at=t + dt.timedelta(minutes=45))
    assert [(d["action"], d["service"]) for d in done] == [("resolve", "dong-bo-dvcqg")]
    rows = {r["service"]: r for r in sp_app.query("status_incidents")}
    assert rows["dong-bo-dvcqg"]["status"] == "resolved" and rows["tra-cuu-ho-so"]["status"] == "investigating"
    last = [h for h in _history(sp_app) if h["incident_id"] == rows["dong-bo-dvcqg"]["incident_id"]][-1]
    assert (last["actor"], last["via"], last["action"]) == ("monitor", "alert", "resolve")


def test_maintenance_windows_under_way_and_to_come(sp_app):
    sp = sp_app.status_page
    now = local_now().replace(microsecond=0)
    sp.maintenance[:] = [
        MaintenanceWindow(start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1),
                          checks=["check:dvcqg-sync"], reason="Nâng cấp kết nối với Cổng Dịch vụ công quốc gia"),
        MaintenanceWindow(start=now + dt.timedelta(days=2), end=now + dt.timedelta(days=2, hours=4),
                          reason="Nâng cấp phiên bản cổng"),
        MaintenanceWindow(start=now - dt.timedelta(days=2), end=now - dt.timedelta(days=1), reason="Đã qua"),
        MaintenanceWindow(start=now, end=now + dt.timedelta(hours=1), checks=["slo:officer:failures"],
                          reason="Nội bộ"),
    ]
    html = _html(sp_app)
    section = html.split("Bảo trì theo kế hoạch", 1)[1].split("</section>", 1)[0]
    assert "Đang diễn ra" in section and "Nâng cấp kết nối" in section and "Đồng bộ với Cổng Dịch vụ công quốc gia" in section
    assert "Sắp diễn ra" in section and "Toàn bộ cổng" in section
    assert "Đã qua" not in html and "Nội bộ" not in html
    assert _state(html, "dong-bo-dvcqg") == "maintenance"
    # an alert silenced by the window opens nothing
    assert sp_app.incident_keeper.update({"check:dvcqg-sync": now - dt.timedelta(minutes=5)}) == []


def test_a_hostile_message_is_escaped_everywhere(sp_app):
    res = sp_app.status_incident("open", actor="quantri", service="trang-chu",
                                 title_vi='<img src=x onerror="alert(1)"> & "tiêu đề"',
                                 message_vi="<script>alert('x')</script>\nDòng hai")
    html = _html(sp_app)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;tiêu đề&quot;" in html
    sp = sp_app.status_page
    feed = ET.fromstring(sp.docs[("atom", "vi")].body)
    entry = feed.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == '[Đang xử lý] <img src=x onerror="alert(1)"> & "tiêu đề"'
    content = entry.find(f"{ATOM}content").text   # HTML, its text escaped once more inside
    assert "&lt;script&gt;" in content and "<script>" not in content
    assert res["incident_id"] == int(entry.find(f"{ATOM}id").text.rsplit("/", 1)[1])


def test_no_dossier_data_on_the_page_or_in_the_feed(tmp_path):
    from config.app import load_config
    from system import Motcua
    from tests.statuspage.conftest import env_for, now_results

    app = Motcua(load_config(environ=env_for(tmp_path)))
    try:
        app.demo_data(months=1, per_month=100, end=local_now().date())
        write_results(app.store, now_results(local_now().replace(microsecond=0)), raw_retention_days=100)
        app.status_incident("open", actor="quantri", service="nop-ho-so-truc-tuyen")
        sp = app.status_page
        sp.refresh()
        text = b"".join(d.body for d in sp.docs.values()).decode("utf-8")
        # the test reads the store directly: what the page must never show
        cur = app.store.cursor()
        dossiers = cur.execute("SELECT dossier_code, procedure_code, agency_code FROM dossiers LIMIT 500").fetchall()
        assert len(dossiers) == 100
        assert not [v for row in dossiers for v in row if v in text]
        agencies = [r[0] for r in cur.execute("SELECT name FROM agencies WHERE length(name) > 12").fetchall()]
        assert agencies and not [a for a in agencies if a in text]
    finally:
        app.close()


def test_served_on_loopback_cached_english_and_atom(sp_app):
    sp_app.status_incident("open", actor="quantri", service="dang-nhap-tai-khoan-cu", impact="outage")
    res = sp_app.status_incident("open", actor="quantri", service="thanh-toan-truc-tuyen")
    sp_app.status_incident("resolve", actor="quantri", incident_id=res["incident_id"])
    server = StatusPageServer(sp_app.status_page, "127.0.0.1", 0)
    base = server.start()
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.get("/")
            assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
            assert r.headers["content-encoding"] == "gzip"   # httpx asks for it; the bytes were compressed once
            assert r.headers["cache-control"] == "public, max-age=1"
            assert "script-src" not in r.headers["content-security-policy"] and "default-src 'none'" in \
                r.headers["content-security-policy"]
            assert '<html lang="vi">' in r.text and "Tình trạng hoạt động" in r.text
            assert "<script" not in r.text.lower() and "http://" not in r.text and "https://" not in r.text
            etag = r.headers["etag"]
            assert c.get("/", headers={"If-None-Match": etag}).status_code == 304
            en = c.get("/?lang=en")
            assert '<html lang="en">' in en.text and "Operational" in en.text and "Outage" in en.text
            assert "Accounts registered on the old portal cannot sign in" in en.text
            assert "Hoạt động bình thường" not in en.text
            feed = c.get("/feed.atom")
            assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
            root = ET.fromstring(feed.content)
            assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}updated") is not None
            titles = sorted(e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry"))
            assert titles == ["[Đang xử lý] Tài khoản đăng ký trên hệ thống cũ chưa đăng nhập được",
                              "[Đã khắc phục] Thanh toán trực tuyến đang gặp sự cố"]
            for entry in root.findall(f"{ATOM}entry"):
                for tag in ("id", "title", "updated", "published", "content", "link"):
                    assert entry.find(f"{ATOM}{tag}") is not None, tag
            en_feed = ET.fromstring(c.get("/feed.atom?lang=en").content)
            assert "[Resolved] Online payment has a problem" in [e.find(f"{ATOM}title").text
                                                                 for e in en_feed.findall(f"{ATOM}entry")]
            health = c.get("/healthz").json()
            assert health["ok"] and health["stale"] is False
            assert c.get("/admin").status_code == 404
            assert c.post("/").status_code == 405
            assert c.head("/").status_code == 200
    finally:
        server.stop()


def test_a_store_that_stops_answering_leaves_the_last_good_page(sp_app):
    sp = sp_app.status_page
    real = sp.query
    broken = {"now": False}

    def query(name, **params):
        if broken["now"]:
            raise RuntimeError("the store is gone")
        return real(name, **params)

    sp.query = query
    sp.refresh()
    good = sp.data.at
    broken["now"] = True
    server = StatusPageServer(sp, "127.0.0.1", 0)
    base = server.start()
    try:
        sp.invalidate()
        with httpx.Client(base_url=base, timeout=10) as c:
            note = "Hệ thống giám sát tạm thời chưa lấy được số liệu mới"
            r = c.get("/")                 # served at once; the refresh fails in the background
            deadline = local_now() + dt.timedelta(seconds=10)
            while note not in r.text and local_now() < deadline:
                r = c.get("/")
            assert r.status_code == 200
            assert note in r.text
            assert good.strftime("%H:%M %d/%m/%Y") in r.text and "Trang chủ" in r.text
            assert c.get("/healthz").json()["stale"] is True
            broken["now"] = False
            sp.invalidate()
            r = c.get("/")
            deadline = local_now() + dt.timedelta(seconds=10)
            while note in r.text and local_now() < deadline:
                r = c.get("/")
            assert note not in r.text
    finally:
        server.stop()


def test_before_any_figure_the_page_says_so(tmp_path):
    from statuspage.server import StatusPage

    shipped = load_status_page(SHIPPED)

    def query(name, **params):
        raise RuntimeError("no store")

    from zoneinfo import ZoneInfo

    sp = StatusPage(shipped, {s.id: [] for s in shipped.services}, query, [], local_now, ZoneInfo("Asia/Ho_Chi_Minh"))
    server = StatusPageServer(sp, "127.0.0.1", 0)
    base = server.start()
    try:
        r = httpx.get(base, timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
        assert "Trang tình trạng tạm thời chưa có số liệu" in r.text
    finally:
        server.stop()


def test_changes_through_the_owner_and_the_dashboard_rules(owner):
    """A client of the running owner (RemoteOps) changes incidents through its API; through the
    dashboard only an admin account may, in its own name."""
    from dashboard.access import AccessDenied, ScopedOps
    from dashboard.users import User
    from store.ops import OperationError, find_owner

    app, _service = owner
    ops = find_owner(app.cfg.store.path)
    assert ops is not None and ops.remote
    try:
        res = ops.status_incident("open", actor="quantri", via="api", service="tra-cuu-ho-so", impact="outage")
        assert app.query("status_incidents", incident_id=res["incident_id"]).one()["impact"] == "outage"
        with pytest.raises(OperationError, match="already resolved"):
            ops.status_incident("resolve", actor="quantri", via="api", incident_id=res["incident_id"])
            ops.status_incident("resolve", actor="quantri", via="api", incident_id=res["incident_id"])
        for role in ("leadership", "ict", "vendor", "agency"):
            with pytest.raises(AccessDenied):
                ScopedOps(ops, User("x", role, agency="QNG.STP" if role == "agency" else None),
                          lambda c: {c}).status_incident("open", service="trang-chu")
        admin = ScopedOps(ops, User("quantri", "admin"), lambda c: {c})
        with pytest.raises(AccessDenied):
            admin.status_incident("open", service="trang-chu", actor="someone-else")
        with pytest.raises(AccessDenied):
            admin.status_incident("delete", incident_id=res["incident_id"])
        done = admin.status_incident("open", service="trang-chu")
        last = app.query("status_incident_updates", incident_id=done["incident_id"]).to_dicts()[-1]
        assert (last["actor"], last["via"], last["action"]) == ("quantri", "dashboard", "open")
    finally:
        ops.close()
