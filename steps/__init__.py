"""A step of config/probes.py as both senders understand it: the probes and the load tests.
Neutral ground: nothing here imports either of them, the store, or anything heavy."""
