"""Serving the simulated portal with uvicorn: in the foreground (`serve`) or in a background thread
on loopback for tests, probes and load tests (`running`)."""
from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from config.errors import MotcuaError
from config.portal import PortalProfile, load_profile
from testbed.portal.app import RECEIVED_AT, create_app

DEFAULT_PORT = 8088


class PortalStartError(MotcuaError):
    """The testbed could not start (port taken, server not answering). The message is for humans."""


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol noting when a request's first bytes arrived
    (scope["extensions"][RECEIVED_AT], a time.perf_counter() value): the portal's Server-Timing
    counts from there, as a front server's request time does, so parsing the request and starting
    its task are the server's time, not the network's."""

    _first_bytes: float | None = None

    def data_received(self, data: bytes) -> None:
        if self._first_bytes is None and (self.cycle is None or self.cycle.response_complete):
            self._first_bytes = time.perf_counter()  # the start of a new request, not a body chunk
        super().data_received(data)

    def handle_events(self) -> None:
        before = getattr(self, "scope", None)
        super().handle_events()  # builds the scope of a complete request head (its task runs later)
        scope = getattr(self, "scope", None)
        if scope is not None and scope is not before:
            scope["extensions"] = {**scope.get("extensions", {}), RECEIVED_AT: self._first_bytes or time.perf_counter()}
            self._first_bytes = None


def _config(app, host: str, port: int, log_level: str, tls: tuple[Path, Path] | None = None) -> uvicorn.Config:
    # One process, one event loop: the worker pool is the profile's semaphore, not uvicorn's.
    cert, key = tls if tls is not None else (None, None)
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, http=TimedH11Protocol,
                          lifespan="off", timeout_keep_alive=30, backlog=4096,
                          ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None)


def describe_listener(host: str, port: int) -> str | None:
    """What listens on host:port, when it can be known: the simulated portal (it names its
    release), else the process that owns the socket (psutil sees the processes this user may
    inspect). None when neither says."""
    import psutil

    h = f"[{host}]" if ":" in host else host
    try:
        r = httpx.get(f"http://{h}:{port}/__testbed/stats", timeout=1.0)
        if r.status_code == 200 and r.headers.get("X-Testbed-Release"):
            what = f"the simulated portal (release {r.headers['X-Testbed-Release']})"
        else:
            what = None
    except httpx.HTTPError:
        what = None
    try:
        pids = {c.pid for c in psutil.net_connections("tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
        procs = [psutil.Process(pid) for pid in sorted(pids)]
        names = [f"process {p.pid}: {' '.join(p.cmdline())[:120] or p.name()}" for p in procs]
    except (psutil.Error, OSError):
        names = []
    if what and names:
        return f"{what}, {'; '.join(names)}"
    return what or ("; ".join(names) or None)


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, or PortalStartError saying why not (and, for a port in
    use, by what when that can be known)."""
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (else Nagle adds ~40 ms)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            who = describe_listener(host, port)
            raise PortalStartError(f"testbed: cannot listen on {host}:{port}: the port is already in use"
                                   + (f", by {who}" if who else "")) from None
        raise PortalStartError(f"testbed: cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def serve(profile: PortalProfile | str | Path = "v1.0", host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          *, admin_token: str | None = None, log_level: str = "warning", sock: socket.socket | None = None) -> None:
    """Run the portal in the foreground until interrupted (Ctrl+C). `sock`: a socket already bound
    (listen_socket), so that a port in use is said before anything is printed as served."""
    app = create_app(load_profile(profile), admin_token=admin_token)
    sock = sock if sock is not None else listen_socket(host, port)
    try:
        uvicorn.Server(_config(app, host, sock.getsockname()[1], log_level)).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running(profile: PortalProfile | str | Path = "v1.0", port: int = 0, *, host: str = "127.0.0.1",
            admin_token: str | None = None, startup_timeout: float = 10.0,
            tls: tuple[Path | str, Path | str] | None = None) -> Iterator[str]:
    """Start the portal in a background thread on loopback, wait until it answers, yield its base
    URL (e.g. 'http://127.0.0.1:54321'), and stop it on exit. port=0 picks a free port.

    tls=(certificate PEM, key PEM) serves HTTPS, as a real portal does (the base URL is then
    'https://...'; the certificate is what probes see, e.g. its days left)."""
    app = create_app(load_profile(profile), admin_token=admin_token)
    sock = listen_socket(host, port)
    family = sock.family
    bound_port = sock.getsockname()[1]
    tls_paths = (Path(tls[0]), Path(tls[1])) if tls is not None else None
    server = uvicorn.Server(_config(app, host, bound_port, "warning", tls_paths))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"testbed-portal-{bound_port}", daemon=True)
    thread.start()
    scheme = "https" if tls_paths else "http"
    base = f"{scheme}://[{host}]:{bound_port}" if family == socket.AF_INET6 else f"{scheme}://{host}:{bound_port}"
    # the readiness check trusts exactly the certificate it serves
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(tls_paths[0])) if tls_paths else True
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if not thread.is_alive():
                raise PortalStartError(f"testbed: the server on {base} stopped during start-up")
            if server.started:
                try:
                    if httpx.get(f"{base}/__testbed/stats", timeout=1.0, verify=verify).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise PortalStartError(f"testbed: the server on {base} did not answer within {startup_timeout:g} s")
            time.sleep(0.02)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
