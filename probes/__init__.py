"""Synthetic probes of the portal: the checks and journeys of config/probes.yaml run (runner.py)
over a timed network layer (transport.py), on a schedule (scheduler.py), observed as Prometheus
metrics (metrics.py). What a step sends and expects is steps/, shared with the load tests."""
