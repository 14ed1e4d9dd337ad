"""The owner's Prometheus exposition (/metrics on loopback): the store's SLA figures and the
probes' metrics in one registry of its own (exporter.py)."""
