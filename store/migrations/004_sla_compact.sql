-- The SLA results keyed by an integer surrogate key, in narrow columns (for recompute speed).
--
-- * dossiers.dossier_id: an integer surrogate key, given by a sequence on insert (existing rows
--   are numbered in place); the text dossier_code stays the natural key and the primary key.
-- * sla_results replaces the old table dossier_sla: keyed by dossier_id, the status as a 1-byte
--   ENUM, and nothing that can be derived (final_status is the status of a resolved dossier;
--   due_date is the day of the last instant before late_from; the rule version follows from the
--   reception date and the versions of the run, kept in sla_rule_versions).
-- * dossier_sla becomes a view with exactly the old columns, for reading.
-- Every row of the old table is carried over; the migration fails (and the store is left as it
-- was) rather than drop a result whose dossier cannot be found.

CREATE TYPE sla_status AS ENUM ('early', 'on_time', 'overdue', 'pending_in_time', 'pending_overdue',
                                'waiting_supplement', 'excluded', 'no_deadline');

CREATE SEQUENCE dossier_id_seq START 1;
ALTER TABLE dossiers ADD COLUMN dossier_id UINTEGER DEFAULT nextval('dossier_id_seq');

-- Output of the SLA engine, rebuilt by every recompute: one row per dossier. No primary key (an
-- index on 10 million rows would be rebuilt in memory by every recompute). Stored uncompressed:
-- DuckDB's choice of compression, tried on every column of ten million rows at each recompute,
-- cost more than the engine's arithmetic (≈ 1.0 of 1.8 s of CPU to write them, measured), for
-- ≈ 49 bytes a row on disk.
CREATE TABLE sla_results (
    dossier_id     UINTEGER   USING COMPRESSION uncompressed NOT NULL,   -- dossiers.dossier_id
    status         sla_status USING COMPRESSION uncompressed NOT NULL,   -- status at computed_as_of (see sla_rules)
    clock_start_at TIMESTAMP  USING COMPRESSION uncompressed,  -- effective reception (after the last restart)
    due_at         TIMESTAMP  USING COMPRESSION uncompressed,  -- working_hours: exact; day-based: office close of the due date
    late_from      TIMESTAMP  USING COMPRESSION uncompressed,  -- first late instant: day after the due date at 00:00, or due_at + 1 µs
    computed_as_of TIMESTAMP  USING COMPRESSION uncompressed NOT NULL,
    -- What the monthly figures need of the dossier, written by the recompute in the same pass
    -- (store/sla.py, month_keys_sql): its months (received, resolved, overdue from, waiting),
    -- final class and channel packed in one number, and its agency as numbered in sla_agencies.
    -- NULL for rows that were not written by a recompute (carried over from an older schema).
    month_key      BIGINT     USING COMPRESSION uncompressed,
    agency_ix      UINTEGER   USING COMPRESSION uncompressed
);

-- The agencies of the dossiers as the last recompute numbered them (for sla_results.agency_ix).
CREATE TABLE sla_agencies (
    agency_ix   UINTEGER NOT NULL PRIMARY KEY,
    agency_code VARCHAR  NOT NULL
);

-- The rule set's versions as the last recompute used them: a dossier is judged by the last
-- version whose effective_from is on or before its reception (older dossiers: the first one).
CREATE TABLE sla_rule_versions (
    rule_version   VARCHAR   NOT NULL PRIMARY KEY,
    effective_from TIMESTAMP NOT NULL
);

-- Carry the old results over. Rule versions: each stored version from the earliest reception it
-- was given to (the engine assigns versions by reception date, so this gives every dossier back
-- its version; checked below).
ALTER TABLE dossier_sla RENAME TO dossier_sla_v3;

INSERT INTO sla_rule_versions
SELECT s.rule_version, min(d.received_at)
FROM dossier_sla_v3 s JOIN dossiers d USING (dossier_code)
GROUP BY s.rule_version;

INSERT INTO sla_results (dossier_id, status, clock_start_at, due_at, late_from, computed_as_of)
SELECT d.dossier_id, CAST(s.status AS sla_status), s.clock_start_at, s.due_at, s.late_from, s.computed_as_of
FROM dossier_sla_v3 s JOIN dossiers d USING (dossier_code);

CREATE VIEW dossier_sla AS
SELECT d.dossier_code,
       coalesce(v.rule_version, (SELECT min_by(rule_version, effective_from) FROM sla_rule_versions)) AS rule_version,
       s.clock_start_at,
       CAST(s.late_from - INTERVAL 1 MICROSECOND AS DATE) AS due_date,
       s.due_at,
       s.late_from,
       CASE WHEN s.status IN ('early', 'on_time', 'overdue') THEN CAST(s.status AS VARCHAR) END AS final_status,
       CAST(s.status AS VARCHAR) AS status,
       s.computed_as_of
FROM sla_results s
JOIN dossiers d ON d.dossier_id = s.dossier_id
ASOF LEFT JOIN sla_rule_versions v ON d.received_at >= v.effective_from;

-- Nothing may be lost: the view must give back every row of the old table, value for value, or
-- the migration fails and the store stays as it was (at version 3, with its data).
SELECT CASE WHEN (SELECT count(*) FROM dossier_sla_v3) = (SELECT count(*) FROM dossier_sla)
             AND NOT EXISTS (SELECT * FROM dossier_sla_v3 EXCEPT ALL SELECT * FROM dossier_sla)
            THEN 1
            ELSE error('migration 004: the SLA results cannot be carried over unchanged (a result without '
                       || 'its dossier, or values the new layout cannot hold), the store was left as it was') END;

DROP TABLE dossier_sla_v3;  -- verified above: every row is in sla_results, as the view shows
