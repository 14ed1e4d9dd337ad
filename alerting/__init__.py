"""Alerts of the owner: SLO burn rates and slowdowns from the stored probe results (slo.py) become
conditions, conditions become notifications once, repeated and resolved (alerts.py), and
notifications go out through apprise (notify.py)."""
