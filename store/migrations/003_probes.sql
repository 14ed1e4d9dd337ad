-- Synthetic probe results (probes/runner.py): one probe_runs row per batch written (a
-- `probe --once` run or one scheduled job), raw results kept `raw_retention_days` (default 14),
-- and hourly/daily rollups per check and step kept longer. Times are local (Asia/Ho_Chi_Minh).
-- Never stored: request bodies, credentials, query strings (they may carry values).
CREATE SEQUENCE probe_run_seq START 1;

CREATE TABLE probe_runs (
    run_id      BIGINT    PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    target      VARCHAR,              -- base URL probed (scheme://host:port)
    results     INTEGER   NOT NULL,
    failures    INTEGER   NOT NULL
);

CREATE TABLE probe_results (
    run_id         BIGINT    NOT NULL,
    name           VARCHAR   NOT NULL,  -- check or journey name
    kind           VARCHAR   NOT NULL,  -- check | journey
    step           VARCHAR   NOT NULL,  -- '' for a check; step name; '*' = journey summary
    grp            VARCHAR,             -- e.g. feature-inventory
    started_at     TIMESTAMP NOT NULL,
    ok             BOOLEAN   NOT NULL,
    reason         VARCHAR,
    status_code    INTEGER,
    total_ms       DOUBLE,
    dns_ms         DOUBLE,
    connect_ms     DOUBLE,
    tls_ms         DOUBLE,
    ttfb_ms        DOUBLE,
    transfer_ms    DOUBLE,
    bytes          BIGINT,
    cert_days_left DOUBLE,
    url            VARCHAR              -- without query string
);

CREATE TABLE probe_rollup_hourly (
    hour      TIMESTAMP NOT NULL,       -- start of the hour, local time
    name      VARCHAR   NOT NULL,
    kind      VARCHAR   NOT NULL,
    step      VARCHAR   NOT NULL,
    count     BIGINT    NOT NULL,
    failures  BIGINT    NOT NULL,
    p50_ms    DOUBLE,
    p95_ms    DOUBLE,
    max_ms    DOUBLE,
    PRIMARY KEY (hour, name, step)
);

CREATE TABLE probe_rollup_daily (
    day       DATE      NOT NULL,
    name      VARCHAR   NOT NULL,
    kind      VARCHAR   NOT NULL,
    step      VARCHAR   NOT NULL,
    count     BIGINT    NOT NULL,
    failures  BIGINT    NOT NULL,
    p50_ms    DOUBLE,
    p95_ms    DOUBLE,
    max_ms    DOUBLE,
    PRIMARY KEY (day, name, step)
);
