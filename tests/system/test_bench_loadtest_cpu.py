"""The generator-cost benchmark: its final JSON line, over a real short run of both modes (Locust in
child processes, the testbed in a process of its own, loopback), and how it reads another process's CPU."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_loadtest_cpu import cpu_share  # noqa: E402


def test_cpu_share_is_read_over_the_window_only():
    samples = [(0.0, 0.0), (1.0, 0.9), (2.0, 1.4), (3.0, 1.9), (4.0, 2.0)]
    assert cpu_share(samples, 1.0, 3.0) == pytest.approx(50.0)   # 1.0 CPU-s over 2 s
    assert cpu_share(samples, 0.5, 3.5) == pytest.approx(50.0)   # the samples inside, not the busy edges
    assert cpu_share(samples, 1.5, 2.5) is None                  # one sample: no figure rather than a guess


@pytest.mark.slow
def test_one_run_gives_both_modes_figures_and_a_verdict():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_loadtest_cpu.py"), "--rounds", "1",
                          "--saturated-rounds", "1", "--seconds", "6"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["mode"] == "both"
    paced, sat = res["paced"], res["saturated"]
    assert paced["target_ratio"] == 1.4 and sat["target_ratio"] == 0.7
    assert len(paced["bare_requests"]) == len(paced["ours_requests"]) == 1
    assert len(sat["bare_requests_per_cpu_s_rounds"]) == len(sat["ours_requests_per_cpu_s_rounds"]) == 1
    # paced: 20 users × 10 req/s; unpaced, both generators must go well beyond that
    assert min(sat["bare_rps_rounds"] + sat["ours_rps_rounds"]) > 3 * 200, sat
    assert all(x is not None and x > 0 for x in sat["bare_testbed_cpu_pct_rounds"] + sat["ours_testbed_cpu_pct_rounds"])
    assert sat["ratio"] == pytest.approx(sat["ours_requests_per_cpu_s"] / sat["bare_requests_per_cpu_s"], abs=1e-3)
    assert res["pass"] == (paced["meets_target"] and sat["meets_target"])
