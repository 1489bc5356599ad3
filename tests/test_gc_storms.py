"""Storms with the garbage collector on, as users run: what a refresh's waiters leave to the GC.

Counts only (collections, unreachable objects, waiters served), never times.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import anyio.lowlevel
import pytest

from aiostscreds import CredentialsCache, CredentialsExpiredError

from .fakes import FakeClock, FakeSource, failing, fresh

pytestmark = pytest.mark.anyio

WAITERS = 10_000


class Collections:
    """Counts the garbage collections, by generation, while ``counting`` is True."""

    def __init__(self) -> None:
        self.counting = False
        self.by_generation = [0, 0, 0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if self.counting and phase == "start":
            self.by_generation[info["generation"]] += 1


@contextmanager
def collector(*, enabled: bool) -> Iterator[Collections]:
    """A full collection, then the collector on (or off) and its collections counted."""
    counted = Collections()
    was_enabled = gc.isenabled()
    gc.collect()
    (gc.enable if enabled else gc.disable)()
    gc.callbacks.append(counted)
    try:
        yield counted
    finally:
        gc.callbacks.remove(counted)
        (gc.enable if was_enabled else gc.disable)()


async def _storm(cache: CredentialsCache, source: FakeSource, counted: Collections) -> list[str]:
    """``WAITERS`` tasks wait on one held refresh; collections are counted during the release."""
    outcomes: list[str] = []
    arrived = 0
    all_arrived = anyio.Event()

    async def waiter() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == WAITERS:
            all_arrived.set()
        try:
            await cache.get()
        except CredentialsExpiredError:
            outcomes.append("expired")
        else:
            outcomes.append("credentials")
        if len(outcomes) == WAITERS:
            counted.counting = False

    source.hold()
    async with anyio.create_task_group() as tasks:
        for _ in range(WAITERS):
            tasks.start_soon(waiter)
        assert source.entered is not None
        await source.entered.wait()
        await all_arrived.wait()
        await anyio.lowlevel.checkpoint()  # the last to arrive is parked too
        counted.counting = True
        source.release()
    return outcomes


async def _expired_cache(*outcomes: object) -> tuple[CredentialsCache, FakeSource]:
    clock = FakeClock()
    source = FakeSource(clock, fresh(100), *outcomes)  # type: ignore[arg-type]
    cache = CredentialsCache(source, clock=clock)
    await cache.get()
    clock.advance(200)
    return cache, source


async def test_releasing_ten_thousand_waiters_sets_off_no_garbage_collection() -> None:
    cache, source = await _expired_cache(fresh(3600))
    with collector(enabled=True) as counted:
        outcomes = await _storm(cache, source, counted)
    assert outcomes.count("credentials") == WAITERS
    assert source.calls == 2  # the first fetch, then one refresh for every waiter
    # Woken all at once, 10,000 waiters' wake-ups outlive enough young collections to
    # set off some 26 of them, and a full one now and then. A batch at a time: none.
    assert counted.by_generation[2] == 0
    assert sum(counted.by_generation) <= 2, counted.by_generation


async def test_failed_waiters_leave_nothing_for_the_garbage_collector() -> None:
    cache, source = await _expired_cache(failing())
    with collector(enabled=False) as counted:
        outcomes = await _storm(cache, source, counted)
        unreachable = gc.collect()
    assert outcomes.count("expired") == WAITERS
    assert source.calls == 2
    # Each waiter raises its own copy of the error; none may be left in a reference
    # cycle (the error's traceback holding the frame that holds the error).
    assert unreachable < 100, unreachable


async def test_cancelled_waiters_spread_over_many_batches_leave_the_rest_served() -> None:
    cache, source = await _expired_cache(fresh(3600))
    source.hold()
    waiters = 1_000
    scopes: list[anyio.CancelScope] = []
    served = cancelled = 0
    all_arrived = anyio.Event()

    async def waiter() -> None:
        nonlocal served, cancelled
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            if len(scopes) == waiters:
                all_arrived.set()
            await cache.get()
            served += 1
            return
        cancelled += 1

    async with anyio.create_task_group() as tasks:
        for _ in range(waiters):
            tasks.start_soon(waiter)
        assert source.entered is not None
        await source.entered.wait()
        await all_arrived.wait()
        for scope in scopes[::3]:  # the leader, then every third, across every batch
            scope.cancel()
        await anyio.lowlevel.checkpoint()
        source.release()
    assert cancelled == len(scopes[::3])
    assert served == waiters - cancelled
    assert source.calls == 2
