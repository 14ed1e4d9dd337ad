-- sla_results keeps only what cannot be derived from the dossier, the run and the rule versions
-- (recompute speed: every column a recompute writes costs it a pass over ten million rows
-- and their bytes on disk).
--
-- * computed_as_of, one value for every row of a recompute, moves to the one-row table
--   sla_result_set (the run that wrote the results and its as_of).
-- * due_at follows from late_from: the instant before it for an office-time deadline
--   (working_hours, or working_days with a fraction), else the office close of the due date
--   under the dossier's rule version, now kept in sla_rule_versions.office_close.
-- * clock_start_at (the effective reception after the last restart) is no longer stored: it is
--   the engine's working value, and the explanation of a dossier (`sla explain`, the agency
--   page) states it in words. The view dossier_sla shows every other column as before.
--
-- Every other value of every row is carried over; the migration fails (and the store is left as
-- it was) rather than lose one: the results of one run share one as_of, and the derived due_at
-- must equal the stored one for every dossier not changed since the last recompute.

-- * The dossier's state, time unit and channel become ENUM columns (1 byte, compared as numbers):
--   the recompute tests them for every dossier, and the import only ever writes the values below
--   (config/mapping.py, ENUMS; other values are quarantined). A value outside them stops the
--   migration and the store is left as it was.
CREATE TYPE dossier_state AS ENUM ('processing', 'finished', 'returned', 'withdrawn', 'rejected');
CREATE TYPE dossier_time_unit AS ENUM ('working_days', 'calendar_days', 'same_day', 'working_hours');
CREATE TYPE dossier_channel AS ENUM ('online', 'direct', 'postal');
ALTER TABLE dossiers ALTER state TYPE dossier_state;
ALTER TABLE dossiers ALTER time_unit TYPE dossier_time_unit;
ALTER TABLE dossiers ALTER channel TYPE dossier_channel;

CREATE TABLE sla_result_set (
    as_of  TIMESTAMP NOT NULL,   -- the as_of of every status in sla_results
    run_id INTEGER               -- the recompute that wrote them (sla_runs); NULL: carried over by a migration
);

SELECT CASE WHEN (SELECT count(DISTINCT computed_as_of) FROM sla_results) <= 1 THEN 1
            ELSE error('migration 010: the SLA results hold several as_of instants (a store written by hand?), '
                       || 'the store was left as it was') END;

INSERT INTO sla_result_set
SELECT a.as_of, (SELECT max(run_id) FROM sla_runs WHERE finished_at IS NOT NULL AND as_of = a.as_of)
FROM (SELECT max(computed_as_of) AS as_of, count(*) AS n FROM sla_results) a
WHERE a.n > 0;

-- The office close of each version, read off the stored day-based deadlines (due_at is the
-- close of the due date, late_from the next midnight); the next recompute writes it from the
-- rule set.
ALTER TABLE sla_rule_versions ADD COLUMN office_close TIME;

UPDATE sla_rule_versions SET office_close = c.office_close
FROM (
    SELECT coalesce(v.rule_version, (SELECT min_by(rule_version, effective_from) FROM sla_rule_versions)) AS rule_version,
           max(CAST(s.due_at AS TIME)) AS office_close
    FROM sla_results s
    JOIN dossiers d ON d.dossier_id = s.dossier_id
    ASOF LEFT JOIN sla_rule_versions v ON d.received_at >= v.effective_from
    WHERE s.late_from IS NOT NULL AND s.due_at + INTERVAL 1 MICROSECOND <> s.late_from
    GROUP BY ALL
) c
WHERE c.rule_version = sla_rule_versions.rule_version;

DROP VIEW dossier_sla;

CREATE TABLE sla_results_010 (
    dossier_id UINTEGER   USING COMPRESSION uncompressed NOT NULL,   -- dossiers.dossier_id
    status     sla_status USING COMPRESSION uncompressed NOT NULL,   -- status at sla_result_set.as_of
    late_from  TIMESTAMP  USING COMPRESSION uncompressed,  -- first late instant: day after the due date at 00:00, or due_at + 1 µs
    -- What the monthly figures need of the dossier, written by the recompute in the same pass
    -- (store/sla.py, month_keys_sql): its months (received, and counted back from as_of: resolved,
    -- overdue from, waiting), final class and channel packed in one number, and its agency as
    -- numbered in sla_agencies. NULL for rows that were not written by a recompute (carried over
    -- from an older schema).
    month_key  BIGINT     USING COMPRESSION uncompressed,
    agency_ix  UINTEGER   USING COMPRESSION uncompressed
);

-- month_key is now counted back from as_of (store/sla.py): the keys of the old layout are not
-- carried over, and the queries read those rows in full until the next recompute writes new ones
-- (agency_month_stats, counted from them, stays as it is).
INSERT INTO sla_results_010 SELECT dossier_id, status, late_from, NULL, agency_ix FROM sla_results;

-- Nothing may be lost: every carried value is in the new table, and the view derives every
-- dossier's due_at as it was stored (dossiers changed since the last recompute aside: their
-- results are recomputed anyway); otherwise the migration fails and the store stays as it was.
SELECT CASE WHEN (SELECT count(*) FROM sla_results) = (SELECT count(*) FROM sla_results_010)
             AND NOT EXISTS (SELECT dossier_id, status, late_from, agency_ix FROM sla_results
                             EXCEPT ALL
                             SELECT dossier_id, status, late_from, agency_ix FROM sla_results_010)
             AND NOT EXISTS (
                 SELECT 1
                 FROM sla_results o
                 JOIN dossiers d ON d.dossier_id = o.dossier_id
                 LEFT JOIN (SELECT office_close FROM sla_rule_versions ORDER BY effective_from LIMIT 1) f ON TRUE
                 ASOF LEFT JOIN sla_rule_versions v ON d.received_at >= v.effective_from
                 WHERE o.due_at IS DISTINCT FROM (
                       CASE WHEN o.late_from IS NULL THEN NULL
                            WHEN OFFICE_TIME(d.time_unit, d.time_limit) THEN o.late_from - INTERVAL 1 MICROSECOND
                            ELSE CAST(o.late_from - INTERVAL 1 MICROSECOND AS DATE) + coalesce(v.office_close, f.office_close)
                       END)
                   AND (d.updated_at IS NULL
                        OR d.updated_at <= (SELECT max(started_at) FROM sla_runs WHERE finished_at IS NOT NULL)
                        OR NOT EXISTS (SELECT 1 FROM sla_runs WHERE finished_at IS NOT NULL)))
            THEN 1
            ELSE error('migration 010: the SLA results cannot be carried over unchanged (a stored due_at that '
                       || 'late_from and the rule versions do not give back?), the store was left as it was') END;

DROP TABLE sla_results;
ALTER TABLE sla_results_010 RENAME TO sla_results;

-- due_at as the engine gives it (sla_rules/engine.py), from late_from and the dossier's unit
CREATE VIEW dossier_sla AS
SELECT d.dossier_code,
       coalesce(v.rule_version, f.rule_version) AS rule_version,
       CAST(s.late_from - INTERVAL 1 MICROSECOND AS DATE) AS due_date,
       CASE WHEN s.late_from IS NULL THEN NULL
            WHEN OFFICE_TIME(d.time_unit, d.time_limit) THEN s.late_from - INTERVAL 1 MICROSECOND
            ELSE CAST(s.late_from - INTERVAL 1 MICROSECOND AS DATE) + coalesce(v.office_close, f.office_close)
       END AS due_at,
       s.late_from,
       CASE WHEN s.status IN ('early', 'on_time', 'overdue') THEN CAST(s.status AS VARCHAR) END AS final_status,
       CAST(s.status AS VARCHAR) AS status,
       r.as_of AS computed_as_of
FROM sla_results s
JOIN dossiers d ON d.dossier_id = s.dossier_id
LEFT JOIN sla_result_set r ON TRUE
LEFT JOIN (SELECT rule_version, office_close FROM sla_rule_versions ORDER BY effective_from LIMIT 1) f ON TRUE
ASOF LEFT JOIN sla_rule_versions v ON d.received_at >= v.effective_from;
