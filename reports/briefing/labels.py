"""The briefing's words and numbers the Vietnamese way: figures formatted as officials write them
(1.234; 87,5 %; 05/02/2026), the Vietnamese labels of the audit's, the sync's and the load tests'
kinds, and the Biểu 06 headings (from config/vocabulary.py). Used by the document and the
renderers alike, so that every format says the same words.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from config.numbers import number, percent
from config.vocabulary import BIEU06_COLUMNS, CHANNEL_LABELS, bieu06_group_spans
from sla_rules.constants import FLAGS

# -- formatting (Vietnamese conventions) ---------------------------------------------------------

def fmt_int(v: Any) -> str:
    return "-" if v is None else number(int(v))


def fmt_dec(v: Any, digits: int = 1) -> str:
    return "-" if v is None else number(float(v), digits)


def fmt_pct(ratio: Any, digits: int = 1) -> str:
    return "-" if ratio is None else percent(float(ratio), digits)


def fmt_delta_int(now: Any, before: Any) -> str:
    if now is None or before is None:
        return "-"
    d = int(now) - int(before)
    return "0" if d == 0 else ("+" if d > 0 else "−") + fmt_int(abs(d))


def fmt_delta_pts(now: Any, before: Any, scale: float = 100.0, digits: int = 1) -> str:
    """Change of a ratio in percentage points (scale 100) or of a score (scale 1)."""
    if now is None or before is None:
        return "-"
    d = round(scale * (float(now) - float(before)), digits)
    return "0" if d == 0 else ("+" if d > 0 else "−") + fmt_dec(abs(d), digits)


def fmt_ms(v: Any) -> str:
    return "-" if v is None else fmt_int(round(float(v)))


def fmt_dt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dt.datetime):
        return v.strftime("%H:%M %d/%m/%Y")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    return str(v)


def month_label(m: dt.date) -> str:
    return f"{m.month:02d}/{m.year}"


# -- words -----------------------------------------------------------------------------------------

AUDIT_KINDS_VI = {
    "reported_overdue_resolved_on_time": "Hệ thống báo quá hạn nhưng thực tế giải quyết đúng/trước hạn",
    "reported_on_time_actually_overdue": "Hệ thống báo trong hạn nhưng thực tế quá hạn",
    "no_reported_due": "Hệ thống không có ngày hẹn trả",
    "due_date_differs": "Ngày hẹn trả khác với thời hạn tính lại",
    "status_differs": "Trạng thái khác",
}
# The engine's findings in the vendor's facts (audit_by_agency's columns), in the words of
# sla_rules.constants.FLAGS, with what the engine did with each.
FINDINGS_VI = {name: vi[:1].upper() + vi[1:] for name, vi, _en in FLAGS.values()}
FINDING_TREATMENT_VI = {
    "late_request": "yêu cầu này không được tính khi xét thời hạn",
    "orphan_receipt": "lần nhận bổ sung này không được tính khi xét thời hạn",
    "after_result": "các ngày bổ sung này không được tính khi xét thời hạn",
    "inconsistent_state": "hồ sơ đang xử lý nhưng có ngày có kết quả, được xét theo ngày đó",
}
SYNC_PROBLEMS_VI = {"never_synced": "Chưa đồng bộ", "synced_before_resolution": "Đồng bộ trước khi giải quyết",
                    "status_differs": "Sai trạng thái"}
OVERDUE_KIND_VI = {"resolved_overdue": "Đã giải quyết quá hạn", "pending_overdue": "Đang giải quyết quá hạn"}
CHANNEL_VI = {c: label.vi for c, label in CHANNEL_LABELS.items()}
ROMAN = {6: "VI", 7: "VII"}
LOADTEST_STATUS_VI = {"completed": "Hoàn thành", "running": "Đang chạy", "refused": "Bị từ chối",
                      "failed": "Không chạy được", "interrupted": "Dừng giữa chừng"}
LOADTEST_VERDICT_VI = {"pass": "Đạt", "fail": "Không đạt", "none": "Không có tiêu chí"}

# The month's figures against last month's: a group's parts indented under its total.
STAT_LABELS = [(c.name, c.vi_line if c.is_total else "  " + c.vi_line) for c in BIEU06_COLUMNS]
BIEU06_GROUPS = bieu06_group_spans("vi")
BIEU06_SUB = [c.vi for c in BIEU06_COLUMNS]


def bieu06_label(r: dict[str, Any], indent: bool = True) -> str:
    if r["row_kind"] == "total":
        return "Tổng cộng"
    if r["row_kind"] == "channel":
        return CHANNEL_VI.get(r["key"], r["key"] or "(chưa xác định)")
    label = r.get("name") or r.get("key") or "(chưa xác định)"
    if r["row_kind"] == "agency" and indent:
        label = "  " * int(r.get("depth") or 0) + label
    return label


def loadtest_status(r: dict[str, Any]) -> str:
    return LOADTEST_STATUS_VI.get(r["status"], r["status"] or "-")


def refusals_sentence(counted_overdue: bool) -> str:
    """How refusals and hand-backs after the deadline are counted (`counted_overdue`: as resolved
    overdue, the rule set's choice), and that the law leaves it open."""
    if counted_overdue:
        return ("Theo bộ quy tắc đang áp dụng, hồ sơ từ chối giải quyết hoặc trả lại hồ sơ sau khi đã quá hạn được "
                "tính là giải quyết quá hạn trong tỷ lệ giải quyết đúng hạn; chưa có văn bản quy định rõ cách tính "
                "các hồ sơ này.")
    return ("Hồ sơ từ chối giải quyết hoặc trả lại hồ sơ sau khi đã quá hạn không được tính vào tỷ lệ giải quyết "
            "đúng hạn (mặc định của bộ quy tắc, như mọi hồ sơ từ chối); chưa có văn bản quy định rõ các hồ sơ này "
            "có phải tính là giải quyết quá hạn hay không.")


def reason766(rules: Any, gid: str, reason_vi: str) -> str:
    """index766's reason in Vietnamese words: each input's name ("published_procedures") becomes
    its meaning from the rules file ("thủ tục hành chính được công khai, …")."""
    text = reason_vi
    for key, inp in sorted(rules.group(gid).inputs.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\w.]){re.escape(key)} \(", lambda _m, vi=inp.vi: f"{vi} (", text)
    return text
