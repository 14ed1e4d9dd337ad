"""Synthetic dossiers at benchmark scale, generated inside DuckDB (no Python loop).

Realistic enough to exercise every branch of the engine: all four time units, supplement
cycles, withdrawn/rejected dossiers, pending ones, and receptions on weekends and after hours.
"""
from __future__ import annotations

CANONICAL = ("dossier_code, agency_code, agency_name, procedure_code, procedure_name, field, channel, "
             "received_at, time_limit, time_unit, supplement_requested_at, supplement_received_at, "
             "extended_due_at, finished_at, returned_at, state, reported_due_at, reported_status, "
             "source_system, synced_at, synced_status")


def synth_select(n: int, seed: int = 7, start: str = "2024-07-01", days: int = 730) -> str:
    """A SELECT yielding n dossiers in the canonical columns (typed)."""
    return f"""
    WITH base AS (
        SELECT i,
               hash(i, {seed}) AS h1, hash(i, {seed} + 1) AS h2, hash(i, {seed} + 2) AS h3
        FROM range({n}) t(i)
    ), shaped AS (
        SELECT i, h1, h2, h3,
               TIMESTAMP '{start}' + to_days(CAST(h1 % {days} AS INTEGER))
                 + to_minutes(CAST(360 + (h2 % 720) AS INTEGER)) AS received_at,
               CASE WHEN h3 % 100 < 80 THEN 'working_days' WHEN h3 % 100 < 88 THEN 'working_hours'
                    WHEN h3 % 100 < 95 THEN 'calendar_days' ELSE 'same_day' END AS time_unit,
               CAST(1 + (h2 >> 8) % 15 AS DOUBLE) AS lim,
               (h1 >> 16) % 100 AS fate, (h2 >> 20) % 100 AS supp
        FROM base
    )
    SELECT 'B' || lpad(CAST(i AS VARCHAR), 9, '0') AS dossier_code,
           'AG' || CAST(h1 % 120 AS VARCHAR) AS agency_code,
           'Cơ quan ' || CAST(h1 % 120 AS VARCHAR) AS agency_name,
           'P' || CAST(h2 % 400 AS VARCHAR) AS procedure_code,
           'Thủ tục ' || CAST(h2 % 400 AS VARCHAR) AS procedure_name,
           'Lĩnh vực ' || CAST(h2 % 25 AS VARCHAR) AS field,
           CASE WHEN h3 % 10 < 5 THEN 'online' WHEN h3 % 10 < 9 THEN 'direct' ELSE 'postal' END AS channel,
           received_at,
           CASE WHEN time_unit = 'same_day' THEN 0 WHEN time_unit = 'working_hours' THEN lim * 4 ELSE lim END
               AS time_limit,
           time_unit,
           CASE WHEN supp < 7 THEN received_at + to_days(1) END AS supplement_requested_at,
           CASE WHEN supp < 5 THEN received_at + to_days(4) END AS supplement_received_at,
           CASE WHEN fate BETWEEN 80 AND 84 THEN received_at + to_days(CAST(lim AS INTEGER) + 10) END
               AS extended_due_at,
           CASE WHEN fate < 90 THEN received_at + to_minutes(CAST((h3 >> 12) % (CAST(lim AS INTEGER) * 2400 + 60) AS INTEGER))
                                 + CASE WHEN supp < 5 THEN to_days(4) ELSE to_days(0) END END AS finished_at,
           CASE WHEN fate < 85 THEN received_at + to_days(CAST(lim AS INTEGER) * 2 + 2) END AS returned_at,
           CASE WHEN fate < 85 THEN 'returned' WHEN fate < 90 THEN 'finished' WHEN fate < 98 THEN 'processing'
                WHEN fate < 99 THEN 'withdrawn' ELSE 'rejected' END AS state,
           received_at + to_days(CAST(lim AS INTEGER) + 1) AS reported_due_at,
           CASE WHEN fate < 10 THEN 'overdue' ELSE 'on_time' END AS reported_status,
           CASE WHEN received_at < TIMESTAMP '2025-06-01' THEN '1.0' ELSE '2.0' END AS source_system,
           CASE WHEN fate < 85 AND (h3 >> 24) % 100 > 3 THEN received_at + to_days(CAST(lim AS INTEGER) * 2 + 3) END
               AS synced_at,
           CASE WHEN fate < 85 AND (h3 >> 24) % 100 > 3 THEN 'returned' END AS synced_status
    FROM shaped
    """


def write_csv(con, path: str, n: int, seed: int = 7) -> None:
    """A canonical CSV of n dossiers (ISO dates), as an official's system would export it."""
    con.execute(f"COPY ({synth_select(n, seed)}) TO '{path}' (HEADER, DELIMITER ',')")
