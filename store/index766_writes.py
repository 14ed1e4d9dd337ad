"""Keeping the 766 rank's per-procedure pre-counts (store/index766_queries.py PRE_TABLE).

    keep_pre_counts(store) -> int | None   rows kept, None when the data changed meanwhile (or no refresh yet)

The owner calls it after each refresh, in the background: the counting reads a snapshot on a
read cursor (no write lock held while the dossiers are scanned), and only the short swap of the
table takes the write lock, after checking that no refresh or import came in between.
"""
from __future__ import annotations

import datetime as dt

from store.index766_queries import PRE_STAMP, PRE_TABLE, _pre_counts_sql, pre_counts_stamp

_NEVER = dt.datetime(9999, 1, 1)


def keep_pre_counts(store) -> int | None:
    con = store.cursor()
    try:
        con.execute("BEGIN TRANSACTION")  # one snapshot for the stamp and the counts
        stamp = pre_counts_stamp(con)
        if stamp is None:
            return None
        counts = con.sql(_pre_counts_sql(), params={"start": dt.datetime(1, 1, 1), "cut": stamp[1] or _NEVER}
                         ).to_arrow_table()
        con.execute("COMMIT")
    finally:
        con.close()
    with store.transaction() as w:
        if pre_counts_stamp(w) != stamp:
            return None  # counted from data already replaced: the next refresh counts again
        w.register("_pre_counts", counts)
        try:
            w.execute(f"CREATE OR REPLACE TABLE {PRE_TABLE} AS SELECT * FROM _pre_counts ORDER BY month")
        finally:
            w.unregister("_pre_counts")
        w.execute(f"DELETE FROM {PRE_STAMP}")
        w.execute(f"INSERT INTO {PRE_STAMP} VALUES (?, ?, ?, ?)", list(stamp))
    return counts.num_rows
