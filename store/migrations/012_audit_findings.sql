-- The engine's findings in the vendor's facts (sla_results.flags, migration 011) per agency and
-- month, rebuilt with agency_month_audit after every recompute (store/queries.py:
-- refresh_dashboard_counts) and added up by audit_by_agency. A table of its own because its scope
-- is wider than the audit's: a refusal after the deadline (state rejected) is a finding, while the
-- comparison with the vendor leaves refusals out. Only (month, agency) pairs with a finding.
CREATE TABLE agency_month_findings (
    month                     DATE,     -- month resolved in, or received in when not resolved (as the audit)
    agency_code               VARCHAR,
    late_request              BIGINT NOT NULL,  -- a supplement request after the deadline in force
    orphan_receipt            BIGINT NOT NULL,  -- a supplement receipt with no request before it
    after_result              BIGINT NOT NULL,  -- supplement facts dated after the result
    inconsistent_state        BIGINT NOT NULL,  -- state processing with a result date
    negative_after_deadline   BIGINT NOT NULL,  -- refused or handed back after the deadline
    findings                  BIGINT NOT NULL,  -- dossiers with at least one of the above
    negative_counted_overdue  BIGINT NOT NULL   -- of negative_after_deadline: counted resolved overdue
);

-- The counts written before this table existed cannot answer for it: until the next recompute
-- writes both, the audit counts from the dossiers.
DELETE FROM dashboard_counts_state;
