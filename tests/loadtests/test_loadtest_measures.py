"""What a load-test run measures, held against Locust's own figures and against the clock, over real
short Locust runs (in child processes) on the testbed portal on loopback."""
from __future__ import annotations

import csv
import re
import textwrap
from pathlib import Path

import pytest

from config.probes import DEFAULT_PROBES
from loadtests.runner import CSV_PREFIX, LoadRequest, run_loadtest
from testbed.portal.server import running

pytestmark = pytest.mark.slow

# Locust's percentile columns and the stored ones they must equal
PERCENTILE_COLUMNS = {"50%": "p50_ms", "90%": "p90_ms", "95%": "p95_ms", "99%": "p99_ms"}


def checks_only(tmp_path: Path) -> Path:
    """Three checks and no journey, so that Locust's "Aggregated" row is our '*' row (Locust's
    aggregate counts journeys too, ours leaves them out: a journey's steps are requests already)."""
    f = tmp_path / "checks.yaml"
    f.write_text(textwrap.dedent(f"""
        shapes: {{s: {{kind: steady, duration: 5, warmup: 0}}}}
        scenarios:
          checks:
            portal: {DEFAULT_PROBES}
            shape: s
            users: 6
            user_classes:
              - name: citizen
                wait: {{constant: 0.05}}
                tasks:
                  - {{name: home, check: home, weight: 2}}
                  - {{name: search, check: procedure-search-api, weight: 3}}
                  - {{name: read-procedure, check: feature-procedure-detail, weight: 2}}
        """), encoding="utf-8")
    return f


def locust_rows(run_dir: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (run_dir / f"{CSV_PREFIX}_stats.csv").open(encoding="utf-8", newline="") as f:
        return {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}


@pytest.mark.parametrize("scenario", ["smoke", "checks"])
def test_every_stored_percentile_is_locusts_own(app, tmp_path, scenario):
    """Locust's --csv statistics of the same run (written by Locust itself, beside ours) against what
    the store holds: requests, failures and p50/p90/p95/p99 of every endpoint and journey, and of all
    requests when the scenario has no journey."""
    file = checks_only(tmp_path) if scenario == "checks" else None
    with running("v2.0") as base:  # 2.0's slow pages and errors: a spread of buckets, failures too
        res = run_loadtest(app, LoadRequest(scenario, base, "v2.0", users=10, duration=5), loadtests_file=file,
                           runs_dir=tmp_path / "runs", out=lambda s: None, progress_every=0, report=False)
    assert res.status == "completed"
    theirs = locust_rows(tmp_path / "runs" / res.run_id)
    ours = app.query("loadtest_endpoints", run_id=res.run_id).to_dicts()
    assert len(ours) >= 4 and sum(e["requests"] for e in ours if e["kind"] == "request") > 30
    compared = 0
    for e in ours:
        if e["kind"] == "aggregate":
            if scenario == "smoke":
                continue  # Locust's aggregate holds the journeys as well
            key = ("", "Aggregated")
        else:
            key = (e["method"], e["name"])
        row = theirs[key]
        assert (e["requests"], e["failures"]) == (int(row["Request Count"]), int(row["Failure Count"])), key
        for col, ours_col in PERCENTILE_COLUMNS.items():
            assert e[ours_col] == float(row[col]), (key, col, e[ours_col], row[col])
            compared += 1
    run = app.query("loadtest_run", run_id=res.run_id).one()
    if scenario == "checks":
        agg = theirs[("", "Aggregated")]
        assert (run["p50_ms"], run["p95_ms"], run["p99_ms"]) == \
            (float(agg["50%"]), float(agg["95%"]), float(agg["99%"]))
    else:
        assert any(e["kind"] == "journey" for e in ours) and compared >= 4 * 5
    assert {"failures", "stats_history"} <= {p.name[len(CSV_PREFIX) + 1:-4] for p in
                                             (tmp_path / "runs" / res.run_id).glob(f"{CSV_PREFIX}_*.csv")}


def test_the_progress_line_reports_the_rate_of_its_own_interval(app, tmp_path):
    """A steady 40 requests/s (4 users, one request every 0.1 s each): every progress line after the
    first says about 40 req/s, however long the run has been going."""
    f = tmp_path / "steady.yaml"
    f.write_text(textwrap.dedent(f"""
        generator: {{interval: 0.5}}
        shapes: {{s: {{kind: steady, duration: 9, warmup: 0}}}}
        scenarios:
          steady:
            portal: {DEFAULT_PROBES}
            shape: s
            users: 4
            user_classes:
              - name: citizen
                wait: {{pacing: 0.1}}
                tasks: [{{name: home, check: home}}]
        """), encoding="utf-8")
    out: list[str] = []
    with running("v1.0") as base:
        res = run_loadtest(app, LoadRequest("steady", base, "x"), loadtests_file=f, runs_dir=tmp_path / "runs",
                           out=out.append, progress_every=2, report=False)
    assert res.status == "completed"
    rates = [(float(m.group(1)), float(m.group(2))) for m in
             (re.search(r"^\s+(\d+) s\s+\d+ users\s+([\d.]+) req/s", x) for x in out) if m]
    assert len(rates) >= 3, out
    true_rate = res.run["rps"]
    assert true_rate == pytest.approx(40, rel=0.2)
    late = [r for t, r in rates[1:]]  # the first line holds Locust's start-up
    assert all(r == pytest.approx(true_rate, rel=0.25) for r in late), (true_rate, rates)


def test_locusts_csv_files_carry_no_live_formulas(tmp_path):
    """Locust's own CSV statistics kept in a run's folder quote formula-like cells (task names and
    error texts come from config and from the target's answers), and leave the numbers as they are."""
    from loadtests.runner import neutralise_csv_files

    stats = tmp_path / "locust_stats.csv"
    stats.write_text('Type,Name,Request Count,50%\nGET,=HYPERLINK("http://x"),12,1900\n', encoding="utf-8")
    fails = tmp_path / "locust_failures.csv"
    fails.write_text("Method,Name,Error,Occurrences\nPOST,/upload,@SUM(1),3\n", encoding="utf-8")
    clean = tmp_path / "locust_exceptions.csv"
    clean.write_text("Count,Message\n1,timeout\n", encoding="utf-8")
    neutralise_csv_files(tmp_path)
    rows = list(csv.reader(stats.open(encoding="utf-8")))
    assert rows[1] == ["GET", "'=HYPERLINK(\"http://x\")", "12", "1900"]
    assert list(csv.reader(fails.open(encoding="utf-8")))[1][2] == "'@SUM(1)"
    assert clean.read_text(encoding="utf-8") == "Count,Message\n1,timeout\n"
