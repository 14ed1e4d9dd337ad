-- More of what the refresh reads of a dossier that no rule, calendar or as_of changes, kept beside
-- the row (store/dossier_facts.py): the vendor's due date as the audit compares it, the row's part
-- of the monthly figures' key and whether the engine must judge its supplement cycle against its
-- first deadline. NULL until the next refresh fills them (the facts' digest changes with them, so
-- every row is filled again).
ALTER TABLE dossiers ADD COLUMN fx_rdue BIGINT;
ALTER TABLE dossiers ADD COLUMN fx_month BIGINT;
ALTER TABLE dossiers ADD COLUMN fx_cycle BOOLEAN;

-- month_key now holds absolute month numbers (store/month_key.py): the keys stored in the old
-- layout are dropped (a query reads a row without one through its dossier) and the next refresh
-- is full.
UPDATE sla_results SET month_key = NULL;
DELETE FROM sla_month_counts;
DELETE FROM dashboard_counts_state;

-- Copies of the dossier rows whose supplement cycles the engine judges one by one (fx_cycle), kept
-- by store/dossier_facts.py: a full refresh reads these few here.
CREATE TABLE cycle_dossiers AS SELECT * FROM dossiers LIMIT 0;
