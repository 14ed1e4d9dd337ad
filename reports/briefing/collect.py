"""The briefing's figures, read from the store's named queries (no SQL here) into a `Briefing`.

`collect(ops, "2026-10", agency=None, cfg=cfg)`: ops is anything with .query(name, **params) ->
Table (system.Motcua, store.ops.RemoteOps, store.db.Store).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol

from config.clock import local_now, local_today
from config.errors import MotcuaError
from config.vocabulary import DUE_SOON_DAYS
from reports.briefing.labels import month_label
from reports.briefing.model import (COUNT_COLUMNS, MAX_DOSSIER_ROWS, Briefing, BriefingError, Letterhead, month_str,
                                    parse_month, prev_month)
from store.registry import Table

MAX_LOADTEST_RUNS = 10_000   # loadtest_runs' own limit; newest first, so a month's runs are within it


class Ops(Protocol):
    def query(self, name: str, **params: Any) -> Table: ...


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
            issued: dt.date | None = None, at: dt.datetime | None = None) -> Briefing:
    """Read every figure of the briefing from the store (named queries only). `at`: the instant the
    dossiers due soon are counted at (default: now)."""
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

    due_as_of, due_agencies, due_dossiers = _due_soon(ops, agency, stats, at)
    last = stats.get("last_recompute_as_of")  # a datetime, locally and through the owner's API alike
    forecast_month = last.date().replace(day=1) if last else None
    forecast_rows = (ops.query("month_forecast", month=month_str(forecast_month), agency=agency, **score).to_dicts()
                     if forecast_month else [])
    rules, rules_file = _index766_rules(cfg)
    index766 = ops.query("index766", month=ms, agency=agency, rules=rules.model_dump(mode="json"), **score).to_dicts()
    # as the ranking of I.2: the scope's direct sub-units with dossiers resolved in the month
    ranked = {r["key"] for r in ranking}
    index766_agencies = sorted((r for r in index766 if r["row_kind"] == "agency" and r["agency_code"] in ranked),
                               key=lambda r: (-_share766(r), r["agency_code"]))
    index766_losses = ([r for r in ops.query("index766_losses", month=ms, agency=agency, limit=lh.top, **score)
                        .to_dicts() if r["points_lost"] > 0] if agency else [])

    return Briefing(
        month=m, agency=agency, scope_name=scope_name, letterhead=lh, issued=issued or local_today(),
        as_of=stats.get("last_recompute_as_of"), now=now, before=before, series=series,
        bieu06_agency=by_agency, bieu06_field=by_field, own=own, ranking=ranking,
        overdue_agencies=overdue_agencies, overdue_procedures=overdue_procedures,
        overdue_dossiers=overdue_dossiers, audit_total=audit_total, audit_agencies=audit_agencies,
        sync_systems=sync_systems, sync_total=sync_total, sync_agencies=sync_agencies,
        probe_total=probe_total, probe_checks=probe_checks, probe_daily=probe_daily, incidents=incidents,
        probe_titles=_probe_titles(cfg), loadtests=_loadtests(ops, m), compliance=_compliance(ops, m, agency, cfg),
        score_denominator=den, findings_agencies=findings_agencies,
        refusals_overdue=_refusals_overdue(audit_total, cfg), due_soon_as_of=due_as_of,
        due_soon_agencies=due_agencies, due_soon_dossiers=due_dossiers, forecast_month=forecast_month,
        forecast_rows=forecast_rows, index766_rules=rules, index766_file=rules_file, index766_rows=index766,
        index766_agencies=index766_agencies, index766_losses=index766_losses)


def _index766_rules(cfg: Any | None) -> tuple[Any, str]:
    """The 766 scorecard's rules as `app.py index766` loads them (reports.index766; the shipped file
    without a config) and the file's name. A bad file fails loudly, as `app.py check` says."""
    from config.index766 import DEFAULT_INDEX766, load_index766

    path = getattr(getattr(cfg, "reports", None), "index766", None) or DEFAULT_INDEX766
    return load_index766(path), Path(path).name


def _share766(r: dict[str, Any]) -> float:
    """The points of the measured groups against their maximum (0 when none is measured)."""
    return (r["total_points"] or 0) / r["total_max"] if r["total_max"] else 0.0


def _due_soon(ops: Ops, agency: str | None, stats: dict[str, Any], at: dt.datetime | None) -> tuple[Any, list, list]:
    """(as_of, per agency with the total first, the dossiers most urgent first) of the dossiers due
    within DUE_SOON_DAYS working days as the briefing is made; (None, [], []) while the store has no
    results judged with a calendar it keeps (before the first full recompute)."""
    if not stats.get("last_recompute_as_of"):
        return None, [], []
    now = (at or local_now()).replace(second=0, microsecond=0)
    scoped = {"agency": agency} if agency else {}
    try:
        per = ops.query("due_soon_by_agency", days=DUE_SOON_DAYS, as_of=now.isoformat(sep=" "), **scoped).to_dicts()
    except MotcuaError:  # no calendar stored yet: the section says so instead
        return None, [], []
    rows = ops.query("due_soon", days=DUE_SOON_DAYS, as_of=now.isoformat(sep=" "), limit=MAX_DOSSIER_ROWS,
                     **scoped).to_dicts()
    return now, per, rows


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


def _sum_rows(rows: list[dict[str, Any]], cols: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        if all(isinstance(v, (int, type(None))) and not isinstance(v, bool) for v in vals):
            out[c] = sum(int(v or 0) for v in vals)
    return out
