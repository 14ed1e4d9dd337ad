"""The status page of `app.py run` in Debian's chromium (Playwright), as citizens meet it: the
system started as a user starts it (a small demo, the testbed v2.0, alerts evaluated every two
seconds), the alerts for the refused old accounts open an incident by themselves, ICT posts an
update and resolves it through the running owner, and the page is looked at after each step at
phone and desktop width (screenshots under the test's folder), with JavaScript off as well: no
request leaves the page's own address, nothing is English on the Vietnamese page."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.dashboard.browser import CHROMIUM, FLAGS, NEEDS_CHROMIUM, owner_of, running_system

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
OLD = "dang-nhap-tai-khoan-cu"
TITLE = "Tài khoản đăng ký trên hệ thống cũ chưa đăng nhập được"
WIDTHS = {"phone": 390, "desktop": 1280}


@pytest.fixture
def system(app_env, tmp_path):
    env = dict(app_env, MOTCUA_DASHBOARD__ENABLED="false", MOTCUA_MONITOR__EVALUATE_SECONDS="2",
               MOTCUA_STATUS_PAGE__CACHE_SECONDS="1")
    for info in running_system(env, tmp_path, r"status page\s+(http://\S+) \(public, no sign-in: 7 services"):
        yield {"url": info["url"], "env": env, "tmp": tmp_path}


def _wait(what, fn, timeout: float = 120):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def _look(browser, url: str, shots: Path, name: str, expect: list[str], js: bool = True) -> dict[str, str]:
    """The page at each width: what it shows, a screenshot of it, and where its requests went."""
    texts = {}
    for label, width in WIDTHS.items():
        ctx = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=js,
                                  locale="vi-VN")
        page = ctx.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        for text in expect:
            page.get_by_text(text, exact=False).first.wait_for(timeout=10_000)
        page.screenshot(path=str(shots / f"{name}-{label}.png"), full_page=True)
        # nothing wider than the screen: no sideways scrolling on a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert all(r.startswith(url.split("?")[0].rstrip("/")) for r in requests), requests
        texts[label] = page.inner_text("body")
        ctx.close()
    return texts


def test_the_status_page_in_chromium(system, tmp_path):
    from playwright.sync_api import sync_playwright

    url, env = system["url"], system["env"]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    ops = owner_of(env)

    def old_incident():
        rows = [r for r in ops.query("status_incidents") if r["service"] == OLD]
        return rows[0] if rows else None

    # v2.0 refuses the accounts of v1.0: the alert opens the incident by itself, with the template
    inc = _wait("the alert's incident", old_incident)
    assert inc["source"] == "alert" and inc["opened_by"] == "monitor" and inc["title_vi"] == TITLE
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        texts = _look(browser, url, shots, "1-opened", ["Sự cố đang xử lý", TITLE, "Hôm nay"])
        assert "Tài khoản đăng ký trên hệ thống cũ tạm thời chưa đăng nhập được" in texts["phone"]
        assert "30 ngày trước" in texts["phone"] and "90 ngày trước" in texts["desktop"]
        ops.status_incident("post", actor="quantri", via="api", incident_id=inc["incident_id"], status="identified",
                            message_vi="Đã xác định nguyên nhân: tài khoản của hệ thống cũ chưa được chuyển sang hệ "
                                       "thống mới. Dự kiến khắc phục trong ngày.")
        texts = _look(browser, url, shots, "2-update", ["Đã xác định nguyên nhân", "Dự kiến khắc phục trong ngày"],
                      js=False)
        assert texts["desktop"].index("Dự kiến khắc phục") < texts["desktop"].index("tạm thời chưa đăng nhập được"), \
            "the newest update first"
        ops.status_incident("resolve", actor="quantri", via="api", incident_id=inc["incident_id"])
        texts = _look(browser, url, shots, "3-resolved", ["Sự cố đã khắc phục trong 7 ngày qua", "Đã khắc phục"])
        past = texts["desktop"].split("Sự cố đã khắc phục trong 7 ngày qua", 1)[1]
        assert TITLE in past and "Sự cố đã được khắc phục" in past
        current = texts["desktop"].split("Các dịch vụ", 1)[0]
        assert TITLE not in current, "a resolved incident is no longer current"
        for text in texts.values():
            assert not re.search(r"\b(Operational|Outage|Degraded|Resolved|Investigating|None|nan)\b", text), text
        en = _look(browser, url + "?lang=en", shots, "4-english", ["Incidents resolved in the last 7 days"])
        assert "Accounts registered on the old portal cannot sign in" in en["desktop"]
        browser.close()
    # the same alert episode does not open the resolved incident again
    time.sleep(5)
    assert len([r for r in ops.query("status_incidents") if r["service"] == OLD]) == 1
    history = [h["action"] for h in ops.query("status_incident_updates", incident_id=inc["incident_id"])]
    assert history[0] == "open" and history[-2:] == ["post", "resolve"]
    ops.close()
