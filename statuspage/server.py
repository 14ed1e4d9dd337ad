"""Serving the status page: Starlette on uvicorn in a thread of the owner (`app.py run`).

    /                the page in Vietnamese; /?lang=en in English
    /feed.atom       the incidents as Atom 1.0 (?lang=en: English)
    /healthz         {"ok": true, "figures_at": ..., "stale": ...}

The page is read from the store at most once per `cache_seconds`: one refresh reads every figure
once (statuspage.model.build) and renders the four documents, kept as bytes with their gzip form
and ETag. A request never waits for the store while a page exists: a stale page is served at once
and the refresh runs in a worker thread. If the store cannot answer, the last good figures are
served with a note saying since when; before any, a short page says so (503). Nothing is logged
per request (no addresses).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import errno
import gzip
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config.agents import AgentsConfig
from config.alerts import MaintenanceWindow
from config.errors import MotcuaError
from config.status_page import ProbeRef, StatusPageFile
from statuspage.model import PageData, Query, build
from statuspage.render import atom_feed, html_page, unavailable_page
from statuspage.words import t

log = logging.getLogger("motcua.statuspage")
LANGS = ("vi", "en")
HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
# no script, no external resource: what the page does not need, the browser refuses
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


class StatusPageStartError(MotcuaError):
    """The status page could not listen (port taken, bad address); the message says which."""


@dataclass(frozen=True)
class Doc:
    body: bytes
    gz: bytes
    etag: str
    media: str

    @classmethod
    def of(cls, text: str, media: str) -> "Doc":
        body = text.encode("utf-8")
        return cls(body, gzip.compress(body, 6, mtime=0), '"' + hashlib.sha256(body).hexdigest()[:32] + '"', media)


class StatusPage:
    """The four documents, refreshed from the store at most once per `cache_seconds`."""

    def __init__(self, page: StatusPageFile, refs: dict[str, list[ProbeRef]], query: Query,
                 maintenance: list[MaintenanceWindow], now: Callable[[], dt.datetime], zone: ZoneInfo,
                 cache_seconds: float = 10, base_url: str = "", agents: AgentsConfig | None = None) -> None:
        self.page = page
        self.agents = agents if agents is not None else AgentsConfig()  # the quorum and the locations' titles
        self.refs = refs
        self.query = query
        self.maintenance = maintenance
        self.now = now
        self.zone = zone
        self.cache_seconds = cache_seconds
        self.base_url = base_url
        self.docs: dict[tuple[str, str], Doc] = {}
        self.data: PageData | None = None      # the last good figures
        self.stale_since: dt.datetime | None = None
        self._at = -1e18                       # monotonic time of the last refresh (good or not)
        self._gen = self._built = 0            # changes announced (invalidate) / included in the documents
        self._lock = threading.Lock()          # one refresh at a time

    # -- refreshing ----------------------------------------------------------------------------
    def fresh(self) -> bool:
        return bool(self.docs) and self._built == self._gen and time.monotonic() - self._at < self.cache_seconds

    def invalidate(self) -> None:
        """An incident was just changed: the page is read again now (when it is served at all),
        so that whoever changed it sees it at once. A refresh under way that read the store
        before the change does not count."""
        self._gen += 1
        if self.docs:
            self.refresh()

    def refresh(self) -> None:
        """Read the figures and render the documents; on failure keep the last good figures,
        rendered with a note. Never raises."""
        with self._lock:
            if self.fresh():
                return  # another thread did it while this one waited
            gen = self._gen
            try:
                data = build(self.query, self.page, self.refs, self.maintenance, self.now(), self.agents)
                self.data, self.stale_since = data, None
            except Exception:  # noqa: BLE001 - the page must go on; the log says why
                log.warning("status page: the store did not answer; serving the last good figures", exc_info=True)
                if self.data is not None and self.stale_since is None:
                    self.stale_since = self.data.at
            finally:
                self._at = time.monotonic()
                self._built = gen
            try:
                self.docs = self._render()
            except Exception:  # noqa: BLE001
                log.exception("status page: rendering failed")

    def _render(self) -> dict[tuple[str, str], Doc]:
        docs = {}
        for lang in LANGS:
            if self.data is None:
                docs[("html", lang)] = Doc.of(unavailable_page(lang, self.page.title(lang)), HTML)
                continue
            docs[("html", lang)] = Doc.of(html_page(self.data, lang, self.stale_since), HTML)
            docs[("atom", lang)] = Doc.of(atom_feed(self.data, lang, self.zone, self.base_url), ATOM)
        return docs

    async def doc(self, kind: str, lang: str) -> Doc | None:
        if not self.docs:
            await asyncio.get_running_loop().run_in_executor(None, self.refresh)
        elif not self.fresh() and not self._lock.locked():
            # serve what there is now; the next request gets the new page
            asyncio.get_running_loop().run_in_executor(None, self.refresh)
        return self.docs.get((kind, lang))

    # -- HTTP ----------------------------------------------------------------------------------
    def _headers(self, doc: Doc) -> dict[str, str]:
        return {"ETag": doc.etag, "Cache-Control": f"public, max-age={int(self.cache_seconds)}",
                "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP,
                "Referrer-Policy": "no-referrer"}

    def _respond(self, request: Request, doc: Doc | None) -> Response:
        if doc is None:
            return Response(t("unavailable", "vi"), status_code=503, media_type="text/plain; charset=utf-8",
                            headers={"Retry-After": "30"})
        headers = self._headers(doc)
        status = 503 if self.data is None else 200
        if status == 200 and doc.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = doc.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = doc.gz
            headers["Content-Encoding"] = "gzip"
        if status == 503:
            headers["Retry-After"] = "30"
        return Response(b"" if request.method == "HEAD" else body, status_code=status, media_type=doc.media,
                        headers=headers)

    def app(self) -> Starlette:
        def lang_of(request: Request) -> str:
            return "en" if request.query_params.get("lang") == "en" else "vi"

        async def index(request: Request) -> Response:
            return self._respond(request, await self.doc("html", lang_of(request)))

        async def feed(request: Request) -> Response:
            doc = await self.doc("atom", lang_of(request))
            if doc is None and self.data is None:
                doc = self.docs.get(("html", lang_of(request)))
            return self._respond(request, doc)

        async def healthz(request: Request) -> Response:
            body = {"ok": True, "figures_at": self.data.at.isoformat() if self.data else None,
                    "stale": self.data is None or self.stale_since is not None}
            return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})

        async def not_found(request: Request, exc: Exception) -> Response:
            return Response(t("not_found", "vi") + " / " + t("not_found", "en"), status_code=404,
                            media_type="text/plain; charset=utf-8")

        methods = ["GET", "HEAD"]
        return Starlette(routes=[Route("/", index, methods=methods), Route("/feed.atom", feed, methods=methods),
                                 Route("/healthz", healthz, methods=methods)],
                         exception_handlers={404: not_found})


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        why = "the port is already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        raise StatusPageStartError(f"status page: cannot listen on {host}:{port}: {why}") from None
    return sock


class StatusPageServer:
    """uvicorn serving a StatusPage in a background thread until stop()."""

    def __init__(self, status: StatusPage, host: str = "127.0.0.1", port: int = 0) -> None:
        self.status = status
        self.sock = _listen(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(status.app(), host=host, port=self.port, log_level="warning", access_log=False,
                                lifespan="off", timeout_keep_alive=30, backlog=4096, server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]},
                                        name=f"status-page-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.port}/"

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StatusPageStartError(f"status page: the server on {self.url} did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()
