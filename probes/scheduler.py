"""The probes' schedule: each check and journey of the probes file run at its interval by the
owner (`app.py run`), its results written to the store and handed to the probe metrics.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from config.probes import ProbesFile, load_probes
from config.clock import local_now
from probes.runner import ProbeResult, Runner
from steps.secrets import Secrets

log = logging.getLogger("motcua.probes")


class ProbeScheduler:
    """Each check and journey as an APScheduler job at its interval; results written to the store.

    All jobs are coroutines on one event loop, in a thread of its own (APScheduler's
    AsyncIOScheduler): no thread or event loop per run. The runner's semaphore bounds the checks
    in flight. A job never raises (the runner turns failures into results; a failed write is
    logged). Results are gathered and written every `defaults.write_every` seconds, one write at
    a time, in a worker thread: a slow write never delays a probe, and writes never pile up.
    Shutdown writes what is still pending.
    """

    def __init__(self, cfg: ProbesFile | Path | str, store=None, *, secrets: Secrets | None = None,
                 base_url: str | None = None,
                 on_results: Callable[[list[ProbeResult]], None] | None = None) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.cfg = cfg if isinstance(cfg, ProbesFile) else load_probes(cfg)
        self.store = store
        self.on_results = on_results  # e.g. the Prometheus probe metrics
        self.runner = Runner(self.cfg, secrets, base_url)
        self._loop = asyncio.new_event_loop()
        self._loop_thread: threading.Thread | None = None
        self.scheduler = AsyncIOScheduler(
            event_loop=self._loop,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
        self.runs = 0
        self.last_results: dict[tuple[str, str], ProbeResult] = {}
        self._pending: list[tuple[dt.datetime, list[ProbeResult]]] = []
        self._writing: asyncio.Task | None = None
        self.writes = 0
        d = self.cfg.defaults
        items = [(p.kind, p.name, p.interval or d.interval) for p in self.cfg.probes()]
        now = dt.datetime.now()
        for i, (kind, name, every) in enumerate(items):
            # spread the first runs over the interval: no thundering herd at start-up
            first = now + dt.timedelta(seconds=every * i / len(items))
            self.scheduler.add_job(self._job, "interval", seconds=every, args=[name],
                                   id=f"{kind}:{name}", next_run_time=first)
        if self.store is not None:
            self.scheduler.add_job(self._flush, "interval", seconds=d.write_every, id="write")

    async def _job(self, name: str) -> None:
        started = local_now()
        try:
            results = await self.runner.run_all({name})
        except asyncio.CancelledError:  # stopped without waiting: no result, and no traceback
            log.info("probe %s: cancelled at shutdown", name)
            return
        except Exception as e:  # noqa: BLE001
            log.error("probe %s: %s", name, e.__class__.__name__)
            return
        self.runs += 1
        for r in results:
            self.last_results[(r.name, r.step)] = r
        if self.on_results is not None:
            try:
                self.on_results(results)
            except Exception as e:  # noqa: BLE001
                log.error("probe %s: results not observed: %s", name, e.__class__.__name__)
        if self.store is not None:
            self._pending.append((started, results))

    async def _flush(self) -> None:
        """Write what was gathered since the last write (a scheduled job, and at shutdown)."""
        if self._writing is not None and not self._writing.done():
            return  # the last write is still running: its successor takes both batches
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._writing = asyncio.ensure_future(asyncio.to_thread(self._write, batch))
        await asyncio.shield(self._writing)

    def _write(self, batch: list[tuple[dt.datetime, list[ProbeResult]]]) -> None:
        results = [r for _, rs in batch for r in rs]
        try:
            from store.probe_writes import write_results
            write_results(self.store, results, started_at=min(s for s, _ in batch),
                          target=self.runner.variables.get("base_url", ""),
                          raw_retention_days=self.cfg.defaults.raw_retention_days,
                          rollup_retention_days=self.cfg.defaults.rollup_retention_days)
            self.writes += 1
        except Exception as e:  # noqa: BLE001
            log.error("probes: %d results not written: %s", len(results), self.runner.secrets.redact(str(e)))

    @property
    def job_ids(self) -> list[str]:
        return [j.id for j in self.scheduler.get_jobs() if j.id != "write"]

    def start(self) -> None:
        """Start the loop's thread and the schedule on it; returns once the schedule runs."""
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self.scheduler.start()
            started.set()
            self._loop.run_forever()

        self._loop_thread = threading.Thread(target=main, name="probe-loop", daemon=True)
        self._loop_thread.start()
        started.wait(timeout=10)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the schedule (letting running probes finish when `wait`) and the loop."""
        if self._loop_thread is None:
            return

        async def stop() -> None:
            # the scheduler's shutdown cancels running jobs: let them finish first when asked
            self.scheduler.pause()
            if wait:
                pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                if pending:
                    await asyncio.wait(pending, timeout=30)
                if self._writing is not None:
                    await asyncio.wait([self._writing], timeout=30)
                await self._flush()  # what the last runs gathered
            self.scheduler.shutdown(wait=False)  # AsyncIOScheduler: done in a callback on this loop
            await asyncio.sleep(0)               # let it run before the loop stops
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop)
        self._loop_thread.join(timeout=40)
        self._loop_thread = None
        if not self._loop.is_running():
            self._loop.close()
