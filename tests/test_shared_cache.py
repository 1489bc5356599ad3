"""The SharedCache contract: any object with locked/load/store shares refreshes, and a
cache that fails is bypassed, never a credential outage."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiostscreds import (
    AssumeRoleProvider,
    ConfigurationError,
    Credentials,
    FileCache,
    SharedCache,
)

from .conftest import MFA_SERIAL, ROLE_ARN

pytestmark = pytest.mark.anyio


class MemoryCache:
    """A user-written shared cache: a dict and a lock, as the docs describe."""

    def __init__(self) -> None:
        self.entries: dict[str, Credentials] = {}
        self.stored_with_mfa: list[bool] = []
        self.loaded_for: list[str | None] = []
        self.locked_with_mfa: list[bool] = []
        self._locks: dict[str, anyio.Lock] = {}

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, mfa: bool = False) -> AsyncIterator[None]:
        self.locked_with_mfa.append(mfa)
        async with self._locks.setdefault(key, anyio.Lock()):  # one lock per key
            yield

    async def load(self, key: str, *, role_arn: str | None = None) -> Credentials | None:
        self.loaded_for.append(role_arn)
        return self.entries.get(key)

    async def store(
        self,
        key: str,
        response: Mapping[str, Any],
        credentials: Credentials,
        *,
        mfa: bool = False,
    ) -> None:
        self.stored_with_mfa.append(mfa)
        self.entries[key] = credentials


class BrokenCache(MemoryCache):
    """Every operation raises, as a cache whose server is down would."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, mfa: bool = False) -> AsyncIterator[None]:
        if self.where == "locked":
            raise ConnectionRefusedError("cache down")
        yield

    async def load(self, key: str, *, role_arn: str | None = None) -> Credentials | None:
        if self.where == "load":
            raise TimeoutError("cache hangs")
        return None

    async def store(self, key: str, *args: Any, **kwargs: Any) -> None:
        if self.where == "store":
            raise OSError("disk full")


def count_assume_role(client: Any) -> list[int]:
    calls: list[int] = []
    client.meta.events.register("before-send.sts.AssumeRole", lambda **kw: calls.append(1))
    return calls


def test_the_library_s_caches_implement_the_protocol(tmp_path: Path) -> None:
    assert isinstance(FileCache(tmp_path), SharedCache)
    assert isinstance(MemoryCache(), SharedCache)


def test_an_object_that_is_not_a_cache_is_refused_before_any_call(sts_client: Any) -> None:
    calls = count_assume_role(sts_client)
    with pytest.raises(ConfigurationError, match="cache must be a SharedCache"):
        AssumeRoleProvider(sts_client, ROLE_ARN, cache=object())  # type: ignore[arg-type]
    assert calls == []


async def test_a_user_written_cache_shares_one_refresh_between_providers(
    sts_client: Any,
) -> None:
    calls = count_assume_role(sts_client)
    cache = MemoryCache()

    async def code(serial_number: str) -> str:
        return "123456"

    providers = [
        AssumeRoleProvider(
            sts_client,
            ROLE_ARN,
            serial_number=MFA_SERIAL,
            token_provider=code,
            cache=cache,
        )
        for _ in range(2)
    ]
    first = await providers[0].get_credentials()
    second = await providers[1].get_credentials()
    assert first == second
    assert len(calls) == 1
    # The cache is told which role the entry must belong to, and that MFA was used.
    assert cache.loaded_for == [ROLE_ARN, ROLE_ARN]
    assert cache.stored_with_mfa == [True]


@pytest.mark.parametrize("where", ["locked", "load", "store"])
async def test_a_failing_cache_is_bypassed_with_a_warning(
    sts_client: Any, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls = count_assume_role(sts_client)
    provider = AssumeRoleProvider(sts_client, ROLE_ARN, cache=BrokenCache(where))
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        credentials = await provider.get_credentials()
    assert credentials.access_key_id.startswith("ASIA")
    assert len(calls) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "shared cache" in warnings[0].getMessage()
    # The cache's own message is not repeated: it may quote what it was handed.
    assert "cache down" not in warnings[0].getMessage()
    assert "disk full" not in warnings[0].getMessage()


class UnlockFailsCache(MemoryCache):
    """A cache whose lock cannot be released (its server went away mid-refresh)."""

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, mfa: bool = False) -> AsyncIterator[None]:
        try:
            yield
        finally:
            raise RuntimeError("unlock failed")


async def test_a_cache_failing_to_unlock_after_a_failed_refresh_keeps_the_sts_error() -> None:
    import botocore.exceptions

    from aiostscreds import RefreshError

    class ThrottledClient:
        calls = 0

        async def assume_role(self, **params: Any) -> Any:
            self.calls += 1
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "Throttling", "Message": "slow down"}}, "AssumeRole"
            )

    client = ThrottledClient()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=UnlockFailsCache())
    with pytest.raises(RefreshError) as caught:
        await provider.get_credentials()
    assert client.calls == 1
    # The refresh failed because of STS, recoverably: not because of the cache.
    assert caught.value.code == "Throttling"
    assert caught.value.recoverable


class SwallowingCache(MemoryCache):
    """A cache whose lock swallows what its body raises (a bug in that cache)."""

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, mfa: bool = False) -> AsyncIterator[None]:
        with contextlib.suppress(Exception):
            yield


async def test_a_cache_lock_that_swallows_errors_cannot_hide_the_sts_error() -> None:
    import botocore.exceptions

    from aiostscreds import RefreshError

    class ThrottledClient:
        calls = 0

        async def assume_role(self, **params: Any) -> Any:
            self.calls += 1
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "Throttling", "Message": "slow down"}}, "AssumeRole"
            )

    client = ThrottledClient()
    provider = AssumeRoleProvider(client, ROLE_ARN, cache=SwallowingCache())
    with pytest.raises(RefreshError) as caught:
        await provider.get_credentials()
    assert client.calls == 1
    assert caught.value.code == "Throttling"
    assert caught.value.recoverable
