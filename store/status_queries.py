"""Named queries of the public status page (statuspage/): the probes' latest results and daily
rollups for the services' probes, and the incidents with their history
(store/migrations/003_probes.sql, 017_status_incidents.sql, 018_probe_locations.sql). Nothing here
reads a dossier. The latest results are per location (the page judges a service by the quorum of
locations); the daily bars are the central's."""
from __future__ import annotations

import datetime as dt

from config.agents import LOCAL_LOCATION
from store.errors import QueryError
from store.registry import Table, named_query, run

INCIDENT_COLS = ("incident_id, service, status, impact, title_vi, title_en, message_vi, message_en, source, "
                 "auto_resolve, opened_at, opened_by, updated_at, resolved_at")
UPDATE_COLS = ('update_id, incident_id, "at", actor, via, action, public, status, impact, title_vi, title_en, '
               "message_vi, message_en, changed, alert_key, alert_since")


@named_query("status_probe_latest", scope="free", roles=("vendor",))
def status_probe_latest(con, names: list[str], since: dt.datetime) -> Table:
    """For each location and each step of the named probes it ran since `since`: its latest run
    there (time, passed) and its latest failure there in that time (NULL: none). One row per
    location, name and step: whether a failure is the portal's is the caller's quorum to judge."""
    return run(con, """
        SELECT location, name, step, max(started_at) AS started_at, arg_max(ok, started_at) AS ok,
               max(started_at) FILTER (WHERE NOT ok) AS last_failed_at
        FROM probe_results
        WHERE started_at >= $since AND list_contains($names, name)
        GROUP BY location, name, step ORDER BY name, step, location""", {"names": list(names), "since": since})


@named_query("status_daily", scope="free", roles=("vendor",))
def status_daily(con, names: list[str], since: dt.date, location: str = LOCAL_LOCATION) -> Table:
    """Runs and failures per day and step of the named probes from `since`, as measured from
    `location` (the daily rollups; the central's by default: the bars are what the province's
    own monitor saw, so a remote location's network trouble never reddens a day)."""
    return run(con, """
        SELECT day, name, step, count AS runs, failures FROM probe_rollup_daily
        WHERE day >= $since AND list_contains($names, name) AND location = $location
        ORDER BY day, name, step""", {"names": list(names), "since": since, "location": location})


@named_query("status_incidents", scope="free", roles=("vendor",))
def status_incidents(con, since: dt.datetime | None = None, incident_id: int | None = None) -> Table:
    """The incidents open now and those resolved since `since` (all: None), newest first."""
    return run(con, f"""
        SELECT {INCIDENT_COLS} FROM incidents
        WHERE (resolved_at IS NULL OR $since IS NULL OR resolved_at >= $since)
          AND ($incident_id IS NULL OR incident_id = $incident_id)
        ORDER BY (resolved_at IS NULL) DESC, opened_at DESC, incident_id DESC""",
               {"since": since, "incident_id": incident_id})


@named_query("status_incident_updates", scope="free", roles=("vendor",))
def status_incident_updates(con, since: dt.datetime | None = None, incident_id: int | None = None,
                            limit: int = 10_000) -> Table:
    """The history of the incidents `status_incidents` lists with the same parameters: every
    change, oldest first within each incident (the public entries have `public`)."""
    if not 1 <= int(limit) <= 100_000:
        raise QueryError("limit must be between 1 and 100000")
    return run(con, f"""
        SELECT {UPDATE_COLS} FROM incident_updates
        WHERE incident_id IN (SELECT incident_id FROM incidents
                              WHERE (resolved_at IS NULL OR $since IS NULL OR resolved_at >= $since)
                                AND ($incident_id IS NULL OR incident_id = $incident_id))
        ORDER BY incident_id DESC, "at", update_id LIMIT {int(limit)}""",
               {"since": since, "incident_id": incident_id})
