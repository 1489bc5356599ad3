"""Token-provider faults, through a real STS client and the fault proxy.

A token provider that hangs, raises, answers something that is not six ASCII
digits, or is cancelled by the user: each gets a clear TokenProviderError (or
the documented handling), no STS call is made for it, and prompts never stack
up, however many tasks wait and however often a refresh is asked for.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from aiostscreds import (
    AssumeRoleProvider,
    CredentialsError,
    RefreshPolicy,
    TokenProviderError,
)

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import T0, FakeClock
from .fault_proxy import FaultProxy

pytestmark = pytest.mark.anyio


@pytest.fixture
async def proxied_sts(
    aio_session: Any, fault_proxy: FaultProxy, client_config: Any
) -> AsyncIterator[Any]:
    """A real STS client whose requests go through the fault proxy."""
    async with aio_session.create_client(
        "sts", endpoint_url=fault_proxy.url, config=client_config
    ) as client:
        yield client


def make_provider(
    client: Any, proxy: FaultProxy, token_provider: Any, **refresh: Any
) -> AssumeRoleProvider:
    clock = FakeClock(T0)
    proxy.clock = clock  # the proxy writes Expirations onto the provider's timeline
    return AssumeRoleProvider(
        client,
        ROLE_ARN,
        role_session_name="token-faults",
        serial_number=MFA_SERIAL,
        token_provider=token_provider,
        refresh=RefreshPolicy(**refresh),
        clock=clock,
    )


async def test_hanging_async_provider_times_out_with_token_timeout(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    asked = 0

    async def hangs(serial_number: str) -> str:
        nonlocal asked
        asked += 1
        await anyio.sleep_forever()
        raise AssertionError

    provider = make_provider(proxied_sts, fault_proxy, hangs, token_timeout=0.05)
    with pytest.raises(TokenProviderError, match="token_timeout") as caught:
        await provider.get_credentials()
    assert MFA_SERIAL in str(caught.value)
    # Not recoverable: re-raised from the error cache without a second prompt.
    with pytest.raises(TokenProviderError, match="token_timeout"):
        await provider.get_credentials()
    assert asked == 1
    assert fault_proxy.credential_calls() == []


async def test_hanging_sync_provider_is_abandoned_after_token_timeout(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    release = threading.Event()

    def hangs(serial_number: str) -> str:
        release.wait(5)
        return "123123"

    provider = make_provider(proxied_sts, fault_proxy, hangs, token_timeout=0.05)
    try:
        with pytest.raises(TokenProviderError, match="token_timeout"):
            await provider.get_credentials()
    finally:
        release.set()
    assert fault_proxy.credential_calls() == []


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_raising_provider_gives_token_provider_error_with_the_cause(
    kind: str, proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    class Unplugged(Exception):
        pass

    def broken_sync(serial_number: str) -> str:
        raise Unplugged("device unplugged")

    async def broken_async(serial_number: str) -> str:
        raise Unplugged("device unplugged")

    provider = make_provider(
        proxied_sts, fault_proxy, broken_async if kind == "async" else broken_sync
    )
    with pytest.raises(TokenProviderError, match="raised Unplugged") as caught:
        await provider.get_credentials()
    assert isinstance(caught.value.__cause__, Unplugged)
    assert not caught.value.recoverable
    assert fault_proxy.credential_calls() == []


@pytest.mark.parametrize("token_timeout", [None, 3600])
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_provider_raising_timeout_error_itself_is_reported_as_the_provider_error(
    kind: str, token_timeout: float | None, proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    # The device's own timeout, not token_timeout firing: never a TypeError, never
    # "within token_timeout".
    def times_out_sync(serial_number: str) -> str:
        raise TimeoutError("the hardware token did not answer")

    async def times_out_async(serial_number: str) -> str:
        raise TimeoutError("the hardware token did not answer")

    provider = make_provider(
        proxied_sts,
        fault_proxy,
        times_out_async if kind == "async" else times_out_sync,
        token_timeout=token_timeout,
    )
    with pytest.raises(TokenProviderError, match="raised TimeoutError") as caught:
        await provider.get_credentials()
    assert MFA_SERIAL in str(caught.value)
    assert "token_timeout" not in str(caught.value)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert not caught.value.recoverable  # as for any other error the provider raises
    assert fault_proxy.credential_calls() == []


@pytest.mark.parametrize(
    "answer", ["12345", "abcdef", " 123456\n", "1234567", "\uff11\uff12\uff13\uff14\uff15\uff16"]
)
async def test_answers_that_are_not_six_ascii_digits_are_refused(
    answer: str, proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    async def answers(serial_number: str) -> str:
        return answer

    provider = make_provider(proxied_sts, fault_proxy, answers)
    with pytest.raises(TokenProviderError, match="exactly 6 ASCII digits") as caught:
        await provider.get_credentials()
    # The answer may be a real code with stray whitespace: it is never echoed.
    assert not re.search(rf"(?<![0-9]){re.escape(answer.strip())}(?![0-9])", str(caught.value))
    assert f"{len(answer)} characters" in str(caught.value)
    assert fault_proxy.credential_calls() == []


async def test_a_six_digit_answer_reaches_sts_exactly(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    async def answers(serial_number: str) -> str:
        return "012345"  # a leading zero is a digit like any other

    provider = make_provider(proxied_sts, fault_proxy, answers)
    await provider.get_credentials()
    (call,) = fault_proxy.credential_calls()
    assert (call.serial_number, call.token_code) == (MFA_SERIAL, "012345")


async def test_user_cancelling_the_waiting_caller_leaves_the_prompt_to_the_others(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    """The caller that started the refresh gives up (its scope is cancelled): it
    returns at once, the prompt stays open, and the next caller gets its answer
    without a second prompt."""
    asked = anyio.Event()
    answer = anyio.Event()
    prompts = 0

    async def human(serial_number: str) -> str:
        nonlocal prompts
        prompts += 1
        asked.set()
        await answer.wait()
        return "424242"

    provider = make_provider(proxied_sts, fault_proxy, human)
    with anyio.CancelScope() as scope:

        async def cancel_when_asked() -> None:
            await asked.wait()
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_asked)
            await provider.get_credentials()
            raise AssertionError("the cancelled caller must not get credentials")
    assert scope.cancelled_caught
    assert prompts == 1 and fault_proxy.credential_calls() == []

    results: list[object] = []

    async def later_caller() -> None:
        results.append(await provider.get_credentials())

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(later_caller)
        await anyio.sleep(0.01)
        answer.set()
    assert prompts == 1
    assert len(results) == 10 and all(r is results[0] for r in results)
    assert [c.token_code for c in fault_proxy.credential_calls()] == ["424242"]


async def test_timeout_around_the_caller_is_a_user_cancellation_too(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    answer = anyio.Event()

    async def human(serial_number: str) -> str:
        await answer.wait()
        return "515151"

    provider = make_provider(proxied_sts, fault_proxy, human)
    with anyio.move_on_after(0.05) as scope:
        await provider.get_credentials()
    assert scope.cancelled_caught
    answer.set()
    credentials = await provider.get_credentials()
    assert credentials.access_key_id
    assert [c.token_code for c in fault_proxy.credential_calls()] == ["515151"]


async def test_closing_the_provider_ends_an_open_prompt_with_a_clear_error(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    asked = anyio.Event()

    async def human(serial_number: str) -> str:
        asked.set()
        await anyio.sleep_forever()
        raise AssertionError

    provider = make_provider(proxied_sts, fault_proxy, human)
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await provider.get_credentials()
        except CredentialsError as error:
            errors.append(error)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(waiter)
        await asked.wait()
        await provider.aclose()
    assert len(errors) == 5
    assert all("closed" in str(error) for error in errors)
    assert fault_proxy.credential_calls() == []


# Prompts never stack up -----------------------------------------------------------------


class Prompt:
    """Counts prompts and how many are open at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.most_open = 0
        self.codes: list[str] = []

    def enter(self) -> str:
        with self.lock:
            self.open += 1
            self.most_open = max(self.most_open, self.open)
            code = f"{300000 + len(self.codes):06d}"
            self.codes.append(code)
            return code

    def leave(self) -> None:
        with self.lock:
            self.open -= 1


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_prompts_never_stack_up_under_many_waiters_and_repeated_refreshes(
    kind: str, proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    prompt = Prompt()

    async def async_prompt(serial_number: str) -> str:
        code = prompt.enter()
        try:
            await anyio.sleep(0.02)
            return code
        finally:
            prompt.leave()

    def sync_prompt(serial_number: str) -> str:
        code = prompt.enter()
        try:
            time.sleep(0.02)
            return code
        finally:
            prompt.leave()

    provider = make_provider(
        proxied_sts, fault_proxy, async_prompt if kind == "async" else sync_prompt
    )
    clock = provider._clock
    assert isinstance(clock, FakeClock)
    rounds = 8
    for round_ in range(rounds):
        if round_:
            clock.advance(900)  # expired: everyone must wait for the refresh

        async def caller() -> None:
            await provider.get_credentials()

        async def forcer() -> None:
            await provider.force_refresh()

        async def invalidator() -> None:
            held = provider.credentials
            if held is not None:
                provider.invalidate(held.access_key_id)
            await provider.get_credentials()

        async with anyio.create_task_group() as tg:
            for index in range(300):
                tg.start_soon(caller)
                if index % 50 == 0:
                    tg.start_soon(forcer)
                    tg.start_soon(invalidator)
    assert prompt.most_open == 1
    codes = [c.token_code for c in fault_proxy.credential_calls()]
    assert codes == prompt.codes  # every prompt went to exactly one STS call, in order
    assert len(set(codes)) == len(codes)
    assert rounds <= len(codes) <= 4 * rounds


# One provider call at a time, ever -------------------------------------------------------


class BlockingDevice:
    """A blocking token provider that answers only when released; counts its calls."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.calls = 0
        self.released = threading.Event()

    def __call__(self, serial_number: str) -> str:
        self.calls += 1
        if not self.released.wait(30):
            raise TimeoutError("never released")
        return self.code


async def test_refreshes_that_time_out_wait_for_the_one_blocking_call_left_running(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    """A hung hardware token and token_timeout: 30 refreshes give up on it, but
    only one call (and one thread) is ever open; its late answer serves the next
    refresh, once."""
    device = BlockingDevice("123123")
    provider = make_provider(proxied_sts, fault_proxy, device, token_timeout=0.05)
    clock = provider._clock
    assert isinstance(clock, FakeClock)
    threads_before = threading.active_count()
    try:
        for _ in range(30):
            clock.advance(60)  # past any error cache or backoff: every get() refreshes
            with pytest.raises(CredentialsError):
                await provider.get_credentials()
        assert device.calls == 1
        assert threading.active_count() <= threads_before + 1
        # A daemon thread: interpreter exit (after Ctrl-C, say) does not wait for it.
        (call_thread,) = [t for t in threading.enumerate() if "token provider" in t.name]
        assert call_thread.daemon
    finally:
        device.released.set()
    clock.advance(60)
    credentials = await provider.get_credentials()
    assert credentials.access_key_id
    assert device.calls == 1  # the late answer was used, not a new call
    assert [c.token_code for c in fault_proxy.credential_calls()] == ["123123"]


async def test_late_answer_of_an_abandoned_blocking_call_reaches_the_refresh_asking_now(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    device = BlockingDevice("414141")
    provider = make_provider(proxied_sts, fault_proxy, device)
    try:
        with anyio.move_on_after(0.05) as scope:
            await provider.retrieve()  # retrieve() runs in this task: cancelling it gives up
        assert scope.cancelled_caught

        async with anyio.create_task_group() as tg:
            tg.start_soon(provider.retrieve)
            await anyio.sleep(0.01)
            device.released.set()
    finally:
        device.released.set()
    assert device.calls == 1
    assert [c.token_code for c in fault_proxy.credential_calls()] == ["414141"]


async def test_async_provider_is_never_called_twice_at_once(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    prompt = Prompt()

    async def async_prompt(serial_number: str) -> str:
        code = prompt.enter()
        try:
            await anyio.sleep(0.02)
            return code
        finally:
            prompt.leave()

    provider = make_provider(proxied_sts, fault_proxy, async_prompt)
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(provider.retrieve)  # five STS calls, bypassing the single flight
    assert prompt.most_open == 1
    # Each code asked for reached STS exactly once. Not in prompt order: once its code
    # is in, each of the five calls races the others to the server.
    wire = [c.token_code for c in fault_proxy.credential_calls()]
    assert sorted(wire) == sorted(prompt.codes)
    assert len(set(prompt.codes)) == len(prompt.codes) == 5


async def test_async_provider_that_times_out_is_cancelled_not_left_running(
    proxied_sts: Any, fault_proxy: FaultProxy
) -> None:
    prompt = Prompt()

    async def hangs(serial_number: str) -> str:
        prompt.enter()
        try:
            await anyio.sleep_forever()
        finally:
            prompt.leave()
        raise AssertionError

    provider = make_provider(proxied_sts, fault_proxy, hangs, token_timeout=0.05)
    for _ in range(3):
        with pytest.raises(TokenProviderError, match="token_timeout"):
            await provider.retrieve()
        assert prompt.open == 0
    assert prompt.most_open == 1 and len(prompt.codes) == 3
    assert fault_proxy.credential_calls() == []


def test_blocking_call_abandoned_on_one_event_loop_answers_on_another() -> None:
    """The call left running by asyncio's refresh serves trio's, and vice versa."""
    import datetime as dt

    from aiostscreds._tokens import MFACodes

    for first, second in [("asyncio", "trio"), ("trio", "asyncio")]:
        device = BlockingDevice("777777")
        codes = MFACodes(
            MFA_SERIAL,
            token_code=None,
            token_provider=device,
            timeout=dt.timedelta(seconds=0.05),
        )
        try:
            with pytest.raises(TokenProviderError, match="token_timeout"):
                anyio.run(codes.next_code, backend=first)
        finally:
            device.released.set()
        assert anyio.run(codes.next_code, backend=second) == "777777"
        assert device.calls == 1
