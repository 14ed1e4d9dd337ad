"""A Vietnamese UI that reads right: numbers written the Vietnamese way ("89,66 %", "3.251"), the
portal probes' and the import's English reasons in Vietnamese words, the validation's errors by
position (never parsed back out of a message), and workbooks that print sanely and carry
Vietnamese labels and number formats. Real parts: the probes' own assertion code, DuckDB staging
of real files, the briefing and the compliance register rendered from a real store."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import Workbook, load_workbook

from dashboard.i18n import import_reason, in_text, num, pct, probe_reason, times, unit, when

# Words that must not reach a Vietnamese page (the browser test reads the pages with the same list).
ENGLISH = re.compile(r"\b(expected|got|not found|found|items|where|status|text|pattern|response|"
                     r"timed out|connection|refused|unknown|value|date|required|duplicate|row|empty)\b", re.I)


def test_numbers_the_vietnamese_way_and_the_english_way():
    assert num(3251) == "3.251" and num(3251, "en") == "3,251"
    assert pct(0.8966, digits=2) == "89,66\u00a0%" and pct(0.8966, "en", 2) == "89.66%"
    assert unit(2000.0, "req/s", digits=1) == "2.000,0\u00a0req/s" and unit(2912, "ms") == "2.912\u00a0ms"
    assert times(0) == "0,00×" and times(1.5, "en") == "1.50×"
    assert num(None) == pct(float("nan")) == unit(None, "ms") == "–"
    assert when(dt.datetime(2026, 12, 6, 10, 28)) == "10:28 06/12/2026"


def _probe_failures() -> list[str]:
    """Reasons as the probes write them: steps.checks.evaluate on real responses' facts."""
    from config.probes import Assertions
    from steps.checks import evaluate

    def ev(expect: dict, status=200, text="", ms=100.0):
        return "; ".join(evaluate(Assertions.model_validate(expect), status, text, ms, None, lambda s: s))

    body = '{"items": [{"synced": false, "state": "finished"}, {"synced": true}], "total": 3}'
    return [
        ev({"status": [200]}, status=404),
        ev({"status": [200, 302]}, status=500),
        ev({"body_contains": ['href="/vi/tra-cuu-qr"', "Đăng xuất"]}, text="<html></html>"),
        ev({"body_not_contains": ["Tên đăng nhập hoặc mật khẩu không chính xác"]},
           text="Tên đăng nhập hoặc mật khẩu không chính xác"),
        ev({"max_ms": 2000}, ms=2912.4),
        ev({"json": [{"path": "items", "where": {"synced": False, "state": ["finished", "returned"]}, "max": 0}]},
           text=body),
        ev({"json": [{"path": "total", "equals": 5}]}, text=body),
        ev({"json": [{"path": "missing", "exists": True}]}, text=body),
        ev({"body_regex": "Cổng Dịch vụ công"}, text="x"),
        ev({"json": [{"path": "total", "min": 1}]}, text="not json"),
    ]


def test_every_probe_failure_reads_in_vietnamese():
    reasons = _probe_failures()
    assert all(reasons), "each case is a failure"
    for r in reasons:
        vi = probe_reason(r, "vi")
        assert not ENGLISH.search(re.sub(r"'[^']*'", "", vi)), (r, vi)  # quoted page texts are the portal's
        assert probe_reason(r, "en") == r
    assert probe_reason(reasons[0]) == "mã trạng thái HTTP 404, cần 200"
    assert probe_reason(reasons[4]) == "quá chậm: 2.912 ms, giới hạn 2.000 ms"
    assert probe_reason(reasons[5]) == "1 phần tử có synced=false, state thuộc [finished, returned], tối đa cho phép 0"
    journey = f"failed at step 'login': {reasons[3]}"
    assert probe_reason(journey).startswith("lỗi ở bước 'login': có nội dung không được phép")
    # quoted inside a longer sentence (the compliance register's evidence, an alert's message)
    said = in_text(f"Không đạt từ 06/12/2026 10:28: feature-payment: {reasons[0]}.")
    assert said == "Không đạt từ 06/12/2026 10:28: feature-payment: mã trạng thái HTTP 404, cần 200."


def test_transport_failures_read_in_vietnamese():
    import asyncio

    import httpx

    from probes.runner import describe_error

    for exc in (asyncio.TimeoutError(), httpx.ConnectError("[Errno 111] Connection refused"),
                httpx.ReadError("reset"), httpx.RemoteProtocolError("Server disconnected without sending a response.")):
        r = describe_error(exc, 5.0, 5)
        vi = probe_reason(r)
        assert vi != r and not ENGLISH.search(vi), (r, vi)


BAD_CSV = ("dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,time_limit,"
           "time_unit,state,finished_at\n"
           "OK-1,QNG.STP,Sở Tư pháp,P1,Thủ tục 1,Hộ tịch,online,2026-11-03 09:00,5,working_days,processing,\n"
           "BAD-1,QNG.STP,Sở Tư pháp,P1,Thủ tục 1,Hộ tịch,bưu điện chim,not-a-date,5,working_days,processing,\n"
           "BAD-2,QNG.STP,Sở Tư pháp,P1,Thủ tục 1,Hộ tịch,online,2026-11-03 09:00,-1,working_days,finished,"
           "2026-11-01 10:00\n"
           "OK-1,QNG.STP,Sở Tư pháp,P1,Thủ tục 1,Hộ tịch,online,2026-11-04 09:00,5,working_days,processing,\n")


def test_validation_errors_carry_their_position_as_data(tmp_path):
    import duckdb

    from imports.dossiers import load_staging
    from imports.staging import error_rows

    path = tmp_path / "export.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    con = duckdb.connect()
    res = load_staging(con, path, prefix="_t")
    rows = error_rows(con, "_t", res.prepared, limit=100)
    got = {(r["row"], r["field"]) for r in rows}
    assert {(2, "channel"), (2, "received_at"), (3, "time_limit"), (3, "finished_at"), (4, "dossier_code")} <= got
    assert all(r["sheet_row"] is None and str(tmp_path) not in str(r) for r in rows)
    for r in rows:  # the stored (English) reason reads in Vietnamese, as the quarantine table shows it
        vi = import_reason(r["reason"])
        assert not ENGLISH.search(re.sub(r"'[^']*'", "", vi.replace("dd/mm/yyyy", ""))), (r["reason"], vi)

    # a workbook with a title above the header: the sheet's own row number comes with each error
    wb = Workbook()
    ws = wb.active
    ws.title = "Danh sách"
    ws.append(["DANH SÁCH HỒ SƠ"])
    ws.append([])
    lines = [line.split(",") for line in BAD_CSV.strip().splitlines()]
    for line in lines:
        ws.append(line)
    xlsx = tmp_path / "export.xlsx"
    wb.save(xlsx)
    res = load_staging(con, xlsx, prefix="_w")
    rows = error_rows(con, "_w", res.prepared, limit=100)
    bad = next(r for r in rows if r["field"] == "received_at")
    assert (bad["row"], bad["sheet_row"], bad["sheet"]) == (2, 5, "Danh sách")
    assert ws.cell(bad["sheet_row"], 8).value == "not-a-date"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from system import Motcua
    from config.app import load_config

    d = tmp_path_factory.mktemp("vi-out")
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(d / "motcua.duckdb")})
    app = Motcua(cfg)
    app.demo_data(out_dir=d / "demo", months=2, per_month=1200, seed=3, end=dt.date(2026, 11, 1))
    yield app, cfg
    app.close()


def test_briefing_workbook_prints_sanely_with_vietnamese_labels_and_numbers(store):
    from reports.files import build

    app, cfg = store
    name, data = build(app, "2026-10", "xlsx", cfg=cfg)
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        ps = ws.page_setup
        assert ps.orientation == "landscape" and ps.fitToWidth == 1 and ps.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows, f"{ws.title}: the header rows repeat on every printed page"
    ws = wb["Số liệu cơ quan"]
    levels = {r[2] for r in ws.iter_rows(min_row=3, values_only=True)}
    assert levels <= {"Cấp tỉnh", "Sở, ban, ngành", "Cấp huyện", "Cấp xã", "Đơn vị khác"} and levels
    assert not levels & {"province", "department", "commune", "district", "unit"}
    row = ws[3]
    assert row[4].number_format == '[>=1000000]#"."###"."##0;[>=1000]#"."##0;0'  # 3.251, in any locale
    assert row[15].number_format == '[$-42A]0.0" "%'  # Vietnamese locale: 89,7 %
    overdue = wb["Hồ sơ quá hạn"]
    assert overdue.print_title_rows == "$2:$2" and overdue.freeze_panes == "A3"
    assert re.search(r"\(\d{1,3}(\.\d{3})* hồ sơ\)", overdue["A1"].value)


def _display(value: int, fmt: str) -> str:
    """What a spreadsheet shows for a whole number under one of the workbook's conditional formats
    (sections '[cond]pattern' tried in order; '#' and '0' take digits, '"."' is a literal)."""
    for section in fmt.split(";"):
        m = re.match(r"\[(>=)(\d+)\](.*)", section)
        if m and not value >= int(m[2]):
            continue
        pattern = (m[3] if m else section).replace('"."', ".")
        digits, out = str(value), []
        slots = sum(ch in "#0" for ch in pattern)
        digits = digits.rjust(slots, " ")
        lead, i = len(digits) - slots, 0
        for ch in pattern:
            if ch in "#0":
                if i == 0 and lead > 0:
                    out.append(digits[:lead + 1])
                else:
                    out.append(digits[lead + i])
                i += 1
            else:
                out.append(ch)
        return "".join(out).strip()
    return str(value)


@pytest.mark.parametrize("value, shown", [(7, "7"), (999, "999"), (3251, "3.251"), (1_234_567, "1.234.567")])
def test_the_count_format_groups_thousands_with_a_dot(value, shown):
    from reports.render_xlsx import INT

    assert _display(value, INT) == shown


def test_compliance_workbook_neutralises_formulas_and_prints_sanely(store, tmp_path):
    from compliance import Period, write_xlsx

    app, _ = store
    app.compliance("add_request", actor="lan", via="cli", agency="=HYPERLINK(\"http://x\")",
                   requested_on="2026-10-05", description="+1 tra cứu QR", request_id="YC-X")
    path = write_xlsx(app, Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31)), tmp_path / "r.xlsx", lang="vi")
    wb = load_workbook(path)
    req = wb["Yêu cầu"]
    cells = [c for row in req.iter_rows() for c in row if isinstance(c.value, str)]
    bad = next(c for c in cells if c.value.startswith("=HYPERLINK"))
    assert bad.data_type == "s" and bad.quotePrefix
    assert next(c for c in cells if c.value == "+1 tra cứu QR").data_type == "s"
    hist = wb["Lịch sử"]
    values = {c.value for row in hist.iter_rows(min_row=2) for c in row}
    assert {"Kiến nghị", "tạo mới", "dòng lệnh"} <= values and not {"request", "created", "cli"} & values
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1 and ws.print_title_rows


def test_a_date_out_of_range_reads_in_vietnamese_with_the_years_the_import_takes():
    """The quarantine's reason for an implausible date, as the import writes it, in Vietnamese."""
    from config.vocabulary import FIRST_YEAR, LAST_YEAR
    from dashboard.i18n import import_reason

    text = f"date out of range: '01/01/0024' (years {FIRST_YEAR} to {LAST_YEAR})"
    assert import_reason(text, "vi") == f"ngày ngoài khoảng hợp lý: '01/01/0024' (năm {FIRST_YEAR} đến {LAST_YEAR})"
    assert import_reason(text, "en") == text
