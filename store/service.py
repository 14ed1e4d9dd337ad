"""One writer: the owning process serves the store on loopback; everyone else is a client.

While `app.py run` is up it owns the store file and serves the store's operations (named
queries, imports, recomputes, status) over a small JSON API on 127.0.0.1, advertised in
`<store file>.owner.json`. Every other process reaches it through store/ops.py (`open_ops`,
`RemoteOps`).

The API imports only files inside the system's own folders (the uploads folder beside the store,
the watch folder). Running out of memory or disk is said plainly (`resource_error`).
"""
from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import secrets
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb

from config.clock import local_now
from store.errors import StoreError
from store.ops import TOKEN_HEADER, OperationError, Ops, owner_file, uploads_dir

MAX_BODY = 64 << 20          # a request body larger than this is refused before it is read
READ_TIMEOUT = 120           # seconds a client may take to send its request
log = logging.getLogger("motcua.service")


class ResourceError(StoreError):
    """Out of memory or disk full: what happened and what to do, in English (`message_vi` too)."""

    def __init__(self, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.message_vi = message_vi


def resource_error(e: BaseException) -> ResourceError | None:
    """The plain message for running out of memory or disk (DuckDB's, Python's, the system's),
    instead of DuckDB's tuning text; None for any other error."""
    if isinstance(e, ResourceError):
        return e
    text = str(e)
    if isinstance(e, (MemoryError, duckdb.OutOfMemoryException)) or (
            isinstance(e, OSError) and e.errno == errno.ENOMEM):
        return ResourceError(
            "not enough memory (không đủ bộ nhớ): the operation needed more memory than it may use "
            "(store.memory_limit for the store, imports.reader_memory_mb for spreadsheets) or than the "
            "machine has free. Close other programs, raise the limit in config/motcua.yaml, or import the "
            "file in smaller parts, and try again; the operation was cancelled",
            "không đủ bộ nhớ: thao tác cần nhiều bộ nhớ hơn mức được phép (store.memory_limit cho kho dữ "
            "liệu, imports.reader_memory_mb cho bảng tính) hoặc hơn mức máy còn trống. Hãy đóng bớt chương "
            "trình khác, tăng giới hạn trong config/motcua.yaml hoặc chia nhỏ tệp nhập rồi thử lại; thao tác "
            "đã bị huỷ")
    if (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)) or "No space left on device" in text:
        where = getattr(e, "filename", None) or ""
        return ResourceError(
            f"disk full (hết dung lượng đĩa){': ' + str(where) if where else ''}: free some space on the disk "
            "of the store and of the temporary folder (old files in data/archive, data/rejected, "
            "data/loadtests, data/reports) and try again; the operation was cancelled",
            f"hết dung lượng đĩa{': ' + str(where) if where else ''}: hãy giải phóng dung lượng trên ổ đĩa "
            "chứa kho dữ liệu và thư mục tạm (các tệp cũ trong data/archive, data/rejected, data/loadtests, "
            "data/reports) rồi thử lại; thao tác đã bị huỷ")
    if isinstance(e, duckdb.FatalException) or "database has been invalidated" in text:
        return ResourceError(
            "the store stopped after a fatal error (most often a full disk or a lack of memory) and must be "
            "reopened: free space if the disk is full, then restart the system (app.py run); the details are "
            "in data/logs/motcua.log",
            "kho dữ liệu đã dừng sau một lỗi nghiêm trọng (thường do hết dung lượng đĩa hoặc thiếu bộ nhớ) và "
            "cần được mở lại: nếu đĩa đầy hãy giải phóng dung lượng, rồi khởi động lại hệ thống (app.py run); "
            "chi tiết ở data/logs/motcua.log")
    return None


def _json_default(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (set, tuple)):
        return list(v)
    return str(v)


# -- server -------------------------------------------------------------------------------

def _folder(raw: Any, required: bool = True) -> str | None:
    """A folder the owner writes into, as the client named it: an absolute path (RemoteOps sends
    them so), never relative to the owner's own working folder."""
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not Path(raw).is_absolute():
        raise OperationError(f"a folder must be given as an absolute path, got {raw!r}")
    return raw


def _names(raw: Any) -> dict[str, Any]:
    """The files' names for the import's messages (a client's copies named as the originals)."""
    if not isinstance(raw, list) or not any(raw):
        return {}
    return {"names": [str(n)[:1000] if n else None for n in raw[:2]]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away mid-request is no error of ours: no traceback on the console
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        log.warning("store API: a request from %s failed", client_address, exc_info=True)


class StoreService:
    """Serves `ops` on loopback until stopped. Errors go back as JSON messages, never tracebacks.

    `import_dirs` are the folders /import takes files from (default: the uploads folder)."""

    def __init__(self, ops: Ops, db_path: Path | str, host: str = "127.0.0.1", port: int = 0,
                 import_dirs: list[Path] | None = None) -> None:
        self.ops = ops
        self.db_path = Path(db_path)
        self.token = secrets.token_urlsafe(24)
        self.import_dirs = [Path(d) for d in (import_dirs or [uploads_dir(db_path)])]
        for d in self.import_dirs:
            d.mkdir(parents=True, exist_ok=True)
        self._server = _Server((host, port), self._handler())
        self._thread: threading.Thread | None = None

    def importable(self, raw: Any) -> str:
        """The file at `raw` if it lies inside one of the import folders (symlinks resolved, no
        `..`); otherwise OperationError."""
        text = str(raw or "")
        p = Path(text)
        dirs = [d.resolve() for d in self.import_dirs]
        if p.is_absolute() and ".." not in p.parts:
            real = p.resolve()
            if any(real.is_relative_to(d) for d in dirs):
                return str(real)
        shown = ", ".join(str(d) for d in dirs)
        raise OperationError(
            f"{text[:300]}: refused: the system imports only files in its own folders ({shown}); "
            "`app.py import FILE` puts a file there itself",
            f"{text[:300]}: bị từ chối: hệ thống chỉ nhập tệp nằm trong thư mục của chính nó ({shown}); "
            "lệnh `app.py import TỆP` tự đặt tệp vào đó")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "motcua-store"
            timeout = READ_TIMEOUT  # a client that stops sending frees its thread

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
                    if not 0 <= length <= MAX_BODY:
                        self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body of {length} bytes refused"})
                        return
                    body = json.loads(self.rfile.read(length) or b"{}")
                except (ValueError, json.JSONDecodeError):
                    self._reply(HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"})
                    return
                if self.path.startswith("/query/"):
                    name = self.path[len("/query/"):]
                    self._call(lambda: service.ops.query(name, **body.get("params", {})).to_json())
                elif self.path == "/import":
                    self._call(lambda: service.ops.import_file(
                        service.importable(body.get("path")),
                        service.importable(body["events_path"]) if body.get("events_path") else None,
                        dry_run=bool(body.get("dry_run")), lang=body.get("lang") or "en",
                        **_names(body.get("names"))))
                elif self.path == "/explain":
                    self._call(lambda: service.ops.explain_dossiers(list(body.get("codes") or []), body.get("agency"),
                                                                    lang=body.get("lang") or "vi"))
                elif self.path == "/recompute":
                    self._call(lambda: service.ops.recompute(body.get("as_of"), full=body.get("full") is not False))
                elif self.path == "/figures_at":
                    self._call(lambda: [t.to_json() for t in service.ops.figures_at(str(body.get("as_of")),
                                                                                     list(body.get("reads") or []))])
                elif self.path == "/compliance":  # the register's closed set of append-only actions
                    self._call(lambda: service.ops.compliance(str(body.get("action")), **body.get("params", {})))
                elif self.path == "/status_incident":  # open, post, edit, resolve: one history row each
                    self._call(lambda: service.ops.status_incident(str(body.get("action")), **body.get("params", {})))
                elif self.path == "/loadtest":
                    self._call(lambda: service.ops.store_loadtest_run(body["payload"]))
                elif self.path == "/backup":
                    self._call(lambda: service.ops.backup(_folder(body.get("out"), required=False)))
                elif self.path == "/export_data":
                    self._call(lambda: service.ops.export_data(str(body.get("format")), _folder(body.get("out"))))
                else:
                    self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})

            def _call(self, fn: Any) -> None:
                try:
                    result = fn()
                except Exception as e:  # relayed as a message; the owner keeps running
                    plain = resource_error(e)
                    if plain is not None and plain is not e:
                        log.warning("store API: %s: %s", self.path, e)
                    shown = plain or e
                    body = {"error": str(shown) or type(e).__name__}
                    if getattr(shown, "message_vi", ""):
                        body["error_vi"] = shown.message_vi
                    self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, body)
                    return
                self._reply(HTTPStatus.OK, {"result": result})

        return Handler

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="store-service", daemon=True)
        self._thread.start()
        host, port = self.address
        info = {"pid": os.getpid(), "host": host, "port": port, "token": self.token,
                "store": str(self.db_path.resolve()), "started_at": local_now().isoformat(),
                "import_dirs": [str(d.resolve()) for d in self.import_dirs]}
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
