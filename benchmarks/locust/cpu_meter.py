"""Measures a Locust process's own CPU per request in the steady part of a run; added to either
locustfile of bench_loadtest_cpu.py (`-f theirs.py,cpu_meter.py`), so both are measured alike.

From `MOTCUA_METER_WARMUP` seconds after the test starts until it stops: CPU seconds of this
process (time.process_time), requests counted by Locust, and the wall-clock times of both ends
(so that the parent can read another process's CPU, the testbed's, over the same window); written
as JSON to MOTCUA_METER_OUT.

`MOTCUA_METER_PROFILE=path`: cProfile over the same window, its statistics dumped to `path`
(pstats format). Greenlet switches blur who called whom, but the own time of each function holds.
Run only by Locust in a process of its own."""
import json
import os
import time

import gevent
from locust import events

_marks = {}
_profile = []


def _mark(name, environment):
    _marks[name] = (time.process_time(), environment.stats.total.num_requests, time.time())
    if name == "from" and os.environ.get("MOTCUA_METER_PROFILE"):
        import cProfile

        _profile.append(cProfile.Profile())
        _profile[0].enable()


@events.test_start.add_listener
def _start(environment, **_kw):
    gevent.spawn_later(float(os.environ.get("MOTCUA_METER_WARMUP", "4")), _mark, "from", environment)


@events.test_stop.add_listener
def _stop(environment, **_kw):
    if "from" in _marks and "to" not in _marks:
        _mark("to", environment)
        if _profile:
            _profile[0].disable()
            _profile[0].dump_stats(os.environ["MOTCUA_METER_PROFILE"])
        (c0, n0, t0), (c1, n1, t1) = _marks["from"], _marks["to"]
        with open(os.environ["MOTCUA_METER_OUT"], "w") as f:
            json.dump({"cpu_s": c1 - c0, "requests": n1 - n0, "seconds": t1 - t0, "from_at": t0, "to_at": t1}, f)
