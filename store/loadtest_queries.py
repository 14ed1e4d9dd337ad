"""Named queries over load-test runs (store/migrations/006_loadtests.sql). The Vendor page of the
dashboard ("Kiểm thử tải") and the HTML report are built from these alone; names and columns are
stable.

  loadtest_runs(limit=50, scenario=None, release=None)
      newest first: run_id, scenario, release, target, status, message, started_at, finished_at,
      users_target, users_peak, workers, requests, failures, rps, error_rate, p50/p95/p99_ms,
      generator_cpu_max, generator_overloaded, criteria, verdict, knee_users, capacity_users,
      capacity_rps, exit_code, report_path
  loadtest_releases(scenario=None)  per scenario and release: runs, last_run_id, last_started_at,
                                  last_verdict, last_status (pickers for a comparison)
  loadtest_run(run_id)            one row: every column of loadtest_runs (config_json included)
  loadtest_endpoints(run_id)      per endpoint (and '*' = all requests): requests, failures,
                                  error_rate, rps, avg/min/max, p50/p90/p95/p99 (ms); kind is
                                  request | journey | aggregate
  loadtest_series(run_id, endpoint=None)
      per interval: t_s, at_time, method, name, users, requests, failures, rps, avg/p50/p90/p95/p99/max_ms;
      endpoint=None gives the '*' rows (all requests), endpoint='*all' every endpoint, else one name
  loadtest_generator(run_id)      per interval and generator process: node, cpu_pct, users
  loadtest_nodes(run_id)          what each worker counted itself (distributed runs)
  loadtest_failures(run_id)       method, name, error (message), occurrences, first_t_s; most first
  loadtest_verdicts(run_id)       criterion, selector, expression, metric, op, threshold, method,
                                  name, observed, required_users, at_users (the fewest users running
                                  while judged: the concurrency held), window_s, passed, note
  loadtest_capacity(run_id)       the steps of a step run: step, users, rps, p50/p95/p99, error_rate,
                                  is_knee (plus the run's knee_users / capacity_* in loadtest_run)
  loadtest_compare(run_a, run_b, alpha=0.05, min_change=0.1)
      per endpoint present in both runs and metric (p50_ms, p95_ms, p99_ms, rps, error_rate):
      a, b, change, change_pct, p_value, beyond_noise, worse, verdict (regressed | improved |
      unchanged | noise | too_few_samples: fewer than two intervals with requests on a side). Latency and throughput are tested per interval (Mann–Whitney U), error
      rates as two proportions; an endpoint seen in fewer than two intervals of a run is tested
      over its requests (Mann–Whitney U on the response-time histograms). A change counts when
      p < alpha and it is at least min_change relative (and 5 ms / 0.5 percentage points absolute).
"""
from __future__ import annotations

import json

from store.errors import QueryError, StoreError
from store.noise import beyond_noise, mann_whitney_hist_p, mann_whitney_p, two_proportion_p
from store.registry import Table, named_query, run

MAX_LIMIT = 10_000
RUN_LIST_COLS = ("run_id, scenario, release, target, status, message, started_at, finished_at, users_target, "
                 "users_peak, workers, requests, failures, rps, error_rate, p50_ms, p95_ms, p99_ms, "
                 "generator_cpu_max, generator_overloaded, criteria, verdict, knee_users, capacity_users, "
                 "capacity_rps, exit_code, report_path")
METRICS = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_rate")


def _run_id(v) -> str:
    if v is None or not str(v).strip():
        raise QueryError("run_id is required")
    return str(v).strip()


@named_query("loadtest_runs", scope="free", roles=("vendor", "agency"))
def loadtest_runs(con, limit: int = 50, scenario: str | None = None, release: str | None = None) -> Table:
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    return run(con, f"""
        SELECT {RUN_LIST_COLS} FROM loadtest_runs
        WHERE ($scenario IS NULL OR scenario = $scenario) AND ($release IS NULL OR release = $release)
        ORDER BY started_at DESC, run_id DESC LIMIT {int(limit)}""", {"scenario": scenario, "release": release})


@named_query("loadtest_releases", scope="free", roles=("vendor",))
def loadtest_releases(con, scenario: str | None = None) -> Table:
    """Per scenario and release: how many runs, the latest run and its verdict (pickers for a comparison)."""
    return run(con, """
        SELECT scenario, release, count(*) AS runs,
               arg_max(run_id, started_at) AS last_run_id, max(started_at) AS last_started_at,
               arg_max(verdict, started_at) AS last_verdict, arg_max(status, started_at) AS last_status
        FROM loadtest_runs WHERE $scenario IS NULL OR scenario = $scenario
        GROUP BY scenario, release ORDER BY scenario, last_started_at DESC""", {"scenario": scenario})


@named_query("loadtest_run", scope="free", roles=("vendor",))
def loadtest_run(con, run_id: str) -> Table:
    return run(con, "SELECT * FROM loadtest_runs WHERE run_id = ?", [_run_id(run_id)])


@named_query("loadtest_endpoints", scope="free", roles=("vendor",))
def loadtest_endpoints(con, run_id: str) -> Table:
    return run(con, """
        SELECT method, name, kind, requests, failures, error_rate, rps, avg_ms, min_ms, max_ms,
               p50_ms, p90_ms, p95_ms, p99_ms
        FROM loadtest_endpoints WHERE run_id = ?
        ORDER BY CASE kind WHEN 'aggregate' THEN 2 WHEN 'journey' THEN 1 ELSE 0 END, name, method""",
               [_run_id(run_id)])


@named_query("loadtest_series", scope="free", roles=("vendor",))
def loadtest_series(con, run_id: str, endpoint: str | None = None) -> Table:
    return run(con, """
        SELECT t_s, at_time, method, name, users, requests, failures, rps, avg_ms, p50_ms, p90_ms, p95_ms,
               p99_ms, max_ms
        FROM loadtest_series
        WHERE run_id = $run_id AND ($endpoint = '*all' OR name = coalesce($endpoint, '*'))
        ORDER BY name, method, t_s""", {"run_id": _run_id(run_id), "endpoint": endpoint})


@named_query("loadtest_generator", scope="free", roles=("vendor",))
def loadtest_generator(con, run_id: str) -> Table:
    return run(con, "SELECT t_s, node, cpu_pct, users FROM loadtest_generator WHERE run_id = ? ORDER BY node, t_s",
               [_run_id(run_id)])


@named_query("loadtest_nodes", scope="free", roles=("vendor",))
def loadtest_nodes(con, run_id: str) -> Table:
    return run(con, "SELECT node, requests, failures FROM loadtest_nodes WHERE run_id = ? ORDER BY node",
               [_run_id(run_id)])


@named_query("loadtest_failures", scope="free", roles=("vendor",))
def loadtest_failures(con, run_id: str) -> Table:
    return run(con, """
        SELECT method, name, error, occurrences, first_t_s FROM loadtest_failures WHERE run_id = ?
        ORDER BY occurrences DESC, name, error""", [_run_id(run_id)])


@named_query("loadtest_verdicts", scope="free", roles=("vendor", "agency"))
def loadtest_verdicts(con, run_id: str) -> Table:
    return run(con, """
        SELECT criterion, selector, expression, metric, op, threshold, method, name, observed,
               required_users, at_users, window_s, passed, note
        FROM loadtest_verdicts WHERE run_id = ?
        ORDER BY passed, criterion, selector, expression, name""", [_run_id(run_id)])


@named_query("loadtest_capacity", scope="free", roles=("vendor",))
def loadtest_capacity(con, run_id: str) -> Table:
    return run(con, """
        SELECT step, users, planned_users, t_start, t_end, requests, rps, p50_ms, p95_ms, p99_ms, error_rate, is_knee
        FROM loadtest_capacity WHERE run_id = ? ORDER BY step""", [_run_id(run_id)])


@named_query("loadtest_compare", scope="free", roles=("vendor",))
def loadtest_compare(con, run_a: str, run_b: str, alpha: float = 0.05, min_change: float = 0.1) -> Table:
    a_id, b_id = _run_id(run_a), _run_id(run_b)
    for rid in (a_id, b_id):
        if not con.execute("SELECT 1 FROM loadtest_runs WHERE run_id = ?", [rid]).fetchone():
            raise StoreError(f"no load-test run {rid!r} (see: app.py loadtest list)")
    ends = {}
    for rid in (a_id, b_id):
        ends[rid] = {(r[0], r[1]): r for r in con.execute(
            "SELECT method, name, kind, requests, failures, p50_ms, p95_ms, p99_ms, rps, error_rate, hist_json "
            "FROM loadtest_endpoints WHERE run_id = ?", [rid]).fetchall()}
    series: dict[str, dict[tuple[str, str], list[tuple]]] = {a_id: {}, b_id: {}}
    for rid in (a_id, b_id):
        for r in con.execute("SELECT method, name, p50_ms, p95_ms, p99_ms, rps, requests, failures FROM loadtest_series "
                             "WHERE run_id = ? AND requests > 0 ORDER BY t_s", [rid]).fetchall():
            series[rid].setdefault((r[0], r[1]), []).append(r[2:])
    cols = ["method", "name", "kind", "metric", "a", "b", "change", "change_pct", "p_value", "beyond_noise",
            "worse", "verdict"]
    rows = []
    common = sorted(set(ends[a_id]) & set(ends[b_id]), key=lambda k: (k[1] == "*", ends[a_id][k][2], k[1], k[0]))
    for key in common:
        ea, eb = ends[a_id][key], ends[b_id][key]
        sa, sb = series[a_id].get(key, []), series[b_id].get(key, [])
        for mi, metric in enumerate(METRICS):
            va, vb = ea[5 + mi], eb[5 + mi]
            if metric == "error_rate":
                p = two_proportion_p(ea[4], ea[3], eb[4], eb[3])
                noise = beyond_noise(p, va, vb, alpha=alpha, min_change=min_change, min_abs=0.005)
                worse = (vb or 0) > (va or 0)
            else:
                p = mann_whitney_p([s[mi] for s in sa], [s[mi] for s in sb])
                if p is None and metric.endswith("_ms") and ea[10] and eb[10]:
                    # too few intervals: every request of the two runs, from their histograms
                    p = mann_whitney_hist_p(json.loads(ea[10]), json.loads(eb[10]))
                noise = beyond_noise(p, va, vb, alpha=alpha, min_change=min_change,
                                     min_abs=5.0 if metric.endswith("_ms") else 0.0)
                worse = (vb or 0) > (va or 0) if metric.endswith("_ms") else (vb or 0) < (va or 0)
            change = None if va is None or vb is None else vb - va
            pct = None if change is None or not va else 100.0 * change / va
            verdict = ("regressed" if worse else "improved") if noise else \
                ("unchanged" if change == 0 else "too_few_samples" if p is None else "noise")
            rows.append((key[0], key[1], ea[2], metric, va, vb, change, pct, p, noise, bool(noise and worse), verdict))
    types = ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE",
             "BOOLEAN", "BOOLEAN", "VARCHAR"]
    return Table(cols, rows, types)
