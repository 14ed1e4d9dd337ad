"""Dossiers due soon (sắp đến hạn) in words: the working time left, the terminal table, the digest.

Input: the Tables of the named queries `due_soon` and `due_soon_by_agency`
(store/due_soon_queries.py). The working time left is counted in office time: a "day" is one
office day of the dossier's rule version (`office_day_minutes`), not 24 hours.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from store.registry import Table

TEXT = {
    "vi": {
        "day": "ngày làm việc", "days": "ngày làm việc", "hour": "giờ", "minute": "phút",
        "none": "0 phút",
        "time": "%H:%M %d/%m/%Y",
        "title": "Hồ sơ sắp đến hạn (trong {days} ngày làm việc), tính đến {t}",
        "columns": ["Mã hồ sơ", "Cơ quan", "Thủ tục", "Hạn xử lý", "Thời gian làm việc còn lại"],
        "empty": "Không có hồ sơ nào sắp đến hạn.",
        "count": "{n} hồ sơ",
        "count_limited": "{n} hồ sơ gấp nhất (giới hạn --limit; có thể còn hồ sơ khác)",
        "digest_title": "[motcua-watch] {agency}: {n} hồ sơ sắp đến hạn",
        "digest_head": "{agency} có {n} hồ sơ sắp đến hạn trong {days} ngày làm việc (tính đến {t}).",
        "digest_urgent": "Gấp nhất:",
        "digest_line": "- {code}: {procedure}, hạn {due}, còn {left}",
        "digest_more": "… và {n} hồ sơ khác.",
        "digest_link": "Xem danh sách: {url}",
        "thousands": ".", "decimal": ",",
    },
    "en": {
        "day": "working day", "days": "working days", "hour": "h", "minute": "min",
        "none": "0 min",
        "time": "%Y-%m-%d %H:%M",
        "title": "Dossiers due soon (within {days} working days), as of {t}",
        "columns": ["Dossier", "Agency", "Procedure", "Deadline", "Working time left"],
        "empty": "No dossier is due soon.",
        "count": "{n} dossiers",
        "count_limited": "the {n} most urgent dossiers (the --limit; there may be more)",
        "digest_title": "[motcua-watch] {agency}: {n} dossiers due soon",
        "digest_head": "{agency} has {n} dossiers due within {days} working days (as of {t}).",
        "digest_urgent": "Most urgent:",
        "digest_line": "- {code}: {procedure}, due {due}, {left} left",
        "digest_more": "… and {n} more.",
        "digest_link": "The list: {url}",
        "thousands": ",", "decimal": ".",
    },
}


def _t(lang: str) -> dict[str, Any]:
    if lang not in TEXT:
        raise ValueError(f"lang must be one of {', '.join(TEXT)}, got {lang!r}")
    return TEXT[lang]


def format_days(days: float, lang: str = "vi") -> str:
    """A number of working days as the UI writes it: "2", "0,5" (vi), "0.5" (en)."""
    text = f"{days:g}"
    return text.replace(".", _t(lang)["decimal"])


def format_left(minutes: int | None, day_minutes: int | None, lang: str = "vi") -> str:
    """Working time left in office days, hours and minutes: "1 ngày làm việc 5 giờ 20 phút"."""
    t = _t(lang)
    if minutes is None:
        return ""
    minutes = max(int(minutes), 0)
    day = int(day_minutes or 0)
    d, rest = (divmod(minutes, day) if day > 0 else (0, minutes))
    h, m = divmod(rest, 60)
    parts = []
    if d:
        parts.append(f"{d} {t['day'] if d == 1 else t['days']}")
    if h:
        parts.append(f"{h} {t['hour']}")
    if m:
        parts.append(f"{m} {t['minute']}")
    return " ".join(parts) or t["none"]


def format_time(value: dt.datetime | None, lang: str = "vi") -> str:
    return "" if value is None else value.strftime(_t(lang)["time"])


def render_text(t: Table, days: float, as_of: dt.datetime, lang: str = "vi", limit: int | None = None) -> str:
    """The due-soon list as an aligned terminal table, most urgent first; `limit`: the most rows asked
    for (a list that long says there may be more)."""
    tx = _t(lang)
    rows = t.to_dicts()
    head = tx["title"].format(days=format_days(days, lang), t=format_time(as_of, lang))
    if not rows:
        return f"{head}\n{tx['empty']}"
    table = [tx["columns"]] + [
        [r["dossier_code"], r.get("agency_name") or r["agency_code"] or "",
         r.get("procedure_name") or r.get("procedure_code") or "", format_time(r["due_at"], lang),
         format_left(r["working_minutes_left"], r["office_day_minutes"], lang)] for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    lines = [head, ""] + ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    full = limit is not None and len(rows) >= limit
    lines += ["", tx["count_limited" if full else "count"].format(n=len(rows))]
    return "\n".join(lines)


def digest(agency_name: str, count: int, urgent: list[dict[str, Any]], days: float, as_of: dt.datetime,
           url: str | None = None, lang: str = "vi") -> tuple[str, str]:
    """(title, body) of an agency's morning digest: the count, the most urgent dossiers and a link."""
    tx = _t(lang)
    title = tx["digest_title"].format(agency=agency_name, n=count)
    lines = [tx["digest_head"].format(agency=agency_name, n=count, days=format_days(days, lang),
                                      t=format_time(as_of, lang)), "", tx["digest_urgent"]]
    for r in urgent:
        lines.append(tx["digest_line"].format(
            code=r["dossier_code"], procedure=r.get("procedure_name") or r.get("procedure_code") or "",
            due=format_time(r["due_at"], lang),
            left=format_left(r["working_minutes_left"], r["office_day_minutes"], lang)))
    if count > len(urgent):
        lines.append(tx["digest_more"].format(n=count - len(urgent)))
    if url:
        lines += ["", tx["digest_link"].format(url=url)]
    return title, "\n".join(lines)
