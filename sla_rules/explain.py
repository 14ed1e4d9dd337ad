"""`sla explain`: one line per dossier with its deadline, status and the reason, for clerks.

Works on any relation with the engine's input columns (e.g. the staging relation of
imports.dossiers.load_staging); no store is needed.
"""
from __future__ import annotations

import math
from datetime import date, datetime

from config.vocabulary import unit_spec
from sla_rules.constants import FLAGS
from sla_rules.engine import SlaEngine, _relation

def explain_rows(con, engine: SlaEngine, source: str, as_of: datetime | date, events: str | None = None,
                 lang: str = "vi") -> list[dict]:  # noqa: ANN001 - duckdb connection
    """Compute deadlines with reasons: [{dossier_code, due, status, reason, findings}] (findings: the
    names of the engine's audit flags, sla_rules.constants.FLAGS).

    Rows come in file order when the source has a `row_no` column, else by dossier_code.

    `due` is 'YYYY-MM-DD' for day-based deadlines, 'YYYY-MM-DD HH:MM' for office-time deadlines
    (working_hours, fractional working_days), '' when there is none.
    """
    engine.install(con)
    sql = engine.compute_sql(source, as_of, events=events, with_reasons=True, lang=lang)
    src = _relation(source, "source")
    cols = {d[0] for d in con.execute(f"SELECT * FROM {src} LIMIT 0").description}
    # File order when the relation carries it (the staging relation has row_no), else by code.
    rn = "min(row_no)" if "row_no" in cols else "NULL::BIGINT"
    rows = con.execute(
        f"SELECT r.dossier_code, r.due_date, r.due_at, r.status, r.reason, s.time_unit, s.time_limit, r.flags "
        f"FROM ({sql}) r LEFT JOIN (SELECT dossier_code, any_value(time_unit) AS time_unit, "
        f"any_value(time_limit) AS time_limit, {rn} AS rn FROM {src} GROUP BY dossier_code) s "
        f"ON s.dossier_code = r.dossier_code ORDER BY s.rn NULLS LAST, r.dossier_code"
    ).fetchall()
    out = []
    for code, due_date, due_at, status, reason, unit, limit, flags in rows:
        hourly = _hourly(unit, limit)
        if due_date is None:
            due = ""
        elif hourly and due_at is not None:
            due = due_at.strftime("%Y-%m-%d %H:%M")
        else:
            due = due_date.isoformat()
        out.append({"dossier_code": code, "due": due, "status": status, "reason": reason or "",
                    "findings": [name for bit, (name, _vi, _en) in FLAGS.items() if (flags or 0) & bit]})
    return out


# The engine's input columns, as `explain_records` takes them (any subset, by name).
_INPUT_TYPES = {"dossier_code": "VARCHAR", "received_at": "TIMESTAMP", "time_limit": "DOUBLE", "time_unit": "VARCHAR",
                "supplement_requested_at": "TIMESTAMP", "supplement_received_at": "TIMESTAMP",
                "extended_due_at": "TIMESTAMP", "finished_at": "TIMESTAMP", "returned_at": "TIMESTAMP",
                "state": "VARCHAR"}


def explain_records(engine: SlaEngine, columns: list[str], rows: list[tuple], as_of: datetime | date,
                    lang: str = "vi", events: list[tuple] = ()) -> list[dict]:
    """explain_rows over records held in memory (a named query's answer), with their events
    (dossier_code, event, at), in a DuckDB of their own: the store is never touched."""
    import duckdb

    cols = [c for c in columns if c in _INPUT_TYPES]
    idx = [columns.index(c) for c in cols]
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE explain_src ("
                    + ", ".join(f"{c} {t}" for c, t in _INPUT_TYPES.items()) + ")")
        con.executemany(f"INSERT INTO explain_src ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [[r[i] for i in idx] for r in rows])
        con.execute('CREATE TEMP TABLE explain_events (dossier_code VARCHAR, event VARCHAR, "at" TIMESTAMP)')
        if events:
            con.executemany("INSERT INTO explain_events VALUES (?, ?, ?)", [tuple(e[:3]) for e in events])
        return explain_rows(con, engine, "explain_src", as_of, events="explain_events" if events else None, lang=lang)
    finally:
        con.close()


def _hourly(unit: str | None, limit: float | None) -> bool:
    """Is the deadline an exact instant (office time) rather than a day?"""
    spec = unit_spec(unit)
    if spec is None or spec.clock not in ("working_hours", "working_days"):
        return False
    if spec.clock == "working_hours":
        return True
    if limit is None:
        return False
    x = float(limit) * spec.factor
    return math.isfinite(x) and x != math.floor(x)


def format_lines(rows: list[dict]) -> str:
    """Text output, one line per dossier (code, due, status, reason), columns aligned; '' for no rows."""
    if not rows:
        return ""
    wc = max(len(str(r["dossier_code"])) for r in rows)
    wd = max(16, max(len(r["due"]) for r in rows))
    ws = max(len(r["status"]) for r in rows)
    return "\n".join(f"{str(r['dossier_code']):<{wc}}  {r['due'] or '-':<{wd}}  {r['status']:<{ws}}  {r['reason']}"
                     for r in rows)
