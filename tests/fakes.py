"""Fakes for the core's unit tests: a scripted credential source and a clock."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio

from aiostscreds import Credentials, RefreshError

T0 = 1_800_000_000.0  # a fixed epoch second for the fake clock

_serial = itertools.count(1)


class FakeClock:
    """Epoch seconds that only move when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_credentials(expires_at: float, key: str | None = None) -> Credentials:
    n = next(_serial)
    return Credentials(
        access_key_id=key or f"ASIAFAKE{n:012d}",
        secret_access_key=f"fake-secret-{n}",
        session_token=f"fake-token-{n}",
        expiration=dt.datetime.fromtimestamp(expires_at, dt.timezone.utc),
        account_id="123456789012",
    )


Outcome = Callable[["FakeSource"], Credentials]


def fresh(lifetime: float = 900.0, key: str | None = None) -> Outcome:
    """An outcome: credentials that live ``lifetime`` seconds from the clock's now."""
    return lambda source: make_credentials(source.clock() + lifetime, key)


def stale() -> Outcome:
    """An outcome: credentials whose expiration is already past."""
    return lambda source: make_credentials(source.clock() - 1)


def failing(recoverable: bool = True, code: str = "Throttling") -> Outcome:
    """An outcome: a failed refresh."""

    def outcome(source: FakeSource) -> Credentials:
        raise RefreshError(f"fake failure {code}", recoverable=recoverable, code=code)

    return outcome


class FakeSource:
    """A credential source that plays scripted outcomes and counts its calls.

    With ``hold()``, each retrieve waits until ``release()`` so a test can pile
    up waiters behind one refresh.
    """

    def __init__(self, clock: FakeClock, *outcomes: Outcome, default: Outcome | None = None):
        self.clock = clock
        self.outcomes: deque[Outcome] = deque(outcomes)
        self.default = default
        self.calls = 0
        self.started = 0
        self.finished = 0
        self._gate: anyio.Event | None = None
        self.entered: anyio.Event | None = None

    def script(self, *outcomes: Outcome) -> None:
        self.outcomes.extend(outcomes)

    def hold(self) -> None:
        self._gate = anyio.Event()
        self.entered = anyio.Event()

    def release(self) -> None:
        assert self._gate is not None
        self._gate.set()

    async def retrieve(self) -> Credentials:
        self.calls += 1
        self.started += 1
        if self.entered is not None:
            self.entered.set()
        if self._gate is not None:
            await self._gate.wait()
        outcome = self.outcomes.popleft() if self.outcomes else self.default
        assert outcome is not None, "the source was called more often than scripted"
        try:
            return outcome(self)
        finally:
            self.finished += 1


class LoopTicks:
    """Counts the turns the event loop gives a task while other work blocks or waits.

    Run ``ticks.run`` in a task group and cancel it afterwards: a count that
    kept growing proves the loop was never stalled.
    """

    def __init__(self) -> None:
        self.count = 0

    async def run(self) -> None:
        while True:
            self.count += 1
            await anyio.sleep(0.005)


class Recorder:
    """An instrumentation hook that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def __call__(self, event: object) -> None:
        self.events.append(event)

    def of(self, cls: type) -> list[Any]:
        """The events of class ``cls``, in order."""
        return [event for event in self.events if isinstance(event, cls)]
