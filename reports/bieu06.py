"""Biểu số 06/VPCP/KSTT (Thông tư 01/2020/TT-VPCP) as a terminal table or a JSON document.

Input: the Table of the named query `bieu06` (store/queries.py) and, to say what the figures are,
the rows of `figures_provenance` and `sla_rule_versions`. Output: an aligned text table with the
form's two-level header, in Vietnamese (default) or English; or `report_document`, the rows with
the month, the as_of instant, the rule set and versions and the definitions of the ratios.
"""
from __future__ import annotations

import datetime as dt
import textwrap
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

from config.clock import timezone_name
from config.vocabulary import BIEU06_COLUMNS, BIEU06_COUNT_NAMES, CHANNEL_LABELS, bieu06_group_spans
from store.registry import Table

COUNT_COLUMNS = list(BIEU06_COUNT_NAMES)

TEXT = {
    "vi": {
        "title": "Biểu số 06/VPCP/KSTT",
        "subtitle": "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT",
        "period": "Kỳ báo cáo: tháng {m:02d}/{y}",
        "unit": "Đơn vị tính: hồ sơ",
        "groups": [*bieu06_group_spans("vi"), ("Chỉ số", 2)],
        "columns": [*(c.vi for c in BIEU06_COLUMNS), "Tỷ lệ đúng hạn (%)", "Điểm tiến độ (QĐ 766)"],
        "first": {"agency": "Cơ quan, đơn vị", "field": "Lĩnh vực", "procedure": "Thủ tục",
                  "channel": "Kênh tiếp nhận", "total": "Cơ quan, đơn vị"},
        "total": "Tổng cộng",
        "unknown": "(chưa xác định)",
        "closed": " (đã giải thể)",
        "channels": {c: label.vi for c, label in CHANNEL_LABELS.items()},
        "empty": "Không có số liệu cho kỳ này.",
        "thousands": ".", "decimal": ",",
        "as_of": "Số liệu tính đến {t}{how}; bộ quy tắc {rules}",
        "recomputed": " (tính riêng cho báo cáo này, dữ liệu lưu không đổi)",
        "time": "%H:%M:%S %d/%m/%Y",
    },
    "en": {
        "title": "Form 06/VPCP/KSTT",
        "subtitle": "ADMINISTRATIVE PROCEDURE DOSSIERS HANDLED BY THE AGENCIES THAT PROCESS THEM",
        "period": "Period: {y}-{m:02d}",
        "unit": "Unit: dossiers",
        "groups": [*bieu06_group_spans("en"), ("Indicators", 2)],
        "columns": [*(c.en for c in BIEU06_COLUMNS), "On-time ratio (%)", "Progress score (QĐ 766)"],
        "first": {"agency": "Agency", "field": "Field", "procedure": "Procedure", "channel": "Channel",
                  "total": "Agency"},
        "total": "Total",
        "unknown": "(unknown)",
        "closed": " (closed)",
        "channels": {c: label.en for c, label in CHANNEL_LABELS.items()},
        "empty": "No figures for this period.",
        "thousands": ",", "decimal": ".",
        "as_of": "Figures as of {t}{how}; rule set {rules}",
        "recomputed": " (computed for this report only; the stored figures are unchanged)",
        "time": "%Y-%m-%d %H:%M:%S",
    },
}

# What the 766 progress score divides by (setting reports.score_766.denominator; the SQL of each
# choice: store/queries.py SCORE_DENOMINATORS).
SCORE_DENOMINATORS = {
    "received_and_carried": {
        "columns": ["received_online", "received_direct_postal", "carried_over"],
        "vi": "tổng số hồ sơ nhận giải quyết (tiếp nhận trong kỳ và từ kỳ trước chuyển sang)",
        "vi_short": "tổng số nhận giải quyết",  # the briefing's note
        "en": "dossiers received in the period plus those carried over from the last period",
    },
    "received": {
        "columns": ["received_online", "received_direct_postal"],
        "vi": "số hồ sơ tiếp nhận trong kỳ (trực tuyến, trực tiếp, bưu chính; không tính hồ sơ từ kỳ trước)",
        "vi_short": "số hồ sơ tiếp nhận trong kỳ (không tính hồ sơ từ kỳ trước chuyển sang)",
        "en": "dossiers received in the period (online, in person, by post; not those carried over)",
    },
}


def definitions(score_denominator: str = "received_and_carried", score_source: str = "") -> dict[str, Any]:
    """The ratios' definitions, in Vietnamese and English, with the 766 score's chosen denominator
    and its source: what a reader needs to quote the figures."""
    den = SCORE_DENOMINATORS[score_denominator]
    return {
        "on_time_ratio": {
            "formula": "(resolved_early + resolved_on_time) / resolved_total",
            "scale": "fraction from 0 to 1 (the text report shows it in %)",
            "vi": "Tỷ lệ đúng hạn = (số hồ sơ giải quyết trước hạn + đúng hạn) / tổng số hồ sơ đã giải quyết; "
                  "để trống (-) khi chưa có hồ sơ nào được giải quyết.",
            "en": "On-time ratio = (dossiers resolved early + on time) / dossiers resolved; "
                  "empty (null; - in tables) when nothing was resolved.",
        },
        "score_766": {
            "formula": f"20 × (resolved_early + resolved_on_time) / ({' + '.join(den['columns'])})",
            "denominator": score_denominator,
            "denominator_columns": den["columns"],
            "scale": "0 to 20",
            "vi": f"Điểm tiến độ (Quyết định 766/QĐ-TTg, tối đa 20) = 20 × (trước hạn + đúng hạn) / {den['vi']}; "
                  "để trống (-) khi chưa có hồ sơ nào được giải quyết hoặc mẫu số bằng 0. Là số ước tính: công thức "
                  "chính thức chưa được xác nhận.",
            "en": f"Progress score (Decision 766/QĐ-TTg, at most 20) = 20 × (early + on time) / {den['en']}; "
                  "empty (null; - in tables) when nothing was resolved or the denominator is 0. An estimate: the official "
                  "formula is not confirmed.",
            "source": score_source,
        },
        "pending_waiting_supplement": {
            "vi": "Hồ sơ chờ bổ sung tại thời điểm cuối kỳ được tính là đang giải quyết trong hạn.",
            "en": "Dossiers waiting for a supplement at the end of the period count as pending within time.",
        },
    }


NAME_WIDTH = 44
NUMBER_WIDTH = 9  # header text wraps to this width at least


def _width(s: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int, align: str) -> str:
    gap = max(0, width - _width(s))
    if align == "right":
        return " " * gap + s
    if align == "center":
        return " " * (gap // 2) + s + " " * (gap - gap // 2)
    return s + " " * gap


def _clip(s: str, width: int) -> str:
    if _width(s) <= width:
        return s
    out = ""
    for c in s:
        if _width(out + c) > width - 1:
            break
        out += c
    return out + "…"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=max(width, 1), break_long_words=False) or [""]


def _number(v: Any, t: dict[str, Any]) -> str:
    if v is None:
        return "-"
    return f"{int(v):,}".replace(",", t["thousands"])


def _decimal(v: Any, digits: int, t: dict[str, Any]) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}".replace(".", t["decimal"])


def _label(row: dict[str, Any], t: dict[str, Any]) -> str:
    kind = row.get("row_kind")
    if kind == "total":
        return t["total"]
    key, name = row.get("key"), row.get("name")
    if kind == "channel":
        return t["channels"].get(key, key or t["unknown"])
    if kind == "agency":
        label = name or key or t["unknown"]
        return "  " * int(row.get("depth") or 0) + label
    if kind == "procedure" and name:
        return f"{key} – {name}"
    return name or key or t["unknown"]


def _provenance_line(provenance: dict[str, Any] | None, rule_versions: list[dict[str, Any]],
                     recomputed: bool, t: dict[str, Any]) -> list[str]:
    if not provenance or provenance.get("as_of") is None:
        return []
    as_of = provenance["as_of"]
    when = as_of.strftime(t["time"]) if isinstance(as_of, dt.datetime) else str(as_of)
    versions = ", ".join(str(v["rule_version"]) for v in rule_versions)
    rules = f"{provenance.get('rule_set') or '?'}" + (f" ({versions})" if versions else "")
    return [t["as_of"].format(t=when, how=t["recomputed"] if recomputed else "", rules=rules)]


def render_text(table: Table, month: str, lang: str = "vi", provenance: dict[str, Any] | None = None,
                rule_versions: list[dict[str, Any]] | None = None, recomputed: bool = False,
                score_denominator: str = "received_and_carried") -> str:
    """The form as an aligned text table (header titles of the form in Vietnamese, or English);
    with `provenance` (a figures_provenance row), a line saying as of when and under which rules."""
    lang = "en" if lang == "en" else "vi"
    t = TEXT[lang]
    rows = table.to_dicts()
    y, m = (int(p) for p in str(month)[:7].split("-"))
    kinds = [r["row_kind"] for r in rows if r["row_kind"] != "total"]
    first_title = t["first"][kinds[0] if kinds else "total"]
    head = [t["title"], t["subtitle"], t["period"].format(y=y, m=m), t["unit"],
            *_provenance_line(provenance, rule_versions or [], recomputed, t), ""]
    if not rows or all((r.get("received_total") or 0) == 0 for r in rows):
        return "\n".join(head + [t["empty"]]) + "\n"

    body = []
    for r in rows:
        cells = [_number(r.get(c), t) for c in COUNT_COLUMNS]
        ratio = r.get("on_time_ratio")
        cells.append(_decimal(None if ratio is None else 100 * ratio, 1, t))
        cells.append(_decimal(r.get("score_766"), 2, t))
        body.append((_clip(_label(r, t), NAME_WIDTH), cells, r["row_kind"] == "total"))

    # Column widths: data, or header words wrapped to at least NUMBER_WIDTH.
    widths = []
    for i, title in enumerate(t["columns"]):
        data = max(_width(b[1][i]) for b in body)
        longest_word = max(_width(w) for w in title.split())
        widths.append(max(data, longest_word, min(NUMBER_WIDTH, _width(title))))
    name_w = max([_width(first_title)] + [_width(b[0]) for b in body])
    # Group spans: widen the last column of a group when its title needs more room.
    start = 0
    for title, span in t["groups"]:
        inner = sum(widths[start:start + span]) + 3 * (span - 1)
        need = max(_width(w) for w in title.split())
        if need > inner:
            widths[start + span - 1] += need - inner
        start += span

    sep = "+" + "-" * (name_w + 2) + "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    # Header level 1: group titles spanning their columns.
    group_cells, start = [], 0
    for title, span in t["groups"]:
        inner = sum(widths[start:start + span]) + 3 * (span - 1)
        group_cells.append((_wrap(title, inner), inner))
        start += span
    sub_cells = [(_wrap(title, w), w) for title, w in zip(t["columns"], widths)]
    first_lines = _wrap(first_title, name_w)
    depth = max(len(first_lines), max(len(g[0]) for g in group_cells) + 1 + max(len(s[0]) for s in sub_cells))
    g_h = max(len(g[0]) for g in group_cells)

    lines = [*head, sep]
    for i in range(depth):
        name_part = " " + _pad(first_lines[i] if i < len(first_lines) else "", name_w, "left") + " |"
        if i < g_h:
            parts = [" " + _pad(g[0][i] if i < len(g[0]) else "", g[1], "center") + " " for g in group_cells]
        elif i == g_h:
            parts = ["+".join("-" * (w + 2) for w in widths[s:s + n]) for s, n in _spans(t["groups"])]
        else:
            k = i - g_h - 1
            parts = [" " + _pad(c[0][k] if k < len(c[0]) else "", c[1], "center") + " " for c in sub_cells]
        lines.append("|" + name_part + "|".join(parts) + "|")
    lines.append(sep)
    for label, cells, is_total in body:
        lines.append("| " + _pad(label, name_w, "left") + " |"
                     + "|".join(" " + _pad(c, w, "right") + " " for c, w in zip(cells, widths)) + "|")
        if is_total:
            lines.append(sep)
    lines.append(sep)
    notes = definitions(score_denominator)
    lines.extend([""] + [f"- {notes[k][lang]}" for k in ("on_time_ratio", "score_766", "pending_waiting_supplement")])
    return "\n".join(lines) + "\n"


def _spans(groups: list[tuple[str, int]]) -> list[tuple[int, int]]:
    out, start = [], 0
    for _, span in groups:
        out.append((start, span))
        start += span
    return out


def to_json_rows(table: Table) -> list[dict[str, Any]]:
    """The rows as JSON-able dicts (dates as ISO text), column names as in the query."""
    data = table.to_json()
    return [dict(zip(data["columns"], row)) for row in data["rows"]]


def _instant(value: Any, tz: str) -> str | None:
    """A stored instant (naive local time) as ISO 8601 with its UTC offset, so that it means one
    instant wherever it is read."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    return value.replace(tzinfo=ZoneInfo(tz)).isoformat() if value.tzinfo is None else value.isoformat()


def report_document(table: Table, month: str, *, by: str, agency: str | None, provenance: Table,
                    rule_versions: Table, score_denominator: str, score_source: str,
                    timezone: str | None = None, recomputed: bool = False,
                    previous_as_of: Any = None) -> dict[str, Any]:
    """`app.py report --json`: the rows with what they are. as_of is the instant the figures are
    judged at (the store's last recompute); as_of_source says whether this report computed its
    figures at it apart ('recomputed', previous_as_of: the store's as_of, which stays) or found
    them in the store ('store'). timezone: the zone the stored times are in (default: the clock's)."""
    timezone = timezone or timezone_name()
    p = provenance.one() or {}
    return {
        "form": "Biểu số 06/VPCP/KSTT",
        "month": str(month)[:7],
        "as_of": _instant(p.get("as_of"), timezone),
        "as_of_source": "recomputed" if recomputed else "store",
        "previous_as_of": _instant(previous_as_of, timezone) if recomputed else None,
        "timezone": timezone,
        "run_id": p.get("run_id"),
        "rule_set": p.get("rule_set"),
        "rule_versions": to_json_rows(rule_versions),
        "changed_since": p.get("changed_since"),
        "by": by,
        "agency": agency,
        "definitions": definitions(score_denominator, score_source),
        "rows": to_json_rows(table),
    }
