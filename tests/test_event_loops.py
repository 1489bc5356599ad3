"""One provider, one event loop after another: asyncio.run() twice, trio.run() twice, mixed.

Each test here runs its own event loops, so they are plain (sync) tests. The
provider makes a real moto STS client in whichever loop refreshes
(``from_session`` with ``AWS_ENDPOINT_URL_STS``), and an installed session
signs ``get_caller_identity`` with its credentials in each loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import pytest
import trio

from aiostscreds import AssumeRoleProvider, CredentialsError, install

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import T0, FakeClock
from .fault_proxy import FaultProxy

Runner = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


def run_asyncio(fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(fn())


def run_trio(fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return trio.run(fn)


def httpx_config() -> Any:
    from aiobotocore.config import AioConfig
    from aiobotocore.httpxsession import HttpxSession

    return AioConfig(http_session_cls=HttpxSession)


class Codes:
    def __init__(self) -> None:
        self.codes: list[str] = []

    async def __call__(self, serial_number: str) -> str:
        self.codes.append(f"{610000 + len(self.codes):06d}")
        await anyio.sleep(0.001)
        return self.codes[-1]


@pytest.mark.parametrize(
    ("first", "second", "config"),
    [
        pytest.param(run_asyncio, run_asyncio, None, id="asyncio-then-asyncio"),
        pytest.param(run_trio, run_trio, httpx_config, id="trio-then-trio"),
        pytest.param(run_asyncio, run_trio, httpx_config, id="asyncio-then-trio"),
        pytest.param(run_trio, run_asyncio, httpx_config, id="trio-then-asyncio"),
    ],
)
def test_one_provider_serves_consecutive_event_loops(
    first: Runner,
    second: Runner,
    config: Callable[[], Any] | None,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiobotocore.session import AioSession

    # Through the proxy, which puts Expirations on the provider's (fake) timeline.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fault_proxy.url)
    client_config = config() if config else None
    clock = FakeClock(T0)
    fault_proxy.clock = clock
    codes = Codes()
    provider = AssumeRoleProvider.from_session(
        AioSession(),
        ROLE_ARN,
        role_session_name="two-loops",
        serial_number=MFA_SERIAL,
        token_provider=codes,
        client_config=client_config,
        clock=clock,
    )
    session = install(AioSession(), provider)

    async def use() -> tuple[str, str]:
        async def call() -> str:
            async with session.create_client("sts", config=client_config) as sts:
                return str((await sts.get_caller_identity())["Arn"])

        async with anyio.create_task_group() as tg:  # a few callers at once
            arns: list[str] = []

            async def caller() -> None:
                arns.append(await call())

            for _ in range(5):
                tg.start_soon(caller)
        assert len(set(arns)) == 1
        credentials = await provider.get_credentials()
        return arns[0], credentials.access_key_id

    arn, key = first(use)
    assert arn.endswith(":assumed-role/aiostscreds-test/two-loops")
    clock.advance(900)  # expired by the next loop: it must refresh there
    arn_again, new_key = second(use)
    assert arn_again == arn
    assert new_key != key
    assert len(codes.codes) == 2  # one prompt per loop, whatever the callers
    assert [c.token_code for c in fault_proxy.credential_calls()] == codes.codes


@pytest.mark.parametrize("run", [run_asyncio, run_trio], ids=["asyncio", "trio"])
def test_a_refresh_left_pending_by_a_finished_loop_does_not_block_the_next(
    run: Runner, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.session import AioSession

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)
    answering = False
    asked = 0

    async def human(serial_number: str) -> str:
        nonlocal asked
        asked += 1
        if not answering:
            await anyio.sleep_forever()
        return "626262"

    provider = AssumeRoleProvider.from_session(
        AioSession(),
        ROLE_ARN,
        serial_number=MFA_SERIAL,
        token_provider=human,
        client_config=httpx_config(),
    )

    async def give_up() -> None:
        with anyio.move_on_after(0.05):
            await provider.get_credentials()

    run(give_up)  # the loop ends with the prompt still open
    answering = True

    async def again() -> str:
        return (await provider.get_credentials()).access_key_id

    assert run(again).startswith("ASIA")
    assert asked == 2


def test_provider_raising_a_foreign_cancellation_does_not_crash_trio() -> None:
    """A token provider that raises a BaseException that is not trio's Cancelled
    (here asyncio.CancelledError, as an asyncio-minded prompt does when its dialog
    is dismissed) must fail the refresh, not the whole trio run."""

    class FakeSTS:
        async def assume_role(self, **params: Any) -> dict[str, Any]:
            return {
                "Credentials": {
                    "AccessKeyId": "ASIAFOREIGNCANCEL01",
                    "SecretAccessKey": "foreign-cancel-secret",
                    "SessionToken": "foreign-cancel-token",
                    "Expiration": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
                }
            }

    async def dismissed(serial_number: str) -> str:
        raise asyncio.CancelledError

    async def main() -> list[str]:
        provider = AssumeRoleProvider(
            FakeSTS(), ROLE_ARN, serial_number=MFA_SERIAL, token_provider=dismissed
        )
        seen = []
        for _ in range(2):
            try:
                await provider.get_credentials()
            except CredentialsError as error:
                seen.append(type(error).__name__)
            await trio.sleep(0.01)
        return seen

    assert len(trio.run(main)) == 2
