"""The probes' network layer: httpcore's connection pool on a lean asyncio network backend.

httpx's default transport talks to sockets through anyio, whose general-purpose machinery (a task
group and cancel scopes for every connect, a cancel scope and a checkpoint for every read and
write) sits inside the phases the probes time: on loopback it added about 0.5 ms to the connect
phase, with 5 ms outliers in one run of ten, and a few tenths of a millisecond to sending the
request. httpcore lets the network backend be swapped (`network_backend=`): this one uses asyncio's
own streams, so a phase measures the network and the portal, not our client.

The DNS phase is timed the same way: the look-up runs in the event loop's executor (as asyncio's
own getaddrinfo does), but the clock runs inside the worker thread around the resolver call
(`timed_getaddrinfo`), so neither the executor's thread start-up (≈ 1–2 ms on the first look-up of
a process: `probe --once` measured 1.7 ms for `localhost` against blackbox_exporter's 0.04 ms) nor
the hand-over between threads counts as the network's time.

Behaviour kept from the default backend: happy eyeballs (250 ms) between the addresses of a host
name, TCP_NODELAY (asyncio sets it), timeouts per operation, and errors mapped to httpcore's
(ConnectError, ReadTimeout, ...) with the OS error as their cause, so `describe_error` still
finds "connection refused" or the TLS failure.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import ipaddress
import select
import socket
import ssl
import time
import typing
from asyncio import staggered

import httpcore
import httpx

_SOCKET_OPTION = typing.Any

# (host, port) → addresses, set by the probe for the request it times: the probe has looked the
# host up (its DNS phase), so the connect uses those addresses instead of looking it up again
RESOLVED: contextvars.ContextVar[dict[tuple[str, int], list[str]] | None] = \
    contextvars.ContextVar("probe_resolved", default=None)


def _getaddrinfo(host: str, port: int) -> tuple[list | None, float, OSError | None]:
    t0 = time.perf_counter()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        return None, (time.perf_counter() - t0) * 1000, e
    return infos, (time.perf_counter() - t0) * 1000, None


async def timed_getaddrinfo(host: str, port: int, timeout: float) -> tuple[list | None, float, str | None]:
    """(addresses as getaddrinfo gives them, ms the resolver took, None) or (None, ms, why not).
    The ms are the resolver call's own, timed in the worker thread; on a timeout, the wall time."""
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    try:
        infos, ms, err = await asyncio.wait_for(loop.run_in_executor(None, _getaddrinfo, host, port), timeout)
    except asyncio.TimeoutError:
        return None, (time.perf_counter() - t0) * 1000, f"no answer within {timeout:g} s"
    return infos, ms, (str(err) or type(err).__name__) if err is not None else None


def _readable(sock) -> bool:
    """An idle connection with something to read (or closed) cannot be reused: the server has
    closed it or sent something unasked."""
    fd = sock.fileno() if sock is not None else -1
    if fd == -1:
        return True
    if hasattr(select, "poll"):
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


class _Mapped(contextlib.AbstractAsyncContextManager):
    """`async with _Mapped(timeout, OnTimeout, OnOSError):` one timed operation, errors mapped."""

    __slots__ = ("_timeout", "_on_timeout", "_on_error", "_cm")

    def __init__(self, timeout: float | None, on_timeout: type[Exception], on_error: type[Exception]) -> None:
        self._timeout, self._on_timeout, self._on_error = timeout, on_timeout, on_error
        self._cm = asyncio.timeout(timeout) if timeout is not None else None

    async def __aenter__(self) -> None:
        if self._cm is not None:
            await self._cm.__aenter__()

    async def __aexit__(self, typ, exc, tb) -> bool:
        if self._cm is not None:
            try:
                await self._cm.__aexit__(typ, exc, tb)
            except TimeoutError as e:  # our own deadline passed
                raise self._on_timeout(f"timed out after {self._timeout:g} s") from e
        if exc is None:
            return False
        if isinstance(exc, TimeoutError):
            raise self._on_timeout(str(exc) or "timed out") from exc
        if isinstance(exc, OSError):  # refused, reset, unreachable, TLS (ssl.SSLError is an OSError)
            raise self._on_error(str(exc) or exc.__class__.__name__) from exc
        return False


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: bool = False) -> None:
        self._reader, self._writer, self._tls = reader, writer, tls

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        async with _Mapped(timeout, httpcore.ReadTimeout, httpcore.ReadError):
            return await self._reader.read(max_bytes)  # b"" at end of stream, as httpcore expects

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        async with _Mapped(timeout, httpcore.WriteTimeout, httpcore.WriteError):
            self._writer.write(buffer)
            await self._writer.drain()

    async def aclose(self) -> None:
        if self._tls:
            # no wait for the peer's close_notify (up to 30 s in asyncio): the probe is done with it
            self._writer.transport.abort()
        else:
            self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
            await self._writer.wait_closed()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with _Mapped(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException:
            self._writer.transport.abort()
            raise
        return AsyncioStream(self._reader, self._writer, tls=True)

    def get_extra_info(self, info: str) -> typing.Any:
        w = self._writer
        if info == "ssl_object":
            return w.get_extra_info("ssl_object")
        if info == "client_addr":
            return w.get_extra_info("sockname")
        if info == "server_addr":
            return w.get_extra_info("peername")
        if info == "socket":
            return w.get_extra_info("socket")
        if info == "is_readable":  # the pool asks before reusing an idle connection
            if self._reader.at_eof() or self._reader.exception() is not None or w.is_closing():
                return True
            return _readable(w.get_extra_info("socket"))
        return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    HAPPY_EYEBALLS_DELAY = 0.25  # as anyio's

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[_SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        found = RESOLVED.get()
        addresses = found.get((host, port)) if found else None
        async with _Mapped(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
            if addresses:  # looked up (and timed) by the probe already
                reader, writer = await self._connect_any(addresses, port, local)
            else:
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=local,
                    # an address literal has one address: no race to run
                    happy_eyeballs_delay=None if _is_address(host) else self.HAPPY_EYEBALLS_DELAY)
            sock = writer.get_extra_info("socket")
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def _connect_any(self, addresses: list[str], port: int, local) -> tuple:
        """Happy eyeballs over addresses already resolved: families interleaved (IPv6 first, as
        getaddrinfo ranks them), the next attempt 250 ms after the last one started or at once
        when it fails; the first connection wins and any later one is closed."""
        order = list(dict.fromkeys(addresses))
        if len(order) == 1:
            return await asyncio.open_connection(order[0], port, local_addr=local)
        v6 = [a for a in order if ":" in a]
        v4 = [a for a in order if ":" not in a]
        first, second = (v6, v4) if order[0] in v6 else (v4, v6)
        order = [a for pair in itertools.zip_longest(first, second) for a in pair if a is not None]
        won: list = []

        async def attempt(address: str):
            reader, writer = await asyncio.open_connection(address, port, local_addr=local)
            if won:  # another attempt got there first
                writer.transport.abort()
                raise OSError("another address answered first")
            won.append(address)
            return reader, writer

        winner, _, errors = await staggered.staggered_race(
            [functools.partial(attempt, a) for a in order], self.HAPPY_EYEBALLS_DELAY)
        if winner is not None:
            return winner
        errors = [e for e in errors if e is not None]
        if len(errors) == 1:
            raise errors[0]
        raise OSError("Multiple exceptions: " + ", ".join(str(e) for e in errors))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[_SOCKET_OPTION] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        async with _Mapped(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
            reader, writer = await asyncio.open_unix_connection(path)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's defaults


# RFC 9110 §9.2.2: a request that can be repeated without changing what it did the first time
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class StaleConnection(httpx.RemoteProtocolError):
    """A non-idempotent request went out on a reused connection the server closed without
    answering; it is not sent again, since the portal may have acted on it."""


class _AttemptTrace:
    """Passes httpcore's trace events on and notes, for one attempt, whether it opened a new
    connection and whether any response headers came back."""

    __slots__ = ("inner", "connected", "answered")

    def __init__(self, inner) -> None:
        self.inner, self.connected, self.answered = inner, False, False

    async def __call__(self, event: str, info: dict) -> None:
        if event.startswith("connection.connect_tcp."):
            self.connected = True
        elif event.endswith("receive_response_headers.complete"):
            self.answered = True
        if self.inner is not None:
            await self.inner(event, info)


class ProbeTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, plus what browsers do when a server closes an idle keep-alive connection
    just as the next request goes out on it (RFC 9112 §9.3.1): the request got no answer through
    no fault of the portal's, so an idempotent one is sent once more on a new connection. The
    wasted attempt's time stays in the step's time to first byte, as a browser's user waits for it
    too. A POST is never sent again by itself (the portal may have filed it): it fails with
    StaleConnection, whose message says so."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # the body in memory, so it can be sent a second time
        extensions = request.extensions
        trace = _AttemptTrace(extensions.get("trace"))
        request.extensions = {**extensions, "trace": trace}
        try:
            return await super().handle_async_request(request)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
            if trace.connected or trace.answered:
                raise  # a new connection, or an answer cut short: the portal's failure
            if isinstance(e, httpx.RemoteProtocolError) and "without sending" not in str(e):
                raise  # an answer that is not HTTP: the portal's, not the connection's
            if request.method not in IDEMPOTENT:
                raise StaleConnection(
                    f"server closed the reused connection without answering; a {request.method} "
                    "is not sent again by itself", request=request) from e
        finally:
            request.extensions = extensions
        # the reused connection was closed under the request (and has left the pool): once more
        return await super().handle_async_request(request)


def probe_transport(ssl_context: ssl.SSLContext) -> ProbeTransport:
    """httpx's transport (its request/response mapping and error types) on httpcore's pool with
    the asyncio backend. httpx has no parameter for the backend, so the pool it builds is replaced
    by the same pool with ours (tests/probes/test_probe_transport.py checks the streams are ours)."""
    transport = ProbeTransport(verify=ssl_context, trust_env=False, limits=LIMITS)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, max_connections=LIMITS.max_connections,
        max_keepalive_connections=LIMITS.max_keepalive_connections,
        keepalive_expiry=LIMITS.keepalive_expiry, http1=True, http2=False,
        network_backend=AsyncioBackend())
    return transport
