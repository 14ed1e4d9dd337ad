"""Writing the monthly briefing to files, and the scheduled job of `app.py run`.

`write_briefing` writes the files (atomically: a temporary file renamed into place, so a reader
never sees half a file). `MonthlyBriefingJob` runs on `reports.schedule.day` of each month: it
writes last month's briefing under `reports.out_dir/YYYY-MM/` and, with `schedule.notify`, sends
the files through the alert channels (apprise attachments). When the system was down at that
time, `app.py run` catches up at its start (`due_and_missing`).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.briefing.labels import month_label
from reports.briefing.model import FORMATS, Briefing, month_str, parse_month, prev_month
from reports.files import build_all

log = logging.getLogger("motcua.reports")


def write_briefing(ops: Any, month: str, out_dir: Path | str, formats: list[str] | tuple[str, ...] = FORMATS,
                   agency: str | None = None, cfg: Any | None = None) -> list[Path]:
    """Build the month's briefing in `formats` and write the files into out_dir; their paths."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"{out}: cannot create the report folder: {e.strerror or e}") from None
    paths = []
    for name, data in build_all(ops, month, formats, agency, cfg):
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def written_files(folder: Path | str, month: str, agency: str | None = None) -> list[Path]:
    """The briefing files already written for a month under folder/YYYY-MM/ (by the monthly job or
    `app.py export --out`), in format order: the province's (agency None) or one agency's."""
    m = month_str(parse_month(month))
    d = Path(folder) / m
    if not d.is_dir():
        return []
    stem = Briefing.filename_for(m, agency)
    return [d / f"{stem}.{f}" for f in FORMATS if (d / f"{stem}.{f}").is_file()]


@dataclass
class JobResult:
    month: str
    files: list[Path]
    deliveries: list[Any] = field(default_factory=list)
    error: str = ""


class MonthlyBriefingJob:
    """Last month's briefing, written under out_dir/YYYY-MM/ and optionally sent; errors are logged
    in one line and returned, never raised into the scheduler."""

    def __init__(self, ops: Any, cfg: Any, now: Callable[[], dt.datetime], notifier: Any | None = None) -> None:
        self.ops, self.cfg, self.now, self.notifier = ops, cfg, now, notifier

    @property
    def folder(self) -> Path:
        return self.cfg.reports.folder(self.cfg.store.path)

    def month(self) -> str:
        return month_str(prev_month(self.now().date().replace(day=1)))

    def due_and_missing(self) -> bool:
        """True when this month's run time has passed and last month's files are not all there
        (the system was down at the scheduled time): `app.py run` then catches up at start."""
        sched = self.cfg.reports.schedule
        now = self.now()
        due = now >= now.replace(day=sched.day, hour=sched.hour, minute=sched.minute, second=0, microsecond=0)
        if not sched.enabled or not due:
            return False
        folder = self.folder / self.month()
        names = [f"bao-cao-tthc-{self.month()}.{f}" for f in sched.formats]
        return not all((folder / n).is_file() for n in names)

    def __call__(self, month: str | None = None) -> JobResult:
        sched = self.cfg.reports.schedule
        m = month or self.month()
        try:
            files = write_briefing(self.ops, m, self.folder / m, sched.formats, cfg=self.cfg)
        except Exception as e:  # the system keeps running; the next month tries again
            log.error("monthly briefing %s failed: %s", m, e)
            return JobResult(m, [], error=str(e) or type(e).__name__)
        log.info("monthly briefing %s written: %s", m, ", ".join(str(p) for p in files))
        res = JobResult(m, files)
        if sched.notify and self.notifier is not None:
            label = month_label(parse_month(m))
            res.deliveries = self.notifier.send(
                f"Báo cáo tình hình giải quyết TTHC tháng {label}",
                f"Báo cáo tình hình, kết quả giải quyết thủ tục hành chính tháng {label} "
                f"({', '.join(p.suffix[1:].upper() for p in files)}) đính kèm.",
                attach=[str(p) for p in files])
            for d in res.deliveries:
                if not d.ok:
                    log.warning("monthly briefing %s: channel %s: %s", m, d.channel, d.error)
        return res
