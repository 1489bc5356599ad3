"""The main functions of the processes that tests spawn (fleet hosts, FileCache peers).

A spawned process imports the module of its target function before it runs it. Here
that is this module alone: it imports what a host needs (anyio, aiobotocore, the
library; each function imports only its own, so a FileCache peer never loads
coredis), never pytest, Hypothesis or conftest, which cost each process about half
a second of CPU and re-ran conftest's isolation. The environment a process starts
with is its parent's, isolated by conftest already; each function then sets the
test's own variables.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

KEY = bytes(range(32))  # the fleet's RedisCache encryption key


class _CountWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def fleet_host(
    backend: str,
    environment: dict[str, str],
    role_arn: str,
    redis_url: str,
    namespace: str,
    offset: Any,
    go: list[Any],
    results: Any,
) -> None:
    """One host: enter a RedisCache, install a provider, sign once per cycle when told."""
    os.environ.update(environment)
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    from aiostscreds import AssumeRoleProvider, RedisCache, install

    warnings = _CountWarnings()
    logging.getLogger("aiostscreds").addHandler(warnings)
    if backend == "trio":
        from aiobotocore.httpxsession import HttpxSession

        config = AioConfig(http_session_cls=HttpxSession)
    else:
        config = AioConfig()

    async def run() -> None:
        cache = RedisCache(
            redis_url,
            encryption_keys=[KEY],
            namespace=namespace,
            lock_timeout=dt.timedelta(seconds=10),
            operation_timeout=dt.timedelta(seconds=0.5),
        )
        async with cache:
            provider = AssumeRoleProvider.from_session(
                AioSession(),
                role_arn,
                client_config=config,
                cache=cache,
                clock=lambda: time.time() + offset.value,
            )
            session = install(AioSession(), provider)
            results.put(("ready", os.getpid()))
            for cycle, event in enumerate(go):
                await anyio.to_thread.run_sync(event.wait)
                async with session.create_client("sts", config=config) as sts:
                    identity = await sts.get_caller_identity()
                results.put((cycle, str(identity["Arn"]), warnings.count))

    anyio.run(run, backend=backend)


def lock_holder(
    environment: dict[str, str],
    role_arn: str,
    serial_number: str,
    redis_url: str,
    namespace: str,
    prompted: str,
) -> None:
    """A host that takes the lock, then dies while its human is typing the MFA code."""
    os.environ.update(environment)
    from aiobotocore.session import AioSession

    from aiostscreds import AssumeRoleProvider, RedisCache

    def prompt(serial_number: str) -> str:
        Path(prompted).write_text("prompting")
        time.sleep(3600)  # SIGKILLed here
        return "000000"

    async def run() -> None:
        async with RedisCache(
            redis_url,
            encryption_keys=[KEY],
            namespace=namespace,
            lock_timeout=dt.timedelta(seconds=2),
            operation_timeout=dt.timedelta(seconds=0.5),
            allow_mfa=True,
        ) as cache:
            provider = AssumeRoleProvider.from_session(
                AioSession(),
                role_arn,
                serial_number=serial_number,
                token_provider=prompt,
                cache=cache,
            )
            await provider.get_credentials()

    anyio.run(run)


def file_cache_peer(
    environment: dict[str, str],
    cache_dir: str,
    prompt_log: str,
    ready: Any,
    go: Any,
    result_queue: Any,
) -> None:
    """One process: report ready, wait for the common start, sign one request via the profile."""
    os.environ.update(environment)
    from aiostscreds import FileCache, session_from_profile

    def prompt(serial_number: str) -> str:
        with open(prompt_log, "a") as log_file:  # one line per MFA prompt, across processes
            log_file.write(f"{os.getpid()}\n")
        time.sleep(0.2)  # a human takes a moment: the others pile up on the lock
        return "135246"

    async def run() -> str:
        session = session_from_profile("role", token_provider=prompt, cache=FileCache(cache_dir))
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        return str(identity["Arn"])

    ready.put(os.getpid())
    if not go.wait(timeout=120):
        raise RuntimeError("the test never started the processes")
    result_queue.put(anyio.run(run))
