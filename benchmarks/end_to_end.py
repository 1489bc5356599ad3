"""End to end: aiobotocore clients against moto's server on 127.0.0.1.

Two contenders sign the same STS ``GetCallerIdentity`` calls to the same local
server (moto's ``ThreadedMotoServer``, in a child process): a client whose
session went through ``aiostscreds.install()`` with an ``AssumeRoleProvider``
(refreshes forced during each round), and a client with static credentials (a
copy of the role's first credentials, so the server's work is the same for
both). They run in short rounds whose order rotates from one set of rounds to
the next, and the report takes the median of the sets' throughput ratios. A
third client, a second static one, runs in the rotation as a control: its
ratio to the first static client is what two equal contenders measure on this
machine.

Throughput is counted two ways: requests per second of wall time (the
figure the target is judged on), and requests per second of this process's
CPU time (``time.process_time()``): the clients' side of the work, since the
server runs in a child process.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

from aiostscreds import AssumeRoleProvider, install

from .scenarios import run_together

REGION = "us-east-1"
E2E_ROLE_ARN = "arn:aws:iam::123456789012:role/aiostscreds-bench-e2e"
E2E_SESSION_NAME = "aiostscreds-bench-e2e"
_SOURCE_KEYS = ("AKIABENCHSOURCE00001", "bench-source-secret-key")
POOL_CONNECTIONS = 10
"""Connections per client (aiobotocore's default), the same for both contenders."""


def isolate_aws_environment() -> None:
    """Keep botocore away from the user's ~/.aws, the environment and instance metadata.

    Must run before the first botocore session is created. Affects this
    process only.
    """
    home = Path(tempfile.mkdtemp(prefix="aiostscreds-bench-"))
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_CONFIG_FILE": str(home / "missing-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "missing-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": REGION,
            # moto's request recorder (the fleet benchmark counts with it) writes here.
            "MOTO_RECORDER_FILEPATH": str(home / "moto-recording.jsonl"),
        }
    )


@contextmanager
def local_sts() -> Iterator[str]:
    """moto's server on 127.0.0.1 and a free port, in a child process; yields its URL.

    In a process of its own the server does not share this process's
    interpreter lock with the clients it serves.
    """
    root = Path(__file__).resolve().parent.parent
    recordings = tempfile.mkdtemp(prefix="aiostscreds-bench-moto-")
    # moto's request recorder writes its log in the cwd unless told otherwise: never
    # into the checkout.
    env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(Path(recordings) / "recording.jsonl")}
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.moto_server"],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"moto's server did not start on 127.0.0.1: {url!r}")
        yield url
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(recordings, ignore_errors=True)


def _client_config(backend: str) -> Any:
    from aiobotocore.config import AioConfig

    if backend == "trio":
        from aiobotocore.httpxsession import HttpxSession

        return AioConfig(max_pool_connections=POOL_CONNECTIONS, http_session_cls=HttpxSession)
    return AioConfig(max_pool_connections=POOL_CONNECTIONS)


async def _round(
    backend: str,
    client: Any,
    calls: int,
    *,
    provider: AssumeRoleProvider | None,
    refreshes: int,
) -> dict[str, Any]:
    """``calls`` concurrent ``get_caller_identity()``; forced refreshes spread through."""
    completed = failed = 0
    points = {calls * n // (refreshes + 1) for n in range(1, refreshes + 1)} if provider else set()

    async def one() -> None:
        nonlocal completed, failed
        try:
            await client.get_caller_identity()
        except Exception:
            failed += 1
        else:
            completed += 1
        if provider is not None and completed + failed in points:
            await provider.force_refresh()

    started, started_cpu = time.perf_counter(), time.process_time()
    await run_together(backend, [one] * calls)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - started_cpu
    return {
        "calls": calls,
        "completed": completed,
        "failed": failed,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "requests_per_second": completed / seconds,
        "requests_per_cpu_second": completed / cpu_seconds,
    }


async def end_to_end(
    endpoint: str, backend: str, *, calls: int, sets: int, refreshes: int
) -> dict[str, Any]:
    """Throughput of installed (refreshing) against static credentials, in alternating rounds.

    Each set runs one round of each client, in an order that rotates from one
    set to the next: ``static``, ``installed``, and ``control``, a second
    static client, identical to the first, whose ratio to it shows how far two
    equal contenders drift apart on this machine.
    """
    from aiobotocore.session import AioSession

    config = _client_config(backend)
    assume_role_calls = 0

    def count_assume_role(**kwargs: Any) -> None:
        nonlocal assume_role_calls
        assume_role_calls += 1

    async with AsyncExitStack() as stack:
        source_sts = await stack.enter_async_context(
            AioSession().create_client(
                "sts",
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id=_SOURCE_KEYS[0],
                aws_secret_access_key=_SOURCE_KEYS[1],
                config=config,
            )
        )
        source_sts.meta.events.register("before-send.sts.AssumeRole", count_assume_role)
        provider = AssumeRoleProvider(source_sts, E2E_ROLE_ARN, role_session_name=E2E_SESSION_NAME)
        stack.push_async_callback(provider.aclose)
        clients: dict[str, Any] = {
            "installed": await stack.enter_async_context(
                install(AioSession(), provider).create_client(
                    "sts", region_name=REGION, endpoint_url=endpoint, config=config
                )
            )
        }
        # The static clients sign with a copy of the role's first credentials, so
        # the server does the same work for every client: only the way the
        # credentials are obtained differs.
        role_credentials = await provider.get_credentials()
        for name in ("static", "control"):
            clients[name] = await stack.enter_async_context(
                AioSession().create_client(
                    "sts",
                    region_name=REGION,
                    endpoint_url=endpoint,
                    aws_access_key_id=role_credentials.access_key_id,
                    aws_secret_access_key=role_credentials.secret_access_key,
                    aws_session_token=role_credentials.session_token,
                    config=config,
                )
            )
        identities = {name: (await c.get_caller_identity())["Arn"] for name, c in clients.items()}
        identity = identities["installed"]
        if ":assumed-role/" not in identity or len(set(identities.values())) != 1:
            raise RuntimeError(f"the clients signed as {identities}")
        for client in clients.values():  # warm-up
            await _round(backend, client, min(calls, 50), provider=None, refreshes=0)

        rounds: list[dict[str, Any]] = []
        names = ["static", "installed", "control"]
        for number in range(sets):
            order = names[number % 3 :] + names[: number % 3]
            for name in order:
                before = assume_role_calls
                one_round = await _round(
                    backend,
                    clients[name],
                    calls,
                    provider=provider if name == "installed" else None,
                    refreshes=refreshes if name == "installed" else 0,
                )
                one_round.update(
                    contender=name, set=number, assume_role_calls=assume_role_calls - before
                )
                rounds.append(one_round)

    def ratios(name: str, field: str) -> list[float]:
        return [
            mine[field] / static[field]
            for mine in rounds
            for static in rounds
            if mine["contender"] == name
            and static["contender"] == "static"
            and mine["set"] == static["set"]
        ]

    def median_of(name: str, field: str) -> float:
        return float(statistics.median(r[field] for r in rounds if r["contender"] == name))

    figures: dict[str, Any] = {
        "calls_per_round": calls,
        "sets": sets,
        "forced_refreshes_per_round": refreshes,
        "identity": identity,
        "rounds": rounds,
    }
    for name in ("installed", "control"):
        for field, suffix in (("requests_per_second", ""), ("requests_per_cpu_second", "_cpu")):
            figures[f"{name}_ratios{suffix}"] = ratios(name, field)
            figures[f"{name}_median_ratio{suffix}"] = statistics.median(ratios(name, field))
    for name in names:
        figures[f"{name}_rps_median"] = median_of(name, "requests_per_second")
        figures[f"{name}_rpcs_median"] = median_of(name, "requests_per_cpu_second")
    figures["assume_role_calls_per_round"] = [
        r["assume_role_calls"] for r in rounds if r["contender"] == "installed"
    ]
    figures["failed_calls"] = sum(r["failed"] for r in rounds)
    return figures
