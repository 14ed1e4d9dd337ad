"""The monthly briefing (reports/briefing/): each file opened with its own library, every number
checked against the store's figure for the month.

The store is real: the demo province (Aug-Oct 2026) loaded through Motcua into a DuckDB file, and
probe results for October written through the probes' own write path (store/probe_writes.py),
with a three-hour outage of one check. Expected probe figures are re-computed here in Python from
the results written.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter

import pytest
from docx import Document
from fontTools.ttLib import TTFont
from openpyxl import load_workbook
from pypdf import PdfReader

from config.app import load_config
from probes.runner import ProbeResult
from reports.briefing.labels import fmt_int, fmt_ms, fmt_pct
from reports.briefing.model import COUNT_COLUMNS, BriefingError
from reports.files import build, build_all
from reports.render_pdf import FONT_DIR, FONT_FILES
from store.probe_writes import write_results
from system import Motcua

MONTH, BEFORE, NO_PROBES, EMPTY = "2026-10", "2026-09", "2026-09", "2024-01"
AGENCY = "QNG.SNV"


def _probe_results() -> list[ProbeResult]:
    """Every 10 minutes in October for two checks; 'home' fails 10:00-12:59 on 5 October."""
    out = []
    t = dt.datetime(2026, 10, 1)
    k = 0
    while t < dt.datetime(2026, 11, 1):
        down = dt.datetime(2026, 10, 5, 10) <= t < dt.datetime(2026, 10, 5, 13)
        out.append(ProbeResult("home", "check", "", t, ok=not down, reason="HTTP 503" if down else "",
                               status_code=503 if down else 200, total_ms=200.0 + (k % 7) * 50,
                               url="http://127.0.0.1/vi"))
        out.append(ProbeResult("procedure-search-api", "check", "", t, ok=k % 50 != 0,
                               reason="" if k % 50 else "timeout", total_ms=400.0 + (k % 5) * 100,
                               url="http://127.0.0.1/api/procedures"))
        t += dt.timedelta(minutes=10)
        k += 1
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("briefing")
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(d / "motcua.duckdb")})
    app = Motcua(cfg)
    app.demo_data(out_dir=d / "demo", months=3, per_month=1500, seed=7, end=dt.date(2026, 11, 1))
    results = _probe_results()
    write_results(app.store, results, raw_retention_days=400, now=dt.datetime(2026, 11, 1))
    yield app, cfg, results
    app.close()


@pytest.fixture(scope="module")
def files(env):
    app, cfg, _ = env
    return dict((name.rsplit(".", 1)[1], data) for name, data in build_all(app, MONTH, cfg=cfg,
                                                                            issued=dt.date(2026, 11, 3)))


def _total(app, month, agency=None):
    return next(r for r in app.query("bieu06", month=month, agency=agency) if r["row_kind"] == "total")


def _docx_tables(data: bytes) -> list[list[list[str]]]:
    doc = Document(io.BytesIO(data))
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


def _docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def _find_table(tables, first_cell: str):
    return next(t for t in tables if t[0][0] == first_cell)


def _pdf_text(data: bytes) -> str:
    """The PDF's text without the page numbers (a page's first line from page 2, as Decree 30 places
    them): a paragraph across two pages reads whole."""
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]
    return "\n".join(re.sub(r"\A\s*\d+\s*\n", "", t) if i else t for i, t in enumerate(pages))


# -- DOCX ----------------------------------------------------------------------------------------

def test_docx_layout_of_decree_30(files):
    doc = Document(io.BytesIO(files["docx"]))
    text = _docx_text(files["docx"])
    for needle in ("UBND TỈNH QUẢNG NGÃI", "VĂN PHÒNG", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                   "Độc lập - Tự do - Hạnh phúc", "Số:", "/BC-VP", "Quảng Ngãi, ngày 03 tháng 11 năm 2026",
                   "BÁO CÁO", "Tình hình, kết quả giải quyết thủ tục hành chính tháng 10/2026", "Nơi nhận:",
                   "Biểu số 06/VPCP/KSTT"):
        assert needle in text, needle
    fonts = {r.font.name for p in doc.paragraphs for r in p.runs if r.text.strip()}
    assert fonts == {"Times New Roman"}
    body = [r.font.size.pt for p in doc.paragraphs for r in p.runs if r.text.strip() and len(p.text) > 200]
    assert body and all(13 <= s <= 14 for s in body)
    s0, s1 = doc.sections[0], doc.sections[-1]
    assert s0.page_width < s0.page_height and s1.page_width > s1.page_height  # appendix in landscape
    assert len(doc.inline_shapes) == 3  # trend, ranking, portal charts


def test_docx_province_figures_and_change(env, files):
    app, _, _ = env
    now, before = _total(app, MONTH), _total(app, BEFORE)
    prov = app.query("province_month", month=MONTH).one()
    assert all(now[c] == prov[c] for c in COUNT_COLUMNS)  # the form's total is the province's figure
    t = _find_table(_docx_tables(files["docx"]), "Chỉ tiêu")
    rows = t[1:]
    for row, c in zip(rows, COUNT_COLUMNS):
        assert row[1] == fmt_int(now[c]) and row[2] == fmt_int(before[c])
        d = now[c] - before[c]
        assert row[3] == ("0" if d == 0 else ("+" if d > 0 else "−") + fmt_int(abs(d)))
    assert rows[11][1] == fmt_pct(now["on_time_ratio"]) and rows[11][2] == fmt_pct(before["on_time_ratio"])
    text = _docx_text(files["docx"])
    assert f"nhận giải quyết {fmt_int(now['received_total'])} hồ sơ" in text
    assert f"tỷ lệ giải quyết đúng hạn {fmt_pct(now['on_time_ratio'])}" in text


def test_docx_ranking_and_overdue(env, files):
    app, _, _ = env
    tables = _docx_tables(files["docx"])
    ranked = app.query("agency_ratio_month", month=MONTH, limit=1000, worst_first=False).to_dicts()
    ranked = [r for r in ranked if r["level"] != "province"]
    t = _find_table(tables, "Hạng")
    got = [(row[1], row[2], row[5]) for row in t[1:]]
    assert sorted(got) == sorted((r["agency_name"], fmt_int(r["resolved_total"]), fmt_pct(r["on_time_ratio"]))
                                 for r in ranked)
    ratios = [float(row[5].rstrip("%").replace(",", ".")) for row in t[1:]]
    assert ratios == sorted(ratios, reverse=True)

    own = [r for r in app.query("bieu06", month=MONTH, rollup=False) if r["row_kind"] == "agency"]
    worst = max(own, key=lambda r: r["resolved_overdue"] + r["pending_overdue"])
    t = next(t for t in tables if t[0][:2] == ["STT", "Cơ quan, đơn vị"] and "Tổng quá hạn" in t[0])
    assert t[1][1] == worst["name"] and t[1][4] == fmt_int(worst["resolved_overdue"] + worst["pending_overdue"])
    procs = [r for r in app.query("bieu06", month=MONTH, by="procedure") if r["row_kind"] == "procedure"]
    top = max(procs, key=lambda r: r["resolved_overdue"] + r["pending_overdue"])
    t = next(t for t in tables if t[0][:2] == ["STT", "Thủ tục hành chính"])
    assert t[1][1].startswith(top["key"]) and t[1][4] == fmt_int(top["resolved_overdue"] + top["pending_overdue"])


def test_docx_vendor_audit_and_sync(env, files):
    app, _, _ = env
    tables = _docx_tables(files["docx"])
    audit = next(r for r in app.query("audit_by_agency", month=MONTH) if r["row_kind"] == "total")
    assert audit["mismatches"] > 0  # the demo vendor mislabels dossiers
    t = _find_table(tables, "Loại sai lệch")
    assert t[-1][1] == fmt_int(audit["mismatches"])
    assert t[1][1] == fmt_int(audit["reported_overdue_resolved_on_time"])
    text = _docx_text(files["docx"])
    assert (f"Hệ thống ghi {fmt_int(audit['reported_overdue'])} hồ sơ quá hạn, tính lại là "
            f"{fmt_int(audit['recomputed_overdue'])}") in text
    sync = app.query("sync_by_agency", month=MONTH).to_dicts()
    total = next(r for r in sync if r["row_kind"] == "total")
    t = _find_table(tables, "Hệ thống tiếp nhận")
    assert t[-1][1:6] == [fmt_int(total[c]) for c in ("resolved", "synced_ok", "never_synced",
                                                       "synced_before_resolution", "status_differs")]
    systems = {r["source_system"]: r for r in sync if r["row_kind"] == "source_system"}
    for row in t[1:-1]:
        s = systems[row[0].removeprefix("Hệ thống ")]
        assert row[3] == fmt_int(s["never_synced"])


def test_docx_portal_figures_from_probe_results(env, files):
    _, _, results = env
    tables = _docx_tables(files["docx"])
    t = _find_table(tables, "Kiểm tra")
    by_name = {}
    for r in results:
        by_name.setdefault(r.name, []).append(r)
    for row in t[1:]:
        name = re.search(r"\(([^()]+)\)$", row[0]).group(1) if row[0].endswith(")") else row[0]
        rs = by_name[name]
        fails = sum(not r.ok for r in rs)
        assert row[1] == fmt_int(len(rs)) and row[2] == fmt_int(fails)
        assert row[3] == fmt_pct(1 - fails / len(rs), 2)
    allr = [r for rs in by_name.values() for r in rs]
    avail = 1 - sum(not r.ok for r in allr) / len(allr)
    assert f"Độ sẵn sàng {fmt_pct(avail, 2)}" in _docx_text(files["docx"])
    inc = next(t for t in tables if t[0][:3] == ["STT", "Kiểm tra", "Bắt đầu"])
    home = [row for row in inc[1:] if "(home)" in row[1] or row[1] == "home"]
    assert home == [[home[0][0], home[0][1], "10:00 05/10/2026", "13:00 05/10/2026", "3", "18/18", "HTTP 503"]]


def test_docx_appendix_is_the_bieu06_table(env, files):
    app, _, _ = env
    rows = app.query("bieu06", month=MONTH).to_dicts()
    t = next(t for t in _docx_tables(files["docx"]) if t[0][0] == "STT" and len(t[0]) == 13)
    assert t[0][2:6] == ["Số hồ sơ nhận giải quyết"] * 4  # merged group title spans its four columns
    assert t[1][2] == "Tổng số" and t[2][0] == "(1)" and t[2][12] == "(13)"
    body = t[3:]
    assert len(body) == len(rows) and len(t[0]) == 13
    for got, r in zip(body, rows):
        assert got[2:] == [fmt_int(r[c]) for c in COUNT_COLUMNS]


@pytest.fixture(scope="module")
def loadtest_run(env, tmp_path_factory):
    """A short real Locust run (child processes) against the testbed, stored in the briefing's store."""
    from loadtests.runner import LoadRequest, run_loadtest
    from testbed.portal.server import running

    app, _, _ = env
    with running("v1.0") as base:
        res = run_loadtest(app, LoadRequest("smoke", base, "v1.0", users=10, duration=6),
                           runs_dir=tmp_path_factory.mktemp("runs"), out=lambda _s: None, progress_every=0,
                           report=False)
    run = next(r for r in app.query("loadtest_runs", limit=10) if r["run_id"] == res.run_id)
    assert run["status"] == "completed" and run["requests"] > 0
    return run, app.query("loadtest_verdicts", run_id=res.run_id).to_dicts()


@pytest.mark.slow
def test_loadtest_section_shows_the_runs_of_the_month(env, loadtest_run):
    """A real stored run: its figures in the DOCX, the PDF and the XLSX of its month, and in no
    other month's briefing."""
    app, cfg, _ = env
    run, verdicts = loadtest_run
    month = run["started_at"].strftime("%Y-%m")
    files = dict((n.rsplit(".", 1)[1], d) for n, d in build_all(app, month, cfg=cfg))
    assert verdicts, "the smoke scenario has acceptance criteria"
    passed = sum(v["passed"] for v in verdicts)
    at_users = min(v["at_users"] for v in verdicts)
    verdict = {"pass": "Đạt", "fail": "Không đạt"}[run["verdict"]]
    runs_row = ["1", "smoke", "v1.0", run["target"], "Hoàn thành", run["started_at"].strftime("%H:%M %d/%m/%Y"),
                fmt_int(run["users_peak"]), fmt_int(run["requests"])]
    result_row = ["1", fmt_pct(run["error_rate"], 2), fmt_ms(run["p95_ms"]), verdict,
                  f"{passed}/{len(verdicts)}", fmt_int(at_users), fmt_int(run["capacity_users"])]
    tables = _docx_tables(files["docx"])
    assert next(t for t in tables if t[0][:3] == ["STT", "Kịch bản", "Phiên bản"])[1:] == [runs_row]
    assert next(t for t in tables if t[0][:3] == ["STT", "Tỷ lệ lỗi", "p95 (ms)"])[1:] == [result_row]
    assert f"có 1 lượt kiểm thử tải, {1 if run['verdict'] == 'pass' else 0} lượt đạt" in _docx_text(files["docx"])
    pdf = re.sub(r"\s+", " ", _pdf_text(files["pdf"]))
    for cells in (runs_row, result_row):  # (the no-break space before "%" reads as a space)
        assert re.sub(r"\s+", " ", " ".join(cells)) in pdf, cells
    ws = load_workbook(io.BytesIO(files["xlsx"]))["Kiểm thử tải"]
    got = [c.value for c in ws[3]]
    assert got[:5] == [run["run_id"], "smoke", "v1.0", run["target"], "Hoàn thành"]
    assert got[7:12] == [run["users_peak"], run["requests"], run["failures"], run["error_rate"], round(run["p95_ms"])]
    assert got[13:16] == [len(verdicts), passed, at_users]
    # the month before has no run
    before = prev_month_str(month)
    _, data = build(app, before, "docx", cfg=cfg)
    assert f"Không có lượt kiểm thử tải nào trong tháng {before[5:]}/{before[:4]}" in _docx_text(data)


def prev_month_str(month: str) -> str:
    y, m = int(month[:4]), int(month[5:])
    return f"{y - (m == 1):04d}-{12 if m == 1 else m - 1:02d}"


def test_compliance_register_is_a_section_of_the_briefing(env, files):
    """The compliance register judged over the briefing's month, the same statuses in DOCX and PDF."""
    from compliance import Period, register_rows

    app, _, _ = env
    reg = register_rows(app, Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31)))
    assert {r["status"] for r in reg} >= {"not_met", "not_measured"}  # the demo vendor fails some criteria
    t = next(t for t in _docx_tables(files["docx"]) if t[0][:3] == ["Tiêu chí", "Căn cứ", "Trạng thái"])
    assert [(row[0], row[2]) for row in t[1:]] == [(r["title"], r["status_label"]) for r in reg]
    text = _docx_text(files["docx"])
    assert "VI. ĐÁNH GIÁ THEO THÔNG TƯ 22/2019/TT-BTTTT" in text and "Trong kỳ 01/10/2026 – 31/10/2026" in text
    met = sum(r["status"] == "met" for r in reg)
    assert f"trên {len(reg)} tiêu chí: {met} đạt" in text
    pdf = re.sub(r"\s+", " ", _pdf_text(files["pdf"]))
    assert f"trên {len(reg)} tiêu chí: {met} đạt" in pdf
    for r in reg:
        if r["status"] == "not_met":
            assert r["title"] in pdf
    # an agency's briefing has no province-wide register
    _, data = build(app, MONTH, "docx", agency=AGENCY)
    assert "THÔNG TƯ 22/2019" not in _docx_text(data)


# -- XLSX ----------------------------------------------------------------------------------------

def test_xlsx_bieu06_sheets(env, files):
    app, _, _ = env
    wb = load_workbook(io.BytesIO(files["xlsx"]))
    assert wb.sheetnames == ["Biểu 06 - cơ quan", "Biểu 06 - lĩnh vực", "Số liệu cơ quan", "Hồ sơ quá hạn", "Sắp đến hạn",
                             "Dự báo cuối tháng", "Bộ chỉ số 766", "Dữ kiện bất thường", "Kiểm thử tải"]
    for sheet, by in (("Biểu 06 - cơ quan", "agency"), ("Biểu 06 - lĩnh vực", "field")):
        ws = wb[sheet]
        merged = {str(m) for m in ws.merged_cells.ranges}
        assert {"A7:A8", "B7:B8", "C7:F7", "G7:J7", "K7:M7"} <= merged
        assert ws.max_column == 13 and ws["C8"].value == "Tổng số" and ws["M9"].value == "(13)"
        rows = app.query("bieu06", month=MONTH, by=by).to_dicts()
        got = [[c.value for c in r[2:13]] for r in ws.iter_rows(min_row=10, max_row=9 + len(rows))]
        assert got == [[r[c] for c in COUNT_COLUMNS] for r in rows]
        assert ws["B10"].value == "Tổng cộng"


def test_xlsx_per_agency_and_overdue_dossiers(env, files):
    app, _, _ = env
    wb = load_workbook(io.BytesIO(files["xlsx"]))
    total = _total(app, MONTH)
    ws = wb["Số liệu cơ quan"]
    data = list(ws.iter_rows(min_row=3, values_only=True))
    for j, c in enumerate(COUNT_COLUMNS):
        assert sum(r[4 + j] for r in data) == total[c]  # own figures add up to the form's total
    ws = wb["Hồ sơ quá hạn"]
    codes = [r[0] for r in ws.iter_rows(min_row=3, values_only=True)]
    expected = app.query("dossiers_overdue", month=MONTH, limit=100000).column("dossier_code")
    assert codes == expected and len(codes) == total["resolved_overdue"] + total["pending_overdue"]


# -- PDF -----------------------------------------------------------------------------------------

def test_pdf_same_content_and_numbers(env, files):
    app, _, _ = env
    text = _pdf_text(files["pdf"])
    for needle in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO",
                   "Tình hình, kết quả giải quyết thủ tục hành chính", "Biểu số 06/VPCP/KSTT",
                   "ĐỐI CHIẾU VỚI SỐ LIỆU CỦA HỆ THỐNG", "Độ sẵn sàng"):
        assert needle in text, needle
    now = _total(app, MONTH)
    assert f"nhận giải quyết {fmt_int(now['received_total'])} hồ sơ" in re.sub(r"\s+", " ", text)
    # every Biểu 06 row's numbers appear in order on one line of the appendix
    lines = text.splitlines()
    for r in app.query("bieu06", month=MONTH).to_dicts():
        seq = " ".join(fmt_int(r[c]) for c in COUNT_COLUMNS)
        assert any(line.strip().endswith(seq) for line in lines), (r["key"], seq)
    ocr = _docx_text(files["docx"])
    for heading in ("I. KẾT QUẢ", "II. ĐỐI CHIẾU", "III. ĐỒNG BỘ", "IV. TÌNH TRẠNG", "V. KIỂM THỬ TẢI"):
        assert heading in text and heading in ocr


def _outline(font: TTFont, glyph: str):
    glyf = font["glyf"]
    coords, ends, _ = glyf[glyph].getCoordinates(glyf)
    return list(coords), list(ends), font["hmtx"][glyph][0]


def test_pdf_embedded_fonts_cover_every_character(files):
    reader = PdfReader(io.BytesIO(files["pdf"]))
    originals = {}
    for name in FONT_FILES.values():
        tt = TTFont(str(FONT_DIR / name))
        originals[tt["name"].getDebugName(4).replace(" ", "").replace("Book", "")] = tt
    fonts = {}
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            fonts[f["/BaseFont"]] = f
    covered: set[str] = set()
    for base, f in fonts.items():
        assert f["/Subtype"] == "/Type0"
        desc = f["/DescendantFonts"][0].get_object()
        program = desc["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()  # embedded
        sub = TTFont(io.BytesIO(program))
        order = sub.getGlyphOrder()
        cid_to_gid = desc["/CIDToGIDMap"].get_object().get_data()
        orig = originals[base.split("+", 1)[1].replace("Book", "")]
        cmap = orig.getBestCmap()
        to_unicode = f["/ToUnicode"].get_object().get_data().decode()
        for cid_hex, uni_hex in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,})>", to_unicode):
            cid = int(cid_hex, 16)
            if cid == 0:
                continue
            ch = chr(int(uni_hex[:4], 16))
            gid = int.from_bytes(cid_to_gid[2 * cid:2 * cid + 2], "big")
            assert 0 < gid < len(order), (base, ch)
            # the glyph drawn is the font's own glyph for that character (same outline)
            assert _outline(sub, order[gid]) == _outline(orig, cmap[ord(ch)]), (base, ch)
            if not ch.isspace():
                assert sub["glyf"][order[gid]].numberOfContours != 0, (base, ch)
            covered.add(ch)
    used = {c for c in _pdf_text(files["pdf"]) if not c.isspace()}
    assert used <= covered, used - covered
    assert {"ạ", "ả", "ế", "ộ", "ữ", "Đ", "ư", "ơ"} <= used


# -- edge cases --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["docx", "xlsx", "pdf"])
def test_empty_month_says_so(env, fmt):
    app, cfg, _ = env
    name, data = build(app, EMPTY, fmt, cfg=cfg)
    assert name == f"bao-cao-tthc-{EMPTY}.{fmt}"
    if fmt == "docx":
        text = _docx_text(data)
    elif fmt == "pdf":
        text = re.sub(r"\s+", " ", _pdf_text(data))
    else:
        wb = load_workbook(io.BytesIO(data))
        text = "\n".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)
        assert wb["Biểu 06 - cơ quan"]["C10"].value == 0
    assert "Không có số liệu" in text or "không có số liệu" in text
    if fmt != "xlsx":
        assert "không có hồ sơ nào được tiếp nhận" in text
        assert "Không có dữ liệu giám sát cổng" in text


def test_month_without_probe_data(env):
    app, cfg, _ = env
    assert not app.query("probe_month_summary", month=NO_PROBES).rows
    for fmt in ("docx", "pdf"):
        _, data = build(app, NO_PROBES, fmt, cfg=cfg)
        text = _docx_text(data) if fmt == "docx" else re.sub(r"\s+", " ", _pdf_text(data))
        assert "Không có dữ liệu giám sát cổng (kiểm tra tự động) trong tháng 09/2026" in text
    assert len(Document(io.BytesIO(build(app, NO_PROBES, "docx", cfg=cfg)[1])).inline_shapes) == 2


def test_single_agency(env):
    app, cfg, _ = env
    out = dict((n.rsplit(".", 1)[1], d) for n, d in build_all(app, MONTH, agency=AGENCY, cfg=cfg))
    total = _total(app, MONTH, AGENCY)
    assert total["received_total"] > 0
    text = _docx_text(out["docx"])
    assert "tháng 10/2026 của Sở Nội vụ" in text
    assert f"Sở Nội vụ nhận giải quyết {fmt_int(total['received_total'])} hồ sơ" in text
    assert "Không có cơ quan, đơn vị trực thuộc Sở Nội vụ nào" in text
    ws = load_workbook(io.BytesIO(out["xlsx"]))["Biểu 06 - cơ quan"]
    assert [ws.cell(10, 3 + j).value for j in range(11)] == [total[c] for c in COUNT_COLUMNS]
    codes = [r[1] for r in load_workbook(io.BytesIO(out["xlsx"]))["Hồ sơ quá hạn"].iter_rows(min_row=3, values_only=True)]
    assert codes and set(codes) == {AGENCY}
    audit = [r for r in app.query("audit_by_agency", month=MONTH) if r["agency_code"] == AGENCY][0]
    t = _find_table(_docx_tables(out["docx"]), "Loại sai lệch")
    assert t[-1][1] == fmt_int(audit["mismatches"])
    assert "Sở Nội vụ" in re.sub(r"\s+", " ", _pdf_text(out["pdf"]))


def test_bad_requests_say_what_is_wrong(env):
    app, cfg, _ = env
    with pytest.raises(BriefingError, match="expected YYYY-MM"):
        build(app, "10/2026", "pdf", cfg=cfg)
    with pytest.raises(BriefingError, match="format 'odt'"):
        build(app, MONTH, "odt", cfg=cfg)
    with pytest.raises(BriefingError, match="agency 'NOPE'"):
        build(app, MONTH, "pdf", agency="NOPE", cfg=cfg)


def test_probe_month_queries_against_python(env):
    app, _, results = env
    oct_ = [r for r in results]
    summary = app.query("probe_month_summary", month=MONTH).to_dicts()
    assert summary[0]["row_kind"] == "total" and summary[0]["runs"] == len(oct_)
    assert summary[0]["failures"] == sum(not r.ok for r in oct_)
    daily = app.query("probe_month_daily", month=MONTH).to_dicts()
    assert len(daily) == 31 and sum(d["runs"] for d in daily) == len(oct_)
    per_day = Counter(r.started_at.date() for r in oct_ if not r.ok)
    assert {d["day"]: d["failures"] for d in daily if d["failures"]} == dict(per_day)
    inc = app.query("probe_month_incidents", month=MONTH).to_dicts()
    assert [(i["name"], i["hours"], i["reason"]) for i in inc] == [("home", 3, "HTTP 503")]
    assert fmt_ms(summary[0]["max_ms"]) == fmt_ms(max(r.total_ms for r in oct_))


# -- the scheduled job and the command line ---------------------------------------------------------

def test_monthly_job_writes_last_month_and_sends_the_files(env, tmp_path, webhook):
    import base64

    from alerting.notify import Notifier
    from config.alerts import Channel
    from reports.monthly import MonthlyBriefingJob

    app, cfg, _ = env
    received, port = webhook
    cfg = cfg.model_copy(update={"reports": cfg.reports.model_copy(update={
        "out_dir": tmp_path / "reports",
        "schedule": cfg.reports.schedule.model_copy(update={"notify": True, "formats": ["xlsx", "pdf"]})})})
    notifier = Notifier([Channel(name="hook", url=f"json://127.0.0.1:{port}/")])
    job = MonthlyBriefingJob(app, cfg, lambda: dt.datetime(2026, 11, 3, 7, 0), notifier)
    res = job()
    assert res.month == MONTH and not res.error
    assert [p.name for p in res.files] == [f"bao-cao-tthc-{MONTH}.xlsx", f"bao-cao-tthc-{MONTH}.pdf"]
    assert all(p.parent == tmp_path / "reports" / MONTH and p.stat().st_size > 1000 for p in res.files)
    assert [d.ok for d in res.deliveries] == [True]
    body = received[-1]
    assert "tháng 10/2026" in body["title"]
    sent = {a["filename"]: base64.b64decode(a["base64"]) for a in body["attachments"]}
    assert sent == {p.name: p.read_bytes() for p in res.files}

    # a failure is reported, not raised into the scheduler
    cfg_bad = cfg.model_copy(update={"reports": cfg.reports.model_copy(update={"out_dir": res.files[0]})})
    bad = MonthlyBriefingJob(app, cfg_bad, lambda: dt.datetime(2026, 11, 3), None)()
    assert bad.files == [] and "cannot create the report folder" in bad.error


def test_export_command(run_app, tmp_path):
    assert run_app("demo-data", "--months", "2", "--per-month", "300").returncode == 0
    month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    out = tmp_path / "out"
    r = run_app("export", "--month", month, "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"bao-cao-tthc-{month}.{f}" for f in ("docx", "xlsx", "pdf"))
    assert r.stdout.split() == [str(out / f"bao-cao-tthc-{month}.{f}") for f in ("docx", "xlsx", "pdf")]
    Document(str(out / f"bao-cao-tthc-{month}.docx"))
    r = run_app("export", "--month", month, "--format", "pdf", "--agency", "QNG.SNV", "--out", str(out))
    assert r.returncode == 0 and r.stdout.strip().endswith(f"bao-cao-tthc-{month}-QNG.SNV.pdf")
    r = run_app("export", "--month", "2026-13")
    assert r.returncode == 2 and "expected YYYY-MM" in r.stderr and "Traceback" not in r.stderr
    r = run_app("export", "--month", month, "--agency", "NOPE")
    assert r.returncode == 2 and "agency 'NOPE'" in r.stderr and "Traceback" not in r.stderr
    r = run_app("export", "--month", month, "--format", "odt")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_briefing_through_the_running_owner(app_cfg):
    """While `app.py run` owns the store, the briefing is built through its API (as the dashboard
    and `app.py export` do), and run announces the monthly job."""
    import threading
    import time

    from system import run_system
    from store.ops import find_owner

    stop = threading.Event()
    lines: list[str] = []
    t = threading.Thread(target=run_system, args=(app_cfg, stop, lines.append), daemon=True)
    t.start()
    try:
        deadline = time.time() + 120
        while not any("Press Ctrl-C" in line for line in lines) and time.time() < deadline and t.is_alive():
            time.sleep(0.1)
        assert any("briefing" in line and "day 3 at 07:00" in line for line in lines), lines
        ops = find_owner(app_cfg.store.path)
        assert ops is not None
        month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        files = dict((n.rsplit(".", 1)[1], d) for n, d in build_all(ops, month, cfg=app_cfg))
        total = next(r for r in ops.query("bieu06", month=month) if r["row_kind"] == "total")
        assert total["received_total"] > 0
        ws = load_workbook(io.BytesIO(files["xlsx"]))["Biểu 06 - cơ quan"]
        assert [ws.cell(10, 3 + j).value for j in range(11)] == [total[c] for c in COUNT_COLUMNS]
        assert f"nhận giải quyết {fmt_int(total['received_total'])} hồ sơ" in _docx_text(files["docx"])
        ops.close()
    finally:
        stop.set()
        t.join(timeout=30)


@pytest.mark.parametrize("text, needle", [
    ("reports:\n  schedule:\n    day: 31\n", "reports.schedule.day"),
    ("reports:\n  schedule:\n    formats: [odt]\n", "reports.schedule.formats"),
    ("reports:\n  out_dirr: x\n", "out_dirr"),
])
def test_reports_config_is_validated(tmp_path, text, needle):
    from config.errors import ConfigError

    p = tmp_path / "motcua.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(p, environ={})
    assert str(p) in str(err.value) and needle in str(err.value)
    cfg = load_config(environ={"MOTCUA_REPORTS__SCHEDULE__DAY": "5", "MOTCUA_REPORTS__OUT_DIR": str(tmp_path)})
    assert cfg.reports.schedule.day == 5 and cfg.reports.folder(cfg.store.path) == tmp_path
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp_path / "s" / "x.duckdb")})
    assert cfg.reports.folder(cfg.store.path) == tmp_path / "s" / "reports"  # beside the store by default


def test_charts_drawn_in_several_threads_at_once_are_the_same(env):
    """The dashboard's sessions and the scheduler may draw at the same time (no pyplot state)."""
    from concurrent.futures import ThreadPoolExecutor

    from reports.briefing.collect import collect
    from reports.charts import draw_charts

    app, cfg, _ = env
    b = collect(app, MONTH, cfg=cfg)
    alone = draw_charts(b)
    assert set(alone) == {"trend", "ranking", "portal"}
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: draw_charts(b), range(8)))
    assert all(c == alone for c in together)


def test_export_from_a_store_never_recomputed(run_app, tmp_path):
    """A fresh store (no dossiers, no recompute): the files come out and say there is no data
    (dossiers_overdue needs a recompute's as_of and failed here before)."""
    out = tmp_path / "out"
    r = run_app("export", "--month", "2026-10", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = re.sub(r"\s+", " ", _pdf_text((out / "bao-cao-tthc-2026-10.pdf").read_bytes()))
    assert "không có hồ sơ nào được tiếp nhận" in text and "Không có dữ liệu giám sát cổng" in text
    wb = load_workbook(out / "bao-cao-tthc-2026-10.xlsx")
    assert wb["Hồ sơ quá hạn"]["A3"].value == "Không có hồ sơ quá hạn trong tháng 10/2026."


def test_monthly_job_catches_up_only_when_due_and_missing(env, tmp_path):
    from reports.monthly import MonthlyBriefingJob

    app, cfg, _ = env
    cfg = cfg.model_copy(update={"reports": cfg.reports.model_copy(update={"out_dir": tmp_path})})
    at = {"now": dt.datetime(2026, 11, 2, 23, 0)}
    job = MonthlyBriefingJob(app, cfg, lambda: at["now"])
    assert not job.due_and_missing()  # before the 3rd at 07:00
    at["now"] = dt.datetime(2026, 11, 3, 7, 0)
    assert job.due_and_missing()
    res = job()
    assert len(res.files) == 3 and not job.due_and_missing()
    res.files[0].unlink()
    assert job.due_and_missing()  # one file missing: written again
    disabled = cfg.model_copy(update={"reports": cfg.reports.model_copy(update={
        "schedule": cfg.reports.schedule.model_copy(update={"enabled": False})})})
    assert not MonthlyBriefingJob(app, disabled, lambda: at["now"]).due_and_missing()


@pytest.mark.parametrize("issued, line", [
    (dt.date(2026, 2, 5), "Quảng Ngãi, ngày 05 tháng 02 năm 2026"),
    (dt.date(2026, 6, 15), "Quảng Ngãi, ngày 15 tháng 6 năm 2026"),
    (dt.date(2026, 11, 3), "Quảng Ngãi, ngày 03 tháng 11 năm 2026"),
])
def test_place_date_line_as_decree_30_writes_it(env, issued, line):
    from reports.briefing.collect import collect
    from reports.briefing.model import issued_line

    app, cfg, _ = env
    assert issued_line(collect(app, EMPTY, cfg=cfg, issued=issued)) == line


def test_docx_and_pdf_carry_the_same_text(env):
    """Every heading and paragraph of the briefing is in both files, word for word."""
    from reports.briefing.collect import collect
    from reports.briefing.document import document
    from reports.briefing.model import Heading, Para
    from reports.files import render
    from reports.charts import draw_charts

    app, cfg, _ = env
    b = collect(app, MONTH, cfg=cfg)
    b.charts = draw_charts(b)
    blocks = [blk.text for blk in document(b) if isinstance(blk, (Heading, Para))]
    assert len(blocks) > 20

    def norm(t: str) -> str:
        return re.sub(r"\s+", " ", t).strip()

    docx_text = norm(_docx_text(render(b, "docx")))
    pdf_text = norm(_pdf_text(render(b, "pdf")))
    for text in blocks:
        assert norm(text) in docx_text, text
        assert norm(text) in pdf_text, text


def test_compliance_section_uses_the_configured_criteria_file(env, tmp_path):
    """The register in the briefing is judged on the criteria file of the config (compliance.criteria),
    also when the briefing is built through an ops object without a config (the dashboard's)."""
    from pathlib import Path

    from config import default_path

    app, cfg, _ = env
    shipped = Path(default_path("compliance", "tt22-2019.yaml")).read_text(encoding="utf-8")
    mine = tmp_path / "criteria.yaml"
    mine.write_text(shipped.replace('title: "Trạng thái hồ sơ được hiển thị đúng tại mỗi bước xử lý"',
                                    'title: "Tiêu chí riêng của tỉnh về trạng thái hồ sơ"'), encoding="utf-8")
    custom = cfg.model_copy(update={"compliance": cfg.compliance.model_copy(update={"criteria": mine})})
    _, data = build(app.store, MONTH, "docx", cfg=custom)  # a bare Store: no config of its own
    t = next(t for t in _docx_tables(data) if t[0][:3] == ["Tiêu chí", "Căn cứ", "Trạng thái"])
    assert t[1][0] == "Tiêu chí riêng của tỉnh về trạng thái hồ sơ"


def test_the_briefing_forecasts_the_month_under_way(env):
    """I.5 and the XLSX sheet: the month of the last recompute, now / best / worst, as month_forecast says."""
    from reports.briefing.collect import collect
    from reports.briefing.document import document
    from reports.briefing.model import Heading, Para
    from reports.files import render

    app, cfg, _ = env
    b = collect(app, MONTH, cfg=cfg)
    as_of = app.query("figures_provenance").one()["as_of"]
    assert b.forecast_month == as_of.date().replace(day=1)
    total = next(r for r in app.query("month_forecast", month=b.forecast_month.strftime("%Y-%m"),
                                      score_denominator=cfg.reports.score_766.denominator) if r["row_kind"] == "total")
    texts = [blk.text for blk in document(b) if isinstance(blk, (Heading, Para))]
    heading = f"5. Dự báo kết quả cuối tháng {b.forecast_month.month:02d}/{b.forecast_month.year}"
    assert heading in texts
    body = texts[texts.index(heading) + 1]
    if total["in_progress"]:
        assert f"tỷ lệ cuối tháng đạt {fmt_pct(total['best_on_time_ratio'])}" in body
        assert f"tỷ lệ chỉ còn {fmt_pct(total['worst_on_time_ratio'])}" in body
    else:
        assert "đã kết thúc" in body
    ws = load_workbook(io.BytesIO(render(b, "xlsx")))["Dự báo cuối tháng"]
    assert ws.cell(3, 2).value == "Tổng cộng" and ws.cell(3, 3).value == total["resolved_total"]
    assert ws.cell(3, 8).value == pytest.approx(total["best_on_time_ratio"])


# -- the 766 scorecard --------------------------------------------------------------------------

def _index766(app, cfg, month, agency=None):
    from config.index766 import load_index766

    return app.query("index766", month=month, agency=agency, score_denominator=cfg.reports.score_766.denominator,
                     rules=load_index766(cfg.reports.index766).model_dump(mode="json")).to_dicts()


def _section766(texts: list[str], month_label: str) -> list[str]:
    """The texts of the 766 subsection of section I (its heading first), up to section II."""
    heading = rf"\d\. Bộ chỉ số 766 tháng {month_label} \(ước tính\)"
    start = next(i for i, t in enumerate(texts) if re.fullmatch(heading, t))
    end = next(i for i, t in enumerate(texts) if t.startswith("II. "))
    return texts[start:end]


def test_the_briefing_carries_the_766_scorecard_of_the_month(env, files):
    """I.6: each group's points as index766 says them (publicity never measured, with its reason), the
    measured total against its maximum, "ước tính", the unconfirmed weights and the rules file named;
    the table of the direct sub-units as the ranking picks them; the same words in the DOCX and the PDF."""
    from config.index766 import GROUPS, load_index766
    from reports.briefing.collect import collect
    from reports.briefing.document import document
    from reports.briefing.labels import fmt_dec
    from reports.briefing.model import Heading, Para

    app, cfg, _ = env
    rules = load_index766(cfg.reports.index766)
    rows = _index766(app, cfg, MONTH)
    total = next(r for r in rows if r["row_kind"] == "total")
    assert total["groups_measured"] == 4 and total["publicity_points"] is None  # the demo fills the other inputs
    b = collect(app, MONTH, cfg=cfg)
    texts = [blk.text for blk in document(b) if isinstance(blk, (Heading, Para))]
    sec = _section766(texts, "10/2026")
    assert sec[0].startswith("6. ")  # after I.5, the forecast
    assert (f"{fmt_dec(total['total_points'], 2)}/{total['total_max']:g} điểm trên 4/5 nhóm đo được"
            in sec[1])
    for g in GROUPS:
        line = next(t for t in sec if t.startswith(f"- {rules.group(g).name.vi} (tối đa "))
        if total[f"{g}_points"] is None:
            assert line.endswith(f"): chưa đo được: {rules.publicity.inputs['published_procedures'].vi} "
                                 "(không có trong tệp xuất); " + rules.publicity.inputs["published_progress"].vi
                                 + " (không có trong tệp xuất).")
        else:
            assert line.endswith(f"): {fmt_dec(total[f'{g}_points'], 2)} điểm.")
    note = next(t for t in sec if t.startswith("Đây là số ước tính"))
    assert "chưa được xác nhận (Công văn 5518/VPCP-KSTT (19/6/2025) đã gửi dự thảo sửa đổi)" in note
    assert "tệp quy tắc index766.yaml" in note
    # the table: the ranking's agencies, best share of the measured maximum first
    t = _find_table([t for t in _docx_tables(files["docx"]) if t[0][-1] == "Tổng/tối đa"], "STT")
    by_code = {r["agency_code"]: r for r in rows if r["row_kind"] == "agency"}
    want = sorted((by_code[r["key"]] for r in b.ranking),
                  key=lambda r: (-(r["total_points"] or 0) / r["total_max"] if r["total_max"] else 0, r["agency_code"]))
    assert len(t) - 1 == len(b.ranking) > 5
    for cells, r in zip(t[1:], want):
        assert cells[1] == r["agency_name"]
        assert cells[2:7] == [fmt_dec(r[f"{g}_points"], 2) for g in GROUPS]
        assert cells[7] == f"{fmt_dec(r['total_points'], 2)}/{r['total_max']:g}"
    docx = _docx_text(files["docx"])
    pdf = re.sub(r"\s+", " ", _pdf_text(files["pdf"]))
    for text in sec:
        assert text in docx and re.sub(r"\s+", " ", text) in pdf, text


def test_the_xlsx_sheet_of_the_766_scorecard_equals_the_query(env, files):
    from config.index766 import GROUPS

    app, cfg, _ = env
    rows = [r for r in _index766(app, cfg, MONTH) if r["row_kind"] == "total" or r["groups_measured"]]
    ws = load_workbook(io.BytesIO(files["xlsx"]))["Bộ chỉ số 766"]
    assert "ước tính" in ws.cell(1, 1).value and "chưa được xác nhận" in ws.cell(1, 1).value
    got = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(got) == len(rows) > 10
    for cells, r in zip(got, rows):
        assert cells[0] == (r["agency_code"] or None) and cells[1] == (r["agency_name"] or "Tổng cộng")
        assert list(cells[4:9]) == [pytest.approx(r[f"{g}_points"]) if r[f"{g}_points"] is not None else None
                                    for g in GROUPS]
        assert cells[9] == pytest.approx(r["total_points"]) and cells[10] == r["total_max"]
        assert cells[11:14] == (r["groups_measured"], r["received"], r["resolved"])
        assert cells[14].startswith("Công khai, minh bạch: thủ tục hành chính được công khai")


def test_an_agency_briefing_shows_where_its_progress_points_go(env):
    from reports.briefing.collect import collect
    from reports.briefing.labels import fmt_dec

    app, cfg, _ = env
    losses = [r for r in app.query("index766_losses", month=MONTH, agency=AGENCY,
                                   score_denominator=cfg.reports.score_766.denominator, limit=10)
              if r["points_lost"] > 0]
    assert losses
    total = next(r for r in _index766(app, cfg, MONTH, AGENCY) if r["row_kind"] == "total")
    _, data = build(app, MONTH, "docx", agency=AGENCY, cfg=cfg)
    text = _docx_text(data)
    assert f"của Sở Nội vụ trong tháng 10/2026, ước tính từ dữ liệu hồ sơ: {fmt_dec(total['total_points'], 2)}/" in text
    t = _find_table([t for t in _docx_tables(data) if t[0][-1] == "Điểm chưa đạt"], "STT")
    assert [row[1:] for row in t[1:]] == [
        [f"{r['procedure_code']} – {r['procedure_name']}", fmt_int(r["resolved_total"]), fmt_int(r["resolved_overdue"]),
         fmt_dec(r["points_lost"], 2), fmt_dec(r["points_unearned"], 2)] for r in losses]
    assert collect(app, MONTH, cfg=cfg).index766_losses == []  # the province's briefing lists none


def test_the_766_section_reads_the_configured_rules_and_says_why_a_group_is_not_measured(env, tmp_path):
    """reports.index766 of the config (also through a bare store, as the dashboard builds it): a
    satisfaction group asking for more ratings than the month has is not measured, and says why."""
    from config.index766 import DEFAULT_INDEX766
    from reports.briefing.collect import collect
    from reports.briefing.document import document
    from reports.briefing.model import Heading, Para

    app, cfg, _ = env
    mine = tmp_path / "my766.yaml"
    mine.write_text(DEFAULT_INDEX766.read_text(encoding="utf-8").replace("min_ratings: 1\n", "min_ratings: 1000000\n"),
                    encoding="utf-8")
    custom = cfg.model_copy(update={"reports": cfg.reports.model_copy(update={"index766": mine})})
    b = collect(app.store, MONTH, cfg=custom)
    texts = _section766([blk.text for blk in document(b) if isinstance(blk, (Heading, Para))], "10/2026")
    line = next(t for t in texts if t.startswith("- Mức độ hài lòng (tối đa 18 điểm): "))
    assert re.search(r"chưa đo được: đánh giá của người dân \(1–5\) đối với hồ sơ giải quyết trong tháng "
                     r"\([\d.]+ lượt đánh giá, ít hơn mức tối thiểu 1000000\)\.$", line), line
    assert "trên 3/5 nhóm đo được" in texts[1] and "tệp quy tắc my766.yaml" in " ".join(texts)
    shipped = collect(app.store, MONTH)  # no config: the shipped rules
    assert shipped.index766_file == "index766.yaml" and shipped.index766_rows[0]["satisfaction_points"] is not None


def test_a_month_without_dossiers_has_no_766_estimate(env):
    from reports.briefing.collect import collect
    from reports.briefing.document import document
    from reports.briefing.model import Heading, Para

    app, cfg, _ = env
    texts = [blk.text for blk in document(collect(app, EMPTY, cfg=cfg)) if isinstance(blk, (Heading, Para))]
    sec = _section766(texts, "01/2024")
    assert sec[1:] == ["Không có số liệu để ước tính Bộ chỉ số 766 của tỉnh Quảng Ngãi trong tháng 01/2024."]
