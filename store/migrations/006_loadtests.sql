-- Load-test runs (loadtests/runner.py, `app.py loadtest`): one loadtest_runs row per run, whatever
-- its end (completed, interrupted, failed, refused), with the configuration it ran; per-endpoint
-- totals, the series over time (one row per interval and endpoint; name '*' = all requests),
-- the generator's own CPU per process, failures with their messages, verdicts against the
-- acceptance criteria and the capacity steps of a step run. Times are local (Asia/Ho_Chi_Minh).
-- Never stored: credentials, request bodies, uploaded files.
CREATE TABLE loadtest_runs (
    run_id            VARCHAR   PRIMARY KEY,      -- e.g. 20261201-181502-3fa2
    scenario          VARCHAR   NOT NULL,
    release           VARCHAR   NOT NULL,         -- the release label under test (--release)
    target            VARCHAR   NOT NULL,         -- base URL (scheme://host:port)
    status            VARCHAR   NOT NULL,         -- running | completed | interrupted | failed | refused
    message           VARCHAR,                    -- why it was refused / failed / interrupted
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP,
    duration_s        DOUBLE,                     -- planned
    elapsed_s         DOUBLE,                     -- measured
    shape             VARCHAR,
    users_target      INTEGER,
    users_peak        INTEGER,
    workers           INTEGER   NOT NULL DEFAULT 0,  -- 0 = one local process
    requests          BIGINT,
    failures          BIGINT,
    rps               DOUBLE,
    error_rate        DOUBLE,
    p50_ms            DOUBLE,
    p95_ms            DOUBLE,
    p99_ms            DOUBLE,
    generator_cpu_max DOUBLE,                     -- % of one core, the busiest generator process
    generator_cpu_avg DOUBLE,
    generator_overloaded BOOLEAN,
    criteria          VARCHAR,
    verdict           VARCHAR,                    -- pass | fail | none
    knee_users        INTEGER,
    knee_rps          DOUBLE,
    capacity_users    INTEGER,
    capacity_rps      DOUBLE,
    max_rps           DOUBLE,
    exit_code         INTEGER,
    locust_version    VARCHAR,
    report_path       VARCHAR,
    config_json       VARCHAR                     -- the resolved scenario, shape and criteria (no secrets)
);

CREATE TABLE loadtest_endpoints (
    run_id     VARCHAR NOT NULL,
    method     VARCHAR NOT NULL,                  -- GET, POST, ..., JOURNEY; '' for the '*' row
    name       VARCHAR NOT NULL,                  -- task or task/step; '*' = all requests
    kind       VARCHAR NOT NULL,                  -- request | journey | aggregate
    requests   BIGINT  NOT NULL,
    failures   BIGINT  NOT NULL,
    error_rate DOUBLE,
    rps        DOUBLE,
    avg_ms     DOUBLE,
    min_ms     DOUBLE,
    max_ms     DOUBLE,
    p50_ms     DOUBLE,
    p90_ms     DOUBLE,
    p95_ms     DOUBLE,
    p99_ms     DOUBLE,
    hist_json  VARCHAR,                           -- Locust's response-time buckets {ms: count}, whole run
    PRIMARY KEY (run_id, method, name)
);

CREATE TABLE loadtest_series (
    run_id   VARCHAR   NOT NULL,
    t_s      DOUBLE    NOT NULL,                  -- seconds since the start, end of the interval
    at_time  TIMESTAMP NOT NULL,
    method   VARCHAR   NOT NULL,
    name     VARCHAR   NOT NULL,
    users    INTEGER   NOT NULL,
    requests BIGINT    NOT NULL,
    failures BIGINT    NOT NULL,
    rps      DOUBLE,
    avg_ms   DOUBLE,
    p50_ms   DOUBLE,
    p90_ms   DOUBLE,
    p95_ms   DOUBLE,
    p99_ms   DOUBLE,
    max_ms   DOUBLE
);

CREATE TABLE loadtest_generator (
    run_id   VARCHAR   NOT NULL,
    t_s      DOUBLE    NOT NULL,
    node     VARCHAR   NOT NULL,                  -- local | master | worker-1 ...
    cpu_pct  DOUBLE,
    users    INTEGER
);

CREATE TABLE loadtest_nodes (
    run_id   VARCHAR NOT NULL,
    node     VARCHAR NOT NULL,                    -- worker-<pid>: what each worker counted itself
    requests BIGINT  NOT NULL,
    failures BIGINT  NOT NULL
);

CREATE TABLE loadtest_failures (
    run_id      VARCHAR NOT NULL,
    method      VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    error       VARCHAR NOT NULL,                 -- the message (credentials redacted)
    occurrences BIGINT  NOT NULL,
    first_t_s   DOUBLE
);

CREATE TABLE loadtest_verdicts (
    run_id         VARCHAR NOT NULL,
    criterion      VARCHAR NOT NULL,              -- criteria set name (config/loadtests.yaml)
    selector       VARCHAR NOT NULL,              -- total | requests | glob | journey:glob
    expression     VARCHAR NOT NULL,              -- as written, e.g. 'p(95) < 2s'
    metric         VARCHAR NOT NULL,
    op             VARCHAR NOT NULL,
    threshold      DOUBLE  NOT NULL,              -- ms, fraction or requests/s
    method         VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,              -- the endpoint judged ('*' for total)
    observed       DOUBLE,
    required_users INTEGER,                       -- the criterion's at_users
    at_users       INTEGER,                       -- the fewest users running while judged (held)
    window_s       DOUBLE,
    passed         BOOLEAN NOT NULL,
    note           VARCHAR
);

CREATE TABLE loadtest_capacity (
    run_id        VARCHAR NOT NULL,
    step          INTEGER NOT NULL,
    users         INTEGER,
    planned_users INTEGER,
    t_start       DOUBLE,
    t_end         DOUBLE,
    requests      BIGINT,
    rps           DOUBLE,
    p50_ms        DOUBLE,
    p95_ms        DOUBLE,
    p99_ms        DOUBLE,
    error_rate    DOUBLE,
    is_knee       BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, step)
);
