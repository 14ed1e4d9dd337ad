"""The Reports page in a real browser: `app.py run` started as a user starts it (the `system`
fixture of tests/dashboard/conftest.py), headless Debian chromium signs in, generates the month's
briefing, downloads it through the page's button and opens the file; an agency account downloads
its own agency's briefing only. Screenshots go under the test's output directory (and
MOTCUA_SCREENSHOTS, when set)."""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from reports.briefing.labels import fmt_int
from reports.briefing.model import COUNT_COLUMNS
from tests.dashboard.browser import CHROMIUM, FLAGS, NEEDS_CHROMIUM, login_as, owner_of

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
AGENCY = "QNG.SNNMT"  # the agency account the system fixture creates


def _default_month(ops) -> str:
    import datetime as dt

    from dashboard.common import default_month

    status = ops.status()
    status["last_recompute_as_of"] = dt.datetime.fromisoformat(status["last_recompute_as_of"])
    months = ops.query("dashboard_months").column("month")
    return months[default_month(months, status)].strftime("%Y-%m")


def _generate_and_download(page, fmt_label: str | None, tmp: Path):
    page.get_by_role("link", name="Báo cáo").click()
    page.get_by_role("button", name="Lập báo cáo").wait_for(timeout=60_000)
    if fmt_label:
        page.locator("[data-testid='stSelectbox']").filter(has_text="Định dạng").click()
        page.get_by_role("option", name=fmt_label).click()
        page.wait_for_timeout(1000)
    page.get_by_role("button", name="Lập báo cáo").click()
    button = page.get_by_role("button", name="Tải xuống")
    button.wait_for(timeout=120_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    d = info.value
    path = tmp / d.suggested_filename
    d.save_as(path)
    return path


def test_reports_page_generates_and_downloads_in_a_real_browser(system, tmp_path):
    from playwright.sync_api import sync_playwright

    ops = owner_of(system["env"])
    month = _default_month(ops)
    prov = next(r for r in ops.query("bieu06", month=month) if r["row_kind"] == "total")
    mine = next(r for r in ops.query("bieu06", month=month, agency=AGENCY) if r["row_kind"] == "total")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
            login_as(page, system["url"], "lanhdao")
            path = _generate_and_download(page, None, tmp_path)
            assert path.name == f"bao-cao-tthc-{month}.docx"
            text = "\n".join(x.text for x in Document(str(path)).paragraphs)
            assert f"nhận giải quyết {fmt_int(prov['received_total'])} hồ sơ" in text
            page.get_by_text("Đã lập báo cáo tháng").wait_for(timeout=10_000)
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(shots / "leadership-Báo cáo.png"), full_page=True)

            page2 = browser.new_page(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
            login_as(page2, system["url"], "cqstp")
            try:
                path = _generate_and_download(page2, "Bảng tính Excel (XLSX, Biểu 06)", tmp_path)
            except Exception:
                page2.screenshot(path=str(shots / "agency-failed.png"), full_page=True)
                raise
            assert path.name == f"bao-cao-tthc-{month}-{AGENCY}.xlsx"
            ws = load_workbook(io.BytesIO(path.read_bytes()))["Biểu 06 - cơ quan"]
            assert [c.value for c in ws[10][2:13]] == [mine[c] for c in COUNT_COLUMNS]
            assert page2.locator("[data-testid='stException']").count() == 0
            page2.screenshot(path=str(shots / "agency-Báo cáo.png"), full_page=True)
        finally:
            browser.close()
            out = os.environ.get("MOTCUA_SCREENSHOTS")
            if out:
                for png in shots.glob("*.png"):
                    shutil.copy(png, Path(out) / png.name)
    assert all(png.stat().st_size > 10_000 for png in shots.glob("*.png"))
