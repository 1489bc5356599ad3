"""CredentialsCache: coalescing, shared outcomes, cancellation, backoff, closing."""

from __future__ import annotations

import asyncio
import logging

import anyio
import pytest

from aiostscreds import (
    CredentialsCache,
    CredentialsError,
    CredentialsExpiredError,
    RefreshError,
    RefreshPolicy,
)

from .fakes import FakeClock, FakeSource, failing, fresh

pytestmark = pytest.mark.anyio

STORM = 10_000


def make_cache(*outcomes, policy: RefreshPolicy | None = None, default=None):
    clock = FakeClock()
    source = FakeSource(clock, *outcomes, default=default)
    cache = CredentialsCache(source, refresh=policy or RefreshPolicy(), clock=clock)
    return clock, source, cache


class Arrivals:
    """Callers counted as they call the cache; ``all`` is set when the last one has.

    A caller arrives right before its call, with no checkpoint between: by the
    time ``all`` is set, each one has run on to its first await in the cache,
    waiting for the refresh.
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.all = anyio.Event()

    def arrive(self) -> None:
        self.count += 1
        if self.count == self.expected:
            self.all.set()


async def _storm(cache: CredentialsCache, n: int) -> list[object]:
    results: list[object] = [None] * n

    async def one(i: int) -> None:
        try:
            results[i] = await cache.get()
        except Exception as error:
            results[i] = error

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return results


async def test_ten_thousand_concurrent_callers_make_one_source_call() -> None:
    clock, source, cache = make_cache(fresh())
    source.hold()
    results: list[object] = [None] * STORM
    callers = Arrivals(STORM)

    async def one(i: int) -> None:
        callers.arrive()
        results[i] = await cache.get()

    async with anyio.create_task_group() as tg:
        for i in range(STORM):
            tg.start_soon(one, i)
        await callers.all.wait()
        assert source.entered is not None
        await source.entered.wait()  # the refresh has started (on trio, after the callers)
        # Every caller is waiting on the one refresh, which is still held.
        assert results.count(None) == STORM and source.finished == 0
        source.release()
    assert source.calls == 1
    assert all(result is results[0] for result in results)


async def test_failed_refresh_reaches_every_waiter_after_one_attempt() -> None:
    clock, source, cache = make_cache(failing(recoverable=True))
    source.hold()
    source.release()  # the gate is open, but the refresh still yields once
    results = await _storm(cache, STORM)
    assert source.calls == 1
    assert all(isinstance(result, RefreshError) for result in results)
    # Each waiter raises its own copy of the one error, with the same message.
    assert len({str(result) for result in results}) == 1


async def test_non_recoverable_failure_is_shared_and_cached() -> None:
    clock, source, cache = make_cache(failing(recoverable=False, code="AccessDenied"))
    results = await _storm(cache, 1000)
    assert source.calls == 1
    assert all(isinstance(r, RefreshError) and r.code == "AccessDenied" for r in results)
    with pytest.raises(RefreshError):
        await cache.get()
    assert source.calls == 1  # re-raised from the error cache


async def test_cancelled_leader_neither_aborts_nor_restarts_the_refresh() -> None:
    clock, source, cache = make_cache(fresh())
    source.hold()
    got: list[object] = []

    leader_scope = anyio.CancelScope()
    leader_done = anyio.Event()

    async def leader() -> None:
        with leader_scope:
            await cache.get()
        leader_done.set()

    followers = Arrivals(100)

    async def follower() -> None:
        followers.arrive()
        got.append(await cache.get())

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        assert source.entered is not None
        await source.entered.wait()
        for _ in range(100):
            tg.start_soon(follower)
        await followers.all.wait()
        leader_scope.cancel()
        await leader_done.wait()
        # The leader got control back while the refresh is still running.
        assert leader_scope.cancelled_caught
        assert source.finished == 0
        source.release()
    assert source.calls == 1
    assert len(got) == 100
    assert all(result is got[0] for result in got)


async def test_cancelling_every_waiter_leaves_the_refresh_running_and_not_failed() -> None:
    clock, source, cache = make_cache(fresh())
    source.hold()
    with anyio.move_on_after(0.05):
        await _storm(cache, 50)
    assert source.calls == 1 and source.finished == 0
    source.release()
    credentials = await cache.get()  # joins the same refresh
    assert source.calls == 1
    assert cache.credentials is credentials
    # No backoff was set: cancellation is not a failure.
    clock.advance(900)
    source.script(fresh())
    assert await cache.get() is not credentials
    assert source.calls == 2


async def test_hot_path_returns_without_suspending() -> None:
    clock, source, cache = make_cache(fresh())
    credentials = await cache.get()
    coroutine = cache.get()
    with pytest.raises(StopIteration) as done:
        coroutine.send(None)  # a single step: no await on a lock or on I/O
    assert done.value.value is credentials
    assert source.calls == 1


async def test_advisory_refresh_serves_current_credentials_to_late_arrivals() -> None:
    clock, source, cache = make_cache(fresh(900), fresh(900))
    old = await cache.get()
    clock.advance(700)  # 200 s left: inside the 300 s advisory window
    source.hold()
    first: list[object] = []

    async with anyio.create_task_group() as tg:

        async def first_caller() -> None:
            first.append(await cache.get())

        tg.start_soon(first_caller)
        assert source.entered is not None
        await source.entered.wait()
        # Later callers don't wait for the refresh in flight.
        for _ in range(10):
            assert await cache.get() is old
        source.release()
    assert first[0] is not old
    assert await cache.get() is first[0]
    assert source.calls == 2


async def test_expiry_window_makes_every_caller_wait_for_the_refresh() -> None:
    clock, source, cache = make_cache(fresh(900), fresh(900))
    old = await cache.get()
    clock.advance(870)  # 30 s left: inside the 60 s expiry window
    assert cache.is_expired()
    results = await _storm(cache, 100)
    assert all(result is not old for result in results)
    assert source.calls == 2


async def test_invalidate_with_the_held_key_forces_a_refresh() -> None:
    clock, source, cache = make_cache(fresh(900), fresh(900))
    old = await cache.get()
    cache.invalidate("ASIA-SOMEONE-ELSE")
    assert await cache.get() is old
    cache.invalidate(old.access_key_id)
    assert cache.is_expired()
    new = await cache.get()
    assert new.access_key_id != old.access_key_id
    assert source.calls == 2


async def test_force_refresh_ignores_backoff_and_joins_a_refresh_in_flight() -> None:
    clock, source, cache = make_cache(fresh(900), failing(), fresh(900))
    old = await cache.get()
    clock.advance(870)
    assert await cache.get() is old  # failed, backing off, still valid
    assert source.calls == 2
    assert await cache.get() is old
    assert source.calls == 2
    source.hold()
    async with anyio.create_task_group() as tg:
        results: list[object] = []

        forcing = Arrivals(5)

        async def force() -> None:
            forcing.arrive()
            results.append(await cache.force_refresh())

        for _ in range(5):
            tg.start_soon(force)
        await forcing.all.wait()
        assert source.entered is not None
        await source.entered.wait()
        assert results == []  # all five wait on the one held refresh
        source.release()
    assert source.calls == 3
    assert all(result is results[0] is not old for result in results)


async def test_force_refresh_raises_the_failure() -> None:
    clock, source, cache = make_cache(fresh(900), failing())
    await cache.get()
    with pytest.raises(RefreshError):
        await cache.force_refresh()


async def test_expired_credentials_are_not_served_by_default() -> None:
    clock, source, cache = make_cache(fresh(900), failing(), default=failing())
    await cache.get()
    clock.advance(1000)
    with pytest.raises(CredentialsExpiredError) as caught:
        await cache.get()
    assert isinstance(caught.value.__cause__, RefreshError)
    calls = source.calls
    with pytest.raises(CredentialsExpiredError):
        await cache.get()  # backing off: the source is left alone
    assert source.calls == calls


async def test_serve_expired_hands_out_expired_credentials_while_backing_off() -> None:
    policy = RefreshPolicy(serve_expired=True)
    clock, source, cache = make_cache(fresh(900), failing(), policy=policy)
    old = await cache.get()
    clock.advance(1000)
    assert await cache.get() is old


async def test_no_credentials_yet_retries_at_once_after_a_first_failure_only() -> None:
    clock, source, cache = make_cache(failing(), failing(), fresh())
    for _ in range(2):
        with pytest.raises(RefreshError):
            await cache.get()
    assert source.calls == 2  # the call after the first failure tried again at once
    with pytest.raises(RefreshError):
        await cache.get()  # the second failure set a backoff: the source is left alone
    assert source.calls == 2
    clock.advance(1.0)  # the backoff after a second failure is 0.5-1 s
    await cache.get()
    assert source.calls == 3


async def test_automatic_backoff_retries_before_the_expiry_window() -> None:
    clock, source, cache = make_cache(fresh(900), default=failing())
    credentials = await cache.get()
    clock.advance(700)  # advisory window: 140 s before the expiry window starts
    expiry_starts = credentials.expires_at - 60
    attempts = []
    while clock() < expiry_starts:
        calls = source.calls
        await cache.get()
        if source.calls > calls:
            attempts.append(clock())
        clock.advance(1)
    assert len(attempts) >= 2
    # The last attempt came no later than the start of the expiry window.
    assert attempts[-1] <= expiry_starts
    # Inside the expiry window, it keeps trying before expiration.
    attempts.clear()
    while clock() < credentials.expires_at:
        calls = source.calls
        await cache.get()
        if source.calls > calls:
            attempts.append(clock())
        clock.advance(0.5)
    assert attempts and attempts[-1] < credentials.expires_at


async def test_automatic_backoff_after_expiry_is_capped_at_30_seconds() -> None:
    clock, source, cache = make_cache(fresh(900), default=failing())
    await cache.get()
    clock.advance(1000)
    gaps, last = [], None
    for _ in range(600):
        calls = source.calls
        with pytest.raises(CredentialsExpiredError):
            await cache.get()
        if source.calls > calls:
            if last is not None:
                gaps.append(clock() - last)
            last = clock()
        clock.advance(1)
    assert gaps and max(gaps) <= 31
    assert gaps[0] < gaps[-1]  # it grows


async def test_explicit_backoff_range_is_obeyed() -> None:
    policy = RefreshPolicy(backoff=(300, 600))
    clock, source, cache = make_cache(fresh(21600), default=failing(), policy=policy)
    await cache.get()
    clock.advance(18100)  # inside the 60-minute advisory window of a 6-hour credential
    await cache.get()
    assert source.calls == 2
    clock.advance(299)
    await cache.get()
    assert source.calls == 2
    clock.advance(302)
    await cache.get()
    assert source.calls == 3


async def test_aclose_cancels_the_refresh_and_fails_its_waiters() -> None:
    clock, source, cache = make_cache(fresh())
    source.hold()
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await cache.get()
        except CredentialsError as error:
            errors.append(error)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(waiter)
        assert source.entered is not None
        await source.entered.wait()
        await cache.aclose()
    assert len(errors) == 20
    # A cancellation of the refresh, not a failure of the source (no RefreshError).
    assert not any(isinstance(error, RefreshError) for error in errors)
    assert source.finished == 0  # the source call was cancelled, not completed
    with pytest.raises(CredentialsError, match="closed"):
        await cache.get()


async def test_async_with_closes_the_cache() -> None:
    clock, source, cache = make_cache(fresh())
    async with cache:
        await cache.get()
    with pytest.raises(CredentialsError):
        await cache.get()


async def test_source_returning_stale_credentials_is_a_recoverable_failure() -> None:
    clock, source, cache = make_cache(lambda s: fresh(-5)(s))
    with pytest.raises(RefreshError) as caught:
        await cache.get()
    assert caught.value.recoverable


async def test_unexpected_source_exception_is_wrapped_and_chained() -> None:
    def broken(source):
        raise KeyError("boom")

    clock, source, cache = make_cache(broken)
    with pytest.raises(RefreshError) as caught:
        await cache.get()
    assert not caught.value.recoverable
    assert isinstance(caught.value.__cause__, KeyError)


async def test_failure_is_logged_as_a_warning_with_the_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, source, cache = make_cache(fresh(900), failing())
    await cache.get()
    clock.advance(870)
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        await cache.get()
    (record,) = [r for r in caplog.records if r.name == "aiostscreds"]
    assert record.levelno == logging.WARNING
    assert "next attempt in" in record.getMessage()


def test_one_cache_serves_two_consecutive_event_loops() -> None:
    clock = FakeClock()
    source = FakeSource(clock, default=fresh(900))
    cache = CredentialsCache(source, clock=clock)

    async def use() -> None:
        await cache.get()
        clock.advance(1000)
        await cache.get()

    asyncio.run(use())
    asyncio.run(use())
    import trio

    trio.run(use)
    # The first loop fetches twice; each later one reuses, then refreshes once.
    assert source.calls == 4


def test_refresh_abandoned_with_its_event_loop_does_not_block_the_next_loop() -> None:
    clock = FakeClock()
    source = FakeSource(clock, default=fresh(900))
    cache = CredentialsCache(source, clock=clock)

    async def start_and_leave() -> None:
        source.hold()
        with anyio.move_on_after(0.01):
            await cache.get()

    asyncio.run(start_and_leave())
    source._gate = None  # the next loop's refresh runs straight through

    async def use() -> None:
        assert (await cache.get()).expires_at > clock()

    asyncio.run(use())
    assert source.calls == 2


# ---------------------------------------------------------------------------
# Deadlines under a wall clock stepped backwards, and a source's own CancelledError


async def test_backoff_ends_when_the_clock_is_stepped_back_an_hour() -> None:
    clock, source, cache = make_cache(failing(), failing(), fresh())
    for _ in range(2):
        with pytest.raises(RefreshError):
            await cache.get()
    with pytest.raises(RefreshError):
        await cache.get()  # backing off for 0.5-1 s: the source is left alone
    assert source.calls == 2
    clock.advance(-3600)  # NTP steps the wall clock back an hour
    await cache.get()  # a step back never lengthens a deadline: retried at once
    assert source.calls == 3


async def test_error_cache_ends_when_the_clock_is_stepped_back_an_hour() -> None:
    clock, source, cache = make_cache(
        failing(recoverable=False, code="AccessDenied"), fresh()
    )
    with pytest.raises(RefreshError):
        await cache.get()
    with pytest.raises(RefreshError):
        await cache.get()  # the error is cached: the source is left alone
    assert source.calls == 1
    clock.advance(-3600)
    await cache.get()
    assert source.calls == 2


def _raises_cancelled(source: FakeSource) -> object:
    # What a source gets from a library that leaks its own cancellation (say, a
    # timeout implemented with task.cancel()): not a cancellation of the refresh.
    raise asyncio.CancelledError()


async def test_a_source_raising_cancelled_error_by_itself_is_a_failure_with_backoff() -> None:
    clock, source, cache = make_cache(default=_raises_cancelled)  # type: ignore[arg-type]
    for _ in range(100):
        with pytest.raises(RefreshError) as caught:
            await cache.get()
        assert isinstance(caught.value.__cause__, asyncio.CancelledError)
        clock.advance(0.1)
    # 100 calls over 10 simulated seconds: the backoff (0.5-1 s, growing) bounds
    # the source calls; without it, every call would reach the source.
    assert source.calls <= 10


def test_the_providers_get_credentials_is_the_engines_get() -> None:
    from aiostscreds import AssumeRoleProvider, SessionTokenProvider, WebIdentityProvider

    for provider in (AssumeRoleProvider, SessionTokenProvider, WebIdentityProvider):
        assert issubclass(provider, CredentialsCache)
        assert provider.get_credentials is CredentialsCache.get


async def test_current_is_the_fresh_credentials_or_none() -> None:
    clock, source, cache = make_cache(fresh(900))
    assert cache.current() is None
    credentials = await cache.get()
    assert cache.current() is credentials
    clock.advance(900 - 30)  # inside the expiry window: not fresh, whatever the policy
    assert cache.current() is None
    assert cache.credentials is credentials and source.calls == 1
