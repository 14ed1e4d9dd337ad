"""The whole system in a real browser: `app.py run` as a user starts it (a small demo, free ports,
a private data dir), headless Debian chromium driven by Playwright signs in, opens every page,
finds its key numbers (equal to the running store's), sees no exception, and saves a screenshot
of each page under the test's output directory (two real `app.py loadtest` runs against the
system's testbed, stored through the running owner, fill the load-test page). Then every role
opens each of its pages in Vietnamese, and what the page shows (its text, its charts' labels and
its tables' cells) holds no English word and no number written the English way. Ctrl-C then
stops everything cleanly."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.dashboard.browser import CHROMIUM, FLAGS, NEEDS_CHROMIUM, ROOT, login_as, owner_of

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]


def _expected(env) -> dict[str, str]:
    import datetime as dt

    from dashboard.common import default_month
    from dashboard.i18n import num, pct

    ops = owner_of(env)
    status = ops.status()
    status["last_recompute_as_of"] = dt.datetime.fromisoformat(status["last_recompute_as_of"])
    months = ops.query("dashboard_months").column("month")
    month = months[default_month(months, status)]
    prov = ops.query("province_month", month=month.strftime("%Y-%m")).one()
    agency = ops.query("bieu06", month=month.strftime("%Y-%m"), by="procedure", agency="QNG.SNNMT").one()
    forecast = ops.query("month_forecast", month=status["last_recompute_as_of"].strftime("%Y-%m")).one()
    return {"forecast_best": pct(forecast["best_on_time_ratio"], digits=2),
            "forecast_worst": pct(forecast["worst_on_time_ratio"], digits=2),
            "on_time": pct(prov["on_time_ratio"]), "score": num(prov["score_766"], digits=2),
            "received": num(prov["received_total"]), "agency_received": num(agency["received_total"]),
            "agency_on_time": pct(agency["on_time_ratio"])}


def _wait_for_probe_results(env, timeout: float = 90) -> None:
    """The probes hand their results to the store in batches (every `defaults.write_every` s): the
    ICT page has figures to show once the first batch is in."""
    ops = owner_of(env)
    deadline = time.time() + timeout
    while not len(ops.query("probe_latest")):
        assert time.time() < deadline, "no probe result reached the store"
        time.sleep(1)


def _open(page, name: str, expect: list[str], shots: Path, who: str) -> float:
    t0 = time.perf_counter()
    page.get_by_role("link", name=name).click()
    for text in expect:
        page.get_by_text(text, exact=False).filter(visible=True).first.wait_for(timeout=60_000)
    elapsed = time.perf_counter() - t0
    page.wait_for_timeout(800)  # charts finish drawing
    assert page.locator("[data-testid='stException']").count() == 0, f"{name}: an exception reached the page"
    body = page.inner_text("body")
    assert "Traceback" not in body and "lỗi không mong đợi" not in body, f"{name}: {body[:500]}"
    page.screenshot(path=str(shots / f"{who}-{name}.png"), full_page=True)
    return elapsed


# What a Vietnamese page must never show: the English the tester found (probe reasons, Streamlit's
# own words, empty cells, month names of English dates, agency levels as stored) and its kin.
ENGLISH_WORDS = re.compile(
    r"\b(expected|got|None|nan|NaN|items|where|not found|Browse files|Drag and drop|Upload|per file|Limit|"
    r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|province|department|commune|district|"
    r"failed|passed|refused|timed out|unknown|Transfer|firing|resolved|repeat|running|completed)\b")
# Numbers written the English way: a thousands comma ("3,251"), a decimal point ("89.66", "0.00×"),
# A dot before exactly three digits is the Vietnamese thousands dot ("3.251"); versions and
# addresses (v2.0.1, 127.0.0.1), the portal's generations ("1.0", "2.0") and national procedure
# codes ("2.000815") are names, not numbers.
ENGLISH_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\d.v])\d+\.(?!\d{3}(?!\d))\d+(?![\d.])"
                            r"|\d:\d\d\.\d+")  # and times to the millisecond ("10:28:57.999")
NAMES = re.compile(r"\bv?\d+(?:\.\d+){2,}\b|\bv\d+(?:\.\d+)*\b|(?<![\d.,])[12]\.0(?![\d.])|https?://\S+"
                   r"|(?<![\d.])\d\.\d{6}(?![\d.])")  # and national procedure codes (1.004873)
ROLE_USERS = {"leadership": "lanhdao", "ict": "cntt", "vendor": "nhacc", "agency": "cqstp", "admin": "quantri"}
PAGE_NAMES = {"overview": "Tổng quan", "agency": "Cơ quan", "system": "Hệ thống", "loadtests": "Kiểm thử tải",
              "compliance": "Tuân thủ", "data": "Dữ liệu", "reports": "Báo cáo"}


def _settled(page) -> None:
    """The page's script has finished (Streamlit's running indicator gone) and charts are drawn."""
    page.wait_for_timeout(600)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    page.wait_for_timeout(600)


def _shown_text(page) -> str:
    """What the main area shows: its text (with the charts' SVG labels) and the cells of its tables
    (drawn on a canvas; their accessible copy gives the text cells; numbers there are raw values)."""
    text = page.inner_text("[data-testid='stMain']")
    cells = page.evaluate("""Array.from(document.querySelectorAll("[data-testid='stMain'] canvas table td"))
                             .map(td => td.textContent).filter(t => !/^-?[0-9.e+-]+$/.test(t)).join('\\n')""")
    return text + "\n" + cells


def _english_on(text: str) -> tuple[list[str], list[str]]:
    words = sorted({m.group(0) for m in ENGLISH_WORDS.finditer(text)})
    numbers = sorted({m.group(0) for m in ENGLISH_NUMBER.finditer(NAMES.sub(" ", text))})
    return words, numbers


def test_the_english_detectors_catch_what_the_tester_found():
    for bad in ("expected status 200, got 404", "items where synced=false", "Dec 6, 2026", "None",
                "Browse files", "province"):
        assert _english_on(bad)[0], bad
    for bad in ("89.66%", "3,251", "0.00×", "2,000.0", "10:28:57.999"):
        assert _english_on(bad)[1], bad
    fine = ("89,66 % · 3.251 · 2.000,0 req/s · 0,00× · 06/12/2026 10:28 · v2.0.1 · tài khoản 2.0 · "
            "http://127.0.0.1:8088/ · 1.234.567 hồ sơ · 12/25 · 2.000815")
    assert _english_on(fine) == ([], []), _english_on(fine)


def _every_page_in_vietnamese(browser, url: str, shots: Path) -> dict[str, float]:
    """Each role opens each of its pages: nothing English, no English-format number."""
    from dashboard.access import pages_for
    from dashboard.users import User

    problems, took = [], {}
    for role, user in ROLE_USERS.items():
        page = browser.new_page(viewport={"width": 1440, "height": 2400})
        try:
            login_as(page, url, user)
            for p in pages_for(User(user, role, agency="QNG.SNNMT" if role == "agency" else None)):
                t0 = time.perf_counter()
                page.get_by_role("link", name=PAGE_NAMES[p]).click()
                page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=60_000)
                _settled(page)
                took[f"{role}/{p}"] = time.perf_counter() - t0
                words, numbers = _english_on(_shown_text(page))
                if words or numbers or page.locator("[data-testid='stException']").count():
                    page.screenshot(path=str(shots / f"english-{role}-{p}.png"), full_page=True)
                    problems.append(f"{role} / {PAGE_NAMES[p]}: words {words}, numbers {numbers}")
        finally:
            page.close()
    assert not problems, "English on Vietnamese pages:\n" + "\n".join(problems)
    return took


def test_the_run_command_serves_every_page_in_a_real_browser(system, tmp_path):
    from playwright.sync_api import sync_playwright

    assert re.search(r"dashboard\s+http://127\.0\.0\.1:\d+/", system["out"])
    for part in ("store API", "metrics", "testbed portal", "probes", "watch folder"):
        assert part in system["out"]
    exp = _expected(system["env"])
    _wait_for_probe_results(system["env"])
    # two short real load tests against the system's own testbed, stored through the running owner
    testbed = re.search(r"testbed portal (http://\S+?)/? ", system["out"] + " ").group(1)
    lt_ids = []
    for release in ("v2.0", "v2.0.1"):
        r = subprocess.run([sys.executable, str(ROOT / "app.py"), "loadtest", "--scenario", "smoke", "--target",
                            testbed, "--release", release, "--users", "10", "--duration", "5", "--json"],
                           capture_output=True, text=True, env=system["env"], cwd=tmp_path, timeout=180)
        assert r.returncode in (0, 1), r.stdout + r.stderr
        lt_ids.append(json.loads(r.stdout)["run_id"])
    # an agency's request, entered from the command line while the system runs
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "compliance", "add", "--agency", "Sở Tư pháp",
                        "--date", "05/11/2026", "--description", "Khôi phục tra cứu hồ sơ theo mã QR", "--check", "home",
                        "--by", "vp-ubnd"], capture_output=True, text=True, env=system["env"], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 5200})  # long pages, whole
            login_as(page, system["url"], "quantri")
            times = {
                "Tổng quan": _open(page, "Tổng quan", [exp["on_time"], exp["score"], exp["received"], "Dự báo cuối tháng",
                                                     exp["forecast_best"], exp["forecast_worst"], "Hồ sơ sắp đến hạn",
                                                     "Bộ chỉ số 766 (ước tính)", "Thứ hạng theo điểm 766 ước tính"],
                                   shots, "admin"),
                "Hệ thống": _open(page, "Hệ thống", ["Khả dụng", "Dòng thời gian cảnh báo",
                                                     "Độ trễ theo số người dùng đồng thời"], shots, "admin"),
                "Kiểm thử tải": _open(page, "Kiểm thử tải", [lt_ids[1], "Kết luận theo tiêu chí chấp nhận",
                                                             "So sánh hai lần kiểm thử"], shots, "admin"),
                "Tuân thủ": _open(page, "Tuân thủ", ["Sổ theo dõi tuân thủ", "Tiêu chí đạt", "Tải sổ tuân thủ",
                                                   "Khôi phục tra cứu hồ sơ theo mã QR"],
                                  shots, "admin"),
                "Dữ liệu": _open(page, "Dữ liệu", ["Nhập tệp xuất hồ sơ", "Đối soát đồng bộ"], shots, "admin"),
                "Báo cáo": _open(page, "Báo cáo", ["Biểu số 06"], shots, "admin"),
            }
            # through the running owner: resolving without evidence is refused, in plain words
            page.get_by_role("link", name="Tuân thủ").click()
            page.get_by_role("tab", name="Đánh dấu đã khắc phục").click()
            page.get_by_role("button", name="Đánh dấu đã khắc phục").click()
            page.get_by_text("Không thể đánh dấu đã khắc phục khi chưa có minh chứng").wait_for(timeout=60_000)
            assert owner_of(system["env"]).query("compliance_requests").one()["status"] == "open"
            page.get_by_role("link", name="Cơ quan").click()
            page.get_by_text("Thủ tục của cơ quan").wait_for(timeout=60_000)
            page.get_by_text("Điểm mất ở đâu").wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "admin-Cơ quan.png"), full_page=True)
            # an agency account: its own agency's figures, and only its pages
            page2 = browser.new_page(viewport={"width": 1440, "height": 2400})
            login_as(page2, system["url"], "cqstp")
            _open(page2, "Cơ quan", ["Thủ tục của cơ quan", exp["agency_received"], exp["agency_on_time"],
                                     "Hồ sơ sắp đến hạn", "Điểm mất ở đâu"], shots, "agency")
            assert page2.get_by_role("link", name="Tổng quan").count() == 0
            assert page2.get_by_role("link", name="Dữ liệu").count() == 0
            # the same run in English
            page2.get_by_text("English").click()
            page2.get_by_text("Agency: procedures and overdue dossiers").wait_for(timeout=60_000)
            page2.close()
            visits = _every_page_in_vietnamese(browser, system["url"], shots)
        finally:
            browser.close()
    pngs = sorted(shots.glob("*.png"))
    assert len(pngs) >= 8 and all(p.stat().st_size > 10_000 for p in pngs)
    assert times["Tổng quan"] < 60
    assert len(visits) == 24 and max(visits.values()) < 60, visits
    # Ctrl-C stops it all: the process ends cleanly and the dashboard stops answering
    proc = system["proc"]
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=90)[0]
    assert proc.returncode == 0, rest
    assert "Stopping" in rest and "Traceback" not in rest
    with pytest.raises(httpx.TransportError):
        httpx.get(system["url"] + "_stcore/health", timeout=2)
