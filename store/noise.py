"""Whether a change between two load-test runs is beyond noise: the significance tests the run
comparison (store/loadtest_queries.py, loadtest_compare) judges with, and loadtests/ reuses."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of the Mann–Whitney U test (normal approximation, tie-corrected)."""
    a, b = [x for x in a if x is not None], [x for x in b if x is not None]
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return None
    ranked = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(ranked)
    ties = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, ranked) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0 if u1 == mu else 0.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return max(0.0, min(1.0, math.erfc(max(z, 0) / math.sqrt(2))))


def mann_whitney_hist_p(a: Mapping[Any, int], b: Mapping[Any, int]) -> float | None:
    """Mann–Whitney U over every request of two runs, from their response-time histograms (ties
    within a bucket). For endpoints with too few intervals for the per-interval test."""
    a = {int(k): int(v) for k, v in a.items() if v}
    b = {int(k): int(v) for k, v in b.items() if v}
    n1, n2 = sum(a.values()), sum(b.values())
    if n1 < 5 or n2 < 5:
        return None
    rank, r1, ties = 0, 0.0, 0.0
    for k in sorted(set(a) | set(b)):
        t = a.get(k, 0) + b.get(k, 0)
        mid = rank + (t + 1) / 2
        r1 += a.get(k, 0) * mid
        ties += t ** 3 - t
        rank += t
    u1 = r1 - n1 * (n1 + 1) / 2
    mu, n = n1 * n2 / 2, n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0 if u1 == mu else 0.0
    z = max(abs(u1 - mu) - 0.5, 0) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2))


def two_proportion_p(f1: int, n1: int, f2: int, n2: int) -> float | None:
    """Two-sided p-value that two failure rates differ (pooled z-test)."""
    if n1 <= 0 or n2 <= 0:
        return None
    p = (f1 + f2) / (n1 + n2)
    if p in (0.0, 1.0):
        return 1.0
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    z = abs(f1 / n1 - f2 / n2) / se
    return math.erfc(z / math.sqrt(2))


def beyond_noise(p_value: float | None, a: float | None, b: float | None, *, alpha: float = 0.05,
                 min_change: float = 0.10, min_abs: float = 0.0) -> bool:
    """A change counts when it is statistically clear (p < alpha) AND large enough to matter
    (at least min_change relative and min_abs absolute)."""
    if p_value is None or a is None or b is None:
        return False
    if abs(b - a) < min_abs:
        return False
    rel = abs(b - a) / abs(a) if a else (math.inf if b else 0.0)
    return p_value < alpha and rel >= min_change
