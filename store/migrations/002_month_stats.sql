-- Per-agency monthly figures of the Biểu số 06/VPCP/KSTT kind, rebuilt by every SLA recompute
-- (store/sla.py: refresh_month_stats) from dossiers + dossier_sla. One row per month and per
-- agency code as recorded on the dossiers (no roll-up: queries roll up along the agency tree).
-- `month` is the first day of the month (local time); for the month containing `as_of`, the
-- "end of the month" figures (pending) are taken at `as_of`.
CREATE TABLE agency_month_stats (
    month                  DATE    NOT NULL,
    agency_code            VARCHAR NOT NULL,
    received_total         BIGINT  NOT NULL,   -- = received_online + received_direct_postal + carried_over
    received_online        BIGINT  NOT NULL,
    received_direct_postal BIGINT  NOT NULL,
    carried_over           BIGINT  NOT NULL,   -- received before the month, not resolved before it started
    resolved_total         BIGINT  NOT NULL,
    resolved_early         BIGINT  NOT NULL,
    resolved_on_time       BIGINT  NOT NULL,
    resolved_overdue       BIGINT  NOT NULL,
    pending_total          BIGINT  NOT NULL,   -- at the end of the month
    pending_in_time        BIGINT  NOT NULL,   -- includes dossiers waiting for a supplement
    pending_overdue        BIGINT  NOT NULL,
    as_of                  TIMESTAMP NOT NULL, -- the recompute's as_of
    PRIMARY KEY (month, agency_code)
);
