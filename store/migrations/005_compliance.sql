-- The compliance register (compliance/): agencies' requests, evidence and person-made judgements
-- of criteria, kept as an append-only history. Nothing here is ever updated or deleted by the
-- program: the current state of a request is derived from its events (named query
-- compliance_requests), and every event carries the SHA-256 of the previous one, so a change made
-- to the file behind the program's back is detected (compliance_history_verify).
-- Times are local (Asia/Ho_Chi_Minh).
CREATE SEQUENCE compliance_event_seq START 1;

CREATE TABLE compliance_events (
    event_id   BIGINT    PRIMARY KEY,
    item_kind  VARCHAR   NOT NULL,        -- request | criterion
    item_id    VARCHAR   NOT NULL,        -- request id (e.g. YC-2022-001) or criterion id
    action     VARCHAR   NOT NULL,        -- created, imported, updated, answered, evidence_added, resolved, judged, ...
    actor      VARCHAR   NOT NULL,        -- who (as given: --by, the dashboard's user, the OS user)
    via        VARCHAR   NOT NULL,        -- cli | import | api | dashboard | library
    recorded_at TIMESTAMP NOT NULL,       -- when, set by the store's owner, never by the caller
    data       JSON      NOT NULL,        -- what: the fields set by this event
    note       VARCHAR,
    prev_hash  VARCHAR   NOT NULL,        -- hash of the previous event ('' for the first)
    hash       VARCHAR   NOT NULL         -- sha256 over prev_hash and this event's content
);

-- Evidence files: bytes under <data dir>/compliance-files/<sha[:2]>/<sha256>, metadata here.
CREATE TABLE compliance_files (
    sha256       VARCHAR   PRIMARY KEY,
    file_name    VARCHAR   NOT NULL,       -- name of the first upload
    size         BIGINT    NOT NULL,
    content_type VARCHAR,
    stored_at    TIMESTAMP NOT NULL,
    stored_by    VARCHAR   NOT NULL
);

-- Rows of a requests spreadsheet that could not be imported, with the reason per field; a
-- corrected file imported again applies them (the request id or content key prevents duplicates).
CREATE TABLE compliance_import_rejects (
    file_name   VARCHAR   NOT NULL,
    file_sha256 VARCHAR   NOT NULL,
    row_no      INTEGER   NOT NULL,        -- 1-based row of the sheet / line of the CSV
    field       VARCHAR   NOT NULL,
    value       VARCHAR,
    reason      VARCHAR   NOT NULL,
    raw         JSON,                      -- the row as read (header → cell text)
    imported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (file_sha256, row_no, field)
);
