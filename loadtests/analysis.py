"""From Locust's per-interval histograms to the numbers of a run: percentiles over time, totals,
verdicts against acceptance criteria, the knee of a step run, and noise tests for comparisons.

Pure Python (no Locust, no store): loadtests/runner.py builds a run with it, and
store/loadtest_queries.py uses its statistics for `loadtest_compare`.

Histograms are Locust's response-time buckets ({ms bucket: count}; 147 → 150, 3432 → 3400), and a
percentile is taken from them by Locust's own rule, so every stored percentile is the one Locust's
reports (its console table, its --csv files) give for the same requests.
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# the noise tests live with the store's run comparison, which judges with them; re-exported here
from store.noise import beyond_noise, mann_whitney_hist_p, mann_whitney_p, two_proportion_p  # noqa: F401

AGGREGATE = "*"           # the name of the all-requests row (method '')
JOURNEY = "JOURNEY"       # Locust request_type of a whole journey (start to end, without think time)
PERCENTILES = (50, 90, 95, 99)


# -- histograms ---------------------------------------------------------------------------------
def merge(hists: Iterable[Mapping[Any, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for h in hists:
        for k, v in h.items():
            k = int(k)
            out[k] = out.get(k, 0) + int(v)
    return out


def percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-th percentile (q in %) by Locust's rule (locust.stats.calculate_response_time_percentile):
    the bucket at which at most floor(n·q/100) samples lie strictly below, counted from the top, i.e.
    the bucket of the (floor(n·q/100) + 1)-th smallest sample. Where n·q/100 is whole, this is one
    position higher than "the smallest bucket holding q % of the samples" (p50 of 1,800 and 1,900 ms
    is 1,900). `q / 100.0` gives the same float as Locust's fractions (0.5, 0.95, ...), so the
    floor agrees at every whole n·q too."""
    n = sum(hist.values())
    if n <= 0:
        return None
    below = int(n * (q / 100.0))
    processed = 0
    for k in sorted(hist, reverse=True):
        processed += hist[k]
        if n - processed <= below:
            return float(k)
    return float(min(hist))


@dataclass
class Stat:
    """Requests, failures, response-time sum and histogram of one endpoint over some intervals."""

    requests: int = 0
    failures: int = 0
    total_ms: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)

    def add(self, requests: int, failures: int, total_ms: float, hist: Mapping[Any, int]) -> None:
        self.requests += int(requests)
        self.failures += int(failures)
        self.total_ms += float(total_ms)
        for k, v in hist.items():
            k = int(k)
            self.hist[k] = self.hist.get(k, 0) + int(v)

    def p(self, q: float) -> float | None:
        return percentile(self.hist, q)

    @property
    def avg(self) -> float | None:
        n = sum(self.hist.values())
        return self.total_ms / n if n else None

    @property
    def max(self) -> float | None:
        return float(max(self.hist)) if self.hist else None

    @property
    def min(self) -> float | None:
        return float(min(self.hist)) if self.hist else None

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    def metric(self, name: str, seconds: float) -> float | None:
        if name == "error_rate":
            return self.error_rate
        if name == "rps":
            return self.requests / seconds if seconds > 0 else None
        if name == "avg":
            return self.avg
        if name == "max":
            return self.max
        if name == "min":
            return self.min
        if name.startswith("p"):
            return self.p(float(name[1:]))
        raise ValueError(f"unknown metric {name!r}")


# -- samples ------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One interval of the series written by loadtests/locustfile.py."""

    t: float
    at: float
    seconds: float
    users: int
    cpu: dict[str, float]
    entries: dict[tuple[str, str], Stat]

    def aggregate(self) -> Stat:
        s = Stat()
        for (m, _n), st in self.entries.items():
            if m != JOURNEY:
                s.add(st.requests, st.failures, st.total_ms, st.hist)
        return s


def samples_from_lines(lines: Sequence[dict], min_seconds: float = 0.3, start: float = 0.0) -> list[Sample]:
    """The intervals of `lines`; `start` is the run time at which the first of them began (the `t`
    of the line before it, when the lines are the tail of a series)."""
    out: list[Sample] = []
    prev_t = start
    for ln in lines:
        if ln.get("type") != "sample":
            continue
        entries: dict[tuple[str, str], Stat] = {}
        for e in ln.get("entries", []):
            st = entries.setdefault((e["m"], e["n"]), Stat())
            st.add(e["r"], e["f"], e.get("s", 0), e.get("h", {}))
        t = float(ln["t"])
        seconds = t - prev_t
        if out and seconds < min_seconds:
            # a sliver (the last flush when Locust quits): its counts belong to the interval before;
            # its CPU figure (a few ms of shutting down) says nothing about the load
            last = out[-1]
            for k, st in entries.items():
                last.entries.setdefault(k, Stat()).add(st.requests, st.failures, st.total_ms, st.hist)
            last.seconds += seconds
            last.t, last.at = t, float(ln["at"])
        else:
            out.append(Sample(t=t, at=float(ln["at"]), seconds=max(seconds, 1e-3), users=int(ln.get("users") or 0),
                              cpu=dict(ln.get("cpu") or {}), entries=entries))
        prev_t = t
    return out


def totals(samples: Sequence[Sample]) -> dict[tuple[str, str], Stat]:
    out: dict[tuple[str, str], Stat] = {}
    for s in samples:
        for k, st in s.entries.items():
            out.setdefault(k, Stat()).add(st.requests, st.failures, st.total_ms, st.hist)
    return out


def aggregate(samples: Sequence[Sample]) -> Stat:
    out = Stat()
    for s in samples:
        a = s.aggregate()
        out.add(a.requests, a.failures, a.total_ms, a.hist)
    return out


# -- verdicts -----------------------------------------------------------------------------------
def judge(criteria: Mapping[str, Any], parsed: Sequence[tuple[str, Any]], samples: Sequence[Sample],
          matches, criterion_name: str) -> list[dict[str, Any]]:
    """One verdict row per (selector, expression, endpoint).

    The window is every interval during which at least `at_users` users ran (all intervals with
    users when at_users is not set). `at_users` of a row is the fewest users running in that window,
    i.e. the concurrency the criterion was actually held at; a run that never reached the required
    users fails every expression, with a note saying how many it reached."""
    need = criteria.get("at_users")
    window = [s for s in samples if (s.users >= need if need else s.users > 0)]
    peak = max((s.users for s in samples), default=0)
    seconds = sum(s.seconds for s in window)
    held = min((s.users for s in window), default=peak)
    keys = sorted({k for s in window for k in s.entries} | {k for s in samples for k in s.entries})
    rows = []
    for selector, th in parsed:
        base = {"criterion": criterion_name, "selector": selector, "expression": th.expr, "metric": th.metric,
                "op": th.op, "threshold": th.value, "required_users": need}
        if not window:
            rows.append({**base, "method": "", "name": selector, "observed": None, "at_users": peak,
                         "window_s": 0.0, "passed": False,
                         "note": f"the run reached {peak} users, the criterion needs {need}" if need
                         else "no interval with users running"})
            continue
        if selector == "total":
            targets = [("", AGGREGATE, aggregate(window))]
        else:
            targets = []
            for m, n in keys:
                if matches(selector, m, n):
                    st = Stat()
                    for s in window:
                        x = s.entries.get((m, n))
                        if x is not None:
                            st.add(x.requests, x.failures, x.total_ms, x.hist)
                    targets.append((m, n, st))
        if not targets:
            rows.append({**base, "method": "", "name": selector, "observed": None, "at_users": held,
                         "window_s": seconds, "passed": False, "note": "no request matched this selector"})
            continue
        for m, n, st in targets:
            obs = st.metric(th.metric, seconds) if st.requests else None
            note = None if st.requests else "no requests in the judged window"
            rows.append({**base, "method": m, "name": n, "observed": obs, "at_users": held, "window_s": seconds,
                         "passed": bool(st.requests) and th.holds(obs), "note": note})
    return rows


# -- capacity (knee of a step run) --------------------------------------------------------------
def capacity(samples: Sequence[Sample], phases: Sequence[Any], *, metric: str = "p50", factor: float = 1.5,
             floor_ms: float = 5.0, settle: float = 0.34) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Per step: users, throughput, latency; the knee is the first step whose latency (median by
    default) exceeds `factor` × the plateau (the lowest of the first two steps) by at least
    `floor_ms`. Capacity = the last step still on the plateau: its users and throughput.
    The first `settle` share of every step is left out (users spawning, queues filling)."""
    rows = []
    for ph in phases:
        span = ph.t1 - ph.t0
        lo = ph.t0 + settle * span
        win = [s for s in samples if lo <= s.t - s.seconds / 2 and s.t <= ph.t1 + 1e-6]
        if not win:
            win = [s for s in samples if ph.t0 <= s.t <= ph.t1 + 1e-6]
        agg = aggregate(win)
        secs = sum(s.seconds for s in win)
        users = [s.users for s in win]
        rows.append({"step": ph.index, "users": int(statistics.median(users)) if users else ph.users,
                     "planned_users": ph.users, "t_start": ph.t0, "t_end": ph.t1,
                     "requests": agg.requests, "rps": agg.requests / secs if secs else None,
                     "p50_ms": agg.p(50), "p95_ms": agg.p(95), "p99_ms": agg.p(99),
                     "error_rate": agg.error_rate, "is_knee": False})
    measured = [r for r in rows if r["requests"]]
    if len(measured) < 3:
        return rows, None
    key = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}[metric]
    plateau = min(r[key] for r in measured[:2])
    knee = None
    for i, r in enumerate(measured):
        if i >= 1 and r[key] > plateau * factor and r[key] - plateau >= floor_ms:
            knee = i
            break
    if knee is None:
        best = max(measured, key=lambda r: r["rps"] or 0)
        return rows, {"found": False, "plateau_ms": plateau, "metric": metric, "knee_users": None,
                      "knee_rps": None, "capacity_users": measured[-1]["users"],
                      "capacity_rps": measured[-1]["rps"], "max_rps": best["rps"],
                      "note": "latency stayed on its plateau: the portal held every step"}
    cap = measured[knee - 1]
    measured[knee]["is_knee"] = True
    return rows, {"found": True, "plateau_ms": plateau, "metric": metric,
                  "knee_users": measured[knee]["users"], "knee_rps": measured[knee]["rps"],
                  "capacity_users": cap["users"], "capacity_rps": cap["rps"],
                  "max_rps": max(r["rps"] or 0 for r in measured),
                  "note": f"{metric} left its plateau ({plateau:.0f} ms) at {measured[knee]['users']} users"}
