"""The recompute benchmark measures the recompute's own memory, not its parent's."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from benchmarks.bench_sla import own_peak_rss_mb
print(json.dumps({"own": own_peak_rss_mb(), "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_a_child_reports_its_own_peak_not_the_parents():
    ballast = bytearray(600 * 1024 * 1024)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))  # touch every page
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert parent_peak >= 600
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], capture_output=True, text=True, check=True)
    del ballast
    child = json.loads(out.stdout.strip().splitlines()[-1])
    # the child (Python + duckdb imported) is far below the parent's 600 MB ...
    assert 10 < child["own"] < 400, child
    # ... where ru_maxrss, inherited across fork + exec, reports at least the parent's peak
    assert child["ru_maxrss"] >= parent_peak - 1, child
