"""The 766 scorecard's estimate for people: a text table and one JSON document (no SQL).

The rows are the named query index766's (store/index766_queries.py); the groups' names, maxima,
formulas and sources are the rules file's (config/index766.yaml), so the output always says what
the numbers are and that they are estimates.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from config.index766 import GROUPS, Index766
from reports.bieu06 import definitions as bieu06_definitions
from store.registry import Table

TEXT = {
    "vi": {"title": "Bộ chỉ số 766 (Quyết định 766/QĐ-TTg), tháng {month}: {label}",
           "agency": "Cơ quan", "total": "Tổng (phạm vi báo cáo)", "sum": "Tổng / tối đa",
           "not_measured": "–", "empty": "Không có số liệu cho kỳ này.",
           "notes": "Nhóm chưa đo được (toàn phạm vi):", "as_of": "Số liệu tính đến {t}",
           "time": "%H:%M:%S %d/%m/%Y", "decimal": ",",
           "footer": "Là số ước tính: trọng số đang áp dụng chưa được xác nhận (có dự thảo sửa đổi); nguồn và "
                     "trọng số của từng nhóm: tệp reports.index766 (app.py index766 --json). "
                     "Tổng chỉ cộng các nhóm đo được, so với điểm tối đa của các nhóm đó."},
    "en": {"title": "The 766 scorecard (Decision 766/QĐ-TTg), {month}: {label}",
           "agency": "Agency", "total": "Total (the report's scope)", "sum": "Total / max",
           "not_measured": "–", "empty": "No figures for this period.",
           "notes": "Groups not measured (whole scope):", "as_of": "Figures as of {t}",
           "time": "%Y-%m-%d %H:%M:%S", "decimal": ".",
           "footer": "An estimate: the weights in force are not confirmed (a revision draft exists); each group's "
                     "sources and weights: the file reports.index766 (app.py index766 --json). "
                     "The total adds the measured groups only, against those groups' maximum."},
}
NAME_WIDTH = 40
# column heads of the text table (the groups' full names are in the rules file and the JSON)
SHORT = {
    "vi": {"publicity": "Công khai", "progress": "Tiến độ", "online_service": "Trực tuyến",
           "digitisation": "Số hoá", "satisfaction": "Hài lòng"},
    "en": {"publicity": "Publicity", "progress": "Progress", "online_service": "Online",
           "digitisation": "Digitised", "satisfaction": "Satisfied"},
}


def _width(s: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 1 for ch in s)


def _pad(s: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(s))
    return gap + s if right else s + gap


def _clip(s: str, width: int) -> str:
    return s if _width(s) <= width else s[: width - 1] + "…"


def _points(v: Any, dash: str, decimal: str = ".") -> str:
    return dash if v is None else f"{v:.2f}".replace(".", decimal)


def _month_label(month: str, lang: str) -> str:
    """'2026-11' as each language writes a month: 11/2026 (vi), 2026-11 (en)."""
    y, m = month.split("-")
    return f"{int(m):02d}/{y}" if lang == "vi" else month


def _time(v: Any, fmt: str) -> str:
    return v.strftime(fmt) if isinstance(v, dt.datetime) else str(v)


def render_text(table: Table, month: str, rules: Index766, lang: str = "vi", as_of: Any = None) -> str:
    t = TEXT[lang]
    lines = [t["title"].format(month=_month_label(month, lang), label=rules.label.vi if lang == "vi" else rules.label.en)]
    if as_of is not None:
        lines.append(t["as_of"].format(t=_time(as_of, t["time"])))
    if not table.rows:
        return "\n".join([*lines, t["empty"]])
    heads = [f"{SHORT[lang][g]} ({rules.group(g).max_points:g})".replace(".", t["decimal"]) for g in GROUPS]
    widths = [max(8, _width(h)) for h in heads]
    header = [_pad(t["agency"], NAME_WIDTH)] + [_pad(_clip(h, w), w, True) for h, w in zip(heads, widths)]
    header.append(_pad(t["sum"], 15, True))
    lines += ["", "  ".join(header), "-" * sum(_width(h) + 2 for h in header)]
    rows = table.to_dicts()
    for r in rows:
        if r["row_kind"] == "total":
            name = t["total"]
        else:
            name = "  " * int(r["depth"] or 0) + f"{r['agency_name'] or r['agency_code']} ({r['agency_code']})"
        cells = [_pad(_clip(name, NAME_WIDTH), NAME_WIDTH)]
        cells += [_pad(_points(r[f"{g}_points"], t["not_measured"], t["decimal"]), w, True)
                  for g, w in zip(GROUPS, widths)]
        total = "–" if r["total_points"] is None else \
            f"{_points(r['total_points'], '', t['decimal'])} / {r['total_max']:g}".replace(".", t["decimal"])
        cells.append(_pad(total, 15, True))
        lines.append("  ".join(cells))
    top = rows[0]
    suffix = "_reason_vi" if lang == "vi" else "_reason"
    reasons = [(g, top[f"{g}{suffix}"]) for g in GROUPS if top[f"{g}{suffix}"]]
    if reasons:
        lines += ["", t["notes"]]
        lines += [f"- {rules.group(g).name.vi if lang == 'vi' else rules.group(g).name.en}: {why}" for g, why in reasons]
    lines += ["", t["footer"]]
    return "\n".join(lines)


def _json_value(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


def report_document(table: Table, month: str, rules: Index766, *, agency: str | None, score_denominator: str,
                    score_source: str, as_of: Any = None) -> dict[str, Any]:
    """One JSON object: what the figures are (each group's definition and source, the progress
    score's denominator), the label "ước tính" / "estimate", then the rows."""
    groups = {}
    for g in GROUPS:
        groups[g] = rules.group(g).model_dump(mode="json")
    groups["progress"]["score_766"] = bieu06_definitions(score_denominator, score_source)["score_766"]
    return {
        "report": "index766",
        "month": month,
        "agency": agency,
        "as_of": _json_value(as_of),
        "label": rules.label.model_dump(),
        "estimate": True,
        "decision": rules.decision.model_dump(),
        "revision": rules.revision.model_dump(),
        "rating_scale": list(rules.rating_scale()),
        "score_denominator": score_denominator,
        "definitions": groups,
        "rows": [{k: _json_value(v) for k, v in r.items()} for r in table.to_dicts()],
    }
