"""The simulated portal in a process of its own, for benchmarks (as a real portal would be)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def testbed_process(release: str = "v1.0", startup_timeout: float = 30.0) -> Iterator[str]:
    """Run `app.py testbed` on a free loopback port until the block ends; yields its base URL."""
    with testbed_server(release, startup_timeout) as (base, _server):
        yield base


@contextmanager
def testbed_server(release: str = "v1.0", startup_timeout: float = 30.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """As testbed_process, yielding its process as well (base URL, Popen): to read the server's own CPU."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "testbed", "--release", release,
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + startup_timeout
        while True:
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.TransportError:
                if time.time() > deadline:
                    sys.exit("the testbed did not start")
                time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=10)
