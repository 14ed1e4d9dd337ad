"""The portal's runtime state: the active release profile, the worker pool and the counters.

TRUE QUEUEING: every portal request needs a slot of an asyncio.Semaphore(workers) and holds it for
its endpoint's service time (asyncio.sleep, plus a deterministic jitter); requests beyond the pool
wait in line, and beyond `max_queue` waiting requests the portal answers 503 "quá tải". Errors are
deterministic too: every Nth request of an endpoint (counted since the profile was set) fails.
"""
from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from dataclasses import dataclass, field

from config.portal import EndpointTiming, PortalProfile


def jitter_fraction(endpoint: str, n: int) -> float:
    """A fixed pseudo-random fraction in [0, 1) for request n of an endpoint (reproducible)."""
    return ((n * 2654435761 + zlib.crc32(endpoint.encode())) % 1000) / 1000.0


def service_seconds(timing: EndpointTiming, endpoint: str, n: int) -> float:
    return (timing.service_ms + timing.jitter_ms * jitter_fraction(endpoint, n)) / 1000.0


class Overloaded(Exception):
    """The queue for a worker is full: the request is refused with 503."""


@dataclass
class Runtime:
    profile: PortalProfile
    pool: asyncio.Semaphore = field(init=False)
    in_flight: int = 0
    queued: int = 0
    peak_in_flight: int = 0
    peak_queued: int = 0
    rejected_overload: int = 0
    profile_changes: int = 0
    requests: Counter = field(default_factory=Counter)  # per endpoint, since the profile was set
    served: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.pool = asyncio.Semaphore(self.profile.workers)

    def set_profile(self, profile: PortalProfile) -> None:
        """Switch release at runtime. In-flight requests finish on the old pool; counters restart."""
        self.profile = profile
        self.pool = asyncio.Semaphore(profile.workers)
        self.requests.clear()
        self.profile_changes += 1

    def missing_feature(self, path: str):
        for f in self.profile.missing_features:
            if path == f.path or path.startswith(f.path + "/"):
                return f
        return None

    async def acquire(self, endpoint: str) -> tuple[asyncio.Semaphore, int, EndpointTiming]:
        """Count the request, wait for a worker (or raise Overloaded); returns what release needs."""
        prof = self.profile
        self.requests[endpoint] += 1
        n = self.requests[endpoint]
        pool = self.pool
        if pool.locked() and prof.max_queue is not None and self.queued >= prof.max_queue:
            self.rejected_overload += 1
            raise Overloaded()
        if not pool.locked():
            await pool.acquire()  # a free worker: no waiting
        else:
            self.queued += 1
            self.peak_queued = max(self.peak_queued, self.queued)
            try:
                await pool.acquire()
            finally:
                self.queued -= 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return pool, n, prof.timing(endpoint)

    def release(self, pool: asyncio.Semaphore) -> None:
        self.in_flight -= 1
        pool.release()

    def stats(self) -> dict:
        p = self.profile
        return {
            "release": p.release, "workers": p.workers, "max_queue": p.max_queue,
            "in_flight": self.in_flight, "queued": self.queued,
            "peak_in_flight": self.peak_in_flight, "peak_queued": self.peak_queued,
            "rejected_overload": self.rejected_overload, "profile_changes": self.profile_changes,
            "requests": dict(self.requests), "served": dict(self.served), "errors": dict(self.errors),
            "served_total": sum(self.served.values()), "errors_total": sum(self.errors.values()),
        }
