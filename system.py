"""The composition root of motcua-watch: `Motcua` wires the store, the engine and every part from
the configuration, `open_ops` gives the running owner's client or a local one (store/ops.py
`Ops`: callers use its declared capabilities, `remote` and `local_store`, never the class), and
`run_system` owns the store and runs the API, the jobs and the dashboard until stopped. app.py
(the command line) and the dashboard's backend both start from here.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import signal
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from config.app import AppConfig
from config.clock import local_now, local_today
from config.errors import MotcuaError
from config.vocabulary import LAST_YEAR
from store import catalog
from store import ops as store_ops
from store.db import Store
from store.ops import Ops, find_owner
from store.registry import Table
from store.service import StoreService, resource_error

log = logging.getLogger("motcua")
ROOT = Path(__file__).resolve().parent


class UserError(MotcuaError):
    """A problem the user can fix; printed as one plain message."""


def parse_as_of(value: str | None) -> dt.datetime:
    """'YYYY-MM-DD' (end of that day) or 'YYYY-MM-DD HH:MM[:SS]' in local time; default now."""
    if not value:
        return local_now().replace(microsecond=0)
    for fmt, end_of_day in (("%Y-%m-%d %H:%M:%S", False), ("%Y-%m-%dT%H:%M:%S", False), ("%Y-%m-%d %H:%M", False),
                            ("%Y-%m-%dT%H:%M", False), ("%Y-%m-%d", True)):
        try:
            t = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if t.year > LAST_YEAR:
            raise UserError(f"--as-of {value!r}: the figures are counted up to {LAST_YEAR} at the latest")
        return t.replace(hour=23, minute=59, second=59) if end_of_day else t
    raise UserError(f"--as-of {value!r}: expected YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")


# Answers kept of the named queries declared cache="until_write" (store/catalog.py), oldest dropped first.
QUERY_CACHE_SIZE = 512


class Motcua:
    """Composition root: the store, the rules, the importer and the jobs, from one config."""

    remote = False  # store/ops.py Ops: the operations run in this process
    prewarm = False  # set by run_system: after a recompute, compute the leadership page's answers

    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg
        self._generation = 0            # bumped by every write that changes dossiers or reference data
        self._answers: dict[tuple, tuple[int, Table]] = {}
        self._answers_lock = threading.Lock()
        self._backup_lock = threading.Lock()

    def _changed(self) -> None:
        with self._answers_lock:
            self._generation += 1
            self._answers.clear()

    # -- parts ---------------------------------------------------------------------------------
    @cached_property
    def store(self) -> Store:
        c = self.cfg.store
        return Store(c.path, memory_limit=c.memory_limit, threads=c.threads)

    @cached_property
    def engine(self):  # -> sla_rules.engine.SlaEngine
        from sla_rules.engine import SlaEngine

        return SlaEngine.from_files(self.cfg.sla.rule_set, self.cfg.sla.calendar_overrides)

    @cached_property
    def mapping(self):  # -> the column mapping for officials' exports
        from config.mapping import load_mapping

        return load_mapping(self.cfg.imports.column_mapping)

    @cached_property
    def slo_evaluator(self):  # -> alerting.slo.SloEvaluator
        from alerting.slo import SloEvaluator
        from config.probes import load_probes
        from config.slo import load_slos

        own = [p.name for p in load_probes(self.cfg.monitor.probes).probes()]
        return SloEvaluator(load_slos(self.cfg.monitor.slos), self, self.now, self.cfg.agents, own)

    @cached_property
    def alerter(self):  # -> alerting.alerts.Alerter
        from alerting.alerts import Alerter
        from alerting.notify import Notifier
        from config.alerts import load_alerts

        alerts = load_alerts(self.cfg.monitor.alerts)
        return Alerter(alerts, Notifier(alerts.channels), self.now, store=self.store)  # state survives restarts

    @cached_property
    def digest_job(self):  # -> alerting.digest.DueSoonDigestJob
        from alerting.digest import DueSoonDigestJob
        from config.alerts import load_alerts
        from dashboard.pages import DECLARED

        engine = self.engine
        page = next(p.url for p in DECLARED if p.id == "agency")  # the digest's link
        return DueSoonDigestJob(load_alerts(self.cfg.monitor.alerts), self.query, self.store,
                                engine.calendar.is_working,
                                lambda day: engine.ruleset.version_for(day).settings.closing, self.now,
                                agency_page=page)

    @cached_property
    def briefing_job(self):  # -> reports.monthly.MonthlyBriefingJob
        from alerting.notify import Notifier
        from config.alerts import load_alerts
        from reports.monthly import MonthlyBriefingJob

        notifier = Notifier(load_alerts(self.cfg.monitor.alerts).channels) if self.cfg.reports.schedule.notify else None
        return MonthlyBriefingJob(self, self.cfg, self.now, notifier)

    @cached_property
    def backup_job(self):  # -> backup.job.BackupJob
        from backup.job import BackupJob

        b = self.cfg.backup
        return BackupJob(self.backup, b.dir(self.cfg.store.path), b.keep_daily, b.keep_monthly, b.max_age_hours,
                         self.now)

    @cached_property
    def status_page(self):  # -> statuspage.server.StatusPage: the public page's figures and documents
        from config.alerts import load_alerts
        from config.clock import local_zone
        from config.probes import load_probes
        from config.status_page import load_status_page
        from statuspage.model import journeys_of, service_refs
        from statuspage.server import StatusPage

        c = self.cfg.status_page
        probes = load_probes(self.cfg.monitor.probes)
        page = load_status_page(c.file, probes)  # a probe the probes file lacks is a ConfigError
        return StatusPage(page, service_refs(page, journeys_of(page, probes)), self.query,
                          load_alerts(self.cfg.monitor.alerts).maintenance, self.now, local_zone(),
                          cache_seconds=c.cache_seconds, base_url=c.public_url, agents=self.cfg.agents)

    @cached_property
    def incident_keeper(self):  # -> statuspage.incidents.IncidentKeeper
        from statuspage.incidents import IncidentKeeper

        sp = self.status_page
        return IncidentKeeper(sp.page, sp.refs, self.store, self.query, sp.maintenance, self.now, agents=sp.agents)

    keep_incidents = False  # set by run_system when the status page is served: alerts open its incidents

    def evaluate_alerts(self) -> list[Any]:
        """SLO burn rates and slowdowns now → notifications (de-duplicated by the alerter), kept in
        the store for the dashboard's alert timeline."""
        from store.alert_writes import record_alerts

        conditions = self.slo_evaluator.conditions()
        if self.cfg.backup.enabled:  # scheduled by run_system, the one caller of this
            conditions += self.backup_job.conditions()
        sent = self.alerter.update(conditions)
        record_alerts(self.store, sent, self.now())
        if self.keep_incidents:
            try:
                if self.incident_keeper.update({k: st.since for k, st in self.alerter.active.items()}):
                    self.status_page.invalidate()
            except Exception:  # noqa: BLE001 - the alerts are sent whatever the status page's incidents do
                log.warning("status page: incidents from alerts failed", exc_info=True)
        return sent

    def close(self) -> None:
        self.prewarm = False
        for t in getattr(self, "_prewarm_threads", []):
            t.join(timeout=120)
        if "store" in self.__dict__:
            self.store.close()

    def now(self) -> dt.datetime:
        return parse_as_of(None)

    # -- operations (store/ops.py Ops, the same set RemoteOps offers) -----------------------------
    @property
    def local_store(self) -> Store:
        """The store, opened in this process (store/ops.py Ops)."""
        return self.store

    def query(self, name: str, **params: Any) -> Table:
        """A named query; the answers of those declared cache="until_write" are kept until the next
        write (and the day)."""
        declared = catalog.find(name)
        if declared is not None and declared.scored and params.get("score_denominator") is None:
            # one setting for every page, file and metric that shows the 766 score
            params["score_denominator"] = self.cfg.reports.score_766.denominator
        if declared is None or declared.cache != "until_write":
            return self.store.query(name, **params)
        key = (name, json.dumps(params, sort_keys=True, default=str), local_today())
        gen = self._generation
        hit = self._answers.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        table = self.store.query(name, **params)
        with self._answers_lock:
            if gen == self._generation:
                if len(self._answers) >= QUERY_CACHE_SIZE:
                    self._answers.pop(next(iter(self._answers)))
                self._answers[key] = (gen, table)
        return table

    def prewarm_dashboard(self) -> None:
        """Compute the leadership page's answers for its default month (after a recompute), so
        that its first viewer does not wait for them."""
        from dashboard.warm import agency_default_queries, overview_queries
        from store.index766_writes import keep_pre_counts

        gen = self._generation
        if self.prewarm and not self.store.read_only:
            # the 766 rank's inputs, counted once per refresh instead of at each first ask
            keep_pre_counts(self.store)
        queries = overview_queries(self.query)
        month = next((p["end_month"] for n, p in queries if n == "province_month_series"), None)
        for name, params in queries + (agency_default_queries(self.query, month) if month else []):
            if threading.current_thread().name == "dashboard-prewarm" and (
                    not self.prewarm or gen != self._generation):
                return  # closing, or the data changed: these answers are of no use any more
            self.query(name, **params)

    def import_file(self, path: str | None, events_path: str | None = None, progress: bool = False,
                    dry_run: bool = False, lang: str = "en",
                    names: list[str | None] | None = None) -> dict[str, Any]:
        """Import a file; dry_run=True validates and counts it, then rolls back (nothing stored).
        path=None imports the events file alone (the watch folder's, whose dossier file did not
        come with it): its events are applied to the stored dossiers, no dry run.
        A refusal is said in `lang`; running out of memory or disk is a plain ResourceError.
        `names`: how to name the files in messages and records when not by their paths (copies)."""
        from imports.dossiers import MAX_ERRORS, import_dossiers, import_events
        from imports.errors import ImportRefused
        from imports.workbook import ReaderLimits

        limits = ReaderLimits(memory_mb=self.cfg.imports.reader_memory_mb)
        if path is None and (events_path is None or dry_run or names):
            raise ValueError("an events file alone is imported as it is: no dry run, no other names")
        try:
            if path is None:
                summary = import_events(self.store, events_path, mapping=self.mapping, progress=progress, lang=lang,
                                        reader_limits=limits)
            else:
                summary = import_dossiers(self.store, path, events_path=events_path, mapping=self.mapping,
                                          progress=progress, dry_run=dry_run, lang=lang,
                                          max_errors=200 if dry_run else MAX_ERRORS, reader_limits=limits,
                                          names=(tuple(names) + (None, None))[:2] if names else (None, None))
        except ImportRefused as e:
            if lang == "vi" and e.message_vi:
                raise ImportRefused(e.message_vi, file=e.file, reason=e.reason, message_vi=e.message_vi) from None
            raise
        except Exception as e:
            plain = _plain(e, f"import of {path or events_path}")
            if plain is e:
                raise
            raise plain from None
        finally:
            if not dry_run:
                self._changed()
        out = summary.to_dict()
        out["text"] = summary.render(lang)
        return out

    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]:
        """The engine's explanation (deadline, status, why) of stored dossiers, judged at the last
        recompute's as_of; `agency` limits them to that agency's subtree. {code: {due, status, reason}}."""
        from sla_rules.explain import explain_records

        t = self.store.query("dossier_engine_input", codes=list(codes), agency=agency)
        if not t.rows:
            return {}
        ev = self.store.query("dossier_engine_events", codes=list(codes), agency=agency)
        as_of = self.status().get("last_recompute_as_of") or self.now()
        rows = explain_records(self.engine, t.columns, t.rows, as_of, lang=lang, events=ev.rows)
        return {r["dossier_code"]: {k: r[k] for k in ("due", "status", "reason")} for r in rows}

    def figures_at(self, as_of: str, reads: list[dict[str, Any]]) -> list[Table]:
        """Named queries' answers as a recompute at `as_of` would give them, with nothing stored
        (reads: [{"name": ..., "params": {...}}])."""
        from store.sla import figures_at

        t = parse_as_of(as_of)
        return figures_at(self.store, self.engine, t,
                          [(str(r["name"]), dict(r.get("params") or {})) for r in reads])

    def recompute(self, as_of: str | None = None, full: bool = True) -> dict[str, Any]:
        """The SLA results and every figure derived from them at `as_of` (default now). full=False:
        judge again only what changed since the stored results when that gives the same figures
        (store/sla.py refresh_plan), else everything; the result says which (`kind`) and why."""
        from store.sla import recompute

        t = parse_as_of(as_of)
        # a full recompute checkpoints at its end; an incremental refresh leaves that to later and
        # need not wait for a query under way
        self._stop_prewarm(wait=full)
        try:
            with _plainly("recompute"):
                res = recompute(self.store, self.engine, t, full=full)
            log.info("SLA %s refresh at %s: %s dossiers judged in %.2f s%s", res["kind"], res["as_of"],
                     res["judged"], res["sla_duration_s"],
                     f" ({res['full_reason']})" if res.get("full_reason") else "")
            return res
        finally:
            self._changed()
            if self.prewarm:
                self.start_prewarm()

    def _stop_prewarm(self, wait: bool = True) -> None:
        """Stop the answers being computed for the data a write is about to replace (at their next
        query), and (`wait`) wait for the query under way: a reader still running at the write's
        commit makes DuckDB refuse the checkpoint that follows it."""
        with self._answers_lock:
            self._generation += 1
        for t in getattr(self, "_prewarm_threads", []) if wait else []:
            if t is not threading.current_thread():
                t.join(timeout=60)

    def start_prewarm(self) -> None:
        """Compute the leadership page's answers in the background (close() waits for it)."""
        t = threading.Thread(target=self._prewarm_quietly, name="dashboard-prewarm", daemon=True)
        self._prewarm_threads = [x for x in getattr(self, "_prewarm_threads", []) if x.is_alive()] + [t]
        t.start()

    def _prewarm_quietly(self) -> None:
        try:
            self.prewarm_dashboard()
        except Exception:  # noqa: BLE001 - only a head start; the page asks again and reports
            log.warning("dashboard prewarm failed", exc_info=True)

    def status(self) -> dict[str, Any]:
        t = self.store.query("store_stats")
        return t.one() or {}

    def compliance(self, action: str, **params: Any) -> dict[str, Any]:
        """A change to the compliance register: one append-only event (compliance/actions.py)."""
        from compliance.actions import perform

        return perform(self, action, **params)

    def status_incident(self, action: str, **params: Any) -> dict[str, Any]:
        """A change to the status page's incidents by a person (statuspage/incidents.py perform:
        open, post, edit, resolve), one more row of the incident's history; the page shows it at
        its next request."""
        from statuspage.incidents import perform

        res = perform(self.store, self.status_page.page, action, **params)
        self.status_page.invalidate()
        return res

    def store_loadtest_run(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Store (or replace) one load-test run: loadtests/runner.py's payload (store/loadtest_writes.py)."""
        from store.loadtest_writes import write_run

        return write_run(self.store, payload)

    def backup(self, out: str | None = None) -> dict[str, Any]:
        """A snapshot of the store with its manifest (backup/), taken while everything else goes on:
        into `out`, default the configured backups folder. One at a time."""
        from backup.snapshot import take_backup
        from compliance.actions import files_dir

        folder = Path(out) if out else self.cfg.backup.dir(self.cfg.store.path)
        with self._backup_lock:
            cur = self.store.cursor()
            try:
                with _plainly("backup"):
                    return take_backup(cur, folder, files_dir(self), self.now())
            finally:
                cur.close()

    def export_data(self, fmt: str, out: str) -> dict[str, Any]:
        """Every table without personal data as open files (Parquet or CSV) with a README of the
        columns, into the new folder `out` (backup/export.py)."""
        from backup.export import export_data

        cur = self.store.cursor()
        try:
            return export_data(cur, Path(out), fmt, self.now())
        finally:
            cur.close()

    def load_reference(self, path: Path | str) -> dict[str, Any]:
        from store.reference import load_reference

        try:
            return load_reference(self.store, path)
        finally:
            self._changed()

    def demo_data(self, out_dir: Path | None = None, months: int | None = None,
                  per_month: int | None = None, seed: int | None = None,
                  end: dt.date | None = None) -> dict[str, Any]:
        """Generate the demo province up to `end` (default: today), load it, recompute.

        Deterministic for a seed and an end date. The recompute judges at the snapshot's instant,
        so dossiers the generator left pending are judged as the portal would have seen them.
        """
        from testbed.demo_data import REFERENCE_PATH, generate

        d = self.cfg.demo
        out_dir = out_dir or self.cfg.store.path.parent / "demo"
        end = end or d.end or self.now().date()
        gen = generate(out_dir, seed=seed if seed is not None else d.seed, months=months or d.months,
                       dossiers_per_month=per_month or d.dossiers_per_month, end=end)
        ref = self.load_reference(REFERENCE_PATH)
        imported = self.import_file(str(gen["dossiers"]), str(gen["events"]))
        sla = self.recompute(gen["as_of"].strftime("%Y-%m-%d %H:%M"))
        return {"generated": {k: str(v) for k, v in gen.items()}, "reference": ref, "import": imported, "sla": sla}

    def is_empty(self) -> bool:
        return not (self.status().get("dossiers") or 0)


@contextlib.contextmanager
def _plainly(what: str):
    """Running out of memory or disk inside the block raised as the plain message (_plain)."""
    try:
        yield
    except Exception as e:
        plain = _plain(e, what)
        if plain is e:
            raise
        raise plain from None


def _plain(e: Exception, what: str) -> Exception:
    """Running out of memory or disk as a plain message (logged with DuckDB's own words); any
    other error as it is."""
    plain = resource_error(e)
    if plain is None:
        return e
    # the log file only: the console gets the plain message
    log.warning("%s: %s: %s", what, type(e).__name__, e, extra={"console": False})
    return plain


def open_ops(cfg: AppConfig) -> Ops:
    """The running owner's client if `app.py run` is up, else a local composition root."""
    return store_ops.open_ops(cfg.store.path, lambda: Motcua(cfg))


# -- the long-running system -------------------------------------------------------------------

def _start_agents(cfg: AppConfig, app: Motcua, registry: Any, stack: contextlib.ExitStack) -> str:
    """The remote agents' receiver (agents/receiver.py): their results written by this owner and
    observed in the probe metrics with their location; stopped with the probes."""
    from agents.receiver import AgentReceiver, ReceiverStartError
    from config.probes import load_probes
    from store.probe_writes import write_results

    defaults = load_probes(cfg.monitor.probes).defaults

    def write(results: list, location: str, ids: list[str], version: str) -> dict:
        return write_results(app.store, results, location=location, result_ids=ids, agent_version=version or None,
                             raw_retention_days=defaults.raw_retention_days,
                             rollup_retention_days=defaults.rollup_retention_days)

    try:
        receiver = AgentReceiver(cfg.agents, write, observe=registry.probe_metrics.observe_results,
                                 probes_file=cfg.monitor.probes)
    except ReceiverStartError as e:
        raise UserError(f"{e}; set agents.port in the config or MOTCUA_AGENTS__PORT (or agents.enabled: false)") from None
    url = receiver.start()
    stack.callback(receiver.stop)
    return url


def run_system(cfg: AppConfig, stop: threading.Event | None = None, out=print, config_path: str | None = None) -> int:
    """Own the store, load demo data if empty, serve the API, run the jobs and the dashboard, until stopped."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from imports.archive import purge, uploads_dir
    from imports.inbox import Inbox, InboxWatcher
    from metrics.exporter import build_registry, serve_metrics
    from probes.scheduler import ProbeScheduler
    from testbed.portal.server import PortalStartError, running

    if find_owner(cfg.store.path) is not None:
        raise UserError(f"motcua-watch is already running on {cfg.store.path} (see {cfg.store.path}.owner.json)")
    app = Motcua(cfg)
    stop = stop or threading.Event()
    service = metrics_server = None
    scheduler = BackgroundScheduler(timezone=cfg.timezone)
    stack = contextlib.ExitStack()  # the testbed and the probes, stopped in reverse order
    try:
        # configuration errors surface now, in plain words
        _ = app.store, app.slo_evaluator, app.alerter, app.digest_job
        if cfg.status_page.enabled:
            _ = app.status_page
        if app.is_empty():
            out("Store is empty: generating the demo province (a minute at most)…")
            res = app.demo_data()
            out(f"  demo data: {res['import']['inserted']} dossiers, recomputed {res['sla'].get('dossiers')}")
        else:
            app.recompute(full=False)
        try:
            # /import takes files from these folders only (the dashboard's uploads, the watch folder)
            service = StoreService(app, cfg.store.path, cfg.service.host, cfg.service.port,
                                   import_dirs=[uploads_dir(cfg.store.path), cfg.inbox.path])
        except OSError as e:
            raise UserError(f"cannot listen on {cfg.service.host}:{cfg.service.port} ({e.strerror}); "
                            "another program uses that port: set service.port in the config "
                            "or MOTCUA_SERVICE__PORT") from None
        service.start()
        try:
            registry = build_registry(app, app.now, probes=cfg.monitor.probes)
            metrics_server, _ = serve_metrics(registry, cfg.metrics.host, cfg.metrics.port)
        except OSError as e:
            raise UserError(f"cannot listen on {cfg.metrics.host}:{cfg.metrics.port} for metrics ({e.strerror}); "
                            "set metrics.port in the config or MOTCUA_METRICS__PORT") from None
        status_url = None
        if cfg.status_page.enabled:
            from statuspage.server import StatusPageServer, StatusPageStartError

            sp = cfg.status_page
            try:
                status_server = StatusPageServer(app.status_page, sp.host, sp.port)
            except StatusPageStartError as e:
                raise UserError(f"{e}; set status_page.port in the config or MOTCUA_STATUS_PAGE__PORT "
                                "(or status_page.enabled: false)") from None
            status_url = status_server.start()
            stack.callback(status_server.stop)
            app.keep_incidents = True
        base_url = None
        if cfg.testbed.enabled:
            try:
                base_url = stack.enter_context(running(cfg.testbed.release, port=cfg.testbed.port))
            except PortalStartError as e:
                raise UserError(f"{e}; set testbed.port or MOTCUA_TESTBED__PORT, or testbed.enabled: false") from None
        probes = ProbeScheduler(cfg.monitor.probes, app.store, base_url=base_url,
                                on_results=registry.probe_metrics.observe_results)
        probes.start()
        stack.callback(probes.shutdown)
        agents_url = _start_agents(cfg, app, registry, stack) if cfg.agents.enabled else None
        inbox = Inbox(cfg.inbox, app.import_file, on_imported=lambda *_: app.recompute(full=False),
                      after_archive=app.store.retry_checkpoint,
                      mapping=cfg.imports.column_mapping)
        # one thread of its own imports the folder's files, one at a time, as they land
        watcher = InboxWatcher(inbox)
        stack.callback(watcher.stop)
        retention = functools.partial(purge, cfg.inbox.archive, uploads_dir(cfg.store.path),
                                      cfg.inbox.retention_days, cfg.inbox.upload_hours)
        retention()
        scheduler.add_job(retention, "cron", hour=2, minute=15, id="retention", max_instances=1, coalesce=True)
        scheduler.add_job(app.recompute, "cron", hour=1, minute=30, id="nightly-sla-recompute",
                          max_instances=1, coalesce=True)
        scheduler.add_job(app.evaluate_alerts, "interval", seconds=cfg.monitor.evaluate_seconds, id="alerts",
                          max_instances=1, coalesce=True)
        digest = app.digest_job.cfg
        if digest.enabled and digest.contacts:
            # every minute: it acts from `at` on working days, until each contact has the day's digest
            scheduler.add_job(app.digest_job, "cron", minute="*", id="due-soon-digest", max_instances=1,
                              coalesce=True)
        # a checkpoint a concurrent reader made DuckDB refuse after a recompute (Store.checkpoint)
        scheduler.add_job(app.store.retry_checkpoint, "interval", seconds=60, id="store-checkpoint",
                          max_instances=1, coalesce=True)
        rs = cfg.reports.schedule
        if rs.enabled:
            scheduler.add_job(app.briefing_job, "cron", day=rs.day, hour=rs.hour, minute=rs.minute,
                              id="monthly-briefing", max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
            if app.briefing_job.due_and_missing():  # down at the scheduled time: catch up now
                scheduler.add_job(app.briefing_job, id="monthly-briefing-catch-up", max_instances=1)
        bk = cfg.backup
        if bk.enabled:
            from backup.job import BackupCollector

            job = app.backup_job
            scheduler.add_job(job, "cron", hour=bk.hour, minute=bk.minute, id="backup", max_instances=1,
                              coalesce=True, misfire_grace_time=6 * 3600)
            if job.due():  # none yet, or down at the scheduled time: catch up now
                scheduler.add_job(job, id="backup-catch-up", max_instances=1)
            registry.register(BackupCollector(job))
        scheduler.start()
        watcher.start()
        dashboard_url = first_admin = None
        if cfg.dashboard.enabled:
            from dashboard.launcher import Dashboard
            from dashboard.users import UserError as AccountError, UserFile

            try:
                first_admin = UserFile(cfg.users_file).ensure_first_admin(
                    cfg.store.path.parent / "initial-admin-password.txt")
            except (AccountError, OSError) as e:
                raise UserError(f"dashboard accounts: {e}") from None

            dash = Dashboard(cfg, config_path=config_path)
            dashboard_url = dash.start()
            stack.callback(dash.stop)
            app.prewarm = True  # from now on, after every recompute
            app.start_prewarm()
        host, port = service.address
        out(f"motcua-watch is running (store {cfg.store.path})")
        out(f"  store API      http://{host}:{port} (loopback; token in {cfg.store.path}.owner.json)")
        if dashboard_url:
            out(f"  dashboard      {dashboard_url}")
            if first_admin:
                out(f"                 first start: account `admin` created, its password is in {first_admin}")
                out("                 (change it with `app.py user passwd admin`, add others with `app.py user add`)")
        out(f"  metrics        http://{cfg.metrics.host}:{metrics_server.server_port}/metrics")
        if status_url:
            out(f"  status page    {status_url} (public, no sign-in: {len(app.status_page.page.services)} "
                f"services from {cfg.status_page.file})")
        if base_url:
            out(f"  testbed portal {base_url}/ (simulated, release {cfg.testbed.release})")
        out(f"  probes         {len(probes.job_ids)} checks and journeys from {cfg.monitor.probes}")
        if agents_url:
            out(f"  agents         {agents_url}/api/agents/v1/results (remote probes from "
                f"{sum(not loc.revoked for loc in cfg.agents.locations.values())} location(s))")
        out(f"  watch folder   {cfg.inbox.path}/ → {cfg.inbox.archive}/ or {cfg.inbox.rejected}/"
            + ("" if watcher.watching else f" (looked at every {cfg.inbox.poll_seconds:g} s only: see the log)"))
        if rs.enabled:
            out(f"  briefing       last month's, on day {rs.day} at {rs.hour:02d}:{rs.minute:02d} → "
                f"{cfg.reports.folder(cfg.store.path)}/YYYY-MM/ ({', '.join(rs.formats)})")
        if bk.enabled:
            out(f"  backups        daily at {bk.hour:02d}:{bk.minute:02d} → {bk.dir(cfg.store.path)}/ "
                f"(keeps {bk.keep_daily} daily, {bk.keep_monthly} monthly)")
        if digest.enabled and digest.contacts:
            out(f"  due-soon digest working days from {digest.at:%H:%M}, to {len(digest.contacts)} agency contact(s) "
                f"from {cfg.monitor.alerts}")
        out("  Press Ctrl-C to stop.")
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        out("Stopping…")
        return 0
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)
        stack.close()
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        if service is not None:
            service.stop()
        app.close()
