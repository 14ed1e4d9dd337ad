"""The status page's words (Vietnamese, English on the switch) and how each language writes
numbers and times: "99,5 %", "1.438", "14:05 12/11/2026" in Vietnamese."""
from __future__ import annotations

import datetime as dt
import math

from config.numbers import number
from config.status_page import IMPACTS, INCIDENT_STATUSES

NBSP = "\u00a0"  # between a number and its unit: "99,5 %" never breaks across lines

TEXT: dict[str, dict[str, str]] = {
    "page_title": {"vi": "Tình trạng hoạt động", "en": "System status"},
    "switch": {"vi": "English", "en": "Tiếng Việt"},
    "feed": {"vi": "Theo dõi qua Atom", "en": "Atom feed"},
    "overall_operational": {"vi": "Các dịch vụ đang hoạt động bình thường",
                            "en": "All services are working normally"},
    "overall_partly_unknown": {"vi": "Các dịch vụ có số liệu gần đây đang hoạt động bình thường",
                               "en": "The services with recent figures are working normally"},
    "overall_degraded": {"vi": "Một số dịch vụ đang hoạt động không ổn định",
                         "en": "Some services are not working reliably"},
    "overall_outage": {"vi": "Một số dịch vụ đang bị gián đoạn", "en": "Some services are down"},
    "overall_maintenance": {"vi": "Đang bảo trì theo kế hoạch", "en": "Planned maintenance under way"},
    "overall_unknown": {"vi": "Chưa có số liệu kiểm tra gần đây", "en": "No recent check results"},
    "state_operational": {"vi": "Hoạt động bình thường", "en": "Operational"},
    "state_degraded": {"vi": IMPACTS["degraded"].vi, "en": IMPACTS["degraded"].en},
    "state_outage": {"vi": IMPACTS["outage"].vi, "en": IMPACTS["outage"].en},
    "state_maintenance": {"vi": "Đang bảo trì", "en": "Under maintenance"},
    "state_unknown": {"vi": "Chưa có số liệu mới", "en": "No recent figures"},
    "state_not_monitored": {"vi": "Chưa theo dõi", "en": "Not monitored"},
    "current_incidents": {"vi": "Sự cố đang xử lý", "en": "Current incidents"},
    "maintenance": {"vi": "Bảo trì theo kế hoạch", "en": "Planned maintenance"},
    "maintenance_now": {"vi": "Đang diễn ra", "en": "Under way"},
    "maintenance_next": {"vi": "Sắp diễn ra", "en": "Upcoming"},
    "maintenance_all": {"vi": "Toàn bộ cổng", "en": "The whole portal"},
    "affects": {"vi": "Ảnh hưởng", "en": "Affects"},
    "services": {"vi": "Các dịch vụ", "en": "Services"},
    "days_ago": {"vi": "{n} ngày trước", "en": "{n} days ago"},
    "today": {"vi": "Hôm nay", "en": "Today"},
    "uptime": {"vi": "{pct} lượt kiểm tra đạt", "en": "{pct} of checks passed"},
    "no_uptime": {"vi": "chưa có số liệu", "en": "no figures yet"},
    "bar_title": {"vi": "{day}: {pct} lượt kiểm tra đạt ({ok}/{runs})",
                  "en": "{day}: {pct} of checks passed ({ok}/{runs})"},
    "bar_none": {"vi": "{day}: chưa có số liệu", "en": "{day}: no figures"},
    "bars_label": {"vi": "Tỷ lệ kiểm tra đạt theo ngày, {n} ngày qua", "en": "Share of checks passed per day, last {n} days"},
    "legend": {"vi": "Mỗi vạch là một ngày: xanh từ {good} lượt kiểm tra đạt, vàng từ {fair}, đỏ dưới {fair}, "
                     "xám khi chưa có số liệu.",
               "en": "Each bar is a day: green from {good} of checks passed, amber from {fair}, red below {fair}, "
                     "grey without figures."},
    "recent_incidents": {"vi": "Sự cố đã khắc phục trong {n} ngày qua", "en": "Incidents resolved in the last {n} days"},
    "no_recent": {"vi": "Không có sự cố nào trong {n} ngày qua.", "en": "No incidents in the last {n} days."},
    "service": {"vi": "Dịch vụ", "en": "Service"},
    "started": {"vi": "Bắt đầu", "en": "Started"},
    "resolved_at": {"vi": "Khắc phục lúc", "en": "Resolved"},
    "lasted": {"vi": "kéo dài {d}", "en": "lasted {d}"},
    "edited": {"vi": "đã sửa lúc {t}", "en": "edited {t}"},
    "last_checked": {"vi": "Kiểm tra lần cuối {t}", "en": "Last checked {t}"},
    "data_at": {"vi": "Số liệu lúc {t}; trang tự cập nhật mỗi phút.",
                "en": "Figures as of {t}; the page refreshes every minute."},
    "stale_note": {"vi": "Hệ thống giám sát tạm thời chưa lấy được số liệu mới; trang đang hiển thị số liệu lúc {t}.",
                   "en": "The monitor cannot read new figures for now; this page shows those of {t}."},
    "about": {"vi": "Trang do hệ thống giám sát độc lập motcua-watch cung cấp, kiểm tra cổng từ bên ngoài như người "
                    "dân sử dụng. Trang không chứa dữ liệu hồ sơ hay thông tin cá nhân.",
              "en": "Provided by motcua-watch, an independent monitor that checks the portal from outside as a "
                    "citizen uses it. This page holds no application data and no personal data."},
    "unavailable": {"vi": "Trang tình trạng tạm thời chưa có số liệu. Vui lòng thử lại sau ít phút.",
                    "en": "The status page has no figures yet. Please try again in a few minutes."},
    "trouble_at": {"vi": "Trục trặc chỉ khi truy cập từ {where}; các điểm đo khác vẫn truy cập bình thường.",
                   "en": "Trouble seen only from {where}; the other locations reach it normally."},
    "measured_from": {"vi": "Đo từ {n} điểm: {where}.", "en": "Measured from {n} locations: {where}."},
    "measured_from_one": {"vi": "Đo từ 1 điểm: {where}.", "en": "Measured from 1 location: {where}."},
    "skip": {"vi": "Bỏ qua, tới danh sách dịch vụ", "en": "Skip to the services"},
    "not_found": {"vi": "Không có trang này.", "en": "No such page."},
}


def t(key: str, lang: str, **kw: object) -> str:
    text = TEXT[key]["en" if lang == "en" else "vi"]
    return text.format(**kw) if kw else text


def status_label(status: str, lang: str) -> str:
    label = INCIDENT_STATUSES.get(status)
    return status if label is None else (label.en if lang == "en" else label.vi)


def num(n: int, lang: str) -> str:
    return number(int(n), 0, "en" if lang == "en" else "vi")


def pct(ratio: float | None, lang: str) -> str:
    """A share as a percentage with at most two decimals, never rounded up to 100 % (99,999 % of
    checks passed is not all of them): "99,5 %", "100 %"."""
    if ratio is None:
        return "–"
    value = math.floor(ratio * 10000 + 1e-9) / 100
    s = f"{value:.2f}".rstrip("0").rstrip(".")
    return (s.replace(".", ",") if lang != "en" else s) + NBSP + "%"


def when(t: dt.datetime, lang: str) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if lang == "en" else t.strftime("%H:%M %d/%m/%Y")


def day(d: dt.date, lang: str) -> str:
    return d.isoformat() if lang == "en" else d.strftime("%d/%m/%Y")


def duration(d: dt.timedelta, lang: str) -> str:
    minutes = max(0, int(d.total_seconds() // 60))
    h, m = divmod(minutes, 60)
    days, h = divmod(h, 24)
    units = (("ngày", "day"), ("giờ", "hour"), ("phút", "minute"))
    parts = []
    for n, (vi, en) in zip((days, h, m), units):
        if n or (vi == "phút" and not parts):
            parts.append(f"{n} {en}{'s' if n != 1 else ''}" if lang == "en" else f"{n} {vi}")
    return " ".join(parts[:2])
