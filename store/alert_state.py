"""Reading and writing the alert state (store/migrations/008_alert_state.sql) for
alerting/alerts.py and alerting/digest.py: every SQL statement about it is here.

Besides the alerts' rows ('active', 'ending'), the table keeps one row per agency for the due-soon
digest (phase 'digest', key 'digest:<agency code>'): the day it is about (`since`, the first try
that day), the last try (`last_sent`), the dossiers counted (`detail`) and the channels it has not
reached yet (`undelivered`; empty: that day's digest is done). The alerter neither reads nor
replaces those rows.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

COLUMNS = ("key", "phase", "title", "detail", "severity", "since", "last_sent", "ended", "undelivered",
           "undelivered_kind")
DIGEST = "digest"  # the phase of the digest's rows
_DIGEST_KEY = "digest:"


def load_alert_state(store) -> list[dict[str, Any]]:
    """Every saved alert, as dicts with COLUMNS."""
    rows = store.cursor().execute(f"SELECT {', '.join(COLUMNS)} FROM alert_state WHERE phase <> ? ORDER BY key",
                                  [DIGEST]).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def save_alert_state(store, rows: list[dict[str, Any]]) -> None:
    """Replace the saved alerts with `rows` (one transaction); the digest's rows stay."""
    with store.transaction() as con:
        con.execute("DELETE FROM alert_state WHERE phase <> ?", [DIGEST])
        if rows:
            con.executemany(f"INSERT INTO alert_state ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                            [[r.get(c) for c in COLUMNS] for r in rows])


def load_digest_state(store, day: dt.date) -> dict[str, dict[str, Any]]:
    """The digest's rows of `day`, by agency code: {agency: {since, last_sent, count, undelivered}}."""
    rows = store.cursor().execute(
        "SELECT key, since, last_sent, detail, undelivered FROM alert_state "
        "WHERE phase = ? AND CAST(since AS DATE) = ?", [DIGEST, day]).fetchall()
    return {key[len(_DIGEST_KEY):]: {"since": since, "last_sent": last, "count": int(detail or 0),
                                     "undelivered": list(undelivered or ())}
            for key, since, last, detail, undelivered in rows}


def save_digest_state(store, agency: str, since: dt.datetime, at: dt.datetime, title: str, count: int,
                      undelivered: list[str]) -> None:
    """Record the day's digest of `agency` after a try at `at`: `undelivered`, the channels still to
    reach (empty: done for the day). Replaces the agency's row of an earlier day."""
    with store.transaction() as con:
        con.execute("DELETE FROM alert_state WHERE key = ?", [_DIGEST_KEY + agency])
        con.execute(f"INSERT INTO alert_state ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [_DIGEST_KEY + agency, DIGEST, title, str(count), "info", since, at, None,
                     sorted(undelivered), DIGEST if undelivered else None])
