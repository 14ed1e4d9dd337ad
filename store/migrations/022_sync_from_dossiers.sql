-- The sync key is the dossier's own stored fact (dossiers.fx_sync, store/dossier_facts.py): the
-- sync counts are counted from the dossiers, and the copy beside each SLA result goes.
ALTER TABLE sla_results DROP COLUMN sync_key;
