-- Alert state (alerting/alerts.py), so a restart of `app.py run` neither announces the alerts
-- already sent again nor forgets to say they are resolved. One row per alert key: 'active' (the
-- condition holds) or 'ending' (resolved, its message not yet delivered everywhere). The texts are
-- the alert's own (Vietnamese, reasons already redacted); no personal data.
CREATE TABLE alert_state (
    key              VARCHAR   PRIMARY KEY,
    phase            VARCHAR   NOT NULL,   -- active | ending
    title            VARCHAR   NOT NULL,
    detail           VARCHAR,
    severity         VARCHAR   NOT NULL,
    since            TIMESTAMP NOT NULL,   -- local time
    last_sent        TIMESTAMP,
    ended            TIMESTAMP,
    undelivered      VARCHAR[],            -- channel names the last message did not reach
    undelivered_kind VARCHAR
);
