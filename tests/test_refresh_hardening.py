"""Issue 8, items 1-4 and 7: the refresh engine where real users got hurt.

Engine unit tests over a fake source and an injected clock; the end-to-end
versions through a real aiobotocore client against moto are in
tests/test_refresh_hardening_e2e.py.
"""

from __future__ import annotations

import logging

import anyio
import pytest

from aiostscreds import (
    ConfigurationError,
    CredentialsCache,
    CredentialsExpiredError,
    CredentialsRejectedError,
    RefreshError,
    RefreshPolicy,
    TokenProviderError,
)

from .fakes import FakeClock, FakeSource, failing, fresh, make_credentials, stale

pytestmark = pytest.mark.anyio


def make_cache(*outcomes, policy: RefreshPolicy | None = None, default=None):
    clock = FakeClock()
    source = FakeSource(clock, *outcomes, default=default)
    cache = CredentialsCache(source, refresh=policy or RefreshPolicy(), clock=clock)
    return clock, source, cache


# 1. Refreshes stay bounded whatever the apparent lifetime ---------------------------


async def test_clock_ten_minutes_ahead_refreshes_at_most_ten_times_in_ten_minutes() -> None:
    # 15-minute credentials read by a clock 10 minutes ahead look 5 minutes long:
    # they arrive inside their 5-minute advisory window.
    clock, source, cache = make_cache(default=fresh(900 - 600))
    for _ in range(600):  # one call a second for 10 minutes
        credentials = await cache.get()
        assert credentials.expires_at > clock()
        clock.advance(1)
    assert 1 <= source.calls <= 10


async def test_same_credentials_with_four_minutes_left_are_not_refetched_on_every_call() -> None:
    # IMDS, ECS and credential_process hand back one set of credentials as it ages.
    clock = FakeClock()
    same = make_credentials(clock() + 240)
    source = FakeSource(clock, default=lambda _: same)
    cache = CredentialsCache(source, clock=clock)
    for _ in range(170):  # one call a second, all before the expiry window
        assert await cache.get() is same
        clock.advance(1)
    assert source.calls <= 10


async def test_credentials_arriving_inside_the_expiry_window_are_not_refetched_per_call() -> None:
    clock = FakeClock()
    same = make_credentials(clock() + 30)  # 30 s left: inside the 60-s expiry window
    source = FakeSource(clock, default=lambda _: same)
    cache = CredentialsCache(source, clock=clock)
    for _ in range(29):
        assert await cache.get() is same
        clock.advance(1)
    assert source.calls <= 8


@pytest.mark.parametrize(
    ("lifetime", "advisory"),
    [(600, 300), (900, 300), (1230, 900), (3600, 900), (21600, 3600)],
)
async def test_the_cross_sdk_table_still_times_the_advisory_refresh(
    lifetime: float, advisory: float
) -> None:
    clock, source, cache = make_cache(fresh(lifetime), fresh(lifetime))
    first = await cache.get()
    clock.advance(lifetime - advisory - 0.5)
    assert await cache.get() is first
    assert source.calls == 1
    clock.advance(0.5)  # the advisory window begins
    assert await cache.get() is not first
    assert source.calls == 2


# 2. Backoff between repeated failures even with nothing cached -----------------------


@pytest.mark.parametrize("outcome", [failing(), stale()], ids=["failing", "already-expired"])
async def test_nothing_cached_backs_off_between_repeated_failures(outcome) -> None:
    clock, source, cache = make_cache(default=outcome)
    for _ in range(120):  # one call a second for two minutes
        with pytest.raises(RefreshError):
            await cache.get()
        clock.advance(1)
    assert source.calls <= 20


async def test_nothing_cached_the_call_after_a_first_failure_tries_at_once() -> None:
    clock, source, cache = make_cache(failing(), fresh())
    with pytest.raises(RefreshError):
        await cache.get()
    await cache.get()  # no clock movement: tried again at once
    assert source.calls == 2


async def test_nothing_cached_backoff_grows_and_is_capped_at_30_seconds() -> None:
    clock, source, cache = make_cache(default=failing())
    pauses = []
    for _ in range(12):
        with pytest.raises(RefreshError):
            await cache.get()
        pauses.append(cache._backoff_until - clock())
        clock.now = cache._backoff_until
    assert pauses[0] == 0
    assert 0.5 <= pauses[1] <= 1
    assert all(15 <= pause <= 30 for pause in pauses[6:])
    assert source.calls == 12


async def test_nothing_cached_concurrent_callers_share_one_attempt() -> None:
    clock, source, cache = make_cache(default=failing())
    errors: list[BaseException] = []

    async def one() -> None:
        try:
            await cache.get()
        except RefreshError as error:
            errors.append(error)

    for round_ in range(3):
        source.hold()
        errors.clear()
        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(one)
            assert source.entered is not None
            await source.entered.wait()
            source.release()
        assert len(errors) == 200
        assert source.calls == round_ + 1
        clock.now = max(clock.now, cache._backoff_until)


# 3. A failed advisory refresh never fails callers while valid credentials are held --


def token_failure(_: FakeSource):
    raise TokenProviderError("token provider failed")


ADVISORY_FAILURES = {
    "throttling": failing(recoverable=True, code="Throttling"),
    "access-denied": failing(recoverable=False, code="AccessDenied"),
    "expired-token": failing(recoverable=False, code="ExpiredToken"),
    "token-provider": token_failure,
}


@pytest.mark.parametrize("failure", ADVISORY_FAILURES, ids=list(ADVISORY_FAILURES))
async def test_advisory_failure_of_any_kind_serves_the_held_credentials(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock, source, cache = make_cache(fresh(900), default=ADVISORY_FAILURES[failure])
    held = await cache.get()
    clock.advance(700)  # advisory window, 140 s before the expiry window
    source.hold()
    results: list[object] = []

    async def one() -> None:
        try:
            results.append(await cache.get())
        except Exception as error:  # pragma: no cover - the promise broken
            results.append(error)

    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(one)
        assert source.entered is not None
        await source.entered.wait()
        source.release()
    assert results == [held] * 1000
    assert source.calls == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("credential refresh failed" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("code", ["AccessDenied", "ExpiredToken"])
async def test_advisory_non_recoverable_failure_makes_no_new_attempt_until_the_error_cache_ends(
    code: str,
) -> None:
    clock, source, cache = make_cache(
        fresh(900), default=failing(recoverable=False, code=code)
    )
    held = await cache.get()
    clock.advance(700)
    for _ in range(50):  # 50 calls in 0.5 s: inside the 1-5 s error cache
        assert await cache.get() is held
        clock.advance(0.01)
    assert source.calls == 2  # one failed attempt, hence one prompt
    clock.now = cache._error_until
    assert await cache.get() is held
    assert source.calls == 3  # the error cache has passed: one new attempt


async def test_non_recoverable_failure_in_the_expiry_window_is_raised() -> None:
    clock, source, cache = make_cache(
        fresh(900), default=failing(recoverable=False, code="AccessDenied")
    )
    await cache.get()
    clock.advance(850)  # expiry window
    for _ in range(2):
        with pytest.raises(RefreshError) as raised:
            await cache.get()
        assert raised.value.code == "AccessDenied"
    assert source.calls == 2


# 4. A key passed to invalidate() is never handed out again (by default) --------------


async def test_invalidated_key_is_never_handed_out_while_refreshes_fail() -> None:
    clock, source, cache = make_cache(fresh(900), default=failing(code="Throttling"))
    rejected = await cache.get()
    cache.invalidate(rejected.access_key_id)
    for _ in range(5):
        with pytest.raises(CredentialsRejectedError) as raised:
            await cache.get()
        assert isinstance(raised.value, CredentialsExpiredError)
        assert isinstance(raised.value.__cause__, RefreshError)
        assert raised.value.__cause__.code == "Throttling"
        assert rejected.access_key_id in str(raised.value)
        clock.advance(1)


async def test_invalidated_key_is_refused_when_the_source_hands_it_back() -> None:
    clock = FakeClock()
    same = make_credentials(clock() + 900)
    source = FakeSource(clock, default=lambda _: same)
    cache = CredentialsCache(source, clock=clock)
    assert await cache.get() is same
    cache.invalidate(same.access_key_id)
    with pytest.raises(CredentialsRejectedError) as raised:
        await cache.get()
    assert "again" in str(raised.value.__cause__)


async def test_a_refresh_after_invalidate_serves_new_credentials() -> None:
    clock, source, cache = make_cache(fresh(900), failing(), fresh(900))
    rejected = await cache.get()
    cache.invalidate(rejected.access_key_id)
    with pytest.raises(CredentialsRejectedError):
        await cache.get()
    clock.now = cache._backoff_until
    renewed = await cache.get()
    assert renewed.access_key_id != rejected.access_key_id


async def test_serve_expired_keeps_the_cross_sdk_behaviour_after_invalidate() -> None:
    policy = RefreshPolicy(serve_expired=True)
    clock, source, cache = make_cache(fresh(900), default=failing(), policy=policy)
    rejected = await cache.get()
    cache.invalidate(rejected.access_key_id)
    assert await cache.get() is rejected


# 7b. Flags must be real bools ----------------------------------------------------------


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, [], "no"])
def test_non_bool_serve_expired_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="serve_expired must be True or False"):
        RefreshPolicy(serve_expired=value)  # type: ignore[arg-type]


def test_bool_serve_expired_is_kept() -> None:
    assert RefreshPolicy(serve_expired=True).serve_expired is True
    assert RefreshPolicy(serve_expired=False).serve_expired is False
