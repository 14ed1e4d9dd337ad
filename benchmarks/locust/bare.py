"""A bare Locust FastHttpUser: the home page, nothing else (the yardstick of bench_loadtest_cpu.py).
Paced at one request per 0.1 s; `MOTCUA_BARE_PACING=0` takes the pacing away (no wait at all:
the saturated mode). Run only by Locust in a process of its own."""
import os

from locust import FastHttpUser, constant, constant_pacing, task

PACING = float(os.environ.get("MOTCUA_BARE_PACING", "0.1"))


class Bare(FastHttpUser):
    wait_time = constant_pacing(PACING) if PACING > 0 else constant(0)

    @task
    def home(self):
        self.client.get("/vi")
