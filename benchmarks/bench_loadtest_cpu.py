"""CPU per request of our load generator against a bare Locust FastHttpUser, same testbed endpoint,
same run. Target: ours ≤ 1.4 × bare.

    python benchmarks/bench_loadtest_cpu.py [--users 20] [--seconds 12] [--rounds 2]

The testbed (release v1.0) runs in a process of its own. Each round runs, one after the other,
a bare FastHttpUser GETting /vi (benchmarks/locust/bare.py) and our scenario `home-only`
(config/loadtests.yaml: the probe check `home` with its assertions, through loadtests/locustfile.py
and its sampler), both at 20 users pacing one request per 0.1 s each. benchmarks/locust/cpu_meter.py,
loaded into both, measures the process's own CPU seconds per request between 4 s after the start
and the end. Prints a final JSON line with the medians and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.testbed_process import testbed_process  # noqa: E402
from loadtests.runner import LOCUSTFILE, LoadRequest, prepare  # noqa: E402

HERE = Path(__file__).resolve().parent / "locust"
TARGET = 1.4


def _locust(files: list[Path], extra: list[str], env: dict[str, str], cwd: Path, timeout: float) -> dict:
    out = cwd / "meter.json"
    if out.exists():
        out.unlink()
    env = {**env, "MOTCUA_METER_OUT": str(out), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "locust", "-f", ",".join(str(f) for f in files), "--headless", "--only-summary",
           "--loglevel", "WARNING", "--exit-code-on-error", "0", *extra]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if not out.exists():
        sys.exit(f"locust did not report ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    with testbed_process("v1.0") as base, tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        prep = prepare(LoadRequest("home-only", base, "bench", users=args.users, duration=args.seconds))
        prep.spec["out_dir"] = str(tmpd)
        spec = tmpd / "spec.json"
        spec.write_text(json.dumps(prep.spec), encoding="utf-8")
        bare, ours = [], []
        for _ in range(args.rounds):
            b = _locust([HERE / "bare.py", HERE / "cpu_meter.py"],
                        ["--host", base, "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds:g}s"],
                        env, tmpd, args.seconds + 60)
            (tmpd / "series.jsonl").unlink(missing_ok=True)
            o = _locust([LOCUSTFILE, HERE / "cpu_meter.py"], [], {**env, "MOTCUA_LOADTEST_SPEC": str(spec)}, tmpd,
                        args.seconds + 60)
            bare.append(b)
            ours.append(o)
            print(f"bare: {b['requests']} requests, {1e6 * b['cpu_s'] / b['requests']:.0f} µs CPU each; "
                  f"ours: {o['requests']} requests, {1e6 * o['cpu_s'] / o['requests']:.0f} µs CPU each", flush=True)
    per_bare = statistics.median(x["cpu_s"] / x["requests"] for x in bare)
    per_ours = statistics.median(x["cpu_s"] / x["requests"] for x in ours)
    ratio = per_ours / per_bare
    print(json.dumps({"benchmark": "loadtest_cpu_per_request", "users": args.users, "seconds": args.seconds,
                      "rounds": args.rounds, "bare_us_per_request": round(1e6 * per_bare, 1),
                      "ours_us_per_request": round(1e6 * per_ours, 1),
                      "bare_requests": [x["requests"] for x in bare], "ours_requests": [x["requests"] for x in ours],
                      "ratio": round(ratio, 3), "target_ratio": TARGET, "meets_target": ratio <= TARGET}))


if __name__ == "__main__":
    main()
