"""A bare Locust FastHttpUser: the home page, nothing else (the yardstick of bench_loadtest_cpu.py).
Run only by Locust in a process of its own."""
from locust import FastHttpUser, constant_pacing, task


class Bare(FastHttpUser):
    wait_time = constant_pacing(0.1)

    @task
    def home(self):
        self.client.get("/vi")
