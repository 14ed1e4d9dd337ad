"""Automatic evidence sources on a real store: probe latency and uptime per bucket (raw results and
the hourly rollups beyond raw retention), the SLA audit and the sync reconciliation per month from
imported dossiers. Load-test evidence from real runs: tests/compliance/test_compliance_loadtest.py."""
from __future__ import annotations

import datetime as dt

import pytest

from compliance import Period
from compliance.evidence import combine, judge
from probes.runner import ProbeResult
from config.compliance import (ProbeCheckEvidence, ProbeLatencyEvidence, ProbeUptimeEvidence,
                               SlaAuditEvidence, SyncEvidence)
from config.clock import local_now
from store.probe_writes import write_results

T0 = local_now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6)


def res(name: str, at: dt.datetime, ms: float, ok: bool = True) -> ProbeResult:
    return ProbeResult(name=name, kind="check", step="", started_at=at, ok=ok, total_ms=ms,
                       reason="" if ok else "expected status 200, got 503", status_code=200 if ok else 503)


def test_latency_per_hour_status_since_and_numbers(app):
    hours = [(0, [400, 600]), (1, [5000, 4000]), (2, [800, 1200]), (3, [900, 1100])]
    for h, mss in hours:
        write_results(app.store, [res("home", T0 + dt.timedelta(hours=h, minutes=5 + i), ms) for i, ms in enumerate(mss)])
    period = Period.parse()
    ev = ProbeLatencyEvidence(source="probe_latency", checks=["home"], statistic="avg", max_ms=3000, bucket="hour")
    j = judge(app, ev, period)
    assert j.status == "met" and j.since == T0 + dt.timedelta(hours=2)
    n = j.numbers
    assert (n["buckets"], n["buckets_met"], n["buckets_not_met"]) == (4, 3, 1)
    assert n["latest_value"] == 1000 and n["worst_value"] == 4500 and n["worst_bucket"] == T0 + dt.timedelta(hours=1)
    assert n["period_avg_ms"] == pytest.approx(sum(sum(m) for _, m in hours) / 8)
    assert "1,00 s (ngưỡng ≤ 3,00 s)" in j.summary
    worst = judge(app, ProbeLatencyEvidence(source="probe_latency", checks=["home"], statistic="max", max_ms=1000,
                                            bucket="hour"), period)
    assert worst.status == "not_met" and worst.since == T0 + dt.timedelta(hours=1) and worst.numbers["latest_value"] == 1100


def test_uptime_per_day_and_the_hourly_rollups_beyond_raw_retention(app):
    old = T0 - dt.timedelta(days=20)
    # 20 days ago: one failure in four runs (raw rows are purged later; the hourly rollup stays)
    write_results(app.store, [res("home", old + dt.timedelta(minutes=i), 300, ok=i != 2) for i in range(4)], now=old)
    write_results(app.store, [res("home", T0 + dt.timedelta(minutes=i), 300) for i in range(10)])
    assert len(app.query("probe_results", probe="home")) == 10  # the old raw rows are gone
    period = Period((T0 - dt.timedelta(days=25)).date(), T0.date() + dt.timedelta(days=1))
    ev = ProbeUptimeEvidence(source="probe_uptime", checks=["home"], min_ratio=0.99, bucket="day")
    j = judge(app, ev, period)
    assert j.status == "met" and j.since.date() == T0.date()
    assert j.numbers["runs"] == 14 and j.numbers["failures"] == 1 and j.numbers["buckets_not_met"] == 1
    assert j.numbers["worst_value"] == 0.75
    # the presence of a check: its failure 20 days ago comes from the rollup; met since today's first run
    pc = judge(app, ProbeCheckEvidence(source="probe_check", checks=["home"]), period)
    assert pc.status == "met" and pc.since == T0
    assert pc.numbers["checks"]["home"]["failures"] == 1
    # a check nobody runs is not measured, and so is the criterion that needs it
    missing = judge(app, ProbeCheckEvidence(source="probe_check", checks=["home", "feature-payment"]), period)
    assert missing.status == "not_measured" and missing.numbers["missing"] == ["feature-payment"]
    assert combine([j, missing]) == ("not_measured", None)
    avg = judge(app, ProbeLatencyEvidence(source="probe_latency", checks=["home"], statistic="avg", max_ms=1000,
                                          bucket="day"), period)
    assert avg.numbers["buckets"] == 1  # the rollup day has no average: it is not judged on one
    # check evidence since before the rollup day: the one-pass query and the per-item path agree
    from compliance.register import evidence_holds, request_rows
    from config.compliance import load_criteria

    rid = app.compliance("add_request", actor="t", via="cli", agency="Sở Tư pháp", requested_on="2022-07-05",
                         description="x")["request_id"]
    app.compliance("attach_check", actor="t", via="cli", request_id=rid, check="home",
                   since=(old - dt.timedelta(days=1)).date().isoformat())
    batched = app.query("compliance_evidence_checks", until=T0 + dt.timedelta(days=1)).one()
    assert (batched["runs"], batched["failures"]) == (14, 1)
    item = app.query("compliance_evidence").one()
    alone = evidence_holds(app, item, load_criteria(), "en")
    assert alone == (False, f"the check 'home' failed 1 of 14 runs since {(old - dt.timedelta(days=1)):%d/%m/%Y} 00:00 "
                            f"(last failure {old.replace(minute=0):%d/%m/%Y %H:%M}: 1 of 4 runs failed (hourly rollup))")
    assert request_rows(app, "en")[0]["evidence"][0]["detail"] == alone[1]


HEAD = ("dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,time_limit,"
        "time_unit,state,finished_at,reported_status,source_system,synced_at,synced_status\n")


def dossier(code, month, reported, synced=True):
    rec = f"2026-{month:02d}-07 08:00"
    fin = f"2026-{month:02d}-08 09:00"
    sync = (f"2026-{month:02d}-08 10:00,Đã giải quyết" if synced else ",")
    return (f"{code},AG1,Sở Tư pháp,P1,Cấp phiếu lý lịch tư pháp,Tư pháp,online,{rec},5,working_days,finished,{fin},"
            f"{reported},1.0,{sync}\n")


def test_sla_audit_and_sync_reconciliation_per_month(app, tmp_path):
    f = tmp_path / "d.csv"
    f.write_text(HEAD + dossier("S-1", 9, "Trước hạn") + dossier("S-2", 9, "Trước hạn")
                 + dossier("O-1", 10, "Trước hạn") + dossier("O-2", 10, "Quá hạn", synced=False)
                 + dossier("N-1", 11, "Trước hạn") + dossier("N-2", 11, "Trước hạn"), encoding="utf-8")
    app.import_file(str(f))
    app.recompute("2026-11-30")
    audit = SlaAuditEvidence(source="sla_audit", max_mismatch_ratio=0.0)
    sync = SyncEvidence(source="sync_reconciliation", max_unsynced_ratio=0.0)
    sep_oct = Period(dt.date(2026, 9, 1), dt.date(2026, 10, 31))
    j = judge(app, audit, sep_oct)
    assert j.status == "not_met" and j.since == dt.datetime(2026, 10, 1)
    assert (j.numbers["latest_month"], j.numbers["latest_dossiers"], j.numbers["latest_status_wrong"]) == ("2026-10", 2, 1)
    assert "Tháng 10/2026: 1/2 hồ sơ hiển thị sai trạng thái (50,00\u00a0%)" in j.summary
    assert "nhà cung cấp báo 1 quá hạn, tính lại 0" in j.summary
    s = judge(app, sync, sep_oct)
    assert s.status == "not_met" and s.numbers["latest_unsynced"] == 1 and s.since == dt.datetime(2026, 10, 1)
    sep_nov = Period(dt.date(2026, 9, 1), dt.date(2026, 11, 30))
    j = judge(app, audit, sep_nov)
    assert j.status == "met" and j.since == dt.datetime(2026, 11, 1) and j.numbers["months"]["2026-09"]["ratio"] == 0
    assert judge(app, sync, sep_nov).status == "met"
    assert judge(app, SyncEvidence(source="sync_reconciliation", source_system="2.0"), sep_nov).status == "not_measured"
    assert judge(app, audit, Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31))).status == "not_measured"

    # the one-pass month queries agree with the per-month named queries they stand for
    months = app.query("compliance_audit_months", start="2026-08", end="2026-12").to_dicts()
    assert [r["month"].month for r in months] == [9, 10, 11]
    for r in months:
        total = next(t for t in app.query("audit_by_agency", month=r["month"].strftime("%Y-%m")) if t["row_kind"] == "total")
        assert {k: total[k] for k in r if k != "month"} == {k: v for k, v in r.items() if k != "month"}
    for r in app.query("compliance_sync_months", start="2026-09", end="2026-11"):
        per = next(t for t in app.query("sync_by_agency", month=r["month"].strftime("%Y-%m"))
                   if t["row_kind"] == r["row_kind"] and t["source_system"] == r["source_system"])
        assert (per["resolved"], per["unsynced"]) == (r["resolved"], r["unsynced"])
    # added up from the recompute's per-agency month counts, as counted from the dossiers
    import store.queries as sq

    assert sq._dashboard_counts_valid(app.store.cursor())
    from_counts = [app.query(q, start="2026-08", end="2026-12").rows
                   for q in ("compliance_audit_months", "compliance_sync_months")]
    sq.USE_DASHBOARD_COUNTS = False
    try:
        counted = [app.query(q, start="2026-08", end="2026-12").rows
                   for q in ("compliance_audit_months", "compliance_sync_months")]
    finally:
        sq.USE_DASHBOARD_COUNTS = True
    assert from_counts == counted and all(from_counts)

    # the month figures are read once per import / recompute, and read again after one
    calls = []

    class Counting:
        def query(self, name, **params):
            calls.append(name)
            return app.query(name, **params)

    ops = Counting()
    assert judge(ops, audit, sep_nov).status == "met" and calls.count("compliance_audit_months") == 1
    assert "audit_by_agency" not in calls
    calls.clear()
    assert judge(ops, audit, sep_nov).status == "met" and "compliance_audit_months" not in calls
    f2 = tmp_path / "d2.csv"
    f2.write_text(HEAD + dossier("N-3", 11, "Quá hạn"), encoding="utf-8")
    app.import_file(str(f2))
    app.recompute("2026-11-30")
    calls.clear()
    j = judge(ops, audit, sep_nov)
    assert "compliance_audit_months" in calls and j.status == "not_met" and j.numbers["latest_status_wrong"] == 1


def test_monthly_sources_fall_back_to_the_per_month_queries(app, tmp_path, monkeypatch):
    """If store/queries.py lacks the SQL the one-pass queries build on, the months are read one by one."""
    import store.compliance_queries as cq

    f = tmp_path / "d.csv"
    f.write_text(HEAD + dossier("O-1", 10, "Trước hạn") + dossier("O-2", 10, "Quá hạn", synced=False), encoding="utf-8")
    app.import_file(str(f))
    app.recompute("2026-11-30")
    orig = cq._queries_sql  # as if store/queries.py had renamed its private SQL builders
    monkeypatch.setattr(cq, "_queries_sql", lambda *names: orig(*(f"_renamed{n}" for n in names)))
    with pytest.raises(Exception, match="read the months one by one"):
        app.query("compliance_audit_months", start="2026-10", end="2026-10")
    calls = []

    class Counting:
        def query(self, name, **params):
            calls.append(name)
            return app.query(name, **params)

    period = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    j = judge(Counting(), SlaAuditEvidence(source="sla_audit"), period)
    assert j.status == "not_met" and j.numbers["latest_status_wrong"] == 1 and "audit_by_agency" in calls
    s = judge(Counting(), SyncEvidence(source="sync_reconciliation"), period)
    assert s.status == "not_met" and s.numbers["latest_unsynced"] == 1 and "sync_by_agency" in calls
