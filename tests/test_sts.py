"""AssumeRoleProvider and SessionTokenProvider against a real STS endpoint (moto, loopback)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from typing import Any

import anyio
import pytest

from aiostscreds import (
    AssumeRoleProvider,
    CredentialsError,
    RefreshPolicy,
    SessionTokenProvider,
    TokenProviderError,
    install,
)

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import LoopTicks
from .wire import WireLog

pytestmark = pytest.mark.anyio


class CountingTokens:
    """An async token provider that hands out distinct codes and counts calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.serials: list[str] = []
        self.codes: list[str] = []

    async def __call__(self, serial_number: str) -> str:
        self.calls += 1
        self.serials.append(serial_number)
        code = f"{700000 + self.calls:06d}"  # above any duration a test echoes
        self.codes.append(code)
        await anyio.sleep(0.01)  # a prompt takes a while; other tasks pile up meanwhile
        return code


async def test_provider_assumes_the_role_over_real_signed_http(sts_client: Any) -> None:
    wire = WireLog().attach(sts_client)
    provider = AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="unit-test")
    credentials = await provider.get_credentials()
    assert credentials.access_key_id.startswith("ASIA")
    assert credentials.account_id == "123456789012"
    # The default duration is 15 minutes, and moto's expiry is exactly now + DurationSeconds.
    assert credentials.expires_at - time.time() == pytest.approx(900, abs=5)
    (request,) = wire.actions("AssumeRole")
    assert request["RoleArn"] == ROLE_ARN
    assert request["RoleSessionName"] == "unit-test"
    assert request["DurationSeconds"] == "900"
    assert "SerialNumber" not in request and "TokenCode" not in request


async def test_serial_number_and_token_code_are_sent_on_the_wire(sts_client: Any) -> None:
    wire = WireLog().attach(sts_client)
    tokens = CountingTokens()
    provider = AssumeRoleProvider(
        sts_client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=tokens
    )
    await provider.get_credentials()
    await provider.force_refresh()
    requests = wire.actions("AssumeRole")
    assert [r["SerialNumber"] for r in requests] == [MFA_SERIAL, MFA_SERIAL]
    assert [r["TokenCode"] for r in requests] == tokens.codes
    assert tokens.serials == [MFA_SERIAL, MFA_SERIAL]


async def test_ten_thousand_callers_make_one_assume_role_call_and_one_prompt(
    sts_client: Any,
) -> None:
    wire = WireLog().attach(sts_client)
    tokens = CountingTokens()
    provider = AssumeRoleProvider(
        sts_client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=tokens
    )
    results: list[Any] = []

    async def caller() -> None:
        results.append(await provider.get_credentials())

    async with anyio.create_task_group() as tg:
        for _ in range(10_000):
            tg.start_soon(caller)
    assert len(wire.actions("AssumeRole")) == 1
    assert tokens.calls == 1
    assert len(results) == 10_000
    assert all(result is results[0] for result in results)


async def test_every_refresh_asks_the_token_provider_for_a_new_code(sts_client: Any) -> None:
    tokens = CountingTokens()
    provider = AssumeRoleProvider(
        sts_client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=tokens
    )
    first = await provider.get_credentials()
    provider.invalidate(first.access_key_id)
    second = await provider.get_credentials()
    assert second.access_key_id != first.access_key_id
    assert tokens.calls == 2


async def test_installed_session_signs_with_the_assumed_role(
    sts_client: Any, moto_endpoint: str, client_config: Any
) -> None:
    from aiobotocore.session import AioSession

    provider = AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="installed")
    session = install(AioSession(), provider)
    async with (
        session.create_client("sts", endpoint_url=moto_endpoint, config=client_config) as sts,
        session.create_client("s3", endpoint_url=moto_endpoint, config=client_config) as s3,
    ):
        wire = WireLog().attach(sts)
        identity = await sts.get_caller_identity()
        assert (
            identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/aiostscreds-test/installed"
        )
        bucket = f"aiostscreds-{time.time_ns()}"
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(Bucket=bucket, Key="k", Body=b"v")
        listed = await s3.list_objects_v2(Bucket=bucket)
        assert [item["Key"] for item in listed["Contents"]] == ["k"]

        old_key = wire.access_keys[-1]
        assert old_key == (await provider.get_credentials()).access_key_id
        provider.invalidate(old_key)
        await sts.get_caller_identity()
        assert wire.access_keys[-1] != old_key
        assert wire.access_keys[-1].startswith("ASIA")


async def test_from_session_makes_a_client_per_refresh_from_the_session(
    moto_endpoint: str, client_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.session import AioSession

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)
    provider = AssumeRoleProvider.from_session(
        AioSession(), ROLE_ARN, role_session_name="from-session", client_config=client_config
    )
    first = await provider.get_credentials()
    second = await provider.force_refresh()
    assert first.access_key_id != second.access_key_id
    session = install(AioSession(), provider)
    async with session.create_client("sts", config=client_config) as sts:
        identity = await sts.get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/aiostscreds-test/from-session")


async def test_session_token_provider_gets_a_session_token_with_mfa(sts_client: Any) -> None:
    wire = WireLog().attach(sts_client)
    tokens = CountingTokens()
    provider = SessionTokenProvider(
        sts_client, duration=3600, serial_number=MFA_SERIAL, token_provider=tokens
    )
    credentials = await provider.get_credentials()
    assert credentials.access_key_id
    (request,) = wire.actions("GetSessionToken")
    assert request["DurationSeconds"] == "3600"
    assert request["SerialNumber"] == MFA_SERIAL
    assert request["TokenCode"] == tokens.codes[0]


async def test_session_token_from_session_needs_no_client_management(
    moto_endpoint: str, client_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.session import AioSession

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)
    provider = SessionTokenProvider.from_session(AioSession(), client_config=client_config)
    assert (await provider.get_credentials()).session_token


async def test_default_session_name_is_generated_once_and_kept(sts_client: Any) -> None:
    wire = WireLog().attach(sts_client)
    provider = AssumeRoleProvider(sts_client, ROLE_ARN)
    await provider.get_credentials()
    await provider.force_refresh()
    names = {r["RoleSessionName"] for r in wire.actions("AssumeRole")}
    assert names == {provider.role_session_name}
    assert re.fullmatch(r"[A-Za-z0-9_+=,.@-]{2,64}", provider.role_session_name)
    assert AssumeRoleProvider(sts_client, ROLE_ARN).role_session_name != provider.role_session_name


async def test_duration_is_sent_as_requested(sts_client: Any) -> None:
    wire = WireLog().attach(sts_client)
    provider = AssumeRoleProvider(sts_client, ROLE_ARN, duration=dt.timedelta(hours=1))
    credentials = await provider.get_credentials()
    assert wire.actions("AssumeRole")[0]["DurationSeconds"] == "3600"
    assert credentials.expires_at - time.time() == pytest.approx(3600, abs=5)


async def test_refresh_is_logged_at_info_with_role_and_session(
    sts_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    provider = AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="logged")
    with caplog.at_level(logging.INFO, logger="aiostscreds"):
        credentials = await provider.get_credentials()
    messages = [r.getMessage() for r in caplog.records if r.name == "aiostscreds"]
    assert any(
        ROLE_ARN in m and "logged" in m and credentials.expiration.isoformat() in m and " ms" in m
        for m in messages
    )
    for message in messages:
        assert credentials.secret_access_key not in message
        assert credentials.session_token not in message


# Token providers ----------------------------------------------------------------------


class FakeSTS:
    """A stand-in client for token-provider tests: counts calls, records parameters."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIAFAKESTS{len(self.calls):09d}",
                "SecretAccessKey": "fake-sts-secret",
                "SessionToken": "fake-sts-token",
                "Expiration": dt.datetime.now(dt.timezone.utc)
                + dt.timedelta(seconds=params["DurationSeconds"]),
            },
            "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/x/y"},
        }


async def test_sync_token_provider_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def blocking_prompt(serial_number: str) -> str:
        seen.append(threading.get_ident())
        time.sleep(0.05)
        return "123456"

    client = FakeSTS()
    provider = AssumeRoleProvider(
        client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=blocking_prompt
    )
    ticks = LoopTicks()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticks.run)
        await provider.get_credentials()
        tg.cancel_scope.cancel()
    assert seen and seen[0] != loop_thread
    assert ticks.count >= 3  # the loop kept running while the prompt blocked
    assert client.calls[0]["TokenCode"] == "123456"


async def test_object_with_async_call_is_awaited_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    class Device:
        thread: int | None = None

        async def __call__(self, serial_number: str) -> str:
            Device.thread = threading.get_ident()
            return "654321"

    client = FakeSTS()
    provider = AssumeRoleProvider(
        client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=Device()
    )
    await provider.get_credentials()
    assert Device.thread == loop_thread
    assert client.calls[0]["TokenCode"] == "654321"


@pytest.mark.parametrize(
    "answer", ["98765", "9876543", "abcdef", " 987654\n", "٩٨٧٦٥٤", None, 987654]
)
async def test_bad_token_answer_raises_before_any_sts_call(answer: object) -> None:
    client = FakeSTS()

    async def provider_answer(serial_number: str) -> object:
        return answer

    provider = AssumeRoleProvider(
        client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=provider_answer
    )
    with pytest.raises(TokenProviderError, match="6 ASCII digits") as caught:
        await provider.get_credentials()
    assert client.calls == []
    if isinstance(answer, str):
        assert answer.strip() not in str(caught.value) or not answer.strip()


async def test_token_provider_exception_becomes_token_provider_error() -> None:
    client = FakeSTS()

    async def broken(serial_number: str) -> str:
        raise RuntimeError("device unplugged")

    provider = AssumeRoleProvider(client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=broken)
    with pytest.raises(TokenProviderError) as caught:
        await provider.get_credentials()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert client.calls == []


async def test_token_timeout_bounds_the_wait_for_a_code() -> None:
    client = FakeSTS()

    async def hangs(serial_number: str) -> str:
        await anyio.sleep_forever()
        raise AssertionError

    provider = AssumeRoleProvider(
        client,
        ROLE_ARN,
        serial_number=MFA_SERIAL,
        token_provider=hangs,
        refresh=RefreshPolicy(token_timeout=0.05),
    )
    with pytest.raises(TokenProviderError, match="token_timeout"):
        await provider.get_credentials()
    assert client.calls == []


async def test_hung_sync_token_provider_is_abandoned_on_timeout() -> None:
    release = threading.Event()

    def hangs(serial_number: str) -> str:
        release.wait(5)
        return "123456"

    client = FakeSTS()
    provider = AssumeRoleProvider(
        client,
        ROLE_ARN,
        serial_number=MFA_SERIAL,
        token_provider=hangs,
        refresh=RefreshPolicy(token_timeout=0.05),
    )
    try:
        with pytest.raises(TokenProviderError):
            await provider.get_credentials()
    finally:
        release.set()
    assert client.calls == []


async def test_static_token_code_serves_only_the_first_sts_call() -> None:
    client = FakeSTS()
    provider = AssumeRoleProvider(client, ROLE_ARN, serial_number=MFA_SERIAL, token_code="246810")
    first = await provider.get_credentials()
    assert client.calls[0]["TokenCode"] == "246810"
    provider.invalidate(first.access_key_id)
    with pytest.raises(TokenProviderError, match="token_provider") as caught:
        await provider.get_credentials()
    assert "246810" not in str(caught.value)
    assert len(client.calls) == 1  # never sent to STS to fail as AccessDenied


async def test_token_provider_wins_over_token_code() -> None:
    client = FakeSTS()

    async def device(serial_number: str) -> str:
        return "135790"

    provider = AssumeRoleProvider(
        client, ROLE_ARN, serial_number=MFA_SERIAL, token_code="246810", token_provider=device
    )
    await provider.get_credentials()
    assert client.calls[0]["TokenCode"] == "135790"


async def test_aclose_interrupts_a_waiting_prompt() -> None:
    client = FakeSTS()
    asked = anyio.Event()

    async def slow_human(serial_number: str) -> str:
        asked.set()
        await anyio.sleep_forever()
        raise AssertionError

    provider = AssumeRoleProvider(
        client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=slow_human
    )
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await provider.get_credentials()
        except CredentialsError as error:
            errors.append(error)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await asked.wait()
        await provider.aclose()
    assert len(errors) == 1
    assert client.calls == []
