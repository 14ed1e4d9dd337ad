-- Incidents of the public status page (statuspage/, config/status_page.yaml): what citizens are
-- told about a service that does not work. `incidents` holds each incident as it stands now;
-- `incident_updates` is its history, append only (store/status_writes.py never updates or deletes
-- a row of it): who, when, what changed, and the message as it was then. Texts are for citizens:
-- no personal data. Times are local.
CREATE SEQUENCE incident_seq START 1;
CREATE SEQUENCE incident_update_seq START 1;

CREATE TABLE incidents (
    incident_id  BIGINT    PRIMARY KEY,
    service      VARCHAR   NOT NULL,   -- a service id of config/status_page.yaml
    status       VARCHAR   NOT NULL,   -- investigating | identified | monitoring | resolved
    impact       VARCHAR   NOT NULL,   -- degraded | outage: the service's status while it is open
    title_vi     VARCHAR   NOT NULL,
    title_en     VARCHAR,
    message_vi   VARCHAR   NOT NULL,   -- the latest message shown (posted or corrected)
    message_en   VARCHAR,
    source       VARCHAR   NOT NULL,   -- alert (opened by the monitor) | manual (by a person)
    auto_resolve BOOLEAN   NOT NULL,   -- the monitor may resolve it: opened by an alert, no person changed it since
    opened_at    TIMESTAMP NOT NULL,
    opened_by    VARCHAR   NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    resolved_at  TIMESTAMP
);

CREATE TABLE incident_updates (
    update_id    BIGINT    PRIMARY KEY,
    incident_id  BIGINT    NOT NULL,
    "at"         TIMESTAMP NOT NULL,
    actor        VARCHAR   NOT NULL,   -- the account, or 'monitor' for the monitor itself
    via          VARCHAR   NOT NULL,   -- alert | dashboard | cli | api | library
    action       VARCHAR   NOT NULL,   -- open | post | edit | resolve | join
    public       BOOLEAN   NOT NULL,   -- a new entry of the page's timeline (open, post, resolve)
    status       VARCHAR   NOT NULL,   -- the incident's status after this change
    impact       VARCHAR   NOT NULL,
    title_vi     VARCHAR   NOT NULL,   -- the texts after this change
    title_en     VARCHAR,
    message_vi   VARCHAR   NOT NULL,
    message_en   VARCHAR,
    changed      VARCHAR   NOT NULL,   -- JSON: each field changed, {"field": [before, after]}
    alert_key    VARCHAR,              -- open / join by an alert: its key (check:<name>) …
    alert_since  TIMESTAMP             -- … and since when it fires (one alert episode opens one incident)
);
