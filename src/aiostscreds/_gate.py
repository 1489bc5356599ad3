"""A one-shot gate that many tasks wait on, opened once, releasing them a batch at a time.

It does what ``anyio.Event`` does for the single-flight engine's waiters, with
less allocated per waiter, which counts when the garbage collector is on:

- A waiter awaits the backend's own primitive directly (an asyncio future, or
  trio's ``wait_task_rescheduled``), not a chain of ``wait()`` coroutines: one
  object kept alive per waiter where ``anyio.Event`` keeps three or four.
- Opening wakes the waiters ``_BATCH`` at a time, the next batch from a
  callback queued behind the one just woken. Waking N tasks at once allocates
  N wake-up objects (asyncio handles, trio outcomes) that all live until their
  task runs. At N = 100,000 they outlive enough young collections to reach the
  oldest generation, and their number then sets off a full collection of the
  whole heap in the middle of the release. Woken a batch at a time, they are
  freed as fast as they are made.

The order of release is the order of arrival, as with ``anyio.Event``.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable
from typing import Any, Protocol

__all__ = ["Gate", "new_gate"]

_BATCH = 128
"""Waiters woken per turn of the event loop once the gate opens."""


class Gate(Protocol):
    """What the engine needs of a gate."""

    def is_open(self) -> bool:
        """Whether :meth:`open` was called."""
        ...

    def wait(self) -> Awaitable[None]:
        """Register the calling task; await the result at once to wait for :meth:`open`."""
        ...

    def open(self) -> None:
        """Release every waiter, a batch per turn of the event loop."""
        ...


class _AsyncioGate:
    __slots__ = ("_loop", "_opened", "_waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._opened = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def is_open(self) -> bool:
        return self._opened

    def wait(self) -> Awaitable[None]:
        if self._opened:
            return asyncio.sleep(0)
        # Cancelling the waiting task cancels this future; _release skips it.
        future = self._loop.create_future()
        self._waiters.append(future)
        return future

    def open(self) -> None:
        if not self._opened:
            self._opened = True
            self._release()

    def _release(self) -> None:
        waiters = self._waiters
        left = _BATCH
        while waiters and left:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)
                left -= 1
        if waiters:
            # Queued behind the wake-ups just made: it runs once those tasks have.
            self._loop.call_soon(self._release)


class _TrioGate:
    __slots__ = ("_opened", "_token", "_waiters")

    def __init__(self) -> None:
        import trio

        self._opened = False
        self._token = trio.lowlevel.current_trio_token()
        # An OrderedDict, as trio's ParkingLot uses: O(1) removal on abort.
        self._waiters: collections.OrderedDict[Any, None] = collections.OrderedDict()

    def is_open(self) -> bool:
        return self._opened

    def wait(self) -> Awaitable[None]:
        import trio

        # Returned, not awaited here: a coroutine less per waiter. The caller awaits it.
        if self._opened:
            return trio.lowlevel.checkpoint()  # noqa: ASYNC105
        task = trio.lowlevel.current_task()
        waiters = self._waiters
        waiters[task] = None

        def abort(_: object) -> trio.lowlevel.Abort:
            del waiters[task]
            return trio.lowlevel.Abort.SUCCEEDED

        return trio.lowlevel.wait_task_rescheduled(abort)  # noqa: ASYNC105

    def open(self) -> None:
        if not self._opened:
            self._opened = True
            self._release()

    def _release(self) -> None:
        import trio

        waiters = self._waiters
        left = _BATCH
        while waiters and left:
            task, _ = waiters.popitem(last=False)
            trio.lowlevel.reschedule(task)
            left -= 1
        if waiters:
            self._token.run_sync_soon(self._release)


def new_gate(loop: object) -> Gate:
    """A closed gate for tasks of ``loop`` (an asyncio loop, or trio's native token)."""
    if isinstance(loop, asyncio.AbstractEventLoop):
        return _AsyncioGate(loop)
    return _TrioGate()
