"""The register: every criterion judged for a period, and every request with its evidence.

    register_rows(ops, period, lang='vi', criteria=None) -> list[dict]     one per criterion
    request_rows(ops, lang='vi', criteria=None) -> list[dict]              one per request
    register(ops, period, lang='vi', criteria=None) -> dict                both, a summary and the history check

`ops` is anything with `.query(name, **params) -> Table` (Motcua, RemoteOps, or ConOps over an
open transaction); only named queries are read.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from compliance.evidence import MET, NOT_MEASURED, NOT_MET, Judgement, _t, _when, combine, judge, q
from compliance.period import Period
from config.clock import local_now, local_today
from config.compliance import CriteriaFile, Criterion, load_criteria
from store.compliance_queries import data_json

STATUS_LABELS = {
    MET: ("Đạt", "Met"), NOT_MET: ("Không đạt", "Not met"), NOT_MEASURED: ("Chưa đo được", "Not measured"),
}
REQUEST_STATUSES = ("open", "in_progress", "answered", "resolved", "withdrawn")
REQUEST_STATUS_LABELS = {
    "open": ("Mới tiếp nhận", "Open"), "in_progress": ("Đang xử lý", "In progress"),
    "answered": ("Nhà cung cấp đã trả lời", "Answered by the vendor"), "resolved": ("Đã khắc phục", "Resolved"),
    "withdrawn": ("Đơn vị rút yêu cầu", "Withdrawn by the agency"),
}
ANNEX_LABELS = {"I": ("Phụ lục I", "Annex I"), "II": ("Phụ lục II", "Annex II"), "III": ("Phụ lục III", "Annex III"),
                "IV": ("Phụ lục IV", "Annex IV"), "province": ("Yêu cầu của tỉnh", "Province's requirement")}


def status_label(status: str, lang: str = "vi") -> str:
    vi, en = STATUS_LABELS.get(status, (status, status))
    return en if lang == "en" else vi


def request_status_label(status: str | None, lang: str = "vi") -> str:
    vi, en = REQUEST_STATUS_LABELS.get(status or "", (status or "", status or ""))
    return en if lang == "en" else vi


def criteria_for(ops, criteria: CriteriaFile | None = None) -> CriteriaFile:
    """The criteria given, else the configured file of a local Motcua, else the shipped file."""
    if criteria is not None:
        return criteria
    cfg = getattr(ops, "cfg", None)
    path = getattr(getattr(cfg, "compliance", None), "criteria", None)
    return load_criteria(path)


def _person_judgement(c: Criterion, events: list[dict[str, Any]], period: Period, lang: str) -> Judgement:
    mine = [e for e in events if e["item_id"] == c.id and e["action"] == "judged" and e["at"] < period.until]
    if not mine:
        text = _t(lang, "Chờ người có thẩm quyền đánh giá.", "Waiting for a person's judgement.")
        if c.guidance:
            text += " " + c.guidance
        return Judgement("person", NOT_MEASURED, None, text, {})
    last = mine[-1]
    d = data_json(last["data"])
    status = d.get("status", NOT_MEASURED)
    since = last["at"]
    for e in reversed(mine):  # the same verdict given again does not move "since"
        if data_json(e["data"]).get("status") != status:
            break
        since = e["at"]
    note = d.get("note") or last.get("note") or ""
    file = f" [{d['file_name']}]" if d.get("file_name") else ""
    text = _t(lang, f"Đánh giá của {last['actor']} ngày {_when(last['at'])}: {note}{file}",
              f"Judged by {last['actor']} on {_when(last['at'])}: {note}{file}")
    return Judgement("person", status, since, text, {"judged_by": last["actor"], "judged_at": last["at"],
                                                     "note": note, "sha256": d.get("sha256"),
                                                     "judgements": len(mine)}, last["at"])


def judge_criterion(ops, c: Criterion, period: Period, lang: str = "vi",
                    person_events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if c.judged_by == "person":
        if person_events is None:
            person_events = q(ops, "compliance_history", item_kind="criterion", item_id=c.id,
                                      limit=100_000).to_dicts()
        j = _person_judgement(c, person_events, period, lang)
        judgements, status, since = [j], j.status, j.since
    else:
        judgements = [judge(ops, ev, period, lang) for ev in c.evidence]
        status, since = combine(judgements)
    annex = ANNEX_LABELS[c.annex]
    return {
        "id": c.id, "annex": c.annex, "annex_label": annex[1] if lang == "en" else annex[0],
        "group": c.group, "title": c.title_en if lang == "en" else c.title, "legal_ref": c.legal_ref,
        "judged_by": c.judged_by, "status": status, "status_label": status_label(status, lang), "since": since,
        "evidence": " | ".join(j.summary for j in judgements),
        "threshold_note": c.threshold_note,
        "last_measured_at": max((j.last_at for j in judgements if j.last_at), default=None),
        "sources": [j.to_dict() for j in judgements],
    }


def register_rows(ops, period: Period, lang: str = "vi", criteria: CriteriaFile | None = None) -> list[dict[str, Any]]:
    """One row per criterion, in the file's order: id, annex, group, title, legal_ref, judged_by,
    status (met | not_met | not_measured), status_label, since, evidence (the numbers in words),
    threshold_note, last_measured_at, sources (each source's status, since, summary and numbers),
    and requests / requests_open (agencies' requests linked to it)."""
    crit = criteria_for(ops, criteria)
    person = q(ops, "compliance_history", item_kind="criterion", limit=100_000).to_dicts()
    reqs = q(ops, "compliance_requests").to_dicts()
    rows = []
    for c in crit.criteria:
        row = judge_criterion(ops, c, period, lang, person)
        linked = [r for r in reqs if r["criterion"] == c.id]
        row["requests"] = len(linked)
        row["requests_open"] = sum(1 for r in linked if r["status"] not in ("resolved", "withdrawn"))
        rows.append(row)
    return rows


# -- requests and their evidence ----------------------------------------------------------------------

def evidence_holds(ops, item: dict[str, Any], criteria: CriteriaFile, lang: str = "vi",
                   now: dt.datetime | None = None,
                   check_stats: dict[int, dict[str, Any]] | None = None) -> tuple[bool, str]:
    """Does one evidence item (a row of compliance_evidence) hold now? A file always does; a check
    must have run since its date with no failure; a criterion must be met since that date.
    check_stats: rows of compliance_evidence_checks by event_id (one query for many items)."""
    if item["kind"] == "file":
        return True, _t(lang, f"Tệp {item['file_name']} ({item['sha256'][:12]}…): {item['note']}",
                        f"File {item['file_name']} ({item['sha256'][:12]}…): {item['note']}")
    since = item["since"]
    if not isinstance(since, dt.datetime):
        since = dt.datetime.fromisoformat(str(since)) if not isinstance(since, dt.date) else \
            dt.datetime.combine(since, dt.time())
    now = now or dt.datetime.combine(local_today() + dt.timedelta(days=1), dt.time())
    if item["kind"] == "check":
        name = item["check_name"]
        if check_stats is not None and item.get("event_id") in check_stats:
            st = check_stats[item["event_id"]]
        else:
            st = q(ops, "compliance_check_status", since=since, until=now, checks=[name]).to_dicts()
            last = max(st, key=lambda r: r["last_failure_at"] or dt.datetime.min) if st else {}
            st = {"runs": sum(r["runs"] or 0 for r in st), "failures": sum(r["failures"] or 0 for r in st),
                  "last_failure_at": last.get("last_failure_at"), "last_failure_reason": last.get("last_failure_reason")}
        runs, fails = st["runs"], st["failures"]
        if not runs:
            return False, _t(lang, f"kiểm tra '{name}' chưa chạy lần nào từ {_when(since)}",
                             f"the check '{name}' has not run since {_when(since)}")
        if fails:
            return False, _t(lang, f"kiểm tra '{name}' có {fails}/{runs} lần lỗi từ {_when(since)} (lần lỗi gần "
                                   f"nhất {_when(st['last_failure_at'])}: {st['last_failure_reason']})",
                             f"the check '{name}' failed {fails} of {runs} runs since {_when(since)} (last failure "
                             f"{_when(st['last_failure_at'])}: {st['last_failure_reason']})")
        return True, _t(lang, f"kiểm tra '{name}' thành công cả {runs} lần từ {_when(since)}",
                        f"the check '{name}' passed all {runs} runs since {_when(since)}")
    c = criteria.get(item["criterion"] or "")
    if c is None or c.judged_by != "automatic":
        return False, _t(lang, f"tiêu chí '{item['criterion']}' không được đánh giá tự động",
                         f"criterion '{item['criterion']}' is not judged automatically")
    row = judge_criterion(ops, c, Period(since.date(), (now - dt.timedelta(seconds=1)).date()), lang)
    if row["status"] == MET and row["since"] and row["since"] <= since:
        return True, _t(lang, f"tiêu chí {c.id} đạt từ {_when(row['since'])}",
                        f"criterion {c.id} met since {_when(row['since'])}")
    state = status_label(row["status"], lang).lower()
    return False, _t(lang, f"tiêu chí {c.id} chưa đạt liên tục từ {_when(since)} (hiện: {state}, từ {_when(row['since'])})",
                     f"criterion {c.id} has not been met throughout since {_when(since)} (now: {state}, "
                     f"since {_when(row['since'])})")


def request_rows(ops, lang: str = "vi", criteria: CriteriaFile | None = None,
                 status: str | None = None) -> list[dict[str, Any]]:
    """One row per request: its current state (derived from its history), status_label, evidence
    (list of {kind, what, holds, detail}), evidence_holds (some evidence holds now) and regression
    (resolved, but no evidence holds any more)."""
    crit = criteria_for(ops, criteria)
    reqs = q(ops, "compliance_requests", status=status).to_dicts()
    ev = q(ops, "compliance_evidence").to_dicts()
    now = dt.datetime.combine(local_today() + dt.timedelta(days=1), dt.time())
    stats = {r["event_id"]: r for r in q(ops, "compliance_evidence_checks", until=now)} if ev else {}
    by_request: dict[str, list[dict[str, Any]]] = {}
    for e in ev:
        by_request.setdefault(e["request_id"], []).append(e)
    out = []
    for r in reqs:
        items = []
        for e in by_request.get(r["request_id"], []):
            holds, detail = evidence_holds(ops, e, crit, lang, now, stats)
            what = e["file_name"] if e["kind"] == "file" else (e["check_name"] or e["criterion"])
            items.append({"kind": e["kind"], "what": what, "since": e["since"], "note": e["note"], "holds": holds,
                          "detail": detail, "added_at": e["at"], "added_by": e["actor"], "sha256": e["sha256"]})
        any_holds = any(i["holds"] for i in items)
        out.append({**r, "status_label": request_status_label(r["status"], lang), "evidence": items,
                    "evidence_holds": any_holds, "regression": r["status"] == "resolved" and not any_holds})
    return out


def register(ops, period: Period, lang: str = "vi", criteria: CriteriaFile | None = None) -> dict[str, Any]:
    """The whole register: period, criteria rows, request rows, counts, and whether the history's
    hash chain is intact."""
    crit = criteria_for(ops, criteria)
    rows = register_rows(ops, period, lang, crit)
    reqs = request_rows(ops, lang, crit)
    verify = q(ops, "compliance_history_verify").one() or {}
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in (MET, NOT_MET, NOT_MEASURED)}
    req_counts = {s: sum(1 for r in reqs if r["status"] == s) for s in REQUEST_STATUSES}
    return {"title": crit.title_en if lang == "en" else crit.title, "legal_basis": crit.legal_basis,
            "period": period.to_dict(), "generated_at": local_now().replace(microsecond=0),
            "criteria": rows, "requests": reqs, "summary": {"criteria": counts, "requests": req_counts},
            "history": verify}
