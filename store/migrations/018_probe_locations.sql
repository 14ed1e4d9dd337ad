-- Probe results from several places (agents/): each result carries the location it was measured
-- from ('central' for the owner's own probes, else a location of the `agents` config section), and
-- an agent's result its id, so that a batch sent twice (the answer to the first was lost) is
-- stored once. The rollups are kept per location. agent_contacts: when each location last
-- reported, for the Hệ thống page (no personal data: a location name and counts).
ALTER TABLE probe_results ADD COLUMN location VARCHAR DEFAULT 'central';
ALTER TABLE probe_results ADD COLUMN result_id VARCHAR;

CREATE TABLE probe_rollup_hourly_l (
    hour      TIMESTAMP NOT NULL,
    location  VARCHAR   NOT NULL DEFAULT 'central',
    name      VARCHAR   NOT NULL,
    kind      VARCHAR   NOT NULL,
    step      VARCHAR   NOT NULL,
    count     BIGINT    NOT NULL,
    failures  BIGINT    NOT NULL,
    p50_ms    DOUBLE,
    p95_ms    DOUBLE,
    max_ms    DOUBLE,
    PRIMARY KEY (hour, location, name, step)
);
INSERT INTO probe_rollup_hourly_l
SELECT hour, 'central', name, kind, step, count, failures, p50_ms, p95_ms, max_ms FROM probe_rollup_hourly;
SELECT CASE WHEN NOT EXISTS (SELECT hour, name, kind, step, count, failures, p50_ms, p95_ms, max_ms FROM probe_rollup_hourly
                            EXCEPT ALL
                            SELECT hour, name, kind, step, count, failures, p50_ms, p95_ms, max_ms FROM probe_rollup_hourly_l)
            THEN 1
            ELSE error('migration 018: the probe rollups cannot be carried over unchanged, the store was left as it was')
       END;
DROP TABLE probe_rollup_hourly;
ALTER TABLE probe_rollup_hourly_l RENAME TO probe_rollup_hourly;

CREATE TABLE probe_rollup_daily_l (
    day       DATE      NOT NULL,
    location  VARCHAR   NOT NULL DEFAULT 'central',
    name      VARCHAR   NOT NULL,
    kind      VARCHAR   NOT NULL,
    step      VARCHAR   NOT NULL,
    count     BIGINT    NOT NULL,
    failures  BIGINT    NOT NULL,
    p50_ms    DOUBLE,
    p95_ms    DOUBLE,
    max_ms    DOUBLE,
    PRIMARY KEY (day, location, name, step)
);
INSERT INTO probe_rollup_daily_l
SELECT day, 'central', name, kind, step, count, failures, p50_ms, p95_ms, max_ms FROM probe_rollup_daily;
SELECT CASE WHEN NOT EXISTS (SELECT day, name, kind, step, count, failures, p50_ms, p95_ms, max_ms FROM probe_rollup_daily
                            EXCEPT ALL
                            SELECT day, name, kind, step, count, failures, p50_ms, p95_ms, max_ms FROM probe_rollup_daily_l)
            THEN 1
            ELSE error('migration 018: the probe rollups cannot be carried over unchanged, the store was left as it was')
       END;
DROP TABLE probe_rollup_daily;
ALTER TABLE probe_rollup_daily_l RENAME TO probe_rollup_daily;

CREATE TABLE agent_contacts (
    location       VARCHAR   PRIMARY KEY,
    first_seen_at  TIMESTAMP NOT NULL,
    last_seen_at   TIMESTAMP NOT NULL,   -- the last batch accepted (local time of the central)
    last_result_at TIMESTAMP,            -- the newest result's own time in it
    batches        BIGINT    NOT NULL,
    results        BIGINT    NOT NULL,   -- results stored (a result sent again is not counted)
    duplicates     BIGINT    NOT NULL,   -- results received again and left out
    agent_version  VARCHAR
);
