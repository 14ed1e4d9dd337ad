-- Alert notifications as they happened (alerting/alerts.py → Motcua.evaluate_alerts), for the
-- dashboard's alert timeline. One row per notification: firing, repeat or resolved. Only the
-- Vietnamese title and body the alerter composed, never a channel URL or a secret.
CREATE TABLE alert_events (
    "at"       TIMESTAMP NOT NULL,   -- local time (Asia/Ho_Chi_Minh)
    kind       VARCHAR   NOT NULL,   -- firing | repeat | resolved
    key        VARCHAR   NOT NULL,   -- the condition's stable key, e.g. slo:dang-nhap:failures
    title      VARCHAR   NOT NULL,
    body       VARCHAR,
    delivered  INTEGER   NOT NULL DEFAULT 0,  -- channels that accepted it
    failed     INTEGER   NOT NULL DEFAULT 0
);
