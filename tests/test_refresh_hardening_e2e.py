"""Issue 8, items 1-4 and 7, end to end: AssumeRoleProvider with MFA over a real
aiobotocore STS client, against moto behind the fault proxy.

STS calls are counted at the proxy and prompts at the token provider. The
proxy writes each Expiration and each HTTP Date header onto a simulated server
clock; the provider reads its own clock, which a test may set ahead of or
behind the server's.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import aiostscreds
from aiostscreds import (
    AssumeRoleProvider,
    Credentials,
    CredentialsRejectedError,
    RefreshError,
)

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import T0, FakeClock
from .fault_proxy import FaultProxy

pytestmark = pytest.mark.anyio

PACKAGE_DIR = str(Path(aiostscreds.__file__).resolve().parent)


class Prompts:
    """An async token provider: a new six-digit code per prompt, all remembered."""

    def __init__(self) -> None:
        self.codes: list[str] = []

    async def __call__(self, serial_number: str) -> str:
        code = f"{314159 + 7 * len(self.codes):06d}"
        self.codes.append(code)
        return code


@pytest.fixture
async def sts(
    aio_session: Any, fault_proxy: FaultProxy, client_config: Any
) -> AsyncIterator[Any]:
    """An STS client through the proxy, without botocore's retries: requests = refreshes."""
    single = type(client_config)(retries={"mode": "standard", "total_max_attempts": 1})
    async with aio_session.create_client(
        "sts", endpoint_url=fault_proxy.url, config=client_config.merge(single)
    ) as client:
        yield client


def provider_for(
    sts: Any, clock: Callable[[], float], prompts: Prompts, **options: Any
) -> AssumeRoleProvider:
    return AssumeRoleProvider(
        sts,
        ROLE_ARN,
        role_session_name="hardening",
        serial_number=MFA_SERIAL,
        token_provider=prompts,
        clock=clock,
        **options,
    )


# 1. ------------------------------------------------------------------------------------


async def test_clock_ten_minutes_ahead_makes_at_most_ten_assume_roles_and_prompts(
    sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    prompts = Prompts()
    provider = provider_for(sts, lambda: server() + 600, prompts)
    for _ in range(600):  # one call a second for 10 minutes
        credentials = await provider.get_credentials()
        assert credentials.expires_at > server() + 600
        server.advance(1)
    calls = len(fault_proxy.credential_calls())
    assert 1 <= calls <= 10
    assert len(prompts.codes) == calls


async def test_clock_behind_sts_is_corrected_from_the_date_header(
    sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    prompts = Prompts()
    local = lambda: server() - 600  # noqa: E731
    provider = provider_for(sts, local, prompts)
    credentials = await provider.get_credentials()
    # STS says now + 900 on its clock, which the local clock reaches 600 s late:
    # the credentials stop working when the local clock reads now + 300 + 600 - 600.
    assert credentials.expires_at == pytest.approx(local() + 900, abs=2)
    server.advance(599)  # 15-minute credentials: the advisory refresh comes at 600 s
    assert await provider.get_credentials() is credentials
    server.advance(2)
    assert await provider.get_credentials() is not credentials
    assert len(fault_proxy.credential_calls()) == 2


# 2. ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["throttle", "expired"])
async def test_nothing_cached_repeated_failures_back_off(
    fault: str, sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    fault_proxy.fail(fault)
    prompts = Prompts()
    provider = provider_for(sts, server, prompts)
    for _ in range(120):  # one call a second for two minutes
        with pytest.raises(RefreshError) as raised:
            await provider.get_credentials()
        assert raised.value.recoverable
        server.advance(1)
    calls = len(fault_proxy.credential_calls())
    assert calls <= 20
    assert len(prompts.codes) == calls


# 3. ------------------------------------------------------------------------------------


async def test_wrong_mfa_code_in_the_advisory_window_fails_no_caller(
    sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    prompts = Prompts()
    provider = provider_for(sts, server, prompts)
    held = await provider.get_credentials()
    server.advance(700)  # advisory window
    fault_proxy.fail("access-denied")
    results: list[object] = []

    async def one() -> None:
        try:
            results.append(await provider.get_credentials())
        except Exception as error:  # pragma: no cover - the promise broken
            results.append(error)

    for _ in range(10):  # 10 s, 100 concurrent calls in each
        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(one)
        server.advance(1)
    assert results == [held] * 1000
    denied = fault_proxy.credential_calls()[1:]
    assert 1 <= len(denied) <= 10  # at most one attempt per error cache (1-5 s)
    assert all(seen.status == 403 for seen in denied)
    assert len(prompts.codes) == 1 + len(denied)


# 4. ------------------------------------------------------------------------------------


async def test_invalidated_key_is_not_handed_back_while_sts_throttles(
    sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    provider = provider_for(sts, server, Prompts())
    rejected = await provider.get_credentials()
    provider.invalidate(rejected.access_key_id)
    fault_proxy.fail("throttle")
    for _ in range(5):
        with pytest.raises(CredentialsRejectedError) as raised:
            await provider.get_credentials()
        assert isinstance(raised.value.__cause__, RefreshError)
        assert raised.value.__cause__.code == "Throttling"
        server.advance(1)
    fault_proxy.fail(None)
    server.advance(60)
    renewed = await provider.get_credentials()
    assert renewed.access_key_id != rejected.access_key_id


# 7. ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [b"1e20", b"garbage", b"99999999999999999999"])
async def test_unreadable_expiration_is_a_recoverable_failure(
    bad: bytes, sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    fault_proxy.bad_expiration = bad
    fault_proxy.fail("bad-expiration", times=1)
    provider = provider_for(sts, server, Prompts())
    with pytest.raises(RefreshError) as raised:
        await provider.get_credentials()
    assert raised.value.recoverable
    assert isinstance(await provider.get_credentials(), Credentials)  # tried again at once


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__]
    return seen


def _library_frames(error: BaseException) -> list[types.FrameType]:
    frames = []
    for link in _chain(error):
        traceback = link.__traceback__
        while traceback is not None:
            if traceback.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR):
                frames.append(traceback.tb_frame)
            traceback = traceback.tb_next
    return frames


@pytest.mark.parametrize(
    "fault", ["access-denied", "throttle", "expired", "bad-expiration", "no-credentials"]
)
async def test_failed_refresh_leaves_no_secret_in_library_frame_locals(
    fault: str, sts: Any, fault_proxy: FaultProxy
) -> None:
    server = FakeClock(T0)
    fault_proxy.clock = server
    prompts = Prompts()
    provider = provider_for(sts, server, prompts)
    held = await provider.get_credentials()
    fault_proxy.fail(fault)
    errors: list[BaseException] = []
    # Straight to the source, through the cache's refresh, and to a caller of get
    # (with the held key rejected, so that the failure reaches the caller).
    for name in ("retrieve", "force_refresh", "get_credentials"):
        if name == "get_credentials":
            provider.invalidate(held.access_key_id)
            server.advance(60)  # past any backoff or error cache
        with pytest.raises(aiostscreds.CredentialsError) as raised:
            await getattr(provider, name)()
        errors.append(raised.value)
    secrets = {*prompts.codes, *fault_proxy.relayed_secrets}
    secrets |= {held.secret_access_key, held.session_token}
    assert len(prompts.codes) == 4  # the MFA codes were sent, and are secrets
    frames = [frame for error in errors for frame in _library_frames(error)]
    names = {frame.f_code.co_name for frame in frames}
    assert "retrieve_with_response" in names
    if fault in ("expired", "no-credentials"):
        assert "credentials_from" in names  # the frame that read the raw response
    for frame in frames:
        for name, value in frame.f_locals.items():
            text = repr(value)
            leaks = sum(secret in text for secret in secrets)  # never print the secret
            assert leaks == 0, f"{frame.f_code.co_name}: local {name!r} holds a secret"
