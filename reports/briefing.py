"""The monthly briefing's content, from the store's named queries; reports/files.py renders it.

Public API (reports/files.py; the dashboard's Reports page and `app.py export` call these):

    build(ops, month, fmt, agency=None, cfg=None) -> (filename, bytes)
        ops:    anything with .query(name, **params) -> Table (app.Motcua, store RemoteOps, store.db.Store)
        month:  'YYYY-MM'
        fmt:    'docx' | 'xlsx' | 'pdf'
        agency: an agency code: the report covers that agency and its sub-units; None = the province
        cfg:    config.app.AppConfig (issuing body, number, place, signer: its `reports` section);
                None = the embedded defaults
        Raises BriefingError (one plain message) for a bad month, format or agency.

    build_all(ops, month, formats, agency=None, cfg=None) -> list[(filename, bytes)]
        the same for several formats, reading the store and drawing the charts once.

    build_report(ops, month, fmt, agency=None, cfg=None) -> Report
        one format, with its file name, MIME type, scope name and whether the month is empty.

How it is made: `collect` reads the figures (named queries only, no SQL here) into a `Briefing`;
`document` turns it into format-neutral blocks (headings, paragraphs, tables, charts), which
reports/render_docx.py and reports/render_pdf.py lay out, so the DOCX and the PDF say the same
thing; reports/render_xlsx.py writes the spreadsheet form. Every number printed is a store figure
formatted the Vietnamese way (1.234; 87,5%).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import store.queries  # noqa: F401  (registers the named queries)
import store.report_queries  # noqa: F401  (the briefing's probe queries)
from config.errors import MotcuaError
from config.vocabulary import BIEU06_COLUMNS, BIEU06_COUNT_NAMES, CHANNEL_LABELS, bieu06_group_spans
from reports.bieu06 import SCORE_DENOMINATORS
from sla_rules.constants import FLAGS
from store.registry import Table

FORMATS = ("docx", "xlsx", "pdf")
MIME = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pdf": "application/pdf"}
COUNT_COLUMNS = list(BIEU06_COUNT_NAMES)
MAX_DOSSIER_ROWS = 100_000
MAX_LOADTEST_RUNS = 10_000   # loadtest_runs' own limit; newest first, so a month's runs are within it


class BriefingError(MotcuaError):
    """A request the briefing cannot serve (bad month, format or agency), in plain words."""


class Ops(Protocol):
    def query(self, name: str, **params: Any) -> Table: ...


# -- formatting (Vietnamese conventions) ---------------------------------------------------------

def fmt_int(v: Any) -> str:
    return "-" if v is None else f"{int(v):,}".replace(",", ".")


def fmt_dec(v: Any, digits: int = 1) -> str:
    return "-" if v is None else f"{float(v):,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def fmt_pct(ratio: Any, digits: int = 1) -> str:
    return "-" if ratio is None else fmt_dec(100 * float(ratio), digits) + "%"


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


def parse_month(value: Any) -> dt.date:
    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", str(value or ""))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise BriefingError(f"month {value!r}: expected YYYY-MM, e.g. 2026-10")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def prev_month(m: dt.date) -> dt.date:
    return (m - dt.timedelta(days=1)).replace(day=1)


def month_str(m: dt.date) -> str:
    return f"{m.year:04d}-{m.month:02d}"


# -- settings --------------------------------------------------------------------------------------

@dataclass
class Letterhead:
    """Nghị định 30/2020/NĐ-CP header and signature block (from config: reports section)."""

    parent_body: str = "UBND TỈNH QUẢNG NGÃI"
    issuing_body: str = "VĂN PHÒNG"
    number: str = "Số:        /BC-VP"
    place: str = "Quảng Ngãi"
    province: str = "Quảng Ngãi"
    signer_title: str = "CHÁNH VĂN PHÒNG"
    signer_name: str = ""
    recipients: list[str] = field(default_factory=lambda: ["Chủ tịch, các PCT UBND tỉnh (để báo cáo);",
                                                           "Các sở, ban, ngành; UBND cấp xã;", "Lưu: VT, KSTT."])
    top: int = 10

    @classmethod
    def from_config(cls, cfg: Any | None) -> "Letterhead":
        if cfg is None:
            return cls()
        r = getattr(cfg, "reports", None)
        if r is None:
            return cls(province=getattr(cfg, "province", cls.province))
        return cls(parent_body=r.parent_body, issuing_body=r.issuing_body, number=r.number,
                   place=r.place or cfg.province, province=cfg.province, signer_title=r.signer_title,
                   signer_name=r.signer_name, recipients=list(r.recipients), top=r.top)


# -- the figures -----------------------------------------------------------------------------------

@dataclass
class Briefing:
    month: dt.date
    agency: str | None
    scope_name: str
    letterhead: Letterhead
    issued: dt.date
    as_of: Any
    now: dict[str, Any]                 # Biểu 06 total row of the month
    before: dict[str, Any]              # … of the month before
    series: list[dict[str, Any]]        # total rows of the last 12 months (oldest first)
    bieu06_agency: list[dict[str, Any]]  # Biểu 06 rows by agency (total first, roll-up, tree order)
    bieu06_field: list[dict[str, Any]]   # … by field
    own: list[dict[str, Any]]           # per agency, own dossiers only (no roll-up)
    ranking: list[dict[str, Any]]       # the scope's direct sub-units, best on-time ratio first
    overdue_agencies: list[dict[str, Any]]
    overdue_procedures: list[dict[str, Any]]
    overdue_dossiers: list[dict[str, Any]]
    audit_total: dict[str, Any]
    audit_agencies: list[dict[str, Any]]
    sync_systems: list[dict[str, Any]]
    sync_total: dict[str, Any]
    sync_agencies: list[dict[str, Any]]
    probe_total: dict[str, Any] | None
    probe_checks: list[dict[str, Any]]
    probe_daily: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    probe_titles: dict[str, str]
    loadtests: list[dict[str, Any]]     # loadtest_runs started in the month (oldest first), each with
                                        # criteria_total / criteria_passed / judged_at_users from loadtest_verdicts
    compliance: dict[str, Any] | None = None  # compliance.briefing_section for the month (province only)
    charts: dict[str, bytes] = field(default_factory=dict)
    score_denominator: str = "received_and_carried"  # of the 766 score (reports.score_766.denominator)
    findings_agencies: list[dict[str, Any]] = field(default_factory=list)  # audit rows with an engine finding
    refusals_overdue: bool = False      # refusals after the deadline count as resolved overdue (rule set)

    @property
    def empty(self) -> bool:
        return not any(int(self.now.get(c) or 0) for c in COUNT_COLUMNS)

    @property
    def label(self) -> str:
        return month_label(self.month)

    def filename(self, fmt: str) -> str:
        return f"{self.filename_for(month_str(self.month), self.agency)}.{fmt}"

    @staticmethod
    def filename_for(month: str, agency: str | None) -> str:
        """The file name without its extension: bao-cao-tthc-YYYY-MM[-AGENCY]."""
        scope = f"-{re.sub(r'[^A-Za-z0-9._-]+', '_', agency)}" if agency else ""
        return f"bao-cao-tthc-{month}{scope}"


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


def _zero_total() -> dict[str, Any]:
    return {c: 0 for c in COUNT_COLUMNS} | {"on_time_ratio": None, "score_766": None}


def _probe_titles(cfg: Any | None) -> dict[str, str]:
    """Vietnamese titles of the checks and journeys, from the probes file (names otherwise)."""
    if cfg is None:
        return {}
    try:
        from config.probes import load_probes

        pf = load_probes(cfg.monitor.probes)
    except Exception:  # the briefing still comes out, with the checks' names
        return {}
    out = {}
    for item in list(getattr(pf, "checks", [])) + list(getattr(pf, "journeys", [])):
        if getattr(item, "title", None):
            out[item.name] = item.title
    return out


def _month_bounds(m: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(m, dt.time())
    return start, dt.datetime.combine((m + dt.timedelta(days=32)).replace(day=1), dt.time())


def _loadtests(ops: Ops, m: dt.date) -> list[dict[str, Any]]:
    """The load-test runs started in the month (oldest first), each with its verdicts summed up:
    criteria_total, criteria_passed, judged_at_users (the fewest users running while a criterion
    was judged, i.e. the concurrency the run held), required_users."""
    start, end = _month_bounds(m)
    runs = [r for r in ops.query("loadtest_runs", limit=MAX_LOADTEST_RUNS).to_dicts()
            if r["started_at"] is not None and start <= r["started_at"] < end]
    runs.sort(key=lambda r: (r["started_at"], r["run_id"]))
    for r in runs:
        verdicts = ops.query("loadtest_verdicts", run_id=r["run_id"]).to_dicts()
        at = [v["at_users"] for v in verdicts if v["at_users"] is not None]
        req = [v["required_users"] for v in verdicts if v["required_users"] is not None]
        r["criteria_total"] = len(verdicts)
        r["criteria_passed"] = sum(1 for v in verdicts if v["passed"])
        r["judged_at_users"] = min(at) if at else None
        r["required_users"] = max(req) if req else None
    return runs


def _compliance(ops: Ops, m: dt.date, agency: str | None, cfg: Any | None) -> dict[str, Any] | None:
    """The compliance register judged over the month (the whole province's portal: not in an
    agency's briefing), on the criteria file of cfg (else the ops' own config, else the shipped one)."""
    if agency:
        return None
    from compliance.export import briefing_section
    from compliance.period import Period
    from config.compliance import load_criteria

    path = getattr(getattr(cfg, "compliance", None), "criteria", None)
    _, end = _month_bounds(m)
    return briefing_section(ops, Period(m, (end - dt.timedelta(days=1)).date()), "vi",
                            criteria=load_criteria(path) if path else None)


def collect(ops: Ops, month: str, agency: str | None = None, cfg: Any | None = None,
            issued: dt.date | None = None) -> Briefing:
    """Read every figure of the briefing from the store (named queries only)."""
    m = parse_month(month)
    agency = (agency or "").strip() or None
    lh = Letterhead.from_config(cfg)
    ms = month_str(m)
    den = _score_denominator(cfg)
    score = {"score_denominator": den}  # the figures and the note on them from one setting
    by_agency = ops.query("bieu06", **score, month=ms, by="agency", agency=agency).to_dicts()
    agency_rows = [r for r in by_agency if r["row_kind"] == "agency"]
    codes = {r["key"] for r in agency_rows}
    if agency and agency not in codes:
        raise BriefingError(f"agency {agency!r}: no such agency on the agency tree of {month_label(m)}")
    root = next((r for r in agency_rows if r["key"] == agency), None) if agency else None
    scope_name = root["name"] if root else f"tỉnh {lh.province}"
    now = next((r for r in by_agency if r["row_kind"] == "total"), _zero_total())
    by_field = ops.query("bieu06", **score, month=ms, by="field", agency=agency).to_dicts()
    series = []
    k = m
    for _ in range(12):
        rows = (ops.query("bieu06", **score, month=month_str(k), by="agency", agency=agency).to_dicts()
                if k != m else by_agency)
        tot = next((r for r in rows if r["row_kind"] == "total"), _zero_total())
        series.append({"month": k} | tot)
        k = prev_month(k)
    series.reverse()
    before = series[-2]
    own = [r for r in ops.query("bieu06", **score, month=ms, by="agency", agency=agency, rollup=False).to_dicts()
           if r["row_kind"] == "agency"]

    # ranking: the scope's direct sub-units (the departments and communes of the province)
    if agency:
        children = [r for r in agency_rows if r["parent_code"] == agency]
    else:
        min_depth = min((r["depth"] for r in agency_rows), default=0)
        tops = {r["key"] for r in agency_rows if r["depth"] == min_depth}
        children = [r for r in agency_rows if r["parent_code"] in tops]
        if not children:
            children = [r for r in agency_rows if r["depth"] == min_depth]
    ranking = sorted((r for r in children if (r["resolved_total"] or 0) > 0),
                     key=lambda r: (-(r["on_time_ratio"] or 0), -(r["resolved_total"] or 0), r["key"]))

    def overdue(r: dict[str, Any]) -> int:
        return int(r["resolved_overdue"] or 0) + int(r["pending_overdue"] or 0)

    overdue_agencies = sorted((r for r in own if overdue(r) > 0), key=lambda r: (-overdue(r), r["key"]))[:lh.top]
    procs = [r for r in ops.query("bieu06", **score, month=ms, by="procedure", agency=agency).to_dicts()
             if r["row_kind"] == "procedure"]
    overdue_procedures = sorted((r for r in procs if overdue(r) > 0), key=lambda r: (-overdue(r), str(r["key"])))[:lh.top]
    stats = ops.query("dashboard_status").one() or {}
    # before the first recompute no dossier has a deadline, so none is overdue (and dossiers_overdue
    # cannot run without the recompute's as_of)
    overdue_dossiers = (ops.query("dossiers_overdue", month=ms, agency=agency, limit=MAX_DOSSIER_ROWS).to_dicts()
                        if stats.get("last_recompute_as_of") else [])

    scoped = {"agency": agency} if agency else {}  # the subtree's rows only (and an agency account may ask no more)
    audit = ops.query("audit_by_agency", month=ms, **scoped).to_dicts()
    audit_rows = [r for r in audit if r["row_kind"] == "agency" and (agency is None or r["agency_code"] in codes)]
    if agency is None:
        audit_total = next((r for r in audit if r["row_kind"] == "total"), {})
    else:
        audit_total = _sum_rows(audit_rows, [c for c in (audit[0] if audit else {}) if c not in
                                             ("row_kind", "agency_code", "agency_name")])
    audit_agencies = sorted((r for r in audit_rows if r["mismatches"]),
                            key=lambda r: (-r["mismatches"], r["agency_code"]))[:lh.top]
    findings_agencies = sorted((r for r in audit_rows if r.get("findings")),
                               key=lambda r: (-r["findings"], r["agency_code"]))

    sync = ops.query("sync_by_agency", month=ms, **scoped).to_dicts()
    sync_cols = ["resolved", "synced_ok", "never_synced", "synced_before_resolution", "status_differs", "unsynced"]
    sync_rows = [r for r in sync if r["row_kind"] == "agency" and (agency is None or r["agency_code"] in codes)]
    if agency is None:
        sync_systems = [r for r in sync if r["row_kind"] == "source_system"]
        sync_total = next((r for r in sync if r["row_kind"] == "total"), _sum_rows([], sync_cols))
    else:
        systems = sorted({r["source_system"] or "" for r in sync_rows})
        sync_systems = [_sum_rows([r for r in sync_rows if (r["source_system"] or "") == s], sync_cols)
                        | {"source_system": s or None} for s in systems]
        sync_total = _sum_rows(sync_rows, sync_cols)
    for r in sync_systems + [sync_total]:
        r["unsynced_ratio"] = (r["unsynced"] / r["resolved"]) if r.get("resolved") else None
    per_agency: dict[str, dict[str, Any]] = {}
    for r in sync_rows:
        a = per_agency.setdefault(r["agency_code"], {"agency_code": r["agency_code"], "agency_name": r["agency_name"]}
                                  | {c: 0 for c in sync_cols})
        for c in sync_cols:
            a[c] += int(r[c] or 0)
    sync_agencies = sorted((a for a in per_agency.values() if a["unsynced"]),
                           key=lambda a: (-a["unsynced"], a["agency_code"]))[:lh.top]

    probes = ops.query("probe_month_summary", month=ms).to_dicts()
    probe_total = next((r for r in probes if r["row_kind"] == "total"), None)
    probe_checks = [r for r in probes if r["row_kind"] == "check"]
    probe_daily = ops.query("probe_month_daily", month=ms).to_dicts()
    incidents = ops.query("probe_month_incidents", month=ms).to_dicts()

    tz_today = dt.datetime.now(_tz(cfg)).date()
    return Briefing(
        month=m, agency=agency, scope_name=scope_name, letterhead=lh, issued=issued or tz_today,
        as_of=stats.get("last_recompute_as_of"), now=now, before=before, series=series,
        bieu06_agency=by_agency, bieu06_field=by_field, own=own, ranking=ranking,
        overdue_agencies=overdue_agencies, overdue_procedures=overdue_procedures,
        overdue_dossiers=overdue_dossiers, audit_total=audit_total, audit_agencies=audit_agencies,
        sync_systems=sync_systems, sync_total=sync_total, sync_agencies=sync_agencies,
        probe_total=probe_total, probe_checks=probe_checks, probe_daily=probe_daily, incidents=incidents,
        probe_titles=_probe_titles(cfg), loadtests=_loadtests(ops, m), compliance=_compliance(ops, m, agency, cfg),
        score_denominator=den, findings_agencies=findings_agencies,
        refusals_overdue=_refusals_overdue(audit_total, cfg))


def _refusals_overdue(audit_total: dict[str, Any], cfg: Any | None) -> bool:
    """Whether the figures count a refusal after the deadline as resolved overdue: as the stored
    results did when the month has such refusals, else as the configured rule set says."""
    if audit_total.get("negative_after_deadline"):
        return bool(audit_total.get("negative_counted_overdue"))
    path = getattr(getattr(cfg, "sla", None), "rule_set", None)
    if path is None:
        return False  # the shipped rule set's default
    from config.errors import ConfigError
    from config.ruleset import load_ruleset

    try:
        rules = load_ruleset(path)
    except (ConfigError, OSError):  # the briefing still comes out; a bad rule set fails the recompute loudly
        return False
    return any(v.settings.negative_after_deadline == "overdue" for v in rules.versions)


def _score_denominator(cfg: Any | None) -> str:
    score = getattr(getattr(cfg, "reports", None), "score_766", None)
    return score.denominator if score is not None else "received_and_carried"


def _tz(cfg: Any | None):
    from zoneinfo import ZoneInfo

    return ZoneInfo(getattr(cfg, "timezone", None) or "Asia/Ho_Chi_Minh")


def _sum_rows(rows: list[dict[str, Any]], cols: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        if all(isinstance(v, (int, type(None))) and not isinstance(v, bool) for v in vals):
            out[c] = sum(int(v or 0) for v in vals)
    return out


# -- the document, format-neutral ------------------------------------------------------------------

@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Para:
    text: str
    italic: bool = False
    bold: bool = False
    align: str = "justify"


@dataclass
class TableBlock:
    columns: list[str]
    rows: list[list[str]]
    widths: list[float]                  # relative
    align: list[str] = field(default_factory=list)   # 'left' | 'right' | 'center' per column
    groups: list[tuple[str, int]] | None = None      # a first header row of spanning titles
    bold_rows: set[int] = field(default_factory=set)
    font_size: float = 11
    number_row: bool = False             # a row (1) (2) … under the header, as in official forms


@dataclass
class Image:
    png: bytes
    width_cm: float
    caption: str


@dataclass
class PageBreak:
    landscape: bool = False


def _vs(now: Any, before: Any, pts: bool = False) -> str:
    if pts:
        return fmt_delta_pts(now, before)
    return fmt_delta_int(now, before)


def _trend_words(now: Any, before: Any, unit: str = " điểm %") -> str:
    if now is None or before is None:
        return ""
    d = round(100 * (float(now) - float(before)), 1)
    if d == 0:
        return " (không đổi so với tháng trước)"
    return f" ({'tăng' if d > 0 else 'giảm'} {fmt_dec(abs(d))}{unit} so với tháng trước)"


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


def bieu06_table(rows: list[dict[str, Any]], first: str) -> TableBlock:
    """Biểu số 06/VPCP/KSTT: STT, name and the 11 counts (13 columns), a two-row header."""
    body, bold = [], set()
    n = 0
    for r in rows:
        if r["row_kind"] == "total":
            stt = ""
            bold.add(len(body))
        else:
            n += 1
            stt = str(n)
        body.append([stt, bieu06_label(r)] + [fmt_int(r.get(c)) for c in COUNT_COLUMNS])
    return TableBlock(columns=["STT", first] + BIEU06_SUB, rows=body, widths=[3, 20] + [5.2] * len(COUNT_COLUMNS),
                      align=["center", "left"] + ["right"] * len(COUNT_COLUMNS),
                      groups=[("STT", 1), (first, 1)] + BIEU06_GROUPS, bold_rows=bold, font_size=8,
                      number_row=True)


def _title(b: Briefing, name: str) -> str:
    t = b.probe_titles.get(name)
    return f"{t} ({name})" if t else name


def document(b: Briefing) -> list[Any]:
    """The briefing's content as blocks, in order (the letterhead and the signature are added by
    each renderer from b.letterhead)."""
    out: list[Any] = []
    L = b.label
    now, before = b.now, b.before
    pl = month_label(prev_month(b.month))
    scope = b.scope_name
    as_of = f", số liệu tính đến {fmt_dt(b.as_of)}" if b.as_of else ""
    out.append(Para(f"Báo cáo này do hệ thống giám sát độc lập motcua-watch lập từ dữ liệu hồ sơ của Hệ thống "
                    f"thông tin giải quyết thủ tục hành chính tỉnh {b.letterhead.province}"
                    f"{' đối với ' + scope if b.agency else ''}: thời hạn giải quyết của từng hồ sơ được "
                    f"tính lại theo ngày làm việc, ngày nghỉ lễ, Tết và các lần yêu cầu bổ sung hồ sơ "
                    f"(Nghị định 61/2018/NĐ-CP, Nghị định 118/2025/NĐ-CP){as_of}."))

    # I. results
    out.append(Heading("I. KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"))
    out.append(Heading("1. Số liệu chung", 2))
    if b.empty:
        out.append(Para(f"Trong tháng {L} không có hồ sơ nào được tiếp nhận, giải quyết hoặc đang giải quyết "
                        f"tại {scope}: không có số liệu cho kỳ báo cáo này."))
    else:
        online_share = (now["received_online"] / (now["received_online"] + now["received_direct_postal"])
                        if (now["received_online"] + now["received_direct_postal"]) else None)
        out.append(Para(
            f"Trong tháng {L}, {scope} nhận giải quyết {fmt_int(now['received_total'])} hồ sơ "
            f"(tiếp nhận mới {fmt_int(now['received_online'] + now['received_direct_postal'])}, trong đó trực tuyến "
            f"{fmt_int(now['received_online'])}, chiếm {fmt_pct(online_share)}; từ kỳ trước chuyển sang "
            f"{fmt_int(now['carried_over'])}). Đã giải quyết {fmt_int(now['resolved_total'])} hồ sơ, trong đó "
            f"trước hạn {fmt_int(now['resolved_early'])}, đúng hạn {fmt_int(now['resolved_on_time'])}, quá hạn "
            f"{fmt_int(now['resolved_overdue'])}; tỷ lệ giải quyết đúng hạn {fmt_pct(now['on_time_ratio'])}"
            f"{_trend_words(now['on_time_ratio'], before['on_time_ratio'])}. Cuối tháng còn "
            f"{fmt_int(now['pending_total'])} hồ sơ đang giải quyết, trong đó quá hạn {fmt_int(now['pending_overdue'])}."))
    rows = [[label, fmt_int(now[c]), fmt_int(before[c]), _vs(now[c], before[c])] for c, label in STAT_LABELS]
    rows.append(["Tỷ lệ giải quyết đúng hạn (%)", fmt_pct(now["on_time_ratio"]), fmt_pct(before["on_time_ratio"]),
                 _vs(now["on_time_ratio"], before["on_time_ratio"], pts=True)])
    rows.append(["Điểm tiến độ giải quyết (QĐ 766, tối đa 20)", fmt_dec(now["score_766"], 2),
                 fmt_dec(before["score_766"], 2), fmt_delta_pts(now["score_766"], before["score_766"], 1, 2)])
    out.append(TableBlock(["Chỉ tiêu", f"Tháng {L}", f"Tháng {pl}", "Tăng (+), giảm (−)"], rows, [46, 18, 18, 18],
                          ["left", "right", "right", "right"], bold_rows={0, 4, 8}))
    if "trend" in b.charts:
        out.append(Image(b.charts["trend"], 16, f"Hình 1. Kết quả giải quyết và tỷ lệ đúng hạn 12 tháng đến {L}"))

    out.append(Heading("2. Xếp hạng cơ quan, đơn vị theo tỷ lệ giải quyết đúng hạn", 2))
    if not b.ranking:
        out.append(Para(f"Không có cơ quan, đơn vị trực thuộc {scope} nào giải quyết hồ sơ trong tháng {L}."))
    else:
        out.append(Para(f"{len(b.ranking)} cơ quan, đơn vị có hồ sơ giải quyết trong tháng, xếp theo tỷ lệ giải quyết "
                        f"đúng hạn (trước hạn và đúng hạn trên tổng số đã giải quyết), cao nhất trước."))
        rows = [[str(i + 1), r["name"] or r["key"], fmt_int(r["resolved_total"]),
                 fmt_int(r["resolved_early"] + r["resolved_on_time"]), fmt_int(r["resolved_overdue"]),
                 fmt_pct(r["on_time_ratio"])] for i, r in enumerate(b.ranking)]
        out.append(TableBlock(["Hạng", "Cơ quan, đơn vị", "Đã giải quyết", "Trước và đúng hạn", "Quá hạn",
                               "Tỷ lệ đúng hạn"], rows, [8, 44, 12, 13, 11, 12],
                              ["center", "left", "right", "right", "right", "right"], font_size=10))
        if "ranking" in b.charts:
            out.append(Image(b.charts["ranking"], 16, "Hình 2. Các cơ quan, đơn vị có tỷ lệ đúng hạn thấp nhất"))

    out.append(Heading("3. Cơ quan, đơn vị và thủ tục có nhiều hồ sơ quá hạn nhất", 2))
    if not b.overdue_agencies:
        out.append(Para(f"Trong tháng {L} không có hồ sơ quá hạn."))
    else:
        total_over = int(now["resolved_overdue"]) + int(now["pending_overdue"])
        out.append(Para(f"Tổng số hồ sơ quá hạn: {fmt_int(total_over)} (đã giải quyết quá hạn "
                        f"{fmt_int(now['resolved_overdue'])}, đang giải quyết quá hạn {fmt_int(now['pending_overdue'])})."
                        f" Danh sách từng hồ sơ ở trang tính \"Hồ sơ quá hạn\" của tệp Excel."))
        rows = [[str(i + 1), r["name"] or r["key"], fmt_int(r["resolved_overdue"]), fmt_int(r["pending_overdue"]),
                 fmt_int(r["resolved_overdue"] + r["pending_overdue"])] for i, r in enumerate(b.overdue_agencies)]
        out.append(Para("a) Cơ quan, đơn vị (hồ sơ của chính đơn vị):", italic=True))
        out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Đã giải quyết quá hạn", "Đang giải quyết quá hạn",
                               "Tổng quá hạn"], rows, [7, 51, 14, 14, 14],
                              ["center", "left", "right", "right", "right"], font_size=10))
        rows = [[str(i + 1), f"{r['key']} – {r['name']}" if r.get("name") else str(r["key"]),
                 fmt_int(r["resolved_overdue"]), fmt_int(r["pending_overdue"]),
                 fmt_int(r["resolved_overdue"] + r["pending_overdue"])] for i, r in enumerate(b.overdue_procedures)]
        out.append(Para("b) Thủ tục hành chính:", italic=True))
        out.append(TableBlock(["STT", "Thủ tục hành chính", "Đã giải quyết quá hạn", "Đang giải quyết quá hạn",
                               "Tổng quá hạn"], rows, [7, 51, 14, 14, 14],
                              ["center", "left", "right", "right", "right"], font_size=10))

    # II. the vendor's figures
    out.append(Heading("II. ĐỐI CHIẾU VỚI SỐ LIỆU CỦA HỆ THỐNG"))
    a = b.audit_total
    if not a.get("dossiers"):
        out.append(Para(f"Không có hồ sơ nào để đối chiếu trong tháng {L}."))
    else:
        out.append(Para(
            f"Đối chiếu {fmt_int(a['dossiers'])} hồ sơ giải quyết (hoặc tiếp nhận mà chưa giải quyết) trong tháng: "
            f"{fmt_int(a['mismatches'])} hồ sơ có ngày hẹn trả hoặc trạng thái do hệ thống ghi khác với kết quả tính lại. "
            f"Hệ thống ghi {fmt_int(a['reported_overdue'])} hồ sơ quá hạn, tính lại là {fmt_int(a['recomputed_overdue'])} "
            f"(chênh lệch {fmt_delta_int(a['reported_overdue'], a['recomputed_overdue'])})."))
        rows = [[label, fmt_int(a.get(k))] for k, label in AUDIT_KINDS_VI.items()]
        rows.append(["Tổng số hồ sơ có sai lệch", fmt_int(a["mismatches"])])
        out.append(TableBlock(["Loại sai lệch", "Số hồ sơ"], rows, [80, 20], ["left", "right"],
                              bold_rows={len(rows) - 1}, font_size=10))
        if b.audit_agencies:
            rows = [[str(i + 1), r["agency_name"] or r["agency_code"], fmt_int(r["dossiers"]), fmt_int(r["mismatches"]),
                     fmt_int(r["reported_overdue"]), fmt_int(r["recomputed_overdue"]),
                     fmt_delta_int(r["reported_overdue"], r["recomputed_overdue"])]
                    for i, r in enumerate(b.audit_agencies)]
            out.append(Para("Cơ quan, đơn vị có nhiều hồ sơ sai lệch nhất:", italic=True))
            out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Hồ sơ đối chiếu", "Sai lệch", "Quá hạn theo hệ thống",
                                   "Quá hạn tính lại", "Chênh lệch"], rows, [6, 38, 11, 10, 12, 12, 11],
                                  ["center", "left"] + ["right"] * 5, font_size=10))
    out.extend(findings_blocks(b))

    # III. sync
    out.append(Heading("III. ĐỒNG BỘ KẾT QUẢ LÊN CỔNG DỊCH VỤ CÔNG QUỐC GIA"))
    s = b.sync_total
    if not s.get("resolved"):
        out.append(Para(f"Không có hồ sơ nào được giải quyết trong tháng {L}, nên không có kết quả cần đồng bộ."))
    else:
        out.append(Para(f"Trong {fmt_int(s['resolved'])} hồ sơ đã giải quyết trong tháng, {fmt_int(s['unsynced'])} hồ sơ "
                        f"({fmt_pct(s['unsynced_ratio'], 2)}) chưa có kết quả đúng trên Cổng Dịch vụ công quốc gia "
                        f"(chưa đồng bộ {fmt_int(s['never_synced'])}, đồng bộ trước khi giải quyết "
                        f"{fmt_int(s['synced_before_resolution'])}, sai trạng thái {fmt_int(s['status_differs'])})."))
        rows = [[f"Hệ thống {r['source_system']}" if r.get("source_system") else "(không rõ)", fmt_int(r["resolved"]),
                 fmt_int(r["synced_ok"]), fmt_int(r["never_synced"]), fmt_int(r["synced_before_resolution"]),
                 fmt_int(r["status_differs"]), fmt_pct(r["unsynced_ratio"], 2)] for r in b.sync_systems]
        rows.append(["Tổng cộng", fmt_int(s["resolved"]), fmt_int(s["synced_ok"]), fmt_int(s["never_synced"]),
                     fmt_int(s["synced_before_resolution"]), fmt_int(s["status_differs"]),
                     fmt_pct(s["unsynced_ratio"], 2)])
        out.append(TableBlock(["Hệ thống tiếp nhận", "Đã giải quyết", "Đồng bộ đúng", "Chưa đồng bộ",
                               "Đồng bộ trước khi giải quyết", "Sai trạng thái", "Tỷ lệ chưa đúng"], rows,
                              [20, 13, 13, 13, 15, 12, 14], ["left"] + ["right"] * 6, bold_rows={len(rows) - 1},
                              font_size=10))
        if b.sync_agencies:
            rows = [[str(i + 1), r["agency_name"] or r["agency_code"], fmt_int(r["resolved"]), fmt_int(r["unsynced"])]
                    for i, r in enumerate(b.sync_agencies)]
            out.append(Para("Cơ quan, đơn vị có nhiều hồ sơ chưa đồng bộ nhất:", italic=True))
            out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Đã giải quyết", "Chưa đồng bộ đúng"], rows,
                                  [8, 60, 16, 16], ["center", "left", "right", "right"], font_size=10))

    # IV. the portal
    out.append(Heading("IV. TÌNH TRẠNG HOẠT ĐỘNG CỦA CỔNG DỊCH VỤ CÔNG"))
    pt = b.probe_total
    if pt is None:
        out.append(Para(f"Không có dữ liệu giám sát cổng (kiểm tra tự động) trong tháng {L}: không đánh giá được "
                        f"độ sẵn sàng, thời gian phản hồi và sự cố của cổng trong kỳ này."))
    else:
        out.append(Para(
            f"Các kiểm tra tự động chạy {fmt_int(pt['runs'])} lượt trong {fmt_int(pt['hours_measured'])} giờ có số liệu "
            f"(từ {fmt_dt(pt['first_hour'])} đến {fmt_dt(pt['last_hour'])}); {fmt_int(pt['failures'])} lượt lỗi. "
            f"Độ sẵn sàng {fmt_pct(pt['availability'], 2)}; thời gian phản hồi trung vị {fmt_ms(pt['p50_ms'])} ms, "
            f"p95 {fmt_ms(pt['p95_ms'])} ms (giờ chậm nhất: {fmt_ms(pt['worst_hour_p95_ms'])} ms)."))
        rows = [[_title(b, r["name"]), fmt_int(r["runs"]), fmt_int(r["failures"]), fmt_pct(r["availability"], 2),
                 fmt_ms(r["p50_ms"]), fmt_ms(r["p95_ms"]), fmt_ms(r["worst_hour_p95_ms"])] for r in b.probe_checks]
        out.append(TableBlock(["Kiểm tra", "Số lượt", "Lỗi", "Sẵn sàng", "p50 (ms)", "p95 (ms)", "p95 giờ chậm nhất (ms)"],
                              rows, [40, 10, 8, 11, 9, 9, 13], ["left"] + ["right"] * 6, font_size=9))
        if "portal" in b.charts:
            out.append(Image(b.charts["portal"], 16, f"Hình 3. Độ sẵn sàng và thời gian phản hồi của cổng theo ngày, tháng {L}"))
        if not b.incidents:
            out.append(Para(f"Không ghi nhận sự cố (giờ có từ một nửa số lượt kiểm tra trở lên bị lỗi) trong tháng {L}."))
        else:
            out.append(Para(f"Ghi nhận {fmt_int(len(b.incidents))} sự cố (liên tiếp các giờ có từ một nửa số lượt kiểm tra "
                            f"trở lên bị lỗi):", italic=True))
            rows = [[str(i + 1), _title(b, r["name"]), fmt_dt(r["started_at"]), fmt_dt(r["ended_at"]), fmt_int(r["hours"]),
                     f"{fmt_int(r['failures'])}/{fmt_int(r['runs'])}", r.get("reason") or "-"]
                    for i, r in enumerate(b.incidents)]
            out.append(TableBlock(["STT", "Kiểm tra", "Bắt đầu", "Kết thúc", "Số giờ", "Lỗi/lượt", "Lỗi thường gặp"],
                                  rows, [6, 28, 15, 15, 8, 10, 18], ["center", "left", "left", "left", "right", "right",
                                                                     "left"], font_size=9))

    # V. load tests
    out.append(Heading("V. KIỂM THỬ TẢI"))
    if not b.loadtests:
        out.append(Para(f"Không có lượt kiểm thử tải nào trong tháng {L}."))
    else:
        passed = sum(1 for r in b.loadtests if r["verdict"] == "pass")
        out.append(Para(f"Trong tháng {L} có {fmt_int(len(b.loadtests))} lượt kiểm thử tải, {fmt_int(passed)} lượt đạt "
                        f"tất cả tiêu chí nghiệm thu:"))
        rows = [[str(i + 1), r["scenario"] or "-", r["release"] or "-", r["target"] or "-", loadtest_status(r),
                 fmt_dt(r["started_at"]), fmt_int(r["users_peak"]), fmt_int(r["requests"])]
                for i, r in enumerate(b.loadtests)]
        out.append(Para("a) Các lượt kiểm thử:", italic=True))
        out.append(TableBlock(["STT", "Kịch bản", "Phiên bản", "Địa chỉ kiểm thử", "Tình trạng", "Bắt đầu",
                               "Số người dùng tối đa", "Số yêu cầu"], rows, [6, 14, 11, 23, 13, 14, 10, 10],
                              ["center", "left", "left", "left", "left", "left", "right", "right"], font_size=9))
        rows = [[str(i + 1), fmt_pct(r["error_rate"], 2), fmt_ms(r["p95_ms"]), LOADTEST_VERDICT_VI.get(r["verdict"], "-"),
                 criteria_summary(r), fmt_int(r["judged_at_users"]), fmt_int(r["capacity_users"])]
                for i, r in enumerate(b.loadtests)]
        out.append(Para("b) Kết quả so với tiêu chí nghiệm thu:", italic=True))
        out.append(TableBlock(["STT", "Tỷ lệ lỗi", "p95 (ms)", "Kết luận", "Tiêu chí đạt", "Số người dùng khi đánh giá",
                               "Năng lực (người dùng)"], rows, [6, 12, 11, 14, 15, 21, 21],
                              ["center", "right", "right", "left", "right", "right", "right"], font_size=9))

    # VI. compliance register
    n = 6
    if b.compliance is not None:
        c = b.compliance
        out.append(Heading(f"VI. {c['title'].upper()}"))
        for text in c["paragraphs"]:
            out.append(Para(text))
        t = c["table"]
        if t["rows"]:
            out.append(TableBlock(list(t["columns"]), [[_cell(v) for v in row] for row in t["rows"]],
                                  [24, 17, 12, 11, 36], ["left"] * len(t["columns"]), font_size=9))
        n = 7
    out.append(Heading(f"{ROMAN[n]}. GHI CHÚ"))
    for n in ["Tỷ lệ giải quyết đúng hạn = (trước hạn + đúng hạn) / tổng số đã giải quyết.",
              "Điểm tiến độ giải quyết (Quyết định 766/QĐ-TTg) = 20 × (trước hạn + đúng hạn) / "
              f"{SCORE_DENOMINATORS[b.score_denominator]['vi_short']}.",
              "Hồ sơ đang chờ bổ sung ở cuối tháng được tính là đang giải quyết trong hạn (thời hạn tính lại từ đầu "
              "khi nhận đủ hồ sơ, Nghị định 61/2018/NĐ-CP điều 19.4). Hồ sơ rút, từ chối không được tính.",
              "Độ sẵn sàng và thời gian phản hồi của cổng lấy từ số liệu tổng hợp theo giờ của các kiểm tra tự động; "
              "p50, p95 là trung vị của các giá trị theo giờ."]:
        out.append(Para("- " + n))

    # appendix
    out.append(PageBreak(landscape=True))
    out.append(Para("Phụ lục", bold=True, align="center"))
    out.append(Para("Biểu số 06/VPCP/KSTT", bold=True, align="right"))
    out.append(Para("TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT "
                    "THỦ TỤC HÀNH CHÍNH", bold=True, align="center"))
    out.append(Para(f"Kỳ báo cáo: tháng {L}. Đơn vị báo cáo: {scope}. Đơn vị tính: hồ sơ.", italic=True, align="center"))
    out.append(bieu06_table(b.bieu06_agency, "Cơ quan, đơn vị"))
    return out


def finding_lines(b: Briefing) -> list[str]:
    """One line per finding of the month: its words, the dossiers and the agencies with the most
    ("Yêu cầu bổ sung sau khi đã quá hạn: 12 hồ sơ (Sở Tư pháp 7, UBND xã Bình Hiệp 5); …")."""
    out = []
    for name, label in FINDINGS_VI.items():
        n = int(b.audit_total.get(name) or 0)
        if not n:
            continue
        rows = sorted((r for r in b.findings_agencies if r.get(name)),
                      key=lambda r: (-r[name], r["agency_name"] or r["agency_code"]))
        shown = [f"{r['agency_name'] or r['agency_code']} {fmt_int(r[name])}" for r in rows[:b.letterhead.top]]
        if len(rows) > len(shown):
            shown.append(f"và {fmt_int(len(rows) - len(shown))} cơ quan, đơn vị khác")
        treatment = FINDING_TREATMENT_VI.get(name)
        out.append(f"{label}: {fmt_int(n)} hồ sơ ({', '.join(shown)})" + (f"; {treatment}." if treatment else "."))
    return out


def refusals_sentence(b: Briefing) -> str:
    """How refusals and hand-backs after the deadline are counted, and that the law leaves it open."""
    if b.refusals_overdue:
        return ("Theo bộ quy tắc đang áp dụng, hồ sơ từ chối giải quyết hoặc trả lại hồ sơ sau khi đã quá hạn được "
                "tính là giải quyết quá hạn trong tỷ lệ giải quyết đúng hạn; chưa có văn bản quy định rõ cách tính "
                "các hồ sơ này.")
    return ("Hồ sơ từ chối giải quyết hoặc trả lại hồ sơ sau khi đã quá hạn không được tính vào tỷ lệ giải quyết "
            "đúng hạn (mặc định của bộ quy tắc, như mọi hồ sơ từ chối); chưa có văn bản quy định rõ các hồ sơ này "
            "có phải tính là giải quyết quá hạn hay không.")


def findings_blocks(b: Briefing) -> list[Any]:
    """Section II's part on what the deadline engine found odd in the vendor's facts."""
    lines = finding_lines(b)
    out: list[Any] = [Para("Dữ kiện bất thường trong số liệu của hệ thống (bộ tính hạn không dùng hoặc xét theo cách "
                           "khác), theo cơ quan, đơn vị:", italic=True)]
    if not lines:
        out.append(Para(f"Không có hồ sơ nào có dữ kiện bất thường trong tháng {b.label}."))
    out.extend(Para("- " + line) for line in lines)
    out.append(Para(refusals_sentence(b)))
    return out


ROMAN = {6: "VI", 7: "VII"}
LOADTEST_STATUS_VI = {"completed": "Hoàn thành", "running": "Đang chạy", "refused": "Bị từ chối",
                      "failed": "Không chạy được", "interrupted": "Dừng giữa chừng"}
LOADTEST_VERDICT_VI = {"pass": "Đạt", "fail": "Không đạt", "none": "Không có tiêu chí"}


def loadtest_status(r: dict[str, Any]) -> str:
    return LOADTEST_STATUS_VI.get(r["status"], r["status"] or "-")


def criteria_summary(r: dict[str, Any]) -> str:
    """'3/4' criteria passed, '-' when the run was not judged."""
    return f"{fmt_int(r['criteria_passed'])}/{fmt_int(r['criteria_total'])}" if r["criteria_total"] else "-"


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "Đạt" if v else "Không đạt"
    if isinstance(v, int):
        return fmt_int(v)
    if isinstance(v, float):
        return fmt_dec(v, 1)
    if isinstance(v, (dt.date, dt.datetime)):
        return fmt_dt(v)
    return "-" if v is None else str(v)


def issued_line(b: Briefing) -> str:
    """Place and date as Nghị định 30/2020 writes them: a 0 before days under 10 and months under 3
    ("ngày 05 tháng 02 năm 2026", "ngày 15 tháng 6 năm 2026")."""
    d = b.issued
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"{b.letterhead.place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def title_lines(b: Briefing) -> list[str]:
    second = f"Tình hình, kết quả giải quyết thủ tục hành chính tháng {b.label}"
    if b.agency:
        second += f" của {b.scope_name}"
    return ["BÁO CÁO", second]
