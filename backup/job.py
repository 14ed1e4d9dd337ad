"""The scheduled backup inside `app.py run`: daily, rotated, watched.

`BackupJob` takes a backup through the callable it is given (the owner's, so it never waits for
the store file's lock), removes what the rotation does not keep, and remembers the last attempt.
`conditions()` gives the alerter (alerting/alerts.py) what is wrong right now: the last attempt
failed, or the newest good backup is older than `max_age_hours` (or there is none). The alerter
de-duplicates, repeats and resolves them like any other alert. `BackupCollector` exposes the newest
good backup's age as a Prometheus gauge (registered explicitly by the composition root).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alerting.alerts import Condition
from backup.snapshot import list_backups, prune
from config.clock import aware

log = logging.getLogger("motcua.backup")


class BackupJob:
    def __init__(self, take: Callable[[], dict[str, Any]], folder: Path, keep_daily: int, keep_monthly: int,
                 max_age_hours: float, now: Callable[[], dt.datetime]) -> None:
        self.take, self.folder = take, folder
        self.keep_daily, self.keep_monthly, self.max_age_hours = keep_daily, keep_monthly, max_age_hours
        self.now = now
        self.last_error: str = ""
        self.last_attempt: dt.datetime | None = None
        self._lock = threading.Lock()

    def newest(self) -> dt.datetime | None:
        backups = list_backups(self.folder)
        return backups[-1].created_at if backups else None

    def due(self) -> bool:
        """No good backup within max_age_hours (at a start: catch up)."""
        newest = self.newest()
        return newest is None or self.now() - newest > dt.timedelta(hours=self.max_age_hours)

    def __call__(self) -> dict[str, Any] | None:
        """One backup and the rotation; an error is logged and kept for the alert, never raised
        into the scheduler."""
        with self._lock:
            self.last_attempt = self.now()
            try:
                res = self.take()
            except Exception as e:  # noqa: BLE001 - reported through the alert channels
                self.last_error = str(e) or type(e).__name__
                log.error("scheduled backup failed: %s", self.last_error)
                return None
            self.last_error = ""
            try:
                gone = prune(self.folder, self.keep_daily, self.keep_monthly)
                if gone:
                    log.info("backups removed by the rotation: %s", ", ".join(p.name for p in gone))
            except OSError as e:
                log.warning("backup rotation: %s", e)
            return res

    def conditions(self) -> list[Condition]:
        out = []
        if self.last_error:
            at = self.last_attempt.strftime("%H:%M %d/%m/%Y") if self.last_attempt else ""
            out.append(Condition("backup:failed", "Sao lưu kho dữ liệu thất bại",
                                 f"Lần sao lưu lúc {at} bị lỗi: {self.last_error}", "page", self.last_attempt))
        newest = self.newest()
        now = self.now()
        limit = dt.timedelta(hours=self.max_age_hours)
        if newest is None:
            if self.last_attempt is not None:  # before the first attempt (at a start): not yet due
                out.append(Condition("backup:stale", "Chưa có bản sao lưu nào của kho dữ liệu",
                                     f"Không có bản sao lưu hoàn chỉnh trong {self.folder}", "page"))
        elif now - newest > limit:
            hours = (now - newest).total_seconds() / 3600
            out.append(Condition("backup:stale", "Bản sao lưu kho dữ liệu đã quá cũ",
                                 f"Bản sao lưu tốt gần nhất từ {newest:%H:%M %d/%m/%Y}, cách đây "
                                 f"{hours:.0f} giờ (ngưỡng {self.max_age_hours:g} giờ)".replace(".", ","),
                                 "page", newest + limit))
        return out


class BackupCollector(Collector):
    """motcua_backup_last_success_timestamp_seconds, motcua_backup_age_seconds (the newest good
    backup; absent when there is none) and motcua_backup_last_attempt_ok."""

    def __init__(self, job: BackupJob) -> None:
        self.job = job

    def collect(self) -> Iterator[Any]:
        newest = self.job.newest()
        ok = GaugeMetricFamily("motcua_backup_last_attempt_ok",
                               "1 when the last backup attempt of this process succeeded (or none was made yet)")
        ok.add_metric([], 0.0 if self.job.last_error else 1.0)
        yield ok
        if newest is None:
            return
        now = self.job.now()
        ts = GaugeMetricFamily("motcua_backup_last_success_timestamp_seconds",
                               "When the newest finished backup was taken (Unix time)")
        ts.add_metric([], aware(newest).timestamp())
        yield ts
        age = GaugeMetricFamily("motcua_backup_age_seconds", "Age of the newest finished backup")
        age.add_metric([], max(0.0, (now - newest).total_seconds()))
        yield age

