"""Writing the alert notifications sent (store/migrations/007_dashboard.sql: alert_events)."""
from __future__ import annotations

import datetime as dt
from typing import Any


def record_alerts(store: Any, sent: list[Any], at: dt.datetime) -> int:
    """One alert_events row per notification (alerting.alerts.Sent). Returns rows written."""
    rows = [(at, s.kind, s.key, s.title, s.body, sum(d.ok for d in s.deliveries),
             sum(not d.ok for d in s.deliveries)) for s in sent]
    if rows:
        with store.transaction() as con:
            con.executemany('INSERT INTO alert_events ("at", kind, key, title, body, delivered, failed) '
                            "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)
