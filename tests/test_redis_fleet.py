"""A fleet through RedisCache: spawned processes ("hosts"), each with its own event loop
and its own Redis connection, sign requests to moto through installed sessions. STS calls
are counted at the server (moto's recorder).

Refresh cycles are driven by time shifted on purpose, not waited for: the providers' clock
and moto's clock both read a shared offset, moved forward one credential lifetime per
cycle, so every host finds its credentials expired at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import coredis
import pytest

from aiostscreds import AssumeRoleProvider, RedisCache
from aiostscreds._cache_format import cache_key

from .conftest import MFA_SERIAL, ROLE_ARN
from .moto_recorder import recording
from .redis_server import RedisServer
from .spawned import KEY, fleet_host, lock_holder

LIFETIME = 900  # the default AssumeRole duration
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def shifted_time() -> Iterator[Any]:
    """A shared clock offset (seconds) that moto's STS, in this process, also follows."""
    import moto.sts.models as sts_models

    offset = SPAWN.Value("d", 0.0)
    real_utcnow = sts_models.utcnow
    sts_models.utcnow = lambda: real_utcnow() + dt.timedelta(seconds=offset.value)  # type: ignore[attr-defined]
    try:
        yield offset
    finally:
        sts_models.utcnow = real_utcnow  # type: ignore[attr-defined]


class Fleet:
    """N host processes and the per-cycle STS counts seen at moto."""

    def __init__(
        self, backends: list[str], moto_endpoint: str, redis: RedisServer, offset: Any
    ) -> None:
        self.environment = {
            "AWS_ENDPOINT_URL_STS": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "AKIATESTSOURCE000001",
            "AWS_SECRET_ACCESS_KEY": "test-source-secret-key",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.offset = offset
        self.go = [SPAWN.Event() for _ in range(3)]
        self.results = SPAWN.Queue()
        namespace = f"fleet{os.urandom(4).hex()}"
        self.processes = [
            SPAWN.Process(
                target=fleet_host,
                args=(
                    backend,
                    self.environment,
                    ROLE_ARN,
                    redis.url,
                    namespace,
                    offset,
                    self.go,
                    self.results,
                ),
            )
            for backend in backends
        ]

    def start(self) -> None:
        for process in self.processes:
            process.start()
        for _ in self.processes:
            assert self.results.get(timeout=120)[0] == "ready"

    def cycle(self, number: int) -> list[tuple[int, str, int]]:
        """Move every clock one credential lifetime on, let every host sign once."""
        self.offset.value = number * LIFETIME
        self.go[number].set()
        return [self.results.get(timeout=120) for _ in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            process.join(timeout=30)
            if process.exitcode is None:
                process.kill()
        assert [p.exitcode for p in self.processes] == [0] * len(self.processes)


def test_sixteen_hosts_on_asyncio_and_trio_make_one_assume_role_call_per_refresh(
    moto_endpoint: str, redis_server: RedisServer, shifted_time: Any
) -> None:
    fleet = Fleet(
        ["asyncio"] * 14 + ["trio"] * 2, moto_endpoint, redis_server, shifted_time
    )
    fleet.start()
    calls = []
    sessions = []
    with recording(moto_endpoint) as server:
        for number in range(3):
            before = server.assume_role_calls(ROLE_ARN)
            signed = fleet.cycle(number)
            calls.append(server.assume_role_calls(ROLE_ARN) - before)
            sessions.append({arn for _, arn, _ in signed})
            assert {cycle for cycle, _, _ in signed} == {number}
    fleet.stop()
    assert calls == [1, 1, 1]
    # Every host signed with the one role session of each refresh.
    assert [len(arns) for arns in sessions] == [1, 1, 1]
    assert all(":assumed-role/aiostscreds-test/" in arn for arns in sessions for arn in arns)


def test_hosts_keep_signing_when_redis_dies_and_share_again_when_it_is_back(
    moto_endpoint: str, own_redis_server: RedisServer, shifted_time: Any
) -> None:
    fleet = Fleet(["asyncio", "asyncio", "asyncio", "trio"], moto_endpoint, own_redis_server, shifted_time)
    fleet.start()
    calls = []
    warnings = []
    with recording(moto_endpoint) as server:
        for number in range(3):
            if number == 1:
                own_redis_server.kill()
            elif number == 2:
                own_redis_server.start()
                time.sleep(1.0)  # past each host's cool-down (operation_timeout)
            before = server.assume_role_calls(ROLE_ARN)
            signed = fleet.cycle(number)
            calls.append(server.assume_role_calls(ROLE_ARN) - before)
            warnings.append(sorted(count for _, _, count in signed))
    fleet.stop()
    # Shared, then each host on its own (and signing), then shared again.
    assert calls == [1, 4, 1]
    # One WARNING per host for the whole incident, none before it, none after it.
    assert warnings == [[0] * 4, [1] * 4, [1] * 4]


def test_a_full_keyspace_scan_finds_no_secret_in_plaintext(
    moto_endpoint: str, redis_server: RedisServer, shifted_time: Any
) -> None:
    # Run after (or beside) the fleet: whatever the server holds, nothing is readable.
    fleet = Fleet(["asyncio", "trio"], moto_endpoint, redis_server, shifted_time)
    fleet.start()
    with recording(moto_endpoint) as server:
        fleet.cycle(0)
        assume_role_calls = server.assume_role_calls(ROLE_ARN)
    fleet.cycle(1)
    fleet.cycle(2)
    fleet.stop()
    assert assume_role_calls == 1

    async def scan() -> list[bytes]:
        client = coredis.Redis(
            host="127.0.0.1", port=redis_server.port, password=redis_server.password
        )
        async with client:
            values = []
            async for key in client.scan_iter():
                value = await client.get(key)
                if value is not None:
                    values.append(key + b"=" + value)
            return values

    values = anyio.run(scan)
    assert values
    issued = _issued_credentials()
    assert issued
    # Name only the Redis keys that leak: an assertion message must not print a secret.
    leaks = [
        value.split(b"=", 1)[0]
        for value in values
        for credentials in issued
        for secret in credentials
        if secret.encode() in value.split(b"=", 1)[1]
    ]
    assert leaks == []


def _issued_credentials() -> list[tuple[str, str, str]]:
    """Every assumed-role key pair moto has issued in this session (its backend, in-process)."""
    from moto.sts.models import sts_backends

    issued = []
    for account in sts_backends.values():
        for backend in account.values():
            for role in backend.assumed_roles:
                issued.append((role.secret_access_key, role.session_token, role.access_key_id))
    return issued


@pytest.mark.anyio
async def test_a_holder_killed_mid_refresh_costs_no_second_call_and_no_second_prompt(
    moto_endpoint: str,
    redis_server: RedisServer,
    tmp_path: Path,
    aio_session: Any,
    client_config: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    namespace = f"lock{os.urandom(4).hex()}"
    lock_key = f"{namespace}:lock:" + cache_key({"RoleArn": ROLE_ARN, "SerialNumber": MFA_SERIAL})
    prompted = tmp_path / "prompted"
    holder = SPAWN.Process(
        target=lock_holder,
        args=(
            {
                "AWS_ENDPOINT_URL_STS": moto_endpoint,
                "AWS_ACCESS_KEY_ID": "AKIATESTSOURCE000001",
                "AWS_SECRET_ACCESS_KEY": "test-source-secret-key",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
            ROLE_ARN,
            MFA_SERIAL,
            redis_server.url,
            namespace,
            str(prompted),
        ),
    )
    holder.start()
    def wait_for_prompt() -> None:
        while not prompted.exists():
            time.sleep(0.05)

    await anyio.to_thread.run_sync(wait_for_prompt)
    async with coredis.Redis(
        host="127.0.0.1", port=redis_server.port, password=redis_server.password
    ) as raw:
        assert await raw.get(lock_key) is not None  # the holder has the lock
        assert 0 < await raw.pttl(lock_key) <= 2000  # and it frees itself within the TTL

    prompts: list[str] = []
    prompt_shown = anyio.Event()
    typed = anyio.Event()  # the human finishes typing when the test says so

    async def human(serial_number: str) -> str:
        prompts.append(serial_number)
        prompt_shown.set()
        await typed.wait()
        return "123456"

    calls: list[int] = []
    async with aio_session.create_client(
        "sts", endpoint_url=moto_endpoint, config=client_config
    ) as sts:
        sts.meta.events.register("before-send.sts.AssumeRole", lambda **kw: calls.append(1))
        hosts = [
            RedisCache(
                redis_server.url,
                encryption_keys=[KEY],
                namespace=namespace,
                lock_timeout=dt.timedelta(seconds=2),
                operation_timeout=dt.timedelta(seconds=0.5),
                allow_mfa=True,
            )
            for _ in range(2)
        ]
        async with hosts[0], hosts[1]:
            providers = [
                AssumeRoleProvider(
                    sts,
                    ROLE_ARN,
                    serial_number=MFA_SERIAL,
                    token_provider=human,
                    cache=host,
                )
                for host in hosts
            ]
            got = []
            signing = 0
            all_signing = anyio.Event()

            async def sign(provider: AssumeRoleProvider) -> None:
                nonlocal signing
                signing += 1
                if signing == 6:
                    all_signing.set()
                got.append(await provider.get_credentials())

            with caplog.at_level(logging.WARNING, logger="aiostscreds"):
                async with anyio.create_task_group() as group:
                    for provider in providers:
                        for _ in range(3):  # three tasks per host: one flight per host
                            group.start_soon(sign, provider)
                    await all_signing.wait()  # all six have asked; the dead holder has the lock
                    os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
                    await prompt_shown.wait()  # the TTL ran out; one host took the lock
                    async with coredis.Redis(
                        host="127.0.0.1", port=redis_server.port, password=redis_server.password
                    ) as raw:
                        # While the human types, the lock is held and every task of both
                        # hosts is still waiting, the other host's on the lock.
                        assert await raw.get(lock_key) is not None
                    assert got == [] and len(prompts) == 1
                    typed.set()
    holder.join()
    assert len(calls) == 1
    assert len(prompts) == 1
    assert len(got) == 6 and len(set(got)) == 1
    # Nobody gave up on the lock and went alone.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

