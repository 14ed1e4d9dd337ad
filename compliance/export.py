"""The register as an XLSX workbook (openpyxl) and as a section of the monthly briefing.

    write_xlsx(ops, period, path, lang='vi', criteria=None) -> Path
        sheets: Tiêu chí (criteria), Yêu cầu (requests with their evidence), Lịch sử (the history)
    briefing_section(ops, period, lang='vi', criteria=None) -> dict
        {"title", "paragraphs": [str], "table": {"columns": [str], "rows": [[str]]}, "requests": {...}}
        renderer-neutral: the DOCX briefing (reports/) turns it into a heading, paragraphs
        and a table; nothing here needs python-docx.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from compliance.period import Period
from compliance.register import criteria_for, register
from config.cells import formula_like

_HEAD = {
    "criteria": {"vi": ["Mã", "Phụ lục", "Nhóm chức năng", "Tiêu chí", "Căn cứ", "Cách đánh giá", "Trạng thái", "Từ",
                        "Số liệu, minh chứng", "Ngưỡng", "Yêu cầu liên quan (chưa xong)"],
                 "en": ["ID", "Annex", "Function group", "Criterion", "Legal reference", "Judged", "Status", "Since",
                        "Numbers, evidence", "Threshold", "Linked requests (open)"]},
    "requests": {"vi": ["Mã", "Cơ quan", "Ngày đề nghị", "Nội dung", "Tiêu chí", "Kiểm tra", "Trạng thái",
                        "Trả lời của nhà cung cấp", "Minh chứng", "Minh chứng còn đúng", "Cập nhật", "Người cập nhật"],
                 "en": ["ID", "Agency", "Requested on", "Description", "Criterion", "Check", "Status",
                        "Vendor's answer", "Evidence", "Evidence holds", "Updated", "Updated by"]},
    "history": {"vi": ["#", "Thời điểm", "Người thực hiện", "Qua", "Đối tượng", "Mã", "Thao tác", "Nội dung", "Ghi chú",
                       "Mã băm"],
                "en": ["#", "At", "Who", "Via", "Item", "ID", "Action", "What", "Note", "Hash"]},
}
_SHEETS = {"vi": ("Tiêu chí", "Yêu cầu", "Lịch sử"), "en": ("Criteria", "Requests", "History")}
# The history's item kinds and actions (compliance/actions.py) in the workbook's language.
_ITEM_VI = {"criterion": "Tiêu chí", "request": "Kiến nghị"}
_ACTION_VI = {"created": "tạo mới", "updated": "cập nhật", "answered": "nhà cung cấp trả lời",
              "evidence_added": "thêm minh chứng", "resolved": "đã khắc phục", "imported": "nhập từ bảng tính",
              "judged": "đánh giá"}
_VIA_VI = {"cli": "dòng lệnh", "import": "nhập từ bảng tính", "api": "giao diện lập trình",
           "dashboard": "bảng điều khiển", "library": "thư viện"}
# Whole numbers with a dot between thousands whatever the reader's locale (a number format shows
# the reader's own separators otherwise); English workbooks keep the reader's.
_INT = {"vi": '[>=1000000]#"."###"."##0;[>=1000]#"."##0;0', "en": "#,##0"}
_JUDGED = {"automatic": ("Tự động", "Automatic"), "person": ("Người đánh giá", "By a person")}


def _l(lang: str, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "en" else pair[0]


def _yes(v: bool, lang: str) -> str:
    return ("Yes" if v else "No") if lang == "en" else ("Có" if v else "Không")


def criteria_table(reg: dict[str, Any], lang: str = "vi") -> tuple[list[str], list[list[Any]]]:
    rows = [[r["id"], r["annex_label"], r["group"], r["title"], r["legal_ref"], _l(lang, _JUDGED[r["judged_by"]]),
             r["status_label"], r["since"], r["evidence"], r["threshold_note"] or "",
             f"{r['requests']} ({r['requests_open']})"] for r in reg["criteria"]]
    return _HEAD["criteria"][lang], rows


def requests_table(reg: dict[str, Any], lang: str = "vi") -> tuple[list[str], list[list[Any]]]:
    rows = []
    for r in reg["requests"]:
        ev = "; ".join(("✓ " if e["holds"] else "✗ ") + e["detail"] for e in r["evidence"])
        rows.append([r["request_id"], r["agency"], r["requested_on"], r["description"], r["criterion"] or "",
                     r["check_name"] or "", r["status_label"], r["vendor_answer"] or "", ev,
                     _yes(r["evidence_holds"], lang), r["updated_at"], r["updated_by"]])
    return _HEAD["requests"][lang], rows


def write_xlsx(ops, period: Period, path: Path | str, lang: str = "vi", criteria=None) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    crit = criteria_for(ops, criteria)
    reg = register(ops, period, lang, crit)
    wb = Workbook()
    fills = {"met": "C6EFCE", "not_met": "FFC7CE", "not_measured": "EDEDED"}
    bold = Font(bold=True)

    def sheet(ws, title_lines: list[str], headers: list[str], rows: list[list[Any]], widths: list[int],
              status_col: int | None = None, statuses: list[str] | None = None) -> None:
        for line in title_lines:
            ws.append([line])
            ws.cell(ws.max_row, 1).font = bold
        ws.append([])
        ws.append(headers)
        head_row = ws.max_row
        for c in ws[head_row]:
            c.font = bold
            c.fill = PatternFill("solid", fgColor="DDEBF7")
        for i, r in enumerate(rows):
            ws.append([v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in r])
            for c in ws[ws.max_row]:  # text from agencies' requests never runs as a formula
                if formula_like(c.value):
                    c.data_type = "s"
                    c.quotePrefix = True
            if status_col is not None and statuses:
                ws.cell(ws.max_row, status_col + 1).fill = PatternFill("solid", fgColor=fills.get(statuses[i], "FFFFFF"))
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[ws.cell(head_row, i).column_letter].width = w
        for row in ws.iter_rows(min_row=head_row + 1):
            for c in row:
                c.alignment = Alignment(wrap_text=True, vertical="top")
                if isinstance(c.value, dt.datetime):
                    c.number_format = "dd/mm/yyyy hh:mm"
                elif isinstance(c.value, dt.date):
                    c.number_format = "dd/mm/yyyy"
                elif isinstance(c.value, int) and not isinstance(c.value, bool):
                    c.number_format = _INT[lang]
        ws.freeze_panes = ws.cell(head_row + 1, 1)
        # printed: landscape A4, one page wide, the header row on every page
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = f"{head_row}:{head_row}"

    names = _SHEETS[lang]
    ws = wb.active
    ws.title = names[0]
    p = reg["period"]
    title = [reg["title"], (f"Period: {p['from']} – {p['to']}" if lang == "en" else
                            f"Kỳ đánh giá: {dt.date.fromisoformat(p['from']):%d/%m/%Y} – "
                            f"{dt.date.fromisoformat(p['to']):%d/%m/%Y}")]
    h = reg["history"]
    title.append(("History: hash chain intact" if h.get("intact") else f"History ALTERED at event {h.get('first_bad_event_id')}")
                 if lang == "en" else ("Lịch sử: chuỗi băm nguyên vẹn" if h.get("intact") else
                                       f"Lịch sử BỊ SỬA tại thay đổi {h.get('first_bad_event_id')}"))
    headers, rows = criteria_table(reg, lang)
    sheet(ws, title, headers, rows, [20, 12, 24, 40, 28, 14, 14, 17, 70, 40, 14], 6,
          [r["status"] for r in reg["criteria"]])
    headers, rows = requests_table(reg, lang)
    sheet(wb.create_sheet(names[1]), title[:2], headers, rows, [14, 24, 13, 50, 20, 20, 18, 40, 60, 12, 17, 18])
    hist = ops.query("compliance_history", limit=100_000).to_dicts()
    vi = lang != "en"
    rows = [[e["event_id"], e["at"], e["actor"], _VIA_VI.get(e["via"], e["via"]) if vi else e["via"],
             _ITEM_VI.get(e["item_kind"], e["item_kind"]) if vi else e["item_kind"], e["item_id"],
             _ACTION_VI.get(e["action"], e["action"]) if vi else e["action"],
             ", ".join(f"{k}={v}" for k, v in json.loads(e["data"] or "{}").items()), e["note"] or "", e["hash"][:16]]
            for e in hist]
    sheet(wb.create_sheet(names[2]), title[:1], _HEAD["history"][lang], rows, [6, 17, 22, 10, 10, 20, 14, 70, 30, 18])
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def briefing_section(ops, period: Period, lang: str = "vi", criteria=None) -> dict[str, Any]:
    """The register as a section of the monthly briefing: a title, a few paragraphs in the
    briefing's language, the criteria table (short columns) and the requests' counts."""
    reg = register(ops, period, lang, criteria_for(ops, criteria))
    s, q = reg["summary"]["criteria"], reg["summary"]["requests"]
    total = sum(q.values())
    failing = [r for r in reg["criteria"] if r["status"] == "not_met"]
    regressions = [r for r in reg["requests"] if r["regression"]]
    if lang == "en":
        title = "Compliance with Circular 22/2019/TT-BTTTT and agencies' requests"
        paras = [f"Over {period.label()}, of {len(reg['criteria'])} criteria: {s['met']} met, {s['not_met']} not met, "
                 f"{s['not_measured']} not measured.",
                 f"Agencies' requests: {total}, of which {q['resolved']} resolved with evidence, "
                 f"{total - q['resolved'] - q['withdrawn']} still open."]
        if failing:
            paras.append("Not met: " + "; ".join(f"{r['title']} (since {r['since']:%d/%m/%Y})" if r["since"] else r["title"]
                                                  for r in failing) + ".")
        if regressions:
            paras.append("Resolved requests whose evidence no longer holds: "
                         + ", ".join(r["request_id"] for r in regressions) + ".")
        columns = ["Criterion", "Legal reference", "Status", "Since", "Numbers"]
    else:
        title = "Đánh giá theo Thông tư 22/2019/TT-BTTTT và kết quả xử lý kiến nghị của các cơ quan"
        paras = [f"Trong kỳ {period.label()}, trên {len(reg['criteria'])} tiêu chí: {s['met']} đạt, "
                 f"{s['not_met']} không đạt, {s['not_measured']} chưa đo được.",
                 f"Kiến nghị của các cơ quan: {total}, trong đó {q['resolved']} đã khắc phục có minh chứng, "
                 f"{total - q['resolved'] - q['withdrawn']} chưa hoàn thành."]
        if failing:
            paras.append("Chưa đạt: " + "; ".join(f"{r['title']} (từ {r['since']:%d/%m/%Y})" if r["since"] else r["title"]
                                                  for r in failing) + ".")
        if regressions:
            paras.append("Kiến nghị đã báo khắc phục nhưng minh chứng không còn đúng: "
                         + ", ".join(r["request_id"] for r in regressions) + ".")
        columns = ["Tiêu chí", "Căn cứ", "Trạng thái", "Từ", "Số liệu"]
    rows = [[r["title"], r["legal_ref"], r["status_label"], f"{r['since']:%d/%m/%Y}" if r["since"] else "",
             r["evidence"]] for r in reg["criteria"]]
    return {"title": title, "paragraphs": paras, "table": {"columns": columns, "rows": rows},
            "requests": q, "criteria": s, "period": reg["period"]}
