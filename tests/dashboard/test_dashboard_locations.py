"""The Hệ thống page with probe results from two locations (the central and a remote agent): the
"Điểm đo" section lists both in Vietnamese, the selector narrows the figures to one, and a check
failing from one location only is that location's, not the portal's. Under AppTest, and in a real
browser (`app.py run`, Debian chromium) with a screenshot of the section."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.app import load_config
from config.clock import local_now
from probes.runner import ProbeResult
from store.probe_writes import write_results
from system import Motcua
from tests.dashboard.apptest import PAGE_FILE, add_users, env_for, login, table
from tests.dashboard.browser import (CHROMIUM, FLAGS, NEEDS_CHROMIUM, PASSWORD, ROOT, dashboard_env, login_as,
                                     running_system)

AGENT_ENV = {"MOTCUA_AGENTS__LOCATIONS__HANOI__TITLE": "Hà Nội",
             "MOTCUA_AGENTS__LOCATIONS__HANOI__TOKEN_SHA256": "ab" * 32,
             "MOTCUA_AGENTS__FRESH_MINUTES": "120"}  # the seeded results stay "reporting" however slow the start
SHOTS = Path(os.environ.get("MOTCUA_SCREENSHOTS", "/tmp/shots-quorum"))


def _results(t: dt.datetime, *, home_ok: bool, n: int = 6) -> list[ProbeResult]:
    out = []
    for i in range(n):
        at = t - dt.timedelta(minutes=5 * i)
        out.append(ProbeResult("home", "check", "", at, home_ok, status_code=200 if home_ok else 503,
                               total_ms=150.0 + i, reason="" if home_ok else "expected status 200, got 503"))
        out.append(ProbeResult("search", "check", "", at, True, status_code=200, total_ms=300.0 + i))
    return out


def seed_two_locations(store) -> None:
    """The central sees the portal working; Hà Nội cannot reach `home` (its own network)."""
    t = local_now().replace(microsecond=0) - dt.timedelta(minutes=1)
    write_results(store, _results(t, home_ok=True))
    rs = _results(t, home_ok=False)
    write_results(store, rs, location="hanoi", result_ids=[f"hn-{i}" for i in range(len(rs))],
                  agent_version="0.4.1", now=t)


@pytest.fixture
def two_places(tmp_path, monkeypatch):
    env = dict(env_for(tmp_path, tmp_path / "data" / "motcua.duckdb"), **AGENT_ENV)
    app = Motcua(load_config(environ=env))
    seed_two_locations(app.store)
    app.close()
    add_users(tmp_path / "users.json")
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_the_locations_section_and_the_selector(two_places):
    at = login("ict")
    at.switch_page(PAGE_FILE["system"]).run()
    assert not at.exception, [e.value for e in at.exception]
    places = table(at, "Tình trạng")
    assert list(places["Điểm đo"]) == ["Máy chủ trung tâm", "Hà Nội"]
    assert list(places["Tình trạng"]) == ["đang báo về", "đang báo về"]
    assert list(places["Đang thất bại"]) == ["không có", "home"]
    # home fails from Hà Nội only: not the portal's (no warning), said as Hà Nội's
    assert not at.warning and not at.error
    assert any("Chỉ thất bại từ điểm đo Hà Nội" in i.value for i in at.info)
    assert any("Tất cả 2 phép kiểm tra gần nhất đều đạt" in s.value for s in at.success)
    shown = table(at, "Phép kiểm tra")
    assert set(shown["Điểm đo"]) == {"Máy chủ trung tâm", "Hà Nội"} and len(shown) == 4
    # narrowed to Hà Nội: its own figures, its failing check as a failure
    at.selectbox(key="sys_loc").set_value("hanoi").run()
    assert not at.exception
    shown = table(at, "Phép kiểm tra")
    assert "Điểm đo" not in shown.columns and len(shown) == 2
    assert any("1 phép kiểm tra đang thất bại" in w.value for w in at.warning)


def test_only_the_central_says_so_and_the_page_is_as_before(tmp_path, monkeypatch):
    env = env_for(tmp_path, tmp_path / "data" / "motcua.duckdb")
    app = Motcua(load_config(environ=env))
    write_results(app.store, _results(local_now().replace(microsecond=0), home_ok=True))
    app.close()
    add_users(tmp_path / "users.json")
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = login("ict")
    at.switch_page(PAGE_FILE["system"]).run()
    assert not at.exception
    assert any("Chỉ máy chủ trung tâm đo; chưa có điểm đo từ xa" in c.value for c in at.caption)
    assert not [s for s in at.selectbox if s.key == "sys_loc"]
    assert "Điểm đo" not in table(at, "Phép kiểm tra").columns


@pytest.mark.slow
@NEEDS_CHROMIUM
def test_the_locations_section_in_a_real_browser(app_env, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.dashboard.test_dashboard_browser import _english_on, _settled, _shown_text

    env = dict(dashboard_env(app_env), **AGENT_ENV)
    app = Motcua(load_config(environ=env))
    seed_two_locations(app.store)
    app.close()
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "user", "add", "cntt", "--role", "ict",
                        "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    SHOTS.mkdir(parents=True, exist_ok=True)
    for info in running_system(env, tmp_path):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1400})
                login_as(page, info["url"], "cntt")
                page.get_by_role("link", name="Hệ thống").click()
                page.get_by_role("heading", name="Điểm đo").wait_for(timeout=60_000)
                _settled(page)
                assert page.locator("[data-testid='stException']").count() == 0
                section = page.locator(".st-key-sys_locations")
                section.scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                section.screenshot(path=str(SHOTS / "he-thong-diem-do.png"))
                text = _shown_text(page)
                for words in ("Máy chủ trung tâm", "Hà Nội", "đang báo về", "Chỉ thất bại từ điểm đo Hà Nội",
                              "không có"):
                    assert words in text, words
                words, numbers = _english_on(text)
                assert not words and not numbers, (words, numbers)
                page.screenshot(path=str(SHOTS / "he-thong-diem-do-page.png"), full_page=True)
                page.get_by_text("Chỉ thất bại từ điểm đo Hà Nội").first.screenshot(
                    path=str(SHOTS / "he-thong-chi-ha-noi.png"))
            finally:
                browser.close()
