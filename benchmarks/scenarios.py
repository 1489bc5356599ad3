"""The core scenarios: hot path, success storm, failure storm, cancellation storm.

Each function runs inside an event loop (asyncio or trio, through anyio) and
returns plain figures: counts and seconds. They take their sizes as
arguments, so the smoke test runs them at tiny N.

Every duration is taken on two clocks: ``time.perf_counter()`` (wall time) and
``time.thread_time()`` (CPU time of the event loop's thread). On an idle
machine the two agree; on a busy one the CPU time leaves out the time other
processes took the CPU away, so the report's ratios use it and show the wall
figures beside them. Python's cyclic garbage collector is off during each
timed section (as ``timeit`` does) and a full collection runs before it: a
full collection of the process's heap, most of it botocore's and moto's
objects, would otherwise land in one contender's window or another's by chance.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anyio

from aiostscreds import CredentialsError

from .contenders import (
    AIOBOTOCORE_CONTENDERS,
    FLOOR,
    RAISE_FLOOR,
    STS_LATENCY,
    Contender,
    FakeSTS,
    Getter,
    build_contender,
    build_expired_contender,
    deadline_floor,
)

Task = Callable[[], Awaitable[None]]


def clocks() -> tuple[float, float]:
    """``(time.perf_counter(), time.thread_time())`` now."""
    return time.perf_counter(), time.thread_time()


@contextmanager
def collector_paused(*, gc_on: bool = False) -> Iterator[None]:
    """Run a full garbage collection, then keep the collector off for the block.

    With ``gc_on``, the collector is on for the block instead, with the
    thresholds in force (Python's defaults unless the process changed them).
    """
    gc.collect()
    was_enabled = gc.isenabled()
    if gc_on:
        gc.enable()
    else:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


# ---------------------------------------------------------------------------
# Hot path


async def time_calls(get: Getter, calls: int) -> tuple[float, float]:
    """Wall and CPU seconds taken by ``calls`` sequential ``await get()`` calls."""
    wall, cpu = clocks()
    for _ in range(calls):
        await get()
    wall_end, cpu_end = clocks()
    return wall_end - wall, cpu_end - cpu


async def hot_path(
    keys: Sequence[str],
    backend: str,
    *,
    calls: int,
    aiobotocore_calls: int,
    batches: int,
) -> dict[str, dict[str, Any]]:
    """ns per call of each contender, with fresh credentials.

    Each contender makes ``calls`` calls (``aiobotocore_calls`` for aiobotocore's
    classes, which are about a hundred times slower) split into ``batches``
    batches. The contenders take turns batch by batch, so a slow spell of the
    machine hits them all. The figure is the median batch.
    """
    sts = FakeSTS()
    getters: dict[str, Getter] = {}
    contenders: list[Contender] = []
    for key in keys:
        if key == FLOOR:
            getters[key] = deadline_floor()
            continue
        contender = await build_contender(key, backend, sts)
        contenders.append(contender)
        getters[key] = contender.get
    per_batch = {
        key: max(1, (aiobotocore_calls if key in AIOBOTOCORE_CONTENDERS else calls) // batches)
        for key in keys
    }
    wall_ns: dict[str, list[float]] = {key: [] for key in keys}
    cpu_ns: dict[str, list[float]] = {key: [] for key in keys}
    for key in keys:  # warm-up
        await time_calls(getters[key], min(per_batch[key], 1000))
    order = list(keys)
    with collector_paused():
        for _ in range(batches):
            for key in order:
                wall, cpu = await time_calls(getters[key], per_batch[key])
                wall_ns[key].append(wall / per_batch[key] * 1e9)
                cpu_ns[key].append(cpu / per_batch[key] * 1e9)
            order = order[1:] + order[:1]
    assert sts.calls == 0, "a contender refreshed on the hot path"
    for contender in contenders:
        await contender.aclose()
    return {
        key: {
            "ns_per_call": statistics.median(cpu_ns[key]),
            "ns_per_call_wall": statistics.median(wall_ns[key]),
            "ns_per_call_best": min(cpu_ns[key]),
            "calls": per_batch[key] * batches,
            "batches": batches,
            "batch_cpu_ns": cpu_ns[key],
            "batch_wall_ns": wall_ns[key],
        }
        for key in keys
    }


# ---------------------------------------------------------------------------
# Storms


async def run_together(
    backend: str, tasks: Sequence[Task], *, stop: Callable[[], bool] | None = None
) -> bool:
    """Run ``tasks`` concurrently, started in order, until all finish.

    The tasks are spawned with the backend's own primitives (``create_task``,
    a trio nursery): anyio's task groups cost several times more per task,
    which would bury the storms' figures in set-up time. When ``stop`` is
    given it is polled every 50 ms; once it returns True the tasks still
    running are cancelled. Returns whether that happened.
    """
    if backend == "trio":
        import trio

        cut_short = False
        async with trio.open_nursery() as nursery:
            for task in tasks:
                nursery.start_soon(task)
            while stop is not None and nursery.child_tasks:
                await trio.sleep(0.05)
                if stop():
                    cut_short = True
                    nursery.cancel_scope.cancel()
                    break
        return cut_short
    loop = asyncio.get_running_loop()
    running: list[asyncio.Future[None]] = [
        asyncio.ensure_future(task(), loop=loop) for task in tasks
    ]
    all_done = loop.create_task(asyncio.wait(running))
    pending: list[asyncio.Future[None]] = []
    while not all_done.done():
        await asyncio.wait({all_done}, timeout=None if stop is None else 0.05)
        if stop is not None and not all_done.done() and stop():
            pending = [future for future in running if not future.done()]
            for future in pending:
                future.cancel()
            await all_done
    for future in running:
        if not future.cancelled():
            future.result()  # a failure in the harness itself must not pass unseen
    return bool(pending)


def _release_figures(
    answer: tuple[float, float] | None, last: tuple[float, float] | None
) -> dict[str, float | None]:
    if answer is None or last is None:
        return {"release_after_answer_s": None, "release_after_answer_wall_s": None}
    return {
        "release_after_answer_s": last[1] - answer[1],
        "release_after_answer_wall_s": last[0] - answer[0],
    }


async def _storm(
    contender: Contender,
    backend: str,
    waiters: int,
    *,
    budget: float | None = None,
    gc_on: bool = False,
) -> dict[str, Any]:
    """``waiters`` tasks ask ``contender`` for credentials at once.

    With ``budget`` (seconds), the waiters still waiting that long after the
    source's first answer are cancelled, and counted as unserved. With
    ``gc_on``, the garbage collector stays on during the storm.
    """
    sts = contender.sts
    get = contender.get
    ok = errors = arrived = 0
    last: tuple[float, float] | None = None
    arrived_at_answer: list[int] = []

    async def waiter() -> None:
        nonlocal ok, errors, arrived, last
        arrived += 1
        try:
            await get()
        except Exception:
            errors += 1
        else:
            ok += 1
        if ok + errors == waiters:
            last = clocks()

    def count_arrivals() -> None:
        arrived_at_answer.append(arrived)

    def out_of_budget() -> bool:
        answer = sts.first_answer
        return (
            budget is not None and answer is not None and time.perf_counter() > answer[0] + budget
        )

    sts.on_answer = count_arrivals
    with collector_paused(gc_on=gc_on):
        started = time.perf_counter()
        cut_short = await run_together(
            backend, [waiter] * waiters, stop=None if budget is None else out_of_budget
        )
        finished = time.perf_counter()
    return {
        "waiters": waiters,
        "source_calls": sts.calls,
        "prompts": contender.tokens.prompts,
        "got_credentials": ok,
        "got_error": errors,
        "unserved": waiters - ok - errors,
        "arrived_before_answer": arrived_at_answer[0] if arrived_at_answer else None,
        **_release_figures(sts.first_answer, last),
        "wall_s": finished - started,
        "budget_s": budget,
        "cut_short": cut_short,
    }


async def event_floor(
    backend: str,
    waiters: int,
    *,
    latency: float = STS_LATENCY,
    raising: bool = False,
    gc_on: bool = False,
) -> dict[str, Any]:
    """The storm floor: ``waiters`` tasks wait on one ``anyio.Event``, set once.

    A "source" task sleeps ``latency`` seconds and sets the event; the figure
    is the time from the set to the last waiter's release. With ``raising``,
    each waiter awaits a coroutine that waits on the event and then raises a
    new exception, which the waiter catches: the least that delivering one
    error to each waiter costs. With ``gc_on``, the garbage collector stays on.
    """
    event = anyio.Event()
    released = errors = 0
    answer: tuple[float, float] | None = None
    last: tuple[float, float] | None = None

    async def wait_then_raise() -> None:
        await event.wait()
        raise CredentialsError("the refresh failed")

    async def waiter() -> None:
        nonlocal released, errors, last
        if raising:
            try:
                await wait_then_raise()
            except Exception:
                errors += 1
        else:
            await event.wait()
            released += 1
        if released + errors == waiters:
            last = clocks()

    async def source() -> None:
        nonlocal answer
        await anyio.sleep(latency)
        answer = clocks()
        event.set()

    with collector_paused(gc_on=gc_on):
        started = time.perf_counter()
        await run_together(backend, [*([waiter] * waiters), source])
        finished = time.perf_counter()
    return {
        "waiters": waiters,
        "source_calls": 1,
        "prompts": 0,
        "got_credentials": released,
        "got_error": errors,
        "unserved": waiters - released - errors,
        **_release_figures(answer, last),
        "wall_s": finished - started,
        "budget_s": None,
        "cut_short": False,
    }


async def success_storm(
    key: str, backend: str, waiters: int, *, latency: float = STS_LATENCY, gc_on: bool = False
) -> dict[str, Any]:
    """``waiters`` tasks arrive together on expired credentials; the source answers in 50 ms.

    With ``gc_on``, the garbage collector stays on during the storm.
    """
    if key == FLOOR:
        return await event_floor(backend, waiters, latency=latency, gc_on=gc_on)
    contender = await build_expired_contender(key, backend, FakeSTS(latency=latency))
    try:
        return await _storm(contender, backend, waiters, gc_on=gc_on)
    finally:
        await contender.aclose()


async def failure_storm(
    key: str,
    backend: str,
    waiters: int,
    *,
    budget: float | None = None,
    latency: float = STS_LATENCY,
    gc_on: bool = False,
) -> dict[str, Any]:
    """As the success storm, but the source fails (Throttling) after 50 ms.

    ``budget`` bounds the run: aiobotocore makes one 50 ms refresh per
    waiter, one after the other, so it is cut short ``budget`` seconds after
    the first failure and what it delivered by then is reported. With
    ``gc_on``, the garbage collector stays on during the storm.
    """
    if key in (FLOOR, RAISE_FLOOR):
        return await event_floor(
            backend, waiters, latency=latency, raising=key == RAISE_FLOOR, gc_on=gc_on
        )
    sts = FakeSTS(latency=latency)
    contender = await build_expired_contender(key, backend, sts)
    sts.fail = True
    try:
        return await _storm(contender, backend, waiters, budget=budget, gc_on=gc_on)
    finally:
        await contender.aclose()


async def cancellation_storm(
    key: str, backend: str, waiters: int, *, seed: int = 4, latency: float = STS_LATENCY
) -> dict[str, Any]:
    """``waiters`` tasks wait on a refresh; half of them, the leader included, are cancelled.

    The leader is the first task to ask. The cancellations happen while the
    source is still working: it waits for them, then 50 ms more, before it
    answers. The survivors must all get credentials.
    """
    sts = FakeSTS(latency=latency)
    contender = await build_expired_contender(key, backend, sts)
    gate = sts.gate = anyio.Event()
    get = contender.get
    scopes: list[anyio.CancelScope | None] = [None] * waiters
    arrivals: list[int] = []
    all_arrived = anyio.Event()
    victims: set[int] = set()
    survivors_ok = survivors_failed = victims_cancelled = victims_served = 0

    async def waiter(index: int) -> None:
        nonlocal survivors_ok, survivors_failed, victims_cancelled, victims_served
        outcome = "cancelled"
        with anyio.CancelScope() as scope:
            scopes[index] = scope
            arrivals.append(index)
            if len(arrivals) == waiters:
                all_arrived.set()
            try:
                await get()
            except Exception:
                outcome = "failed"
            else:
                outcome = "ok"
        if index in victims:
            if outcome == "cancelled":
                victims_cancelled += 1
            else:
                victims_served += 1
        elif outcome == "ok":
            survivors_ok += 1
        else:
            survivors_failed += 1

    async def canceller() -> None:
        await sts.entered.wait()
        await all_arrived.wait()
        leader = arrivals[0]
        others = [index for index in range(waiters) if index != leader]
        chosen = [leader, *random.Random(seed).sample(others, waiters // 2 - 1)]
        victims.update(chosen)
        for index in chosen:
            scope = scopes[index]
            assert scope is not None
            scope.cancel()
        await anyio.sleep(latency)
        gate.set()

    tasks = [functools.partial(waiter, index) for index in range(waiters)]
    try:
        with collector_paused():
            started = time.perf_counter()
            await run_together(backend, [canceller, *tasks])
            finished = time.perf_counter()
    finally:
        await contender.aclose()
    return {
        "waiters": waiters,
        "cancelled": len(victims),
        "leader_cancelled": bool(arrivals) and arrivals[0] in victims,
        "source_calls": sts.calls,
        "prompts": contender.tokens.prompts,
        "survivors": waiters - len(victims),
        "survivors_got_credentials": survivors_ok,
        "survivors_failed": survivors_failed,
        "cancelled_returned": victims_cancelled,
        "cancelled_but_served": victims_served,
        "wall_s": finished - started,
    }
