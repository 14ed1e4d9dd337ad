"""Reading and writing the alert state (store/migrations/008_alert_state.sql) for
alerting/alerts.py: every SQL statement about it is here."""
from __future__ import annotations

from typing import Any

COLUMNS = ("key", "phase", "title", "detail", "severity", "since", "last_sent", "ended", "undelivered",
           "undelivered_kind")


def load_alert_state(store) -> list[dict[str, Any]]:
    """Every saved alert, as dicts with COLUMNS."""
    rows = store.cursor().execute(f"SELECT {', '.join(COLUMNS)} FROM alert_state ORDER BY key").fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def save_alert_state(store, rows: list[dict[str, Any]]) -> None:
    """Replace the saved state with `rows` (one transaction)."""
    with store.transaction() as con:
        con.execute("DELETE FROM alert_state")
        if rows:
            con.executemany(f"INSERT INTO alert_state ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                            [[r.get(c) for c in COLUMNS] for r in rows])
