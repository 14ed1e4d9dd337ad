"""The backup benchmark: which probe runs it counts as the backup's, and its final JSON line over a
real small run (store built and restored in child processes, the testbed in its own, loopback)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_backup import lag_figures  # noqa: E402


def test_the_backups_runs_are_those_started_after_it_began_and_scheduled_before_it_ended():
    timed = [(9.0, 9.001),    # before the backup: the baseline's
             (9.9, 10.2),     # scheduled before, delayed into the backup: the backup's
             (12.0, 12.003),  # during
             (14.9, 15.4),    # scheduled during, started after its end: the backup's
             (15.5, 15.501)]  # after
    during = lag_figures(timed, 10.0, float("inf"), 15.0)
    assert during["runs"] == 3
    assert during["max_ms"] == pytest.approx(500.0)
    assert during["p50_ms"] == pytest.approx(300.0)
    before = lag_figures(timed, 8.0, 10.0, 10.0)
    assert before["runs"] == 1 and before["max_ms"] == pytest.approx(1.0)
    assert lag_figures([], 0.0, 1.0, 1.0) == {"p50_ms": None, "p99_ms": None, "max_ms": None, "runs": 0}


@pytest.mark.slow
def test_a_small_run_backs_up_restores_equal_and_reports_every_figure():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_backup.py"), "--dossiers", "20000",
                          "--checks", "5", "--interval", "1", "--settle", "4"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"benchmark", "dossiers", "store_bytes", "backup_bytes", "restored_bytes", "backup_s", "restore_s",
            "owner_rss_before_backup_mb", "owner_peak_rss_backup_mb", "restore_peak_rss_mb", "lag_backup",
            "lag_baseline", "equal", "target_backup_s", "target_restore_s", "target_lag_p99_ms", "pass"} <= set(res)
    assert res["benchmark"] == "backup_restore" and res["dossiers"] == 20000
    assert res["equal"] is True
    assert res["rows"] > 2 * 20000  # the dossiers and their results at least
    assert res["probe_results_before"] > 0 and res["probe_results_stored_during_run"] > 0
    assert 0 < res["backup_bytes"] and 0 < res["restored_bytes"]
    assert res["backup_s"] > 0 and res["restore_s"] > 0
    # at this size the backup takes a fraction of a second: its window may hold no probe run at all
    for window in (res["lag_backup"], res["lag_baseline"]):
        assert {"p50_ms", "p99_ms", "max_ms", "runs"} <= set(window)
        assert (window["runs"] == 0) == (window["p99_ms"] is None)
    assert isinstance(res["pass"], bool)
