"""Writing probe results (probes/runner.py) to the store, with raw retention and rollups.

    write_results(store, results, started_at=..., target=..., raw_retention_days=14,
                  location="central", result_ids=None, agent_version=None) -> dict

One transaction: a probe_runs row, the raw probe_results rows, the hourly and daily rollups of
every hour/day the new rows touch (recomputed from the raw rows, so rewriting is idempotent),
then raw rows older than the retention are deleted (rollups stay, `rollup_retention_days`).

Results measured from another place (agents/) carry their `location` and one id each: a result
whose id that location already stored is left out, so a batch an agent sends again (the answer to
the first was lost) changes nothing; `agent_contacts` counts what each location sent.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from config.agents import LOCAL_LOCATION
from config.clock import local_now

COLUMNS = ("name", "kind", "step", "grp", "started_at", "ok", "reason", "status_code", "total_ms", "dns_ms",
           "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms", "bytes", "cert_days_left", "url")
MAX_REASON = 500




def _row(run_id: int, r: Any, location: str, result_id: str | None) -> list[Any]:
    reason = (r.reason or "")[:MAX_REASON] or None
    return [run_id, r.name, r.kind, r.step or "", getattr(r, "group", None), r.started_at, bool(r.ok), reason,
            r.status_code, r.total_ms, r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.transfer_ms, r.bytes,
            r.cert_days_left, r.url or None, location, result_id]


# Only the hours/days and the checks a batch touches are recomputed: at 500 checks every 15 s a
# day holds ~2.9M raw rows, and recomputing every check's day on every write cost ≈ 0.25 s.
ROLLUP_HOURLY = ("DELETE FROM probe_rollup_hourly WHERE hour >= $since_hour AND location = $location "
                 "AND list_contains($names, name)", """
INSERT INTO probe_rollup_hourly
SELECT date_trunc('hour', started_at) AS hour, location, name, any_value(kind), step, count(*) AS count,
       count(*) FILTER (WHERE NOT ok) AS failures,
       quantile_cont(total_ms, 0.5), quantile_cont(total_ms, 0.95), max(total_ms)
FROM probe_results WHERE started_at >= $since_hour AND location = $location AND list_contains($names, name)
GROUP BY ALL
""")

ROLLUP_DAILY = ("DELETE FROM probe_rollup_daily WHERE day >= $since_day AND location = $location "
                "AND list_contains($names, name)", """
INSERT INTO probe_rollup_daily
SELECT CAST(started_at AS DATE) AS day, location, name, any_value(kind), step, count(*) AS count,
       count(*) FILTER (WHERE NOT ok) AS failures,
       quantile_cont(total_ms, 0.5), quantile_cont(total_ms, 0.95), max(total_ms)
FROM probe_results WHERE started_at >= CAST($since_day AS TIMESTAMP) AND location = $location
  AND list_contains($names, name)
GROUP BY ALL
""")

_CONTACT = """
INSERT INTO agent_contacts VALUES ($location, $at, $at, $last_result, 1, $stored, $duplicates, $version)
ON CONFLICT (location) DO UPDATE SET last_seen_at = excluded.last_seen_at,
    last_result_at = greatest(agent_contacts.last_result_at, excluded.last_result_at),
    batches = agent_contacts.batches + 1, results = agent_contacts.results + excluded.results,
    duplicates = agent_contacts.duplicates + excluded.duplicates, agent_version = excluded.agent_version"""


def write_results(store, results: Sequence[Any], *, started_at: dt.datetime | None = None,
                  target: str = "", raw_retention_days: int = 14, rollup_retention_days: int = 400,
                  now: dt.datetime | None = None, location: str = LOCAL_LOCATION,
                  result_ids: Sequence[str] | None = None, agent_version: str | None = None) -> dict[str, Any]:
    """Store one batch of ProbeResult; returns {'run_id', 'results', 'failures', 'purged', 'duplicates'}.
    `result_ids` (one per result, an agent's batch) leaves out the results `location` already has
    (the ids stored are the answer's 'fresh_ids', for whoever counts them once, e.g. the metrics);
    with them, the location's contact is counted in `agent_contacts` (at `now`, default the clock)."""
    if result_ids is not None:
        if len(result_ids) != len(results):
            raise ValueError("write_results: one result id per result")
    kw = {"started_at": started_at, "target": target, "raw_retention_days": raw_retention_days,
          "rollup_retention_days": rollup_retention_days, "now": now, "location": location}
    if result_ids is None:
        if not results:
            return {"run_id": 0, "results": 0, "failures": 0, "purged": 0, "duplicates": 0}
        with store.transaction() as con:
            return _write(con, results, None, **kw)
    with store.transaction() as con:  # the check for ids seen and the insert see one state
        ids = list(result_ids)
        seen = {i for (i,) in con.execute(
            "SELECT result_id FROM probe_results WHERE location = ? AND started_at >= ? "
            "AND list_contains(?, result_id)",
            [location, min(r.started_at for r in results), ids]).fetchall()} if results else set()
        keep, fresh = [], []
        for r, i in zip(results, ids):
            if i not in seen:
                seen.add(i)  # and once within the batch
                keep.append(r)
                fresh.append(i)
        out = (_write(con, keep, fresh, **kw) if keep
               else {"run_id": 0, "results": 0, "failures": 0, "purged": 0})
        out["duplicates"] = len(results) - len(keep)
        out["fresh_ids"] = fresh
        con.execute(_CONTACT, {"location": location, "at": now or local_now(),
                               "last_result": max((r.started_at for r in results), default=None),
                               "stored": len(keep), "duplicates": out["duplicates"], "version": agent_version})
    return out


def _write(con, results: Sequence[Any], ids: list[str] | None, *, started_at: dt.datetime | None, target: str,
           raw_retention_days: int, rollup_retention_days: int, now: dt.datetime | None,
           location: str) -> dict[str, int]:
    first = min(r.started_at for r in results)
    started_at = started_at or first
    finished = now or max(r.started_at for r in results)
    failures = sum(1 for r in results if not r.ok)
    ref = now or max(r.started_at for r in results)
    since_hour = first.replace(minute=0, second=0, microsecond=0)
    since_day = first.date()
    run_id = con.execute("SELECT nextval('probe_run_seq')").fetchone()[0]
    con.execute("INSERT INTO probe_runs VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, started_at, max(finished, started_at), target or None, len(results), failures])
    con.executemany(f"INSERT INTO probe_results (run_id, {', '.join(COLUMNS)}, location, result_id) "
                    f"VALUES ({', '.join('?' * (len(COLUMNS) + 3))})",
                    [_row(run_id, r, location, ids[k] if ids else None) for k, r in enumerate(results)])
    # keep whole days of raw rows, so the daily rollup of a purged day is never recomputed
    raw_cut = dt.datetime.combine(ref.date() - dt.timedelta(days=raw_retention_days), dt.time())
    since_hour = max(since_hour, raw_cut)
    since_day = max(since_day, raw_cut.date())
    names = sorted({r.name for r in results})
    for sql in ROLLUP_HOURLY:
        con.execute(sql, {"since_hour": since_hour, "names": names, "location": location})
    for sql in ROLLUP_DAILY:
        con.execute(sql, {"since_day": since_day, "names": names, "location": location})
    purged = con.execute("DELETE FROM probe_results WHERE started_at < ?", [raw_cut]).fetchone()[0]
    con.execute("DELETE FROM probe_runs WHERE finished_at < ? AND run_id NOT IN "
                "(SELECT DISTINCT run_id FROM probe_results)", [raw_cut])
    roll_cut = ref - dt.timedelta(days=rollup_retention_days)
    con.execute("DELETE FROM probe_rollup_hourly WHERE hour < ?", [roll_cut])
    con.execute("DELETE FROM probe_rollup_daily WHERE day < ?", [roll_cut.date()])
    return {"run_id": int(run_id), "results": len(results), "failures": failures, "purged": int(purged or 0),
            "duplicates": 0}
