"""Waiting, without blocking any event loop, for what happens in other threads or loops.

A token provider's thread, or a prompt held by a task on another event loop,
must be able to wake a waiting task on asyncio or trio, in any thread. Each
wake-up is a byte written to a socket pair, awaited with
:func:`anyio.wait_readable`: no loop-bound object is created in advance, and no
thread blocks to wait. A socket, not a pipe: on Windows, event loops (and
anyio) poll sockets only.
"""

from __future__ import annotations

import socket
import threading
import weakref
from collections import deque
from types import TracebackType

import anyio

__all__ = ["Signal", "Lock"]


def _close(reader: socket.socket, writer: socket.socket) -> None:
    reader.close()
    writer.close()


class Signal:
    """A one-shot flag: set from any thread, awaited from any event loop.

    Only one task at a time may wait for a given signal.
    """

    __slots__ = ("__weakref__", "_close", "_is_set", "_lock", "_reader", "_writer")

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._is_set = False
        self._lock = threading.Lock()
        # Closes the sockets when the signal is dropped without close().
        self._close = weakref.finalize(self, _close, self._reader, self._writer)

    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        return self._is_set

    def set(self) -> None:
        """Set the flag and wake the waiter; later calls do nothing."""
        with self._lock:
            if self._is_set or not self._close.alive:
                return
            self._is_set = True
            self._writer.send(b"\0")

    async def wait(self) -> None:
        """Return once the flag is set (at once if it already is)."""
        if not self._is_set:
            await anyio.wait_readable(self._reader)

    def close(self) -> None:
        """Release the sockets. Never call it while a task waits."""
        with self._lock:
            self._close()


class Lock:
    """A first-come, first-served lock for tasks on any event loop, in any thread.

    Waiting for it is a cancellation point that never blocks the loop; a waiter
    cancelled after being handed the lock passes it on.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[Signal] = deque()

    async def acquire(self) -> None:
        """Wait for the lock and take it."""
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = Signal()
            self._waiters.append(waiter)
        try:
            await waiter.wait()
        except BaseException:
            with self._mutex:
                try:
                    self._waiters.remove(waiter)
                    handed_over = False
                except ValueError:
                    handed_over = True
            if handed_over:
                self.release()
            raise
        finally:
            waiter.close()

    def release(self) -> None:
        """Release the lock, handing it to the longest waiter if there is one."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # the lock stays held, by that waiter now
            else:
                self._held = False

    def locked(self) -> bool:
        """Whether some task holds the lock."""
        return self._held

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
