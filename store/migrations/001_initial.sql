-- motcua-watch schema v1. Times are naive TIMESTAMPs in local time (Asia/Ho_Chi_Minh):
-- working-day arithmetic is done in local civil time, as the law counts it.

-- Agencies change over time (2025: districts abolished, provinces merged), so a row is valid
-- from valid_from (inclusive) to valid_to (exclusive, NULL = still valid).
CREATE TABLE agencies (
    code           VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    level          VARCHAR NOT NULL DEFAULT 'unit',   -- province | department | district | commune | unit
    parent_code    VARCHAR,
    valid_from     DATE    NOT NULL DEFAULT DATE '1900-01-01',
    valid_to       DATE,
    successor_code VARCHAR,                            -- where its dossiers went when it closed
    PRIMARY KEY (code, valid_from)
);

CREATE TABLE procedures (
    code         VARCHAR PRIMARY KEY,
    name         VARCHAR,
    field        VARCHAR,                              -- lĩnh vực
    time_limit   DOUBLE,
    time_unit    VARCHAR,                              -- working_days | working_hours | calendar_days | same_day
    online_level VARCHAR                               -- full | partial | none (DVC toàn trình / một phần)
);

CREATE TABLE import_batches (
    batch_id            INTEGER PRIMARY KEY,
    kind                VARCHAR NOT NULL,              -- dossiers | events
    file_name           VARCHAR NOT NULL,
    file_sha256         VARCHAR NOT NULL,
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    rows_read           BIGINT DEFAULT 0,
    rows_inserted       BIGINT DEFAULT 0,
    rows_updated        BIGINT DEFAULT 0,
    rows_unchanged      BIGINT DEFAULT 0,
    rows_quarantined    BIGINT DEFAULT 0,
    columns_dropped     VARCHAR[],                     -- unknown columns, ignored
    pii_columns_dropped VARCHAR[],                     -- personal data, never stored
    status              VARCHAR NOT NULL DEFAULT 'running'  -- running | done | failed
);
CREATE SEQUENCE import_batch_seq START 1;

CREATE TABLE dossiers (
    dossier_code            VARCHAR PRIMARY KEY,
    agency_code             VARCHAR NOT NULL,
    procedure_code          VARCHAR,
    field                   VARCHAR,
    channel                 VARCHAR NOT NULL,          -- online | direct | postal
    received_at             TIMESTAMP NOT NULL,
    time_limit              DOUBLE,
    time_unit               VARCHAR NOT NULL,          -- working_days | working_hours | calendar_days | same_day
    supplement_requested_at TIMESTAMP,                 -- latest supplement request (Mẫu 02)
    supplement_received_at  TIMESTAMP,                 -- complete dossier back after it
    extended_due_at         TIMESTAMP,                 -- apology letter's new date (Mẫu 04); not used for judging
    finished_at             TIMESTAMP,
    returned_at             TIMESTAMP,
    state                   VARCHAR NOT NULL,          -- processing | finished | returned | withdrawn | rejected
    reported_due_at         TIMESTAMP,                 -- the vendor's figures, kept to audit them
    reported_status         VARCHAR,
    source_system           VARCHAR,                   -- e.g. 1.0 | 2.0
    synced_at               TIMESTAMP,                 -- last sync to the National Public Service Portal
    synced_status           VARCHAR,
    batch_id                INTEGER,
    updated_at              TIMESTAMP
);

CREATE TABLE dossier_events (
    dossier_code VARCHAR   NOT NULL,
    event        VARCHAR   NOT NULL,                   -- supplement_requested | supplement_received | extended | ...
    "at"         TIMESTAMP NOT NULL,                 -- quoted: AT is a keyword in DuckDB 2
    detail       VARCHAR,
    batch_id     INTEGER,
    PRIMARY KEY (dossier_code, event, "at")
);

-- Rejected input rows, kept with the reason. Personal-data columns are never copied here.
CREATE TABLE quarantine (
    file_sha256 VARCHAR NOT NULL,
    row_no      BIGINT  NOT NULL,                      -- 1-based data row (header excluded)
    field       VARCHAR NOT NULL,                      -- '' when the whole row is at fault
    file_name   VARCHAR NOT NULL,
    value       VARCHAR,
    reason      VARCHAR NOT NULL,
    raw         JSON,
    batch_id    INTEGER,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (file_sha256, row_no, field)
);

-- Output of the SLA engine (sla_rules/), rebuilt by a recompute. One row per dossier.
-- late_from: the first instant at which the dossier is late. Day-based units: the day after the
-- due date at 00:00; working_hours: the due instant plus one microsecond.
-- No primary key: the engine yields one row per dossier, and an index on 10 million codes would
-- be rebuilt, in memory, by every recompute. The codes are unique, so DuckDB's default string
-- compression gains little on them and costs about 1 s per 10 million rows at each recompute.
CREATE TABLE dossier_sla (
    dossier_code   VARCHAR USING COMPRESSION uncompressed NOT NULL,
    rule_version   VARCHAR NOT NULL,
    clock_start_at TIMESTAMP,                          -- effective reception (after last restart)
    due_date       DATE,
    due_at         TIMESTAMP,                          -- working_hours: exact; day-based: office close of due_date
    late_from      TIMESTAMP,
    final_status   VARCHAR,                            -- early | on_time | overdue for resolved, else NULL
    status         VARCHAR NOT NULL,                   -- status at computed_as_of (see sla_rules)
    computed_as_of TIMESTAMP NOT NULL
);

CREATE TABLE sla_runs (
    run_id       INTEGER PRIMARY KEY,
    rule_set     VARCHAR NOT NULL,
    as_of        TIMESTAMP NOT NULL,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    dossiers     BIGINT
);
CREATE SEQUENCE sla_run_seq START 1;
