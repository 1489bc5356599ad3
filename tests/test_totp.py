"""TOTPTokenProvider: never the same code twice, a cancellable wait, and STS's view of it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import anyio
import pyotp
import pytest

from aiostscreds import (
    AssumeRoleProvider,
    ConfigurationError,
    RefreshError,
    SessionTokenProvider,
    TOTPTokenProvider,
)

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import T0, FakeClock
from .fault_proxy import USED_CODE_MESSAGE, FaultProxy

pytestmark = pytest.mark.anyio

_secrets = iter(pyotp.random_base32() for _ in range(1000))


def new_secret() -> str:
    """A secret of its own per test: the provider's memory of used codes is process-wide."""
    return next(_secrets)


class SimSleep:
    """A sleep for the fake clock: moves it on, and counts."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        await anyio.lowlevel.checkpoint()


async def test_codes_are_pyotp_codes_for_the_clock() -> None:
    secret = new_secret()
    clock = FakeClock(T0 + 7)
    provider = TOTPTokenProvider(secret, clock=clock, sleep=SimSleep(clock))
    assert await provider(MFA_SERIAL) == pyotp.TOTP(secret).at(T0 + 7)


async def test_a_used_code_is_never_handed_out_again_it_waits_for_the_next_step() -> None:
    secret = new_secret()
    clock = FakeClock(T0 + 3)  # 27 s left in this step (T0 is a multiple of 30)
    sleep = SimSleep(clock)
    provider = TOTPTokenProvider(secret, clock=clock, sleep=sleep)
    first = await provider(MFA_SERIAL)
    second = await provider(MFA_SERIAL)
    assert first != second
    assert sleep.waits == [pytest.approx(27)]
    assert clock() == pytest.approx(T0 + 30)
    assert second == pyotp.TOTP(secret).at(T0 + 30)


async def test_providers_sharing_a_secret_share_the_memory() -> None:
    secret = new_secret()
    clock = FakeClock(T0)
    sleep = SimSleep(clock)
    one = TOTPTokenProvider(secret, clock=clock, sleep=sleep)
    # The same secret written differently (spaces, lower case) is the same device.
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)).lower()
    other = TOTPTokenProvider(spaced, clock=clock, sleep=sleep)
    codes = [await one(MFA_SERIAL), await other(MFA_SERIAL), await one(MFA_SERIAL)]
    assert len(set(codes)) == 3
    assert len(sleep.waits) == 2


async def test_concurrent_callers_get_distinct_codes() -> None:
    secret = new_secret()
    clock = FakeClock(T0)
    provider = TOTPTokenProvider(secret, clock=clock, sleep=SimSleep(clock))
    codes: list[str] = []

    async def ask() -> None:
        codes.append(await provider(MFA_SERIAL))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask)
    assert len(set(codes)) == 5


async def test_the_wait_is_cancellable_and_uses_nothing_up() -> None:
    secret = new_secret()
    clock = FakeClock(T0)  # a clock that never moves: the wait would last forever
    provider = TOTPTokenProvider(secret, clock=clock)  # the real anyio.sleep
    first = await provider(MFA_SERIAL)
    with anyio.move_on_after(0.05) as scope:
        await provider(MFA_SERIAL)
    assert scope.cancelled_caught
    clock.advance(30)
    assert await provider(MFA_SERIAL) == pyotp.TOTP(secret).at(T0 + 30) != first


async def test_a_step_whose_code_repeats_a_recent_one_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = new_secret()
    clock = FakeClock(T0)
    sleep = SimSleep(clock)
    provider = TOTPTokenProvider(secret, clock=clock, sleep=sleep)
    real = provider._totp.generate_otp
    # Steps T0 and T0 + 30 happen to give the same code (one in a million).
    monkeypatch.setattr(
        provider._totp, "generate_otp", lambda counter: real(counter - (counter % 2))
    )
    first = await provider(MFA_SERIAL)
    second = await provider(MFA_SERIAL)
    assert first != second
    assert clock() == pytest.approx(T0 + 60)


def test_repr_and_errors_never_show_the_secret() -> None:
    secret = new_secret()
    provider = TOTPTokenProvider(secret)
    assert secret not in repr(provider)
    assert provider.interval == 30
    for bad in ("not base32!", "ABC", ""):
        with pytest.raises(ConfigurationError, match="base32") as caught:
            TOTPTokenProvider(bad)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        if bad:
            assert bad not in str(caught.value)
    with pytest.raises(ConfigurationError, match="str"):
        TOTPTokenProvider(b"JBSWY3DPEHPK3PXP")  # type: ignore[arg-type]
    for interval in (0, 121, 1.5, True):
        with pytest.raises(ConfigurationError, match="interval"):
            TOTPTokenProvider(secret, interval=interval)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="clock"):
        TOTPTokenProvider(secret, clock="now")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sleep"):
        TOTPTokenProvider(secret, sleep=30)  # type: ignore[arg-type]


def test_the_library_imports_without_pyotp_and_says_what_to_install() -> None:
    script = (
        "import sys\n"
        "sys.modules['pyotp'] = None\n"
        "import aiostscreds\n"
        "try:\n"
        "    aiostscreds.TOTPTokenProvider('JBSWY3DPEHPK3PXPJBSWY3DP')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "aiostscreds[totp]" in result.stdout


async def test_it_is_awaited_on_the_loop() -> None:
    from aiostscreds._tokens import is_async_callable

    assert is_async_callable(TOTPTokenProvider(new_secret()))


# Against STS's rule: a code serves once --------------------------------------------------


async def test_two_providers_on_one_device_naive_codes_are_refused_totp_codes_are_not(
    aio_session: Any, fault_proxy: FaultProxy, client_config: Any
) -> None:
    """A role and a session token from one MFA device, within one 30-s step.

    Codes read straight off the clock collide, and STS refuses the second one as
    already used. TOTPTokenProvider waits for the next step instead."""
    secret = new_secret()
    clock = FakeClock(T0 + 5)
    fault_proxy.clock = clock
    fault_proxy.mfa_device(MFA_SERIAL, secret)  # the proxy checks codes like STS
    fault_proxy.reject_reused_codes = True

    async def naive(serial_number: str) -> str:
        return str(pyotp.TOTP(secret).at(clock()))

    async with aio_session.create_client(
        "sts", endpoint_url=fault_proxy.url, config=client_config
    ) as client:
        role = AssumeRoleProvider(
            client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=naive, clock=clock
        )
        session = SessionTokenProvider(
            client, serial_number=MFA_SERIAL, token_provider=naive, clock=clock
        )
        await role.get_credentials()
        with pytest.raises(RefreshError) as caught:
            await session.get_credentials()
        assert caught.value.code == "AccessDenied"
        assert USED_CODE_MESSAGE in str(caught.value)
        assert not caught.value.recoverable

        clock.advance(60)
        sleep = SimSleep(clock)
        totp = TOTPTokenProvider(secret, clock=clock, sleep=sleep)
        role = AssumeRoleProvider(
            client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=totp, clock=clock
        )
        session = SessionTokenProvider(
            client, serial_number=MFA_SERIAL, token_provider=totp, clock=clock
        )
        await role.get_credentials()
        await session.get_credentials()  # waits for the next step instead of failing
        assert len(sleep.waits) == 1
        role.invalidate(role.credentials.access_key_id)  # type: ignore[union-attr]
        await role.get_credentials()

    calls = fault_proxy.credential_calls()
    assert [c.status for c in calls] == [200, 403, 200, 200, 200]
    totp_codes = [c.token_code for c in calls[2:]]
    assert len(set(totp_codes)) == 3
    assert all(c.serial_number == MFA_SERIAL for c in calls)
