"""The HTML report of a load-test run (loadtests/report.py), from a run stored in a real DuckDB file:
numbers written the Vietnamese way in Vietnamese and the English way in English, and no English in
the Vietnamese report (labels, statuses, stored notes and messages, Plotly's toolbar)."""
from __future__ import annotations

import html as html_lib
import json
import re

import pytest

from config.loadtest import Criteria, selector_matches
from loadtests import analysis
from loadtests.report import LABELS, build_html
from loadtests.runner import build_payload
from system import Motcua


def stored_run(app) -> str:
    """3.251 uploads at 1.900 ms of which 2.915 failed (89,66 %), over 10 intervals with 10 users,
    judged against a criterion the run could not reach."""
    lines = [{"type": "start", "at": 1_800_000_000.0}]
    per = [326] * 9 + [3251 - 9 * 326]
    fails = [292] * 9 + [2915 - 9 * 292]
    for i, (n, f) in enumerate(zip(per, fails), start=1):
        lines.append({"type": "sample", "t": float(i), "at": 1_800_000_000.0 + i, "users": 10, "cpu": {"local": 12.5},
                      "entries": [{"m": "POST", "n": "nop-ho-so/upload", "r": n, "f": f, "h": {"1900": n},
                                   "s": 1900.0 * n},
                                  {"m": "JOURNEY", "n": "nop-ho-so", "r": 1, "f": 0, "h": {"12000": 1},
                                   "s": 12000.0}],
                      "errors": [{"m": "POST", "n": "nop-ho-so/upload", "e": "expected status 200, got 502", "o": f}],
                      "final": False})
    lines.append({"type": "final", "peak_users": 10, "locust": "2.47.0"})
    run = {"run_id": "20261201-090000-abcd", "scenario": "smoke", "release": "v2.0", "target": "http://127.0.0.1:8088",
           "status": "completed", "started_at": "2026-12-01 09:00:00", "finished_at": "2026-12-01 09:00:10",
           "config_json": '{"users": 10, "duration_s": 10.5, "portal": "probes.yaml", "shape": {"kind": "steady"}, '
                          '"generator": {"cpu_limit": 90}, "user_classes": [{"name": "citizen", "weight": 1, '
                          '"wait": {"between": [0.5, 1.5]}, "tasks": [{"name": "nop-ho-so", "weight": 1, '
                          '"kind": "journey"}]}]}'}
    payload = build_payload(run, lines, [], None)
    crit = Criteria(at_users=300, thresholds={"requests": ["p95 < 2s"]})
    payload["verdicts"] = analysis.judge(crit.model_dump(), crit.parsed(), analysis.samples_from_lines(lines),
                                         selector_matches, "go-live")
    payload["run"]["verdict"] = "fail"
    app.store_loadtest_run(payload)
    return run["run_id"]


def visible(page: str) -> str:
    """What a reader sees: the text outside scripts and tags."""
    page = re.sub(r"<(script|style).*?</\1>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def pages(app_cfg):
    app = Motcua(app_cfg)
    try:
        rid = stored_run(app)
        yield build_html(app, rid, "vi"), build_html(app, rid, "en")
    finally:
        app.close()


def test_vietnamese_report_writes_numbers_the_vietnamese_way(pages):
    vi = visible(pages[0])
    assert "3.251" in vi and "2.915" in vi                 # thousands dot
    assert "1.900 ms" in vi and "12.000 ms" in vi          # milliseconds with thousands dot
    assert "89,66 %" in vi                                 # decimal comma
    assert "12,5 %" in vi                                  # the generator's CPU
    assert "0,5–1,5 s" in vi and "10,5 s" in vi
    assert "09:00:00 01/12/2026" in vi
    for english in ("3,251", "1,900", "89.66", "0.5–1.5", "12.5 %"):
        assert english not in vi, english
    # the charts too: Plotly's decimal comma and thousands dot, its toolbar in Vietnamese
    assert '"separators":",."' in pages[0] and '"locale": "vi"' in pages[0]
    assert json.dumps("Tải biểu đồ (PNG)") in pages[0] and '"displaylogo": false' in pages[0]


def test_vietnamese_report_has_no_english(pages):
    vi = visible(pages[0])
    en_only = {v for k, v in LABELS["en"].items() if v != LABELS["vi"][k] and "{" not in v}
    leaks = sorted(w for w in en_only if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", vi))
    assert not leaks, leaks
    for english in ("journey", "completed", "max", "pacing", "users", "the run reached", "criterion needs",
                    "requests", "Requests", "Produced with Plotly"):
        assert english not in vi, english
    assert "(hành trình)" in vi and "hoàn thành" in vi and "tối đa" in vi and "từng chức năng" in vi
    assert "lần chạy đạt 10 người dùng, tiêu chí cần 300" in vi   # the stored note, said in Vietnamese
    assert "expected status 200, got 502" in vi                 # the check's own message, as recorded


def test_english_report_writes_numbers_the_english_way(pages):
    en = visible(pages[1])
    assert "3,251" in en and "1,900 ms" in en and "89.66 %" in en and "0.5–1.5 s" in en
    assert "2026-12-01 09:00:00" in en and "the run reached 10 users, the criterion needs 300" in en
    assert "(journey)" in en and "completed" in en
    for vietnamese in ("Báo cáo", "người dùng", "hoàn thành", "89,66", "1.900 ms"):
        assert vietnamese not in en, vietnamese
    assert '"separators":".,"' in pages[1] and '"locale": "vi"' not in pages[1]
