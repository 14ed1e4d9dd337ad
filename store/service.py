"""One writer: the owning process serves the store on loopback; everyone else is a client.

DuckDB lets one process hold a database file for writing, and no other process may open it
meanwhile, not even to read. While `app.py run` is up it owns the file and serves the store's
operations (named queries, imports, recomputes, status) over a small JSON API on 127.0.0.1. It
advertises itself in `<store file>.owner.json` (pid, port and a random token; mode 0600). Every
other process (the command-line tools, the dashboard) calls `store.open_store`, which finds a live
owner and returns a `RemoteOps` client, or opens the file itself when nobody owns it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import httpx

from store.registry import Table

TOKEN_HEADER = "X-Motcua-Token"


class Ops(Protocol):
    """What the store offers to callers, locally or remotely."""

    def query(self, name: str, **params: Any) -> Table: ...
    def import_file(self, path: str, events_path: str | None = None, dry_run: bool = False,
                    lang: str = "en") -> dict[str, Any]: ...
    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]: ...
    def recompute(self, as_of: str | None = None) -> dict[str, Any]: ...
    def figures_at(self, as_of: str, reads: list[dict[str, Any]]) -> list[Table]: ...
    def status(self) -> dict[str, Any]: ...
    def compliance(self, action: str, **params: Any) -> dict[str, Any]: ...
    def store_loadtest_run(self, payload: dict[str, Any]) -> dict[str, Any]: ...


class OperationError(Exception):
    """An operation failed with a message for the operator (the owner's message, relayed)."""


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


def _json_default(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (set, tuple)):
        return list(v)
    return str(v)


# -- server -------------------------------------------------------------------------------

class StoreService:
    """Serves `ops` on loopback until stopped. Errors go back as JSON messages, never tracebacks."""

    def __init__(self, ops: Ops, db_path: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ops = ops
        self.db_path = Path(db_path)
        self.token = secrets.token_urlsafe(24)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "motcua-store"

            def log_message(self, *args: Any) -> None:  # no access log: params may name files
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False, default=_json_default).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), service.token):
                    return True
                self._reply(HTTPStatus.FORBIDDEN, {"error": "bad or missing token"})
                return False

            def do_GET(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                if self.path == "/health":
                    self._reply(HTTPStatus.OK, {"pid": os.getpid(), "store": str(service.db_path)})
                elif self.path == "/status":
                    self._call(service.ops.status)
                else:
                    self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})

            def do_POST(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                    body = json.loads(self.rfile.read(length) or b"{}")
                except (ValueError, json.JSONDecodeError):
                    self._reply(HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"})
                    return
                if self.path.startswith("/query/"):
                    name = self.path[len("/query/"):]
                    self._call(lambda: service.ops.query(name, **body.get("params", {})).to_json())
                elif self.path == "/import":
                    self._call(lambda: service.ops.import_file(body["path"], body.get("events_path"),
                                                               dry_run=bool(body.get("dry_run")),
                                                               lang=body.get("lang") or "en"))
                elif self.path == "/explain":
                    self._call(lambda: service.ops.explain_dossiers(list(body.get("codes") or []), body.get("agency"),
                                                                    lang=body.get("lang") or "vi"))
                elif self.path == "/recompute":
                    self._call(lambda: service.ops.recompute(body.get("as_of")))
                elif self.path == "/figures_at":
                    self._call(lambda: [t.to_json() for t in service.ops.figures_at(str(body.get("as_of")),
                                                                                     list(body.get("reads") or []))])
                elif self.path == "/compliance":  # the register's closed set of append-only actions
                    self._call(lambda: service.ops.compliance(str(body.get("action")), **body.get("params", {})))
                elif self.path == "/loadtest":
                    self._call(lambda: service.ops.store_loadtest_run(body["payload"]))
                else:
                    self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})

            def _call(self, fn: Any) -> None:
                try:
                    self._reply(HTTPStatus.OK, {"result": fn()})
                except Exception as e:  # relayed as a message; the owner keeps running
                    self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(e) or type(e).__name__})

        return Handler

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="store-service", daemon=True)
        self._thread.start()
        host, port = self.address
        info = {"pid": os.getpid(), "host": host, "port": port, "token": self.token,
                "store": str(self.db_path.resolve()), "started_at": dt.datetime.now().isoformat()}
        path = owner_file(self.db_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.replace(tmp, path)

    def stop(self) -> None:
        try:
            data = json.loads(owner_file(self.db_path).read_text(encoding="utf-8"))
            if data.get("pid") == os.getpid():
                owner_file(self.db_path).unlink()
        except (OSError, ValueError):
            pass
        self._server.shutdown()
        self._server.server_close()


# -- client -------------------------------------------------------------------------------

class RemoteOps:
    """The store's operations, performed by the owning process."""

    def __init__(self, base_url: str, token: str, timeout: float = 600.0) -> None:
        self._client = httpx.Client(base_url=base_url, headers={TOKEN_HEADER: token}, timeout=timeout)
        self.remote = True

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._unwrap(self._client.post(path, json=body))

    @staticmethod
    def _unwrap(resp: httpx.Response) -> Any:
        try:
            data = resp.json()
        except ValueError:
            raise OperationError(f"the store owner answered HTTP {resp.status_code} without JSON") from None
        if resp.status_code != 200:
            raise OperationError(data.get("error", f"HTTP {resp.status_code}"))
        return data["result"]

    def query(self, name: str, **params: Any) -> Table:
        return Table.from_json(self._post(f"/query/{name}", {"params": params}))

    def import_file(self, path: str, events_path: str | None = None, dry_run: bool = False,
                    lang: str = "en") -> dict[str, Any]:
        return self._post("/import", {"path": str(Path(path).resolve()),
                                      "events_path": str(Path(events_path).resolve()) if events_path else None,
                                      "dry_run": dry_run, "lang": lang})

    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]:
        return self._post("/explain", {"codes": list(codes), "agency": agency, "lang": lang})

    def recompute(self, as_of: str | None = None) -> dict[str, Any]:
        return self._post("/recompute", {"as_of": as_of})

    def figures_at(self, as_of: str, reads: list[dict[str, Any]]) -> list[Table]:
        return [Table.from_json(t) for t in self._post("/figures_at", {"as_of": as_of, "reads": reads})]

    def status(self) -> dict[str, Any]:
        return self._unwrap(self._client.get("/status"))

    def compliance(self, action: str, **params: Any) -> dict[str, Any]:
        """A change to the compliance register (compliance/actions.py), made by the owner."""
        return self._post("/compliance", {"action": action, "params": params})

    def store_loadtest_run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("/loadtest", {"payload": payload})

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
    ops = RemoteOps(f"http://{host}:{port}", token)
    try:
        ops._client.get("/health", timeout=2.0).raise_for_status()
    except httpx.HTTPError:
        ops.close()
        return None
    return ops
