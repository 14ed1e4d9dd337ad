"""A first start in a real browser: `app.py run` on a machine with no accounts yet creates
`admin` with a generated password; headless Debian chromium signs in with it, must choose a new
password before any page opens, and then the pages open and the generated password's file is
gone. The tab's icon is the dashboard's own file, and the browser asks nothing of any host but
the dashboard's (the system works without internet access)."""
from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.dashboard.browser import CHROMIUM, FLAGS, NEEDS_CHROMIUM, dashboard_env, running_system

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
NEW_PASSWORD = "mat-khau-moi-2026"


@pytest.fixture
def first_start(app_env, tmp_path):
    yield from running_system(dashboard_env(app_env), tmp_path)


def _sign_in(page, url: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def test_first_start_asks_for_a_new_password_and_needs_no_internet(first_start):
    from playwright.sync_api import sync_playwright

    pw_file = Path(first_start["env"]["MOTCUA_STORE__PATH"]).parent / "initial-admin-password.txt"
    assert str(pw_file) in first_start["out"]
    initial = pw_file.read_text(encoding="utf-8").strip()
    dashboard_host = urlsplit(first_start["url"]).hostname
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            elsewhere: list[str] = []
            page.on("request", lambda r: elsewhere.append(r.url)
                    if urlsplit(r.url).scheme in ("http", "https", "ws", "wss")
                    and urlsplit(r.url).hostname != dashboard_host else None)
            _sign_in(page, first_start["url"], initial)
            page.get_by_text("Đặt mật khẩu mới").first.wait_for(timeout=60_000)
            assert page.get_by_role("link", name="Tổng quan").count() == 0, "no page before the new password"
            page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
            page.get_by_label("Nhập lại mật khẩu mới", exact=True).fill(NEW_PASSWORD)
            page.get_by_role("button", name="Đổi mật khẩu").click()
            page.get_by_role("link", name="Tổng quan").wait_for(timeout=60_000)
            page.get_by_text("Tỷ lệ", exact=False).first.wait_for(timeout=60_000)
            assert not pw_file.exists(), "the generated password's file is deleted once it is replaced"
            icon = page.evaluate("document.querySelector(\"link[rel~='icon']\").href")
            page.wait_for_timeout(1000)
            assert urlsplit(icon).hostname == dashboard_host, icon
            r = httpx.get(icon, timeout=10)
            assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size[0] >= 32
            assert not elsewhere, f"the browser asked other hosts: {elsewhere}"

            # the new password signs in, straight to the pages; the generated one no longer does
            page2 = browser.new_page(viewport={"width": 1440, "height": 1400})
            _sign_in(page2, first_start["url"], initial)
            page2.get_by_text("Tên đăng nhập hoặc mật khẩu không đúng").wait_for(timeout=60_000)
            page2.wait_for_timeout(1500)  # a failed sign-in holds the account's next attempt for 1 s
            _sign_in(page2, first_start["url"], NEW_PASSWORD)
            page2.get_by_role("link", name="Tổng quan").wait_for(timeout=60_000)
        finally:
            browser.close()
