"""Probe results from several locations: each kept with its location, an agent's result stored
once however often it is sent, rollups per location, and each location's contact counted."""
from __future__ import annotations

import datetime as dt

from probes.runner import ProbeResult
from store.probe_writes import write_results

T0 = dt.datetime(2026, 12, 1, 9, 0)


def _results(n: int, ok: bool = True, start: dt.datetime = T0) -> list[ProbeResult]:
    return [ProbeResult(name="home", kind="check", step="", started_at=start + dt.timedelta(seconds=15 * i), ok=ok,
                        status_code=200 if ok else 503, total_ms=100.0 + i, reason="" if ok else "HTTP 503")
            for i in range(n)]


def test_a_batch_sent_again_is_stored_once_and_counted_as_duplicates(store):
    rs = _results(4)
    ids = [f"hn-{i}" for i in range(4)]
    first = write_results(store, rs, location="hanoi", result_ids=ids, agent_version="1", now=T0)
    again = write_results(store, rs, location="hanoi", result_ids=ids, agent_version="1", now=T0)
    # half new, half seen: only the new half goes in
    more = _results(4, start=T0 + dt.timedelta(minutes=1))
    mixed = write_results(store, rs[2:] + more[:2], location="hanoi", result_ids=ids[2:] + ["hn-4", "hn-5"], now=T0)
    assert (first["results"], first["duplicates"]) == (4, 0)
    assert (again["results"], again["duplicates"]) == (0, 4)
    assert (mixed["results"], mixed["duplicates"]) == (2, 2)
    con = store.cursor()
    assert con.execute("SELECT count(*), count(DISTINCT result_id) FROM probe_results "
                       "WHERE location = 'hanoi'").fetchone() == (6, 6)
    assert con.execute("SELECT batches, results, duplicates FROM agent_contacts "
                       "WHERE location = 'hanoi'").fetchone() == (3, 6, 6)


def test_the_same_id_from_another_location_is_another_result(store):
    rs = _results(2)
    write_results(store, rs, location="hanoi", result_ids=["a", "b"], now=T0)
    out = write_results(store, rs, location="hcm", result_ids=["a", "b"], now=T0)
    assert out["results"] == 2


def test_rollups_are_kept_per_location(store):
    write_results(store, _results(4, ok=True), now=T0)  # the central's own
    write_results(store, _results(4, ok=False), location="hanoi", result_ids=list("abcd"), now=T0)
    con = store.cursor()
    got = dict(con.execute("SELECT location, failures FROM probe_rollup_hourly ORDER BY 1").fetchall())
    assert got == {"central": 0, "hanoi": 4}
    got = dict(con.execute("SELECT location, count FROM probe_rollup_daily ORDER BY 1").fetchall())
    assert got == {"central": 4, "hanoi": 4}
    # the central's results carry its location and no id
    assert con.execute("SELECT DISTINCT location, result_id FROM probe_results WHERE location = 'central'"
                       ).fetchall() == [("central", None)]


def test_a_location_s_contact_is_kept_in_local_time_like_every_other_time(store, monkeypatch):
    from config import clock

    write_results(store, _results(1, start=clock.local_now()), location="hanoi", result_ids=["x"])
    seen = store.cursor().execute("SELECT last_seen_at FROM agent_contacts").fetchone()[0]
    assert abs((seen - clock.local_now()).total_seconds()) < 60
