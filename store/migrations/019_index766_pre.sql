-- The 766 rank's per-procedure pre-counts (store/index766_writes.py): the table index766_pre is
-- created by the owner from store/index766_queries.py's definition after each refresh; this row
-- says which refresh it was counted after, and from which definition. A query reads the table only
-- while both still hold, and counts from the dossiers otherwise.
CREATE TABLE index766_pre_stamp (
    run_id   INTEGER   NOT NULL,   -- sla_result_set.run_id when counted
    as_of    TIMESTAMP NOT NULL,   -- sla_result_set.as_of (the months are cut there, as Biểu 06)
    batch_id INTEGER,              -- the last import then (max import_batches.batch_id)
    sql_key  VARCHAR   NOT NULL    -- a digest of the counting SQL
);
