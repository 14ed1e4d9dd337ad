"""Citizens reading the status page (benchmarks/bench_status_page.py): each user paced at
MOTCUA_SP_RATE requests per second, mostly the Vietnamese page, some English, some the Atom feed,
asking for gzip as browsers do. Every response's time is kept and, when the run stops, the ones
after MOTCUA_SP_WARMUP seconds are written to MOTCUA_SP_OUT (JSON). Run only by Locust in a
process of its own."""
import json
import os
import time

from locust import FastHttpUser, constant_throughput, events, task

RATE = float(os.environ.get("MOTCUA_SP_RATE", "10"))
WARMUP = float(os.environ.get("MOTCUA_SP_WARMUP", "3"))
OUT = os.environ.get("MOTCUA_SP_OUT", "status-page-times.json")
HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/html"}
_t0 = time.time()
_times: list[float] = []
_failures = {"n": 0}
_window = {"from": None, "to": None}


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **_kw):
    now = time.time()
    if now - _t0 < WARMUP:
        return
    _window["from"] = _window["from"] or now
    _window["to"] = now
    if exception is not None:
        _failures["n"] += 1
    else:
        _times.append(response_time)


@events.quitting.add_listener
def _write(**_kw):
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"times_ms": _times, "failures": _failures["n"], "from_at": _window["from"],
                   "to_at": _window["to"]}, f)


class Citizen(FastHttpUser):
    wait_time = constant_throughput(RATE)

    @task(17)
    def page_vi(self):
        self.client.get("/", headers=HEADERS)

    @task(2)
    def page_en(self):
        self.client.get("/?lang=en", headers=HEADERS)

    @task(1)
    def feed(self):
        self.client.get("/feed.atom", headers=HEADERS)
