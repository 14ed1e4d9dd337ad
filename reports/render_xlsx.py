"""The briefing as a workbook (openpyxl): Biểu số 06/VPCP/KSTT by agency and by field (merged
two-row header, 13 columns, totals), the per-agency figures, the overdue dossiers, and the deadline
engine's findings in the vendor's facts per agency.

Counts are written as numbers (so officials can sum and filter), ratios as numbers with a
percent format. Text from the data never becomes a formula (config/cells.py).

Numbers read the Vietnamese way ("3.251", "89,66 %") in any spreadsheet program: a number format
shows the reader's own separators, so counts group their thousands with a literal dot, and decimal
figures carry the Vietnamese locale (LCID 042A), which sets the decimal comma where the program
follows a format's locale (LibreOffice; Excel on a Vietnamese system). Every sheet prints
landscape on A4, one page wide, its header rows repeated on each page.
"""
from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from config.cells import xlsx_cell
from config.index766 import GROUPS
from config.vocabulary import BIEU06_COLUMNS, DUE_SOON_DAYS
from reports.briefing.labels import (
    BIEU06_GROUPS,
    BIEU06_SUB,
    CHANNEL_VI,
    FINDINGS_VI,
    LOADTEST_VERDICT_VI,
    OVERDUE_KIND_VI,
    bieu06_label,
    fmt_dt,
    fmt_int,
    loadtest_status,
    month_label,
    reason766,
    refusals_sentence,
)
from reports.briefing.model import COUNT_COLUMNS, MAX_DOSSIER_ROWS, Briefing
from reports.due_soon import format_days, format_left

FONT = "Times New Roman"
# Whole counts, thousands grouped with a dot whatever the reader's locale (up to 999.999.999).
INT = '[>=1000000]#"."###"."##0;[>=1000]#"."##0;0'
PCT1 = '[$-42A]0.0" "%'
PCT2 = '[$-42A]0.00" "%'
DEC2 = "[$-42A]0.00"
DAY = "dd/mm/yyyy"
TIME = "dd/mm/yyyy hh:mm"
LEVEL_VI = {"province": "Cấp tỉnh", "department": "Sở, ban, ngành", "district": "Cấp huyện", "commune": "Cấp xã",
            "unit": "Đơn vị khác"}
THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _font(bold: bool = False, italic: bool = False, size: float = 11) -> Font:
    return Font(name=FONT, bold=bold, italic=italic, size=size)


def _bieu06_sheet(ws, b: Briefing, rows: list[dict[str, Any]], first: str) -> None:
    ncol = 2 + len(COUNT_COLUMNS)  # STT, the row's name, the counts
    last = get_column_letter(ncol)
    titles = [("Biểu số 06/VPCP/KSTT", True, "right"),
              ("TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT "
               "THỦ TỤC HÀNH CHÍNH", True, "center"),
              (f"Kỳ báo cáo: tháng {month_label(b.month)}", False, "center"),
              (f"Đơn vị báo cáo: {b.scope_name}", False, "left"),
              ("Đơn vị tính: hồ sơ", False, "right")]
    for i, (text, bold, align) in enumerate(titles, start=1):
        ws.merge_cells(f"A{i}:{last}{i}")
        c = ws.cell(i, 1, text)
        c.font = _font(bold, size=12 if bold else 11)
        c.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
    ws.row_dimensions[2].height = 32
    h1, h2 = 7, 8
    ws.merge_cells(start_row=h1, start_column=1, end_row=h2, end_column=1)
    ws.cell(h1, 1, "STT")
    ws.merge_cells(start_row=h1, start_column=2, end_row=h2, end_column=2)
    ws.cell(h1, 2, first)
    col = 3
    for title, span in BIEU06_GROUPS:
        ws.merge_cells(start_row=h1, start_column=col, end_row=h1, end_column=col + span - 1)
        ws.cell(h1, col, title)
        col += span
    for j, sub in enumerate(BIEU06_SUB):
        ws.cell(h2, 3 + j, sub)
    for j in range(1, ncol + 1):
        ws.cell(h2 + 1, j, f"({j})").font = _font(italic=True, size=10)
        for r in (h1, h2, h2 + 1):
            c = ws.cell(r, j)
            c.border = BOX
            c.alignment = CENTER
            if r < h2 + 1:
                c.font = _font(bold=True, size=10)
                c.fill = HEAD_FILL
    ws.row_dimensions[h2].height = 45
    r = h2 + 2
    n = 0
    for row in rows:
        total = row["row_kind"] == "total"
        if not total:
            n += 1
        ws.cell(r, 1, None if total else n)
        label = bieu06_label(row, indent=False)
        c = xlsx_cell(ws, r, 2, label)
        c.alignment = Alignment(indent=int(row.get("depth") or 0) if row["row_kind"] == "agency" else 0,
                                wrap_text=True, vertical="center")
        for j, k in enumerate(COUNT_COLUMNS):
            ws.cell(r, 3 + j, int(row.get(k) or 0)).number_format = INT
        for j in range(1, ncol + 1):
            cell = ws.cell(r, j)
            cell.border = BOX
            cell.font = _font(bold=total, size=10)
        ws.cell(r, 1).alignment = Alignment(horizontal="center")
        r += 1
    if not any(int(x.get(k) or 0) for x in rows for k in COUNT_COLUMNS):
        ws.cell(r + 1, 2, f"Không có số liệu cho tháng {month_label(b.month)}.").font = _font(italic=True)
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 48
    for j in range(3, ncol + 1):
        ws.column_dimensions[get_column_letter(j)].width = 11
    ws.freeze_panes = ws.cell(h2 + 2, 3)
    print_setup(ws, f"{h1}:{h2 + 1}")


def print_setup(ws, title_rows: str) -> None:
    """Landscape A4, one page wide (as many pages down as needed), the header rows on every page."""
    ws.print_options.horizontalCentered = True
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.print_title_rows = title_rows


def _list_sheet(ws, header: list[str], rows: list[list[Any]], widths: list[float], formats: dict[int, str],
                note: str | None, empty: str) -> None:
    top = 1
    if note:
        ws.cell(1, 1, note).font = _font(italic=True)
        top = 2
    for j, h in enumerate(header, start=1):
        c = ws.cell(top, j, h)
        c.font = _font(bold=True, size=10)
        c.fill = HEAD_FILL
        c.alignment = CENTER
        c.border = BOX
    for i, row in enumerate(rows, start=top + 1):
        for j, v in enumerate(row, start=1):
            c = xlsx_cell(ws, i, j, v)
            if j in formats:
                c.number_format = formats[j]
    if not rows:
        ws.cell(top + 1, 1, empty).font = _font(italic=True)
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(top + 1, 1)
    print_setup(ws, f"{top}:{top}")
    if rows:
        ws.auto_filter.ref = f"A{top}:{get_column_letter(len(header))}{top + len(rows)}"


def index766_sheet_rows(b: Briefing) -> list[dict[str, Any]]:
    """The rows of the sheet "Bộ chỉ số 766": the total, then every agency with a measured group."""
    return [r for r in b.index766_rows if r["row_kind"] == "total" or r["groups_measured"]]


def _not_measured(rules: Any, r: dict[str, Any]) -> str:
    """The groups a row does not measure, each with why (the column's title says "not measured")."""
    return "; ".join(f"{rules.group(g).name.vi}: "
                     + reason766(rules, g, r[f"{g}_reason_vi"]).removeprefix("chưa đo được: ")
                     for g in GROUPS if r[f"{g}_points"] is None and r[f"{g}_reason_vi"])


def _index766_sheet(ws, b: Briefing) -> None:
    rules = b.index766_rules
    label = rules.label.vi if rules is not None else "ước tính"
    heads = [f"{rules.group(g).name.vi} (tối đa {rules.group(g).max_points:g})" for g in GROUPS] if rules else []
    header = ["Mã cơ quan", "Cơ quan, đơn vị", "Cấp", "Mã đơn vị cấp trên", *heads,
              "Tổng điểm các nhóm đo được", "Tối đa của các nhóm đo được", "Số nhóm đo được",
              "Hồ sơ tiếp nhận", "Hồ sơ đã giải quyết", "Nhóm chưa đo được"]
    rows = [[r["agency_code"] if r["row_kind"] == "agency" else "",
             r["agency_name"] if r["row_kind"] == "agency" else "Tổng cộng",
             LEVEL_VI.get(r["level"], r["level"]), r["parent_code"]]
            + [r[f"{g}_points"] for g in GROUPS] + [r["total_points"], r["total_max"], r["groups_measured"],
                                                     r["received"], r["resolved"], _not_measured(rules, r)]
            for r in index766_sheet_rows(b)] if rules else []
    n = len(GROUPS)
    fmts = {j: DEC2 for j in range(5, 7 + n)} | {7 + n: INT, 8 + n: INT, 9 + n: INT}
    _list_sheet(ws, header, rows, [22, 44, 12, 16] + [14] * (n + 5) + [80], fmts,
                f"Bộ chỉ số 766 (Quyết định 766/QĐ-TTg) tháng {month_label(b.month)}, {label}: trọng số chưa được "
                f"xác nhận, nguồn của từng nhóm ghi trong tệp quy tắc {b.index766_file}. Ô trống: nhóm chưa đo được "
                f"(lý do ở cột cuối). Mỗi cơ quan cộng cả các đơn vị trực thuộc.",
                f"Không có số liệu để ước tính Bộ chỉ số 766 trong tháng {month_label(b.month)}.")


def render_xlsx(b: Briefing) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Biểu 06 - cơ quan"
    _bieu06_sheet(ws, b, b.bieu06_agency, "Cơ quan, đơn vị")
    _bieu06_sheet(wb.create_sheet("Biểu 06 - lĩnh vực"), b, b.bieu06_field, "Lĩnh vực")

    header = ["Mã cơ quan", "Cơ quan, đơn vị", "Cấp", "Mã đơn vị cấp trên"] + \
        [c.vi_alone for c in BIEU06_COLUMNS] + ["Tỷ lệ đúng hạn", "Điểm tiến độ (QĐ 766)"]
    rows = [[r["key"], r["name"], LEVEL_VI.get(r["level"], r["level"]), r["parent_code"]]
            + [int(r[c] or 0) for c in COUNT_COLUMNS]
            + [r["on_time_ratio"], None if r["score_766"] is None else round(r["score_766"], 2)] for r in b.own]
    n = len(COUNT_COLUMNS)
    fmts = {j: INT for j in range(5, 5 + n)} | {5 + n: PCT1, 6 + n: DEC2}
    _list_sheet(wb.create_sheet("Số liệu cơ quan"), header, rows, [22, 48, 11, 16] + [11] * (n + 2), fmts,
                f"Số liệu riêng của từng cơ quan, đơn vị (không cộng các đơn vị trực thuộc), tháng "
                f"{month_label(b.month)}; tổng các dòng bằng dòng Tổng cộng của Biểu 06.",
                "Không có cơ quan, đơn vị nào.")

    header = ["Mã hồ sơ", "Mã cơ quan", "Cơ quan, đơn vị", "Mã thủ tục", "Thủ tục", "Lĩnh vực", "Kênh",
              "Ngày tiếp nhận", "Hạn giải quyết", "Ngày giải quyết", "Tình trạng", "Số ngày quá hạn"]
    rows = [[d["dossier_code"], d["agency_code"], d["agency_name"], d["procedure_code"], d["procedure_name"],
             d["field"], CHANNEL_VI.get(d["channel"], d["channel"]), d["received_at"], d["due_date"],
             d["resolved_at"], OVERDUE_KIND_VI.get(d["kind"], d["kind"]), d["days_late"]]
            for d in b.overdue_dossiers]
    fmts = {8: TIME, 9: DAY, 10: TIME, 12: INT}
    _list_sheet(wb.create_sheet("Hồ sơ quá hạn"), header, rows, [28, 20, 36, 14, 50, 22, 11, 17, 13, 17, 24, 10],
                fmts, f"Hồ sơ giải quyết quá hạn trong tháng {month_label(b.month)} và hồ sơ đang quá hạn cuối tháng "
                      f"({fmt_int(len(rows))} hồ sơ), quá hạn lâu nhất trước."
                      + (f" Chỉ liệt kê {fmt_int(MAX_DOSSIER_ROWS)} hồ sơ đầu tiên." if len(rows) >= MAX_DOSSIER_ROWS
                         else ""),
                f"Không có hồ sơ quá hạn trong tháng {month_label(b.month)}.")
    header = ["Mã hồ sơ", "Mã cơ quan", "Cơ quan, đơn vị", "Mã thủ tục", "Thủ tục", "Ngày tiếp nhận", "Hạn xử lý",
              "Thời gian làm việc còn lại", "Số phút làm việc còn lại"]
    rows = [[d["dossier_code"], d["agency_code"], d["agency_name"], d["procedure_code"], d["procedure_name"],
             d["received_at"], d["due_at"], format_left(d["working_minutes_left"], d["office_day_minutes"]),
             d["working_minutes_left"]] for d in b.due_soon_dossiers]
    days = format_days(DUE_SOON_DAYS)
    _list_sheet(wb.create_sheet("Sắp đến hạn"), header, rows, [28, 20, 36, 14, 50, 17, 17, 26, 12],
                {6: TIME, 7: TIME, 9: INT},
                (f"Hồ sơ đang giải quyết còn không quá {days} ngày làm việc đến hạn, tính đến "
                 f"{fmt_dt(b.due_soon_as_of)} ({fmt_int(len(rows))} hồ sơ), gấp nhất trước.")
                if b.due_soon_as_of else None,
                f"Không có hồ sơ nào sắp đến hạn trong {days} ngày làm việc tới." if b.due_soon_as_of
                else "Chưa có số liệu hồ sơ sắp đến hạn: kho dữ liệu chưa được tính lại toàn bộ.")
    header = ["Mã cơ quan", "Cơ quan, đơn vị", "Đã giải quyết", "Đang trong hạn", "Đang quá hạn", "Đến hạn trong tháng",
              "Tỷ lệ hiện tại", "Tỷ lệ tốt nhất", "Tỷ lệ xấu nhất", "Điểm hiện tại", "Điểm tốt nhất", "Điểm xấu nhất"]
    rows = [[r["key"] if r["row_kind"] == "agency" else "", r["name"] if r["row_kind"] == "agency" else "Tổng cộng",
             r["resolved_total"], r["pending_in_time"], r["pending_overdue"], r["due_in_month"],
             r["on_time_ratio"], r["best_on_time_ratio"], r["worst_on_time_ratio"],
             r["score_766"], r["best_score_766"], r["worst_score_766"]]
            for r in b.forecast_rows if r["row_kind"] == "total" or r["received_total"]]
    _list_sheet(wb.create_sheet("Dự báo cuối tháng"), header, rows, [22, 44] + [12] * 10,
                {3: INT, 4: INT, 5: INT, 6: INT, 7: PCT2, 8: PCT2, 9: PCT2, 10: DEC2, 11: DEC2, 12: DEC2},
                (f"Dự báo kết quả cuối tháng {month_label(b.forecast_month)}: hiện tại, tốt nhất (mọi hồ sơ còn trong "
                 f"hạn giải quyết đúng hạn) và xấu nhất (mọi hồ sơ đến hạn trong tháng giải quyết quá hạn).")
                if b.forecast_month else None, "Chưa có số liệu để dự báo.")
    _index766_sheet(wb.create_sheet("Bộ chỉ số 766"), b)
    header = ["Mã cơ quan", "Cơ quan, đơn vị", *FINDINGS_VI.values(), "Số hồ sơ có dữ kiện bất thường"]
    cols = [*FINDINGS_VI, "findings"]
    rows = [[r["agency_code"], r["agency_name"]] + [int(r.get(c) or 0) for c in cols] for r in b.findings_agencies]
    if rows:
        rows.append([None, "Tổng cộng"] + [int(b.audit_total.get(c) or 0) for c in cols])
    _list_sheet(wb.create_sheet("Dữ kiện bất thường"), header, rows, [22, 44] + [16] * len(cols),
                {j: INT for j in range(3, 3 + len(cols))},
                f"Hồ sơ có dữ kiện bất thường (bộ tính hạn không dùng hoặc xét theo cách khác) theo cơ quan, đơn vị "
                f"(không cộng các đơn vị trực thuộc), tháng {month_label(b.month)}. "
                f"{refusals_sentence(b.refusals_overdue)}",
                f"Không có hồ sơ nào có dữ kiện bất thường trong tháng {month_label(b.month)}.")
    header = ["Mã lượt", "Kịch bản", "Phiên bản", "Địa chỉ kiểm thử", "Tình trạng", "Bắt đầu", "Kết thúc",
              "Số người dùng tối đa", "Số yêu cầu", "Số lỗi", "Tỷ lệ lỗi", "p95 (ms)", "Kết luận", "Số tiêu chí",
              "Số tiêu chí đạt", "Số người dùng khi đánh giá", "Năng lực (người dùng)"]
    rows = [[r["run_id"], r["scenario"], r["release"], r["target"], loadtest_status(r), r["started_at"],
             r["finished_at"], r["users_peak"], r["requests"], r["failures"], r["error_rate"],
             None if r["p95_ms"] is None else round(r["p95_ms"]), LOADTEST_VERDICT_VI.get(r["verdict"], r["verdict"]),
             r["criteria_total"], r["criteria_passed"], r["judged_at_users"], r["capacity_users"]]
            for r in b.loadtests]
    fmts = {6: TIME, 7: TIME, 8: INT, 9: INT, 10: INT, 11: PCT2, 12: INT, 14: INT, 15: INT, 16: INT, 17: INT}
    _list_sheet(wb.create_sheet("Kiểm thử tải"), header, rows, [24, 16, 12, 28, 16, 17, 17] + [12] * 10, fmts,
                f"Các lượt kiểm thử tải bắt đầu trong tháng {month_label(b.month)}.",
                f"Không có lượt kiểm thử tải nào trong tháng {month_label(b.month)}.")
    wb.properties.title = f"Biểu số 06/VPCP/KSTT tháng {month_label(b.month)}"
    wb.properties.creator = b.letterhead.issuing_body
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
