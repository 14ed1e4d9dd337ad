-- The working time left to a deadline (the due-soon list), counted with the calendar and the
-- office hours the results were judged with.
--
-- The engine's working-day calendar as of the last full recompute: per date, whether it is a
-- working day and the working days up to and including it.
CREATE TABLE sla_calendar (
    d          DATE NOT NULL,
    is_working BOOLEAN NOT NULL,
    wd_index   BIGINT NOT NULL
);

-- Each rule version's office sessions (working time passes only inside them).
ALTER TABLE sla_rule_versions ADD COLUMN session_starts TIME[];
ALTER TABLE sla_rule_versions ADD COLUMN session_ends TIME[];

-- Results stored before this migration have no calendar beside them: the next refresh is full.
DELETE FROM dashboard_counts_state;
