"""The lock and signal that tasks on any event loop, in any thread, can await."""

from __future__ import annotations

import os
import threading

import anyio
import pytest

from aiostscreds._crossloop import Lock, Signal

pytestmark = pytest.mark.anyio


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_waiters_take_the_lock_in_turn() -> None:
    lock = Lock()
    order: list[int] = []
    inside = 0
    most_inside = 0

    async def worker(index: int) -> None:
        nonlocal inside, most_inside
        async with lock:
            inside += 1
            most_inside = max(most_inside, inside)
            order.append(index)
            await anyio.sleep(0.001)
            inside -= 1

    fds = open_fds()
    async with anyio.create_task_group() as tg:
        for index in range(10):
            tg.start_soon(worker, index)
            await anyio.sleep(0.001)  # queue in this order
    assert most_inside == 1 and order == list(range(10))  # first come, first served
    assert not lock.locked()
    assert open_fds() == fds  # every waiter's pipe was closed


async def test_cancelled_waiter_leaves_the_queue() -> None:
    lock = Lock()
    await lock.acquire()
    with anyio.move_on_after(0.01) as scope:
        await lock.acquire()
    assert scope.cancelled_caught
    lock.release()
    assert not lock.locked()  # nobody was handed it


async def test_waiter_cancelled_after_being_handed_the_lock_passes_it_on() -> None:
    lock = Lock()
    await lock.acquire()
    got: list[str] = []

    async def waiter(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            await lock.acquire()
            got.append(name)
            lock.release()

    first, second = anyio.CancelScope(), anyio.CancelScope()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, "first", first)
            await anyio.sleep(0.01)
            tg.start_soon(waiter, "second", second)
            await anyio.sleep(0.01)
            lock.release()  # hands it to "first"...
            first.cancel()  # ...which is cancelled before it runs
    assert got == ["second"]
    assert not lock.locked()


async def test_signal_set_from_another_thread_wakes_the_waiter() -> None:
    signal = Signal()
    threading.Timer(0.01, signal.set).start()
    with anyio.fail_after(10):
        await signal.wait()
    assert signal.is_set()
    signal.close()
    signal.set()  # after close: does nothing
