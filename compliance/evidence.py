"""Automatic evidence sources: each a small function over the store's named queries.

    judge(ops, evidence, period, lang) -> Judgement

A source turns what motcua-watch measured into a verdict per observation (a probe result, an
hour or day of results, a month of dossiers, a load-test run). The criterion's status is the
verdict of the latest observation in the period; `since` is the first observation of the run of
equal verdicts it ends (looking back before the period when the run started earlier); the
numbers give the latest observation's figures and the period's totals.

  probe_check          compliance_check_status      latest result of every selected check OK
  probe_latency        compliance_probe_buckets     avg | max | p95 per hour/day ≤ max_ms
  probe_uptime         compliance_probe_buckets     successful share per hour/day ≥ min_ratio
  sla_audit            compliance_audit_months      vendor status vs recomputed, per month (else audit_by_agency(month))
  sync_reconciliation  compliance_sync_months       results that reached the national portal, per month (else sync_by_agency)
  loadtest             loadtest_runs / loadtest_verdicts(run_id)   concurrent users held (real columns:
                       started_at/finished_at, status; criterion, at_users, passed)
"""
from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from compliance.period import Period
from config.numbers import number, percent

MET, NOT_MET, NOT_MEASURED = "met", "not_met", "not_measured"
LOOKBACK = {"hour": dt.timedelta(days=14), "day": dt.timedelta(days=90)}
LOOKBACK_MONTHS = 6
LOADTEST_RUNS = 200


@dataclass
class Judgement:
    source: str
    status: str
    since: dt.datetime | None = None
    summary: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    last_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status, "since": self.since, "summary": self.summary,
                "numbers": self.numbers, "last_at": self.last_at}


def q(ops, name: str, **params: Any):
    """ops.query with times as ISO text, so the same call works through the owner's JSON API."""
    return ops.query(name, **{k: (v.isoformat(sep=" ") if isinstance(v, dt.datetime) else
                                  v.isoformat() if isinstance(v, dt.date) else v) for k, v in params.items()})


def _t(lang: str, vi: str, en: str) -> str:
    return en if lang == "en" else vi


def _when(t: dt.datetime | dt.date | None) -> str:
    if t is None:
        return "-"
    if isinstance(t, dt.datetime):
        return t.strftime("%d/%m/%Y %H:%M")
    return t.strftime("%d/%m/%Y")


def _ms(v: float | None) -> str:
    return "-" if v is None else (f"{number(v / 1000, 2)} s" if v >= 1000 else f"{number(v)} ms")


def _streak(obs: list[tuple[dt.datetime, bool | None]]) -> dt.datetime | None:
    """obs oldest first; unknown verdicts (None) skipped: the start of the trailing run of equal verdicts."""
    known = [(t, v) for t, v in obs if v is not None]
    if not known:
        return None
    last = known[-1][1]
    since = known[-1][0]
    for t, v in reversed(known):
        if v != last:
            break
        since = t
    return since


# -- probes ---------------------------------------------------------------------------------------

def _checks_label(ev) -> str:
    parts = list(ev.checks)
    if ev.group:
        parts.append(f"group {ev.group}")
    return ", ".join(parts)


def probe_check(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    t = q(ops, "compliance_check_status", since=period.since, until=period.until, checks=list(ev.checks),
                  group=ev.group)
    rows = t.to_dicts()
    seen = {r["name"] if r["step"] in ("", "*") else f"{r['name']}/{r['step']}" for r in rows}
    missing = [c for c in ev.checks if c not in seen]
    checks = {(r["name"] if r["step"] in ("", "*") else f"{r['name']}/{r['step']}"): {
        "ok": r["ok"], "since": r["since_at"], "runs": r["runs"], "failures": r["failures"],
        "last_at": r["last_at"], "last_reason": r["last_reason"]} for r in rows}
    numbers = {"checks": checks, "runs": sum(r["runs"] or 0 for r in rows),
               "failures": sum(r["failures"] or 0 for r in rows), "missing": missing}
    last_at = max((r["last_at"] for r in rows), default=None)
    if not rows:
        return Judgement("probe_check", NOT_MEASURED, None, _t(
            lang, f"Chưa có kết quả kiểm tra ({_checks_label(ev)}) trong kỳ.",
            f"No results of the checks ({_checks_label(ev)}) in the period."), numbers)
    failing = [r for r in rows if not r["ok"]]
    if failing:
        since = min(r["since_at"] for r in failing)
        what = "; ".join(f"{k}: {v['last_reason'] or '?'}" for k, v in checks.items() if not v["ok"])
        return Judgement("probe_check", NOT_MET, since, _t(
            lang, f"Không đạt từ {_when(since)}: {what}", f"Failing since {_when(since)}: {what}"), numbers, last_at)
    if missing:
        return Judgement("probe_check", NOT_MEASURED, None, _t(
            lang, f"Chưa có kết quả của: {', '.join(missing)}.", f"No results for: {', '.join(missing)}."),
            numbers, last_at)
    since = max(r["since_at"] for r in rows)
    n = numbers["runs"]
    return Judgement("probe_check", MET, since, _t(
        lang, f"Đạt từ {_when(since)}: {len(rows)} kiểm tra đều thành công ở lần gần nhất "
              f"({n} lần chạy trong kỳ, {numbers['failures']} lỗi).",
        f"Met since {_when(since)}: all {len(rows)} checks passed at their latest run "
        f"({n} runs in the period, {numbers['failures']} failed)."), numbers, last_at)


def _buckets(ops, ev, period: Period) -> list[dict[str, Any]]:
    t = q(ops, "compliance_probe_buckets", since=period.since - LOOKBACK[ev.bucket], until=period.until,
                  checks=list(ev.checks), group=ev.group, bucket=ev.bucket)
    return t.to_dicts()


def _bucket_judgement(source: str, ev, period: Period, rows: list[dict[str, Any]],
                      value: Callable[[dict[str, Any]], float | None], ok: Callable[[float], bool],
                      fmt: Callable[[float | None], str], limit_text: str, what: tuple[str, str],
                      lang: str, extra: dict[str, Any]) -> Judgement:
    obs = [(r["bucket"], (None if value(r) is None else ok(value(r)))) for r in rows]
    in_period = [(r, v) for r, (_, v) in zip(rows, obs) if r["bucket"] >= period.since and v is not None]
    unit = _t(lang, "giờ" if ev.bucket == "hour" else "ngày", ev.bucket)
    numbers: dict[str, Any] = {"threshold": limit_text, "bucket": ev.bucket,
                               "buckets": len(in_period), "buckets_met": sum(1 for _, v in in_period if v),
                               "buckets_not_met": sum(1 for _, v in in_period if not v), **extra}
    if not in_period:
        return Judgement(source, NOT_MEASURED, None, _t(
            lang, f"Chưa có số đo ({_checks_label(ev)}) trong kỳ.",
            f"No measurements ({_checks_label(ev)}) in the period."), numbers)
    latest, verdict = in_period[-1]
    worst = max(in_period, key=lambda rv: value(rv[0]) if source == "probe_latency" else -value(rv[0]))[0]
    numbers.update(latest_bucket=latest["bucket"], latest_value=value(latest), latest_runs=latest["runs"],
                   worst_bucket=worst["bucket"], worst_value=value(worst))
    since = _streak(obs[: obs.index((latest["bucket"], verdict)) + 1])
    status = MET if verdict else NOT_MET
    label = _t(lang, what[0], what[1])
    text = _t(lang,
              f"{label} {unit} gần nhất ({_when(latest['bucket'])}): {fmt(value(latest))} (ngưỡng {limit_text}); "
              f"{'đạt' if verdict else 'không đạt'} từ {_when(since)}; trong kỳ {numbers['buckets_met']}/"
              f"{numbers['buckets']} {unit} đạt, kém nhất {fmt(value(worst))} lúc {_when(worst['bucket'])}.",
              f"{label} of the latest {unit} ({_when(latest['bucket'])}): {fmt(value(latest))} (threshold "
              f"{limit_text}); {'met' if verdict else 'not met'} since {_when(since)}; in the period "
              f"{numbers['buckets_met']}/{numbers['buckets']} {unit}s met, worst {fmt(value(worst))} at "
              f"{_when(worst['bucket'])}.")
    return Judgement(source, status, since, text, numbers, latest["bucket"])


def probe_latency(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    rows = _buckets(ops, ev, period)
    col = {"avg": "avg_ms", "max": "max_ms", "p95": "p95_ms"}[ev.statistic]
    in_p = [r for r in rows if r["bucket"] >= period.since]
    runs = sum(r["runs"] for r in in_p)
    with_avg = [r for r in in_p if r["avg_ms"] is not None]
    extra = {"statistic": ev.statistic, "max_ms": ev.max_ms, "runs": runs,
             "period_avg_ms": (sum(r["avg_ms"] * r["runs"] for r in with_avg) / sum(r["runs"] for r in with_avg)
                               if with_avg else None),
             "period_max_ms": max((r["max_ms"] for r in in_p if r["max_ms"] is not None), default=None)}
    what = {"avg": ("Thời gian phản hồi trung bình", "Average response time"),
            "max": ("Thời gian phản hồi chậm nhất", "Worst response time"),
            "p95": ("Thời gian phản hồi p95", "p95 response time")}[ev.statistic]
    return _bucket_judgement("probe_latency", ev, period, rows, lambda r: r[col], lambda v: v <= ev.max_ms,
                             _ms, f"≤ {_ms(ev.max_ms)}", what, lang, extra)


def probe_uptime(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    rows = _buckets(ops, ev, period)
    in_p = [r for r in rows if r["bucket"] >= period.since]
    runs, fails = sum(r["runs"] for r in in_p), sum(r["failures"] for r in in_p)
    extra = {"min_ratio": ev.min_ratio, "runs": runs, "failures": fails,
             "period_ratio": (1 - fails / runs) if runs else None}

    def pct(v: float | None) -> str:
        return "-" if v is None else percent(v, 2)

    return _bucket_judgement("probe_uptime", ev, period, rows,
                             lambda r: (1 - r["failures"] / r["runs"]) if r["runs"] else None,
                             lambda v: v >= ev.min_ratio, pct, f"≥ {pct(ev.min_ratio)}",
                             ("Tỷ lệ kiểm tra thành công", "Successful checks"), lang, extra)


# -- dossiers: SLA audit and sync -----------------------------------------------------------------

def _months_back(period: Period) -> list[dt.date]:
    m = period.start.replace(day=1)
    back = []
    for _ in range(LOOKBACK_MONTHS):
        m = (m - dt.timedelta(days=1)).replace(day=1)
        back.append(m)
    return list(reversed(back)) + period.months()


# A month's audit and sync figures change only with an import or a recompute: they are kept per
# ops object (a dashboard session, the owner) and the data version they were read at.
_MONTH_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple, Any]]" = weakref.WeakKeyDictionary()
_MONTH_CACHE_MAX = 1000


def data_version(ops) -> tuple | None:
    """(latest recompute, latest import) of the store: what the monthly figures depend on."""
    try:
        run_ = q(ops, "sla_runs", limit=1).one() or {}
        imp = q(ops, "import_batches", limit=1).one() or {}
    except Exception:  # a store without those queries: no caching
        return None
    return (run_.get("run_id"), str(run_.get("finished_at")), imp.get("batch_id"), str(imp.get("finished_at")))


def _cached(ops, key: tuple, version: tuple | None, fn: Callable[[], Any]) -> Any:
    if version is None:
        return fn()
    try:
        cache = _MONTH_CACHE.setdefault(ops, {})
    except TypeError:  # ops that cannot be weakly referenced
        return fn()
    k = (*key, version)
    if k not in cache:
        if len(cache) >= _MONTH_CACHE_MAX:
            cache.clear()
        cache[k] = fn()
    return cache[k]


def _monthly(source: str, ops, period: Period, lang: str, month_figures: Callable[[str], dict[str, Any] | None],
             ok: Callable[[dict[str, Any]], bool], describe: Callable[[dict[str, Any], str], str],
             threshold: str, cache_key: tuple = ()) -> Judgement:
    """Months of the period read first; earlier months only as far back as the latest verdict's run
    goes (at most LOOKBACK_MONTHS before the period), one query per month (kept until the next
    import or recompute)."""
    version = data_version(ops)
    raw_figures = month_figures

    def month_figures(month: str) -> dict[str, Any] | None:  # noqa: F811  (the cached reader)
        return _cached(ops, (source, *cache_key, month), version, lambda: raw_figures(month))

    figures = {m: month_figures(m.strftime("%Y-%m")) for m in period.months()}
    numbers: dict[str, Any] = {"threshold": threshold,
                               "months": {m.strftime("%Y-%m"): f for m, f in figures.items()}}
    in_period = [(m, f) for m, f in figures.items() if f is not None]
    if not in_period:
        return Judgement(source, NOT_MEASURED, None, _t(
            lang, "Chưa có dữ liệu hồ sơ của các tháng trong kỳ.", "No dossier data for the months of the period."),
            numbers)
    m, f = in_period[-1]
    verdict = ok(f)
    since = m
    for earlier in reversed(_months_back(period)):
        if earlier >= m:
            continue
        fe = figures[earlier] if earlier in figures else month_figures(earlier.strftime("%Y-%m"))
        if fe is None:
            continue  # a month without enough dossiers is not judged
        if ok(fe) != verdict:
            break
        since = earlier
    since_t = dt.datetime.combine(since, dt.time())
    numbers.update(latest_month=m.strftime("%Y-%m"), **{f"latest_{k}": v for k, v in f.items()})
    text = _t(lang, f"Tháng {m:%m/%Y}: {describe(f, lang)} (ngưỡng {threshold}); "
                    f"{'đạt' if verdict else 'không đạt'} từ tháng {since:%m/%Y}.",
              f"{m:%m/%Y}: {describe(f, lang)} (threshold {threshold}); "
              f"{'met' if verdict else 'not met'} since {since:%m/%Y}.")
    return Judgement(source, MET if verdict else NOT_MET, since_t, text, numbers, dt.datetime.combine(m, dt.time()))


def _pct(v: float) -> str:
    return percent(v, 2)


def _bulk(ops, name: str, period: Period) -> list[dict[str, Any]] | None:
    """Every month of the period and its look-back in one query (compliance_audit_months /
    compliance_sync_months), kept like the month figures; None when the store cannot answer it."""
    months = _months_back(period)
    start, end = months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")

    def read() -> list[dict[str, Any]] | None:
        try:
            return q(ops, name, start=start, end=end).to_dicts()
        except Exception as e:  # not registered, or store/queries.py without the SQL it builds on
            if "unknown query" in str(e) or "one by one" in str(e):
                return None
            raise
    return _cached(ops, (name, start, end), data_version(ops), read)


def sla_audit(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    bulk = _bulk(ops, "compliance_audit_months", period)
    by_month = {r["month"].strftime("%Y-%m"): r for r in bulk} if bulk is not None else None

    def figures(month: str) -> dict[str, Any] | None:
        if by_month is not None:
            total = by_month.get(month)
        else:
            total = next((r for r in q(ops, "audit_by_agency", month=month) if r["row_kind"] == "total"), None)
        if not total or (total["dossiers"] or 0) < ev.min_dossiers:
            return None
        wrong = sum(int(total.get(k) or 0) for k in ev.kinds)
        return {"dossiers": int(total["dossiers"]), "status_wrong": wrong, "ratio": wrong / total["dossiers"],
                "reported_overdue": total.get("reported_overdue"), "recomputed_overdue": total.get("recomputed_overdue")}

    def describe(f: dict[str, Any], lang: str) -> str:
        return _t(lang, f"{f['status_wrong']}/{f['dossiers']} hồ sơ hiển thị sai trạng thái ({_pct(f['ratio'])}); "
                        f"nhà cung cấp báo {f['reported_overdue']} quá hạn, tính lại {f['recomputed_overdue']}",
                  f"{f['status_wrong']}/{f['dossiers']} dossiers shown with a wrong status ({_pct(f['ratio'])}); "
                  f"vendor reports {f['reported_overdue']} overdue, recomputed {f['recomputed_overdue']}")

    return _monthly("sla_audit", ops, period, lang, figures, lambda f: f["ratio"] <= ev.max_mismatch_ratio,
                    describe, f"≤ {_pct(ev.max_mismatch_ratio)}", (tuple(ev.kinds), ev.min_dossiers))


def sync_reconciliation(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    bulk = _bulk(ops, "compliance_sync_months", period)

    def figures(month: str) -> dict[str, Any] | None:
        if bulk is not None:
            rows = [r for r in bulk if r["month"].strftime("%Y-%m") == month]
        else:
            rows = q(ops, "sync_by_agency", month=month).to_dicts()
        if ev.source_system:
            row = next((r for r in rows if r["row_kind"] == "source_system" and r["source_system"] == ev.source_system), None)
        else:
            row = next((r for r in rows if r["row_kind"] == "total"), None)
        if not row or (row["resolved"] or 0) < ev.min_dossiers:
            return None
        return {"resolved": int(row["resolved"]), "unsynced": int(row["unsynced"]),
                "ratio": row["unsynced"] / row["resolved"]}

    def describe(f: dict[str, Any], lang: str) -> str:
        return _t(lang, f"{f['unsynced']}/{f['resolved']} hồ sơ đã giải quyết chưa đồng bộ kết quả lên Cổng DVC "
                        f"quốc gia ({_pct(f['ratio'])})",
                  f"{f['unsynced']}/{f['resolved']} resolved dossiers' results not synced to the national portal "
                  f"({_pct(f['ratio'])})")

    return _monthly("sync_reconciliation", ops, period, lang, figures,
                    lambda f: f["ratio"] <= ev.max_unsynced_ratio, describe, f"≤ {_pct(ev.max_unsynced_ratio)}",
                    (ev.source_system, ev.min_dossiers))


# -- load tests (store/loadtest_queries.py) ---------------------------------------------------------

# Which stored runs are observations. A run is observed at its finished_at (the end of what it
# measured; started_at for a run that never recorded an end).
#   refused, running: no observation (nothing was sent, or the run has not ended or its parent died
#     before storing it: its verdicts are not there yet);
#   no requests at all, or the generator overloaded: no observation (the figures are not the portal's);
#   completed: what its verdicts say;
#   interrupted (Ctrl-C) or failed (Locust crashed or overran): a failed verdict at >= min_users is a
#     real observation that the portal did not hold the load (not met); passing verdicts of a run
#     that did not run its course prove nothing about the planned load (no observation).
IGNORED_STATUSES = ("refused", "running")
PARTIAL_STATUSES = ("interrupted", "failed")


def _run_verdict(run: dict[str, Any], verdicts: list[dict[str, Any]], ev) -> tuple[bool | None, dict[str, Any]]:
    judged = [v for v in verdicts if (v["at_users"] or 0) >= ev.min_users
              and (not ev.criteria or v["criterion"] in ev.criteria)]
    failed = sorted({f"{v['criterion']}: {v['name']} {v['expression']}" for v in judged if not v["passed"]})
    detail = {"status": run["status"], "release": run["release"], "scenario": run["scenario"],
              "max_users_judged": max((v["at_users"] or 0 for v in verdicts), default=None),
              "users_peak": run["users_peak"], "criteria_judged": len(judged), "failed": failed}
    if not judged:
        return None, detail
    if run["status"] in PARTIAL_STATUSES:
        return (False if failed else None), detail
    return (not failed), detail


def loadtest(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    """The latest load-test run of the period that was judged at >= min_users concurrent users held
    every selected criterion (see IGNORED_STATUSES / PARTIAL_STATUSES for which runs count)."""
    numbers: dict[str, Any] = {"min_users": ev.min_users, "criteria": list(ev.criteria)}
    runs = q(ops, "loadtest_runs", limit=LOADTEST_RUNS).to_dicts()
    timed = []
    for r in runs:
        if r["status"] in IGNORED_STATUSES or not r["requests"] or r["generator_overloaded"]:
            continue
        t = r["finished_at"] or r["started_at"]
        if t < period.until:
            timed.append((t, r))
    # newest first: every run of the period is read (for its counts); before the period only as
    # far back as the latest verdict's streak goes (one loadtest_verdicts query per run read)
    timed.sort(key=lambda x: (x[0], x[1]["run_id"]), reverse=True)
    latest: tuple[dt.datetime, bool, str, dict[str, Any]] | None = None
    since: dt.datetime | None = None
    streak = True
    met = not_met = 0
    for t, r in timed:
        if t < period.since and (latest is None or not streak):
            break
        verdict, d = _run_verdict(r, q(ops, "loadtest_verdicts", run_id=r["run_id"]).to_dicts(), ev)
        if verdict is None:
            continue
        if t >= period.since:
            met, not_met = met + verdict, not_met + (not verdict)
        if latest is None:
            latest, since = (t, verdict, r["run_id"], d), t
        elif streak and verdict == latest[1]:
            since = t
        else:
            streak = False
    if latest is None:
        return Judgement("loadtest", NOT_MEASURED, None, _t(
            lang, f"Chưa có lần kiểm thử tải nào trong kỳ được đánh giá ở ≥ {ev.min_users} người dùng đồng thời.",
            f"No load test in the period was judged at ≥ {ev.min_users} concurrent users."), numbers)
    t, verdict, rid, d = latest
    numbers.update(latest_run=rid, latest_at=t, **{f"latest_{k}": v for k, v in d.items()},
                   runs_in_period=met + not_met, runs_met=met, runs_not_met=not_met)
    users = d["max_users_judged"]
    if verdict:
        text = _t(lang, f"Lần kiểm thử tải {rid} ({_when(t)}, phiên bản {d['release']}): đạt mọi tiêu chí ở "
                        f"{users} người dùng đồng thời (ngưỡng ≥ {ev.min_users}); đạt từ {_when(since)}.",
                  f"Load test {rid} ({_when(t)}, release {d['release']}): every criterion passed at {users} "
                  f"concurrent users (threshold ≥ {ev.min_users}); met since {_when(since)}.")
    else:
        text = _t(lang, f"Lần kiểm thử tải {rid} ({_when(t)}, phiên bản {d['release']}): không đạt ở {users} "
                        f"người dùng đồng thời (ngưỡng ≥ {ev.min_users}; {'; '.join(d['failed'])}); "
                        f"không đạt từ {_when(since)}.",
                  f"Load test {rid} ({_when(t)}, release {d['release']}): failed at {users} concurrent users "
                  f"(threshold ≥ {ev.min_users}; {'; '.join(d['failed'])}); not met since {_when(since)}.")
    return Judgement("loadtest", MET if verdict else NOT_MET, since, text, numbers, t)


SOURCES: dict[str, Callable[..., Judgement]] = {
    "probe_check": probe_check, "probe_latency": probe_latency, "probe_uptime": probe_uptime,
    "sla_audit": sla_audit, "sync_reconciliation": sync_reconciliation, "loadtest": loadtest,
}


def judge(ops, ev, period: Period, lang: str = "vi") -> Judgement:
    return SOURCES[ev.source](ops, ev, period, lang)


def combine(judgements: list[Judgement]) -> tuple[str, dt.datetime | None]:
    """Every source must be met. Not met as soon as one is (since the earliest that is); not
    measured when none fails but one is unmeasured; met since the latest of them."""
    bad = [j for j in judgements if j.status == NOT_MET]
    if bad:
        return NOT_MET, min((j.since for j in bad if j.since), default=None)
    if not judgements or any(j.status == NOT_MEASURED for j in judgements):
        return NOT_MEASURED, None
    return MET, max((j.since for j in judgements if j.since), default=None)
