"""The lock and signal that tasks on any event loop, in any thread, can await."""

from __future__ import annotations

import errno
import os
import stat
import threading
from typing import Any

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
    assert open_fds() == fds  # every waiter's socket pair was closed


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


@pytest.fixture
def sockets_only(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``anyio.wait_readable`` as on Windows: sockets only, anything else refused.

    Returns the list of refusals, which stays empty when only sockets are awaited.
    """
    real = anyio.wait_readable
    refused: list[int] = []

    async def wait_readable(obj: Any) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            refused.append(fd)
            # What select() on Windows says of a pipe (WSAENOTSOCK).
            raise OSError(
                errno.ENOTSOCK, "An operation was attempted on something that is not a socket"
            )
        await real(obj)

    monkeypatch.setattr(anyio, "wait_readable", wait_readable)
    return refused


async def test_a_sync_token_provider_works_where_only_sockets_can_be_awaited(
    sockets_only: list[int], sts_client: Any
) -> None:
    from aiostscreds import AssumeRoleProvider

    from .conftest import MFA_SERIAL, ROLE_ARN

    asked: list[str] = []
    answer = threading.Event()

    def sync_provider(serial_number: str) -> str:  # run in a thread of its own
        asked.append(serial_number)
        answer.wait()  # until the refresh is surely awaiting this thread
        return "123456"

    async def answer_once_awaited() -> None:
        await anyio.wait_all_tasks_blocked()  # the refresh awaits the thread's signal
        answer.set()

    provider = AssumeRoleProvider(
        sts_client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=sync_provider
    )
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(answer_once_awaited)
                credentials = await provider.force_refresh()
    finally:
        answer.set()
        await provider.aclose()
    assert credentials.access_key_id.startswith("ASIA")
    assert asked == [MFA_SERIAL]
    assert sockets_only == []


async def test_the_lock_and_signal_wait_on_sockets_only(sockets_only: list[int]) -> None:
    lock = Lock()
    await lock.acquire()
    threading.Timer(0.01, lock.release).start()  # from another thread
    with anyio.fail_after(10):
        await lock.acquire()
    lock.release()
    signal = Signal()
    threading.Timer(0.01, signal.set).start()
    with anyio.fail_after(10):
        await signal.wait()
    signal.close()
    assert sockets_only == []
