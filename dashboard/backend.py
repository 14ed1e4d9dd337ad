"""How the dashboard reaches the store: through the store's seam (store/ops.py `Ops`).

While `app.py run` is up the owner answers over its loopback API (store/ops.py RemoteOps), and the
dashboard never opens the DuckDB file. Without a running owner (the dashboard started on its own,
or in tests) each call opens the file with the composition root (system.open_ops), runs, and
closes it again, so the dashboard never keeps the file locked against an `app.py run` started
later.
"""
from __future__ import annotations

import threading
from typing import Any

import httpx

from config.app import AppConfig
from store.ops import Ops, find_owner
from system import open_ops


class StoreUnavailable(Exception):
    """The store cannot be reached; the message is for the reader of the page."""


class Backend:
    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg
        self._remote: Ops | None = None
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return "remote" if self._find_remote() is not None else "local"

    def _find_remote(self) -> Ops | None:
        with self._lock:
            if self._remote is None:
                self._remote = find_owner(self.cfg.store.path)
            return self._remote

    def _forget_remote(self) -> None:
        with self._lock:
            if self._remote is not None:
                self._remote.close()
            self._remote = None

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        remote = self._find_remote()
        if remote is not None:
            try:
                return getattr(remote, op)(*args, **kwargs)
            except httpx.TransportError:  # the owner stopped or restarted: look again
                self._forget_remote()
                remote = self._find_remote()
                if remote is not None:
                    return getattr(remote, op)(*args, **kwargs)
        return self._local(op, *args, **kwargs)

    def _local(self, op: str, *args: Any, **kwargs: Any) -> Any:
        if not self.cfg.store.path.exists():
            raise StoreUnavailable(f"no store file at {self.cfg.store.path}")
        ops = open_ops(self.cfg)
        try:
            return getattr(ops, op)(*args, **kwargs)
        finally:
            ops.close()

    # the operations, as open_ops offers them
    def query(self, name: str, **params: Any):
        return self.call("query", name, **params)

    def status(self) -> dict[str, Any]:
        """store_stats; times as datetimes whether the answer came over JSON or not."""
        import datetime as dt

        out = dict(self.call("status"))
        for k, v in out.items():
            if isinstance(v, str) and (k.endswith("_at") or k.endswith("_as_of")):
                try:
                    out[k] = dt.datetime.fromisoformat(v)
                except ValueError:
                    pass
        return out

    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]:
        return self.call("explain_dossiers", codes, agency=agency, lang=lang)

    def import_file(self, path: str, events_path: str | None = None, dry_run: bool = False,
                    lang: str = "en") -> dict[str, Any]:
        return self.call("import_file", path, events_path, dry_run=dry_run, lang=lang)

    def recompute(self, full: bool = True) -> dict[str, Any]:
        return self.call("recompute", full=full)

    def compliance(self, action: str, **params: Any) -> dict[str, Any]:
        return self.call("compliance", action, **params)

    def status_incident(self, action: str, **params: Any) -> dict[str, Any]:
        return self.call("status_incident", action, **params)
