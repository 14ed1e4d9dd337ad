"""The due-soon morning digest: on working days, from the configured time until the office close,
each agency's contact gets one message with the count of its dossiers due soon (its sub-units'
included), the most urgent ones and a link to the dashboard's agency page.

`app.py run` calls the job every minute; a call does nothing outside the window (not a working
day of the SLA engine's calendar, before `at`, at or after the day's office close) or for an
agency whose digest of the day is done. Done means: delivered to every channel of its contact, or
nothing was due when it was looked at (then nothing is sent that day). What is done is kept in the
store (store/alert_state.py), so a restart never sends a day's digest twice; a channel that did not
take it is tried again, alone, `retry_minutes` later, until the office close.

The message carries dossier codes, procedure names, deadlines and agency names only; logs name the
agency and the channel, never a channel's URL.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerting.notify import Delivery, Notifier
from config.alerts import AlertsConfig, DigestContact
from reports.due_soon import digest
from store.alert_state import load_digest_state, save_digest_state

log = logging.getLogger("motcua.digest")

AGENCY_PAGE = "co-quan"  # the agency page's address under the dashboard's root (dashboard/pages/agency.py)


@dataclass
class DigestSent:
    """One agency's digest as it was tried."""

    agency: str
    count: int
    title: str
    body: str
    deliveries: list[Delivery] = field(default_factory=list)


class DueSoonDigestJob:
    """`query`: a named query's runner (system.Motcua.query); `store`: the owner's store, where the
    day's state is kept; `is_working` and `office_close` come from the SLA engine (its calendar, and
    the office close of the rule version in force on a date)."""

    def __init__(self, cfg: AlertsConfig, query: Callable[..., Any], store: Any,
                 is_working: Callable[[dt.date], bool], office_close: Callable[[dt.date], dt.time],
                 now: Callable[[], dt.datetime], agency_page: str = AGENCY_PAGE,
                 environ: Mapping[str, str] | None = None) -> None:
        self.cfg = cfg.due_soon_digest
        self.query, self.store, self.now = query, store, now
        self.is_working, self.office_close = is_working, office_close
        self.url = f"{self.cfg.link}/{agency_page}" if self.cfg.link else None
        self.notifiers = {c.agency: Notifier(c.targets(cfg.channels), environ) for c in self.cfg.contacts}
        self._done_day: dt.date | None = None            # every contact done: nothing to read until tomorrow
        self._failed_at: dict[str, dt.datetime] = {}      # an agency whose figures could not be read

    def in_window(self, now: dt.datetime) -> bool:
        """Whether digests may go out at `now`: a working day, from `at` to the office close."""
        if not (self.cfg.enabled and self.cfg.contacts):
            return False
        day = now.date()
        try:
            if not self.is_working(day):
                return False
            close = self.office_close(day)
        except Exception as e:  # noqa: BLE001 - a date outside the calendar's horizon: say it, send nothing
            log.warning("due-soon digest: %s: no working calendar for that day (%s)", day, e)
            return False
        return self.cfg.at <= now.time() < close

    def __call__(self, now: dt.datetime | None = None) -> list[DigestSent]:
        """Send the digests due at `now` (default: the clock); returns those tried. Never raises."""
        now = now or self.now()
        if self._done_day == now.date() or not self.in_window(now):
            return []
        try:
            state = load_digest_state(self.store, now.date())
        except Exception as e:  # noqa: BLE001 - the scheduler's next run tries again
            log.error("due-soon digest: cannot read its state: %s", e)
            return []
        retry = dt.timedelta(minutes=self.cfg.retry_minutes)
        sent, waiting = [], False
        for contact in self.cfg.contacts:
            st = state.get(contact.agency)
            if st is not None and not st["undelivered"]:
                continue                                  # done for the day
            tries = [t for t in (st["last_sent"] if st else None, self._failed_at.get(contact.agency))
                     if t is not None and t.date() == now.date()]
            if tries and now - max(tries) < retry:
                waiting = True
                continue
            try:
                one = self._send(contact, st, now)
            except Exception as e:  # noqa: BLE001 - one agency's failure stops neither the others nor the job
                log.error("due-soon digest for %s: not sent: %s; tried again in %d min",
                          contact.agency, e, self.cfg.retry_minutes)
                self._failed_at[contact.agency] = now
                waiting = True
                continue
            self._failed_at.pop(contact.agency, None)
            if one is not None:
                sent.append(one)
                waiting = waiting or any(not d.ok for d in one.deliveries)
        if not waiting:
            self._done_day = now.date()
        return sent

    def _send(self, contact: DigestContact, st: dict[str, Any] | None, now: dt.datetime) -> DigestSent | None:
        agency, days = contact.agency, self.cfg.days
        as_of = now.replace(microsecond=0).isoformat()
        totals = self.query("due_soon_by_agency", agency=agency, days=days, as_of=as_of).to_dicts()
        count = int(next((r["due_soon"] for r in totals if r["row_kind"] == "total"), 0) or 0)
        since = st["since"] if st else now
        if count == 0:
            # silent today; a later run does not look again (a morning digest, not an alert)
            save_digest_state(self.store, agency, since, now, "", 0, [])
            log.info("due-soon digest for %s: nothing due within %g working days, nothing sent", agency, days)
            return None
        urgent = self.query("due_soon", agency=agency, days=days, as_of=as_of,
                            limit=max(self.cfg.urgent, 1)).to_dicts()[:self.cfg.urgent]
        title, body = digest(self._name(agency, now), count, urgent, days, now, self.url, lang="vi")
        only = set(st["undelivered"]) if st else None     # a retry goes only where it did not get through
        deliveries = self.notifiers[agency].send(title, body, only)
        missed = [d.channel for d in deliveries if not d.ok]
        save_digest_state(self.store, agency, since, now, title, count, missed)
        for d in deliveries:
            if d.ok:
                log.info("due-soon digest for %s: %d dossiers, sent to %s", agency, count, d.channel)
            else:
                log.warning("due-soon digest for %s: channel %s: %s; tried again in %d min", agency, d.channel,
                            d.error, self.cfg.retry_minutes)
        return DigestSent(agency, count, title, body, deliveries)

    def _name(self, agency: str, now: dt.datetime) -> str:
        rows = self.query("agency_scope", agency=agency, as_of=now.date().isoformat()).to_dicts()
        return next(((r["name"] or "").strip() for r in rows if r["code"] == agency and r["name"]), agency)
