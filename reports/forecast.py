"""The month-end forecast (the named query `month_forecast`, store/forecast_queries.py) as a
terminal table or one JSON-able document with the definitions of the readings and of the ratios."""
from __future__ import annotations

from typing import Any

from reports.bieu06 import definitions
from store.registry import Table

# The readings in words, as store/forecast_queries.py month_forecast computes them (the dashboard
# words them in dashboard/i18n.py).
DEFINITIONS = {
    "as_it_stands": {
        "vi": "Hiện tại: số liệu của tháng theo lần tính lại gần nhất (như Biểu 06).",
        "en": "As it stands: the month's figures as the last recompute left them (as in Biểu 06).",
    },
    "best": {
        "vi": "Tốt nhất: mọi hồ sơ đang giải quyết còn trong hạn (kể cả hồ sơ chờ bổ sung và hồ sơ không có "
              "thời hạn) được giải quyết đúng hạn trong tháng; hồ sơ đã quá hạn vẫn đang giải quyết (giải quyết "
              "chúng chỉ làm giảm tỷ lệ).",
        "en": "Best case: every pending dossier still in time (waiting for a supplement and without a deadline "
              "included) is resolved by its deadline, within the month; those already overdue stay pending "
              "(resolving them could only lower the ratio).",
    },
    "worst": {
        "vi": "Xấu nhất: mọi hồ sơ đang giải quyết có hạn xử lý trước khi hết tháng được giải quyết quá hạn trong "
              "tháng (kể cả hồ sơ đã quá hạn); hồ sơ có hạn sau cuối tháng, hồ sơ chờ bổ sung và hồ sơ không có "
              "thời hạn vẫn đang giải quyết.",
        "en": "Worst case: every pending dossier due before the month's end is resolved late within the month "
              "(those already overdue too); those due after the month's end, waiting for a supplement or without "
              "a deadline stay pending.",
    },
    "unknown": {
        "vi": "Hồ sơ sẽ tiếp nhận sau thời điểm tính lại chưa biết nên không được tính. Tháng đã kết thúc: "
              "tốt nhất = xấu nhất = hiện tại.",
        "en": "Dossiers still to be received after the recompute are unknown and not counted. A month that is "
              "over: best = worst = as it stands.",
    },
}

FORECAST_TEXT = {
    "vi": {"title": "Dự báo cuối tháng {m:02d}/{y}", "as_of": "Số liệu tính đến {t}", "time": "%H:%M:%S %d/%m/%Y",
           "none": "chưa tính lại lần nào", "over": "Tháng không còn diễn ra tại thời điểm tính: tốt nhất = xấu nhất "
           "= hiện tại.", "empty": "Các cơ quan không có hồ sơ trong tháng không được liệt kê.",
           "total": "Tổng cộng", "decimal": ",", "thousands": ".",
           "columns": ["Cơ quan, đơn vị", "Đã giải quyết", "Đang trong hạn", "Đang quá hạn", "Đến hạn trong tháng",
                       "Tỷ lệ hiện tại", "Tỷ lệ tốt nhất", "Tỷ lệ xấu nhất", "Điểm hiện tại", "Điểm tốt nhất",
                       "Điểm xấu nhất"]},
    "en": {"title": "Month-end forecast {y}-{m:02d}", "as_of": "Figures as of {t}", "time": "%Y-%m-%d %H:%M:%S",
           "none": "no recompute yet", "over": "The month is not under way at that instant: best = worst = as it "
           "stands.", "empty": "Agencies without dossiers in the month are not listed.",
           "total": "Total", "decimal": ".", "thousands": ",",
           "columns": ["Agency", "Resolved", "Pending in time", "Pending overdue", "Due this month", "Ratio now",
                       "Ratio best", "Ratio worst", "Score now", "Score best", "Score worst"]},
}


def forecast_document(t: Table, month: str, agency: str | None, score_denominator: str,
                      score_source: str = "") -> dict[str, Any]:
    """The forecast as one JSON-able object: the month, the figures' as_of, the definitions of the
    readings and of the ratios (vi and en), the rows."""
    rows = t.to_dicts()
    first = rows[0] if rows else {}
    as_of = first.get("as_of")
    ratios = definitions(score_denominator, score_source)
    return {"month": month, "agency": agency, "as_of": as_of.isoformat() if as_of else None,
            "in_progress": bool(first.get("in_progress")),
            "definitions": {**DEFINITIONS, "on_time_ratio": ratios["on_time_ratio"], "score_766": ratios["score_766"]},
            "rows": [{k: v for k, v in r.items() if k not in ("as_of", "in_progress")} for r in rows]}


def render_text(t: Table, month: str, lang: str = "vi") -> str:
    """The forecast as an aligned text table: per agency, the ratio and the score now, at best and at worst."""
    w = FORECAST_TEXT[lang]
    rows = t.to_dicts()
    first = rows[0] if rows else {}
    y, m = (int(p) for p in month.split("-"))
    as_of = first.get("as_of")

    def number(v: Any) -> str:
        return "-" if v is None else f"{int(v):,}".replace(",", w["thousands"])

    def decimal(v: Any, digits: int, scale: float = 1) -> str:
        return "-" if v is None else f"{v * scale:.{digits}f}".replace(".", w["decimal"])

    body = []
    for r in rows:
        if r["row_kind"] != "total" and not r["received_total"]:
            continue
        name = w["total"] if r["row_kind"] == "total" else \
            "  " * int(r.get("depth") or 0) + (r.get("name") or r.get("key") or "?")
        body.append([name[:48], number(r["resolved_total"]), number(r["pending_in_time"]), number(r["pending_overdue"]),
                     number(r["due_in_month"]),
                     *(decimal(r[f"{p}on_time_ratio"], 2, 100) for p in ("", "best_", "worst_")),
                     *(decimal(r[f"{p}score_766"], 2) for p in ("", "best_", "worst_"))])
    head = w["columns"]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(n) if i == 0 else c.rjust(n)  # noqa: E731
                                   for i, (c, n) in enumerate(zip(cells, widths))).rstrip()
    out = [w["title"].format(y=y, m=m), w["as_of"].format(t=as_of.strftime(w["time"]) if as_of else w["none"]), "",
           line(head), line(["-" * n for n in widths]), *(line(b) for b in body), ""]
    if not first.get("in_progress"):
        out.append(w["over"])
    out.append(w["empty"])
    out.extend(f"- {DEFINITIONS[k][lang]}" for k in ("as_it_stands", "best", "worst", "unknown"))
    return "\n".join(out) + "\n"
