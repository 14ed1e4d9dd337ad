"""The seam every caller reaches the store through: the `Ops` protocol, its remote client and
the function that finds a running owner or opens the store locally.

DuckDB lets one process hold a database file for writing, and no other process may open it
meanwhile, not even to read. While `app.py run` is up it owns the file and serves the store's
operations over a small JSON API on loopback (store/service.py), advertised in
`<store file>.owner.json` (pid, port and a random token; mode 0600). Every other process (the
command-line tools, the dashboard) calls `open_ops`, which finds a live owner and returns a
`RemoteOps` client, or opens the file locally with the caller's composition root (system.Motcua:
it wires the importer and the engine, which the store may not import). Callers tell the two apart
by the declared capabilities (`remote`, `local_store`), never by the class.

The owner imports only files inside its own folders (the uploads folder beside the store, the
watch folder): `RemoteOps.import_file` links or copies any other file there first. A client whose
owner died is told so, not given a connection error.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from config.errors import MotcuaError
from store.registry import Table

if TYPE_CHECKING:
    from store.db import Store

TOKEN_HEADER = "X-Motcua-Token"


class Ops(Protocol):
    """What the store offers to callers, locally (system.Motcua) or remotely (RemoteOps)."""

    remote: bool  # True: the operations run in the owning process, over its API

    @property
    def local_store(self) -> Store | None:
        """The open store when the operations run in this process (probes write their results
        into it directly); None through the owner."""

    def query(self, name: str, **params: Any) -> Table: ...
    def import_file(self, path: str, events_path: str | None = None, dry_run: bool = False,
                    lang: str = "en") -> dict[str, Any]: ...
    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]: ...
    def recompute(self, as_of: str | None = None, full: bool = True) -> dict[str, Any]: ...
    def figures_at(self, as_of: str, reads: list[dict[str, Any]]) -> list[Table]: ...
    def status(self) -> dict[str, Any]: ...
    def compliance(self, action: str, **params: Any) -> dict[str, Any]: ...
    def status_incident(self, action: str, **params: Any) -> dict[str, Any]: ...
    def store_loadtest_run(self, payload: dict[str, Any]) -> dict[str, Any]: ...
    def backup(self, out: str | None = None) -> dict[str, Any]: ...
    def export_data(self, fmt: str, out: str) -> dict[str, Any]: ...
    def close(self) -> None: ...


class OperationError(MotcuaError):
    """An operation failed with a message for the operator (the owner's message, relayed);
    `message_vi` is the same in Vietnamese when the owner had one."""

    def __init__(self, message: str, message_vi: str = "") -> None:
        super().__init__(message)
        self.message_vi = message_vi


class OwnerNotAnswering(OperationError, httpx.TransportError):
    """The owner stopped answering (it stopped or crashed). Also an httpx.TransportError, so that
    a caller that looks for the owner again on a transport error (the dashboard) still does."""


def owner_file(db_path: Path | str) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".owner.json")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def uploads_dir(db_path: Path | str) -> Path:
    """Where files for the owner's import are put: `uploads/` beside the store file."""
    return Path(db_path).parent / "uploads"


# -- client -------------------------------------------------------------------------------

class RemoteOps:
    """The store's operations, performed by the owning process."""

    remote = True
    local_store = None  # the store is the owner's

    def __init__(self, base_url: str, token: str, timeout: float = 600.0, *, log_path: Path | None = None,
                 import_dirs: list[Path] | None = None) -> None:
        self._client = httpx.Client(base_url=base_url, headers={TOKEN_HEADER: token}, timeout=timeout)
        self.timeout = timeout
        self.log_path = log_path or Path("data/logs/motcua.log")
        self.import_dirs = [Path(d) for d in (import_dirs or [])]

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kw)
        except httpx.TimeoutException:
            raise OwnerNotAnswering(
                f"the system (app.py run) did not answer within {self.timeout:.0f} s; it may still be working. "
                f"See {self.log_path}") from None
        except httpx.TransportError:
            raise OwnerNotAnswering(
                f"the system (app.py run) is not answering: it stopped or crashed; see {self.log_path}, "
                "then start it again (app.py run)") from None

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._unwrap(self._send("POST", path, json=body))

    @staticmethod
    def _unwrap(resp: httpx.Response) -> Any:
        try:
            data = resp.json()
        except ValueError:
            raise OperationError(f"the store owner answered HTTP {resp.status_code} without JSON") from None
        if resp.status_code != 200:
            raise OperationError(data.get("error", f"HTTP {resp.status_code}"), data.get("error_vi", ""))
        return data["result"]

    def query(self, name: str, **params: Any) -> Table:
        return Table.from_json(self._post(f"/query/{name}", {"params": params}))

    @contextlib.contextmanager
    def _importable(self, paths: list[str]) -> Iterator[tuple[list[str], list[str | None]]]:
        """The files as the owner may read them: as they are when inside its import folders, else
        linked (or copied) into a folder of their own in the first one, removed afterwards."""
        out: list[str] = []
        names: list[str | None] = []
        made: Path | None = None
        try:
            for p in paths:
                real = Path(p).resolve()
                if not real.is_file():
                    raise OperationError(f"{p}: file not found", f"{p}: không tìm thấy tệp")
                if any(real.is_relative_to(d) for d in self.import_dirs) or not self.import_dirs:
                    out.append(str(real))
                    names.append(None)
                    continue
                if made is None:
                    made = self.import_dirs[0] / f"client-{secrets.token_hex(6)}"
                    made.mkdir(parents=True)
                dest = made / real.name
                try:
                    os.link(real, dest)
                except OSError:
                    shutil.copyfile(real, dest)
                out.append(str(dest))
                names.append(str(real))
            yield out, names
        finally:
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)

    def import_file(self, path: str, events_path: str | None = None, dry_run: bool = False,
                    lang: str = "en") -> dict[str, Any]:
        paths = [path] + ([events_path] if events_path else [])
        with self._importable(paths) as (files, names):
            body: dict[str, Any] = {"path": files[0], "events_path": files[1] if events_path else None,
                                    "dry_run": dry_run, "lang": lang}
            if any(names):
                body["names"] = names + [None] * (2 - len(names))
            return self._post("/import", body)

    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]:
        return self._post("/explain", {"codes": list(codes), "agency": agency, "lang": lang})

    def recompute(self, as_of: str | None = None, full: bool = True) -> dict[str, Any]:
        return self._post("/recompute", {"as_of": as_of, "full": full})

    def figures_at(self, as_of: str, reads: list[dict[str, Any]]) -> list[Table]:
        return [Table.from_json(t) for t in self._post("/figures_at", {"as_of": as_of, "reads": reads})]

    def status(self) -> dict[str, Any]:
        return self._unwrap(self._send("GET", "/status"))

    def compliance(self, action: str, **params: Any) -> dict[str, Any]:
        """A change to the compliance register (compliance/actions.py), made by the owner."""
        return self._post("/compliance", {"action": action, "params": params})

    def status_incident(self, action: str, **params: Any) -> dict[str, Any]:
        """A change to the status page's incidents (statuspage/incidents.py), made by the owner."""
        return self._post("/status_incident", {"action": action, "params": params})

    def store_loadtest_run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("/loadtest", {"payload": payload})

    # folders as absolute paths: the owner's working folder is not the caller's
    def backup(self, out: str | None = None) -> dict[str, Any]:
        return self._post("/backup", {"out": str(Path(out).resolve()) if out else None})

    def export_data(self, fmt: str, out: str) -> dict[str, Any]:
        return self._post("/export_data", {"format": fmt, "out": str(Path(out).resolve())})

    def close(self) -> None:
        self._client.close()


def find_owner(db_path: Path | str) -> RemoteOps | None:
    """A client for the live owner of this store file, or None when nobody owns it."""
    path = owner_file(db_path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        pid, host, port, token = int(info["pid"]), info["host"], int(info["port"]), info["token"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    ops = RemoteOps(f"http://{host}:{port}", token, log_path=Path(db_path).parent / "logs" / "motcua.log",
                    import_dirs=[Path(d) for d in info.get("import_dirs") or [uploads_dir(db_path).resolve()]])
    try:
        ops._client.get("/health", timeout=2.0).raise_for_status()
    except httpx.HTTPError:
        ops.close()
        return None
    return ops


def open_ops(db_path: Path | str, open_local: Callable[[], Ops]) -> Ops:
    """The live owner's client for this store file, else `open_local()` (the store opened in
    this process)."""
    remote = find_owner(db_path)
    return remote if remote is not None else open_local()
