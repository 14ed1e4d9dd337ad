-- Incremental refresh and the dashboard's counts in the recompute's pass (store/sla.py, store/vendor.py).
--
-- Each dossier's audit and sync facts, packed by the engine pass beside its SLA result (layouts in
-- store/vendor.py). NULL until the next recompute writes them.
ALTER TABLE sla_results ADD COLUMN audit_key INTEGER USING COMPRESSION uncompressed;
ALTER TABLE sla_results ADD COLUMN sync_key BIGINT USING COMPRESSION uncompressed;

-- The source systems (e.g. 1.0 / 2.0) as sync_key numbers them.
CREATE TABLE sla_sources (
    source_ix     INTEGER NOT NULL,
    source_system VARCHAR NOT NULL
);

-- Dossiers per agency (sla_agencies) and key: what the per-agency month tables are counted from.
-- A full recompute rebuilds them; an incremental refresh takes out the old keys of the dossiers it
-- judges again and adds their new ones, then counts the month tables from these alone.
CREATE TABLE sla_month_counts (agency_ix UINTEGER NOT NULL, month_key BIGINT NOT NULL, n BIGINT NOT NULL);
CREATE TABLE sla_audit_counts (agency_ix UINTEGER NOT NULL, audit_key INTEGER NOT NULL, n BIGINT NOT NULL);
CREATE TABLE sla_sync_counts (agency_ix UINTEGER NOT NULL, sync_key BIGINT NOT NULL, n BIGINT NOT NULL);

-- What the results were judged with and up to which import: an incremental refresh is allowed only
-- with the same engine (rule set, calendar, code), on the same day, and reads the imports since.
ALTER TABLE sla_result_set ADD COLUMN engine_key VARCHAR;
ALTER TABLE sla_result_set ADD COLUMN batch_id INTEGER;
ALTER TABLE sla_runs ADD COLUMN kind VARCHAR;  -- full | incremental (NULL: before this migration, full)

-- Counts written before the keys existed cannot be refreshed from them: the next refresh is full.
DELETE FROM dashboard_counts_state;
