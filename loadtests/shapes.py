"""Load shapes as plain functions of time: how many users should run t seconds into a test.

Pure Python (no Locust): the locustfile wraps a `Plan` in a LoadTestShape; tests and the knee
analysis use the same plan. A shape is the dict form of config.loadtest.Shape, scaled to a target
number of users and a duration:

  ramp         0 → users over `ramp` × duration, then held
  steady       users (reached within `warmup` seconds), held for the duration
  step         `steps` equal steps up to users, each duration/steps long (to find the knee)
  spike        `base` × users, users from `at` for `length` (shares of the run), back to base
  working_day  the office-day profile (morning peak, lunch dip, afternoon) for each of `days`;
               an ordinary day peaks at normal_day_factor × users, the end of the month at users
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any


def _clock_minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@dataclass
class Phase:
    index: int
    t0: float
    t1: float
    users: int
    label: str


@dataclass
class Plan:
    kind: str
    users: int
    duration: float
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("users must be at least 1")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.kind == "working_day":
            prof = self.params.get("profile") or {}
            pts = sorted((_clock_minutes(k), float(v)) for k, v in prof.items())
            self._clock = [p[0] for p in pts]
            self._share = [p[1] for p in pts]

    @classmethod
    def from_shape(cls, shape: dict[str, Any], users: int, duration: float | None = None) -> "Plan":
        params = {k: v for k, v in shape.items() if k not in ("kind", "duration", "title")}
        return cls(shape["kind"], int(users), float(duration or shape.get("duration") or 300), params)

    # -- the curve ---------------------------------------------------------------------------------
    def users_at(self, t: float) -> int:
        """Target users at t seconds (0 ≤ t < duration)."""
        n, d, p = self.users, self.duration, self.params
        if self.kind == "ramp":
            r = float(p.get("ramp", 0.8)) * d
            return n if r <= 0 or t >= r else max(1, math.ceil(n * t / r))
        if self.kind == "steady":
            w = float(p.get("warmup", 5))
            return n if w <= 0 or t >= w else max(1, math.ceil(n * t / w))
        if self.kind == "step":
            k = min(self.steps, int(t / self.step_seconds) + 1)
            return self.step_users(k)
        if self.kind == "spike":
            at, length = float(p.get("at", 0.4)) * d, float(p.get("length", 0.2)) * d
            base = max(1, round(n * float(p.get("base", 0.2))))
            return n if at <= t < at + length else base
        if self.kind == "working_day":
            days = p.get("days") or ["normal"]
            slot = d / len(days)
            i = min(len(days) - 1, int(t / slot))
            factor = 1.0 if days[i] == "end_of_month" else float(p.get("normal_day_factor", 0.6))
            frac = (t - i * slot) / slot
            clock = self._clock[0] + frac * (self._clock[-1] - self._clock[0])
            return max(1, round(n * factor * self._share_at(clock)))
        raise ValueError(f"unknown shape kind {self.kind!r}")

    def _share_at(self, clock: float) -> float:
        c, s = self._clock, self._share
        if clock <= c[0]:
            return s[0]
        if clock >= c[-1]:
            return s[-1]
        j = bisect.bisect_right(c, clock)
        a, b = c[j - 1], c[j]
        return s[j - 1] + (s[j] - s[j - 1]) * (clock - a) / (b - a)

    @property
    def steps(self) -> int:
        return int(self.params.get("steps", 10))

    @property
    def step_seconds(self) -> float:
        return self.duration / self.steps

    def step_users(self, k: int) -> int:
        return max(1, round(self.users * k / self.steps))

    def tick(self, t: float) -> tuple[int, float] | None:
        """What Locust's LoadTestShape.tick returns: (users, spawn rate), None when the run is over."""
        if t >= self.duration:
            return None
        u = self.users_at(t)
        # spawn fast enough to follow the curve within about a second
        return u, float(max(1, self.users))

    # -- phases (for reports and the knee analysis) ---------------------------------------------
    def phases(self) -> list[Phase]:
        d = self.duration
        if self.kind == "step":
            s = self.step_seconds
            return [Phase(k, (k - 1) * s, k * s, self.step_users(k), f"step {k}") for k in range(1, self.steps + 1)]
        if self.kind == "ramp":
            r = float(self.params.get("ramp", 0.8)) * d
            return [Phase(1, 0, r, self.users, "ramp"), Phase(2, r, d, self.users, "hold")] if r < d else \
                [Phase(1, 0, d, self.users, "ramp")]
        if self.kind == "steady":
            w = min(float(self.params.get("warmup", 5)), d)
            return [Phase(1, 0, w, self.users, "warm-up"), Phase(2, w, d, self.users, "steady")]
        if self.kind == "spike":
            at, ln = float(self.params.get("at", 0.4)) * d, float(self.params.get("length", 0.2)) * d
            base = max(1, round(self.users * float(self.params.get("base", 0.2))))
            return [Phase(1, 0, at, base, "base"), Phase(2, at, at + ln, self.users, "spike"),
                    Phase(3, at + ln, d, base, "after")]
        days = self.params.get("days") or ["normal"]
        slot = d / len(days)
        return [Phase(i + 1, i * slot, (i + 1) * slot, max(self.users_at(i * slot + slot * f) for f in
                                                             (x / 50 for x in range(50))), day)
                for i, day in enumerate(days)]

    def peak(self) -> int:
        return max(self.users_at(self.duration * i / 4000) for i in range(4000))
