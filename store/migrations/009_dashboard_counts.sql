-- Per-agency monthly counts of the vendor audit and of the sync reconciliation, rebuilt by every
-- SLA recompute (store/queries.py: refresh_dashboard_counts) with exactly the rules of the named
-- queries audit_dossiers and sync_unsynced, so audit_by_agency and sync_by_agency add up a few
-- thousand rows instead of classifying every dossier. The queries use them only while they
-- describe the store: written by the last finished recompute, no dossier changed or added since
-- (dashboard_counts_state); otherwise they count from the dossiers as before.
CREATE TABLE agency_month_audit (
    month                              DATE,     -- month resolved in, or received in when not resolved
    agency_code                        VARCHAR,
    dossiers                           BIGINT NOT NULL,
    reported_overdue_resolved_on_time  BIGINT NOT NULL,
    reported_on_time_actually_overdue  BIGINT NOT NULL,
    no_reported_due                    BIGINT NOT NULL,
    due_date_differs                   BIGINT NOT NULL,
    status_differs                     BIGINT NOT NULL,
    mismatches                         BIGINT NOT NULL,
    reported_overdue                   BIGINT NOT NULL,
    recomputed_overdue                 BIGINT NOT NULL
);

CREATE TABLE agency_month_sync (
    month                    DATE,     -- month resolved in (NULL: resolved state without a date)
    agency_code              VARCHAR,
    source_system            VARCHAR,
    resolved                 BIGINT NOT NULL,
    synced_ok                BIGINT NOT NULL,
    never_synced             BIGINT NOT NULL,
    synced_before_resolution BIGINT NOT NULL,
    status_differs           BIGINT NOT NULL,
    unsynced                 BIGINT NOT NULL
);

-- Which recompute wrote the two tables, and how many dossiers there were then.
CREATE TABLE dashboard_counts_state (
    run_id   BIGINT NOT NULL,
    dossiers BIGINT NOT NULL,
    max_dossier_id UINTEGER
);
