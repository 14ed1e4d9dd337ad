-- What the refresh reads of a dossier that no rule, calendar or as_of changes, kept beside the row
-- (store/dossier_facts.py): its agency's number, the head of its audit key and its sync key
-- (store/vendor.py). The engine pass read them through four joins and a dozen expressions for
-- every dossier on every refresh; they are now computed once per written row. NULL until the next
-- refresh fills them: the import clears them on every row it changes.
ALTER TABLE dossiers ADD COLUMN fx_agency UINTEGER;
ALTER TABLE dossiers ADD COLUMN fx_audit INTEGER;
ALTER TABLE dossiers ADD COLUMN fx_sync BIGINT;

-- The digest of the SQL the facts were computed with: another one (a new classification of the
-- status words, say) makes the next refresh compute every row's facts again.
CREATE TABLE dossier_facts_state (
    digest VARCHAR NOT NULL
);
