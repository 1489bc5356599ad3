"""The hook protocol, the process-wide list of hooks, and the delivery of events to them.

Delivery is synchronous, on the event loop, from the task that runs the refresh.
A refresh builds its events only when some hook is in force: with ``set_hooks([])``
nothing is built at all, and the hot path (fresh credentials) never comes here.

A hook that raises, or that takes longer than :data:`HOOK_TIME_BUDGET` for one
event, is logged once and not called again for the rest of that refresh: the
events of one refresh (started, MFA prompt, shared cache, issued, finished,
backoff) go through one :class:`Emitter`, which drops the hook. The next refresh
calls it again. A synchronous hook cannot be interrupted: the budget is checked
after the call returns, so a hook that blocks has blocked once, not for every
event after it. Neither case ever changes what callers get.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import time
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from .._errors import ConfigurationError
from ._events import Event

__all__ = [
    "HOOK_TIME_BUDGET",
    "Emitter",
    "Hook",
    "current_refresh",
    "detach_refresh",
    "emitter_for",
    "get_hooks",
    "set_hooks",
]

log = logging.getLogger("aiostscreds.instrumentation")

HOOK_TIME_BUDGET = 0.1
"""Seconds one hook may take for one event before it is dropped for the rest of the refresh."""


@runtime_checkable
class Hook(Protocol):
    """Anything called with each event: ``hook(event) -> None``.

    Called synchronously on the event loop (or in the thread that runs the
    refresh): it must return quickly and must not block. What it raises is
    logged and ignored; see :func:`set_hooks`.
    """

    def __call__(self, event: Event) -> None:
        """Handle one event."""
        ...


def _default_hooks() -> tuple[Hook, ...]:
    from ._logging import LoggingHook

    return (LoggingHook(),)


_hooks: tuple[Hook, ...] = _default_hooks()


def set_hooks(hooks: Iterable[Hook]) -> None:
    """Replace the process-wide hooks, which every cache without ``hooks=`` of its own uses.

    The default is ``[LoggingHook()]``, which writes the library's log lines;
    ``set_hooks([])`` silences them and turns event building off. To add a hook
    and keep the log lines: ``set_hooks([*get_hooks(), PrometheusHook()])``.

    Raises:
        ConfigurationError: An item is not callable, or is async (hooks are called synchronously).
    """
    global _hooks
    _hooks = check_hooks(hooks, parameter="hooks")


def get_hooks() -> tuple[Hook, ...]:
    """The process-wide hooks in force."""
    return _hooks


def check_hooks(hooks: object, *, parameter: str) -> tuple[Hook, ...]:
    """``hooks`` as a tuple of callables, or ConfigurationError naming ``parameter``."""
    if isinstance(hooks, (str, bytes)) or not isinstance(hooks, Iterable):
        raise ConfigurationError(
            f"{parameter} must be a list of hooks (callables taking one event), "
            f"got {type(hooks).__name__}"
        )
    from .._tokens import is_async_callable  # _tokens reports through this module

    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise ConfigurationError(
                f"{parameter} must hold callables taking one event; got a {type(hook).__name__}"
            )
        if is_async_callable(hook):
            # Called synchronously, it would make a coroutine nobody awaits: lost events.
            raise ConfigurationError(
                f"{parameter} must hold synchronous callables; {hook!r} is async"
            )
    return checked


_refresh_ids = itertools.count(1)
_current: contextvars.ContextVar[Emitter | None] = contextvars.ContextVar(
    "aiostscreds_refresh", default=None
)


class Emitter:
    """Delivers the events of one refresh (or of one lone event) to the hooks in force.

    Attributes:
        kind: The kind of source, for every event.
        role_arn: The role, or None.
        refresh_id: The refresh's id; None for events outside a refresh.
    """

    __slots__ = ("_hooks", "_token", "kind", "refresh_id", "role_arn")

    def __init__(
        self, hooks: tuple[Hook, ...], kind: str, role_arn: str | None, refresh_id: int | None
    ) -> None:
        self._hooks = hooks
        self.kind = kind
        self.role_arn = role_arn
        self.refresh_id = refresh_id
        self._token: contextvars.Token[Emitter | None] | None = None

    @classmethod
    def for_refresh(
        cls, hooks: tuple[Hook, ...] | None, kind: str, role_arn: str | None
    ) -> Emitter | None:
        """An emitter for a new refresh, or None when no hook is in force (nothing to build).

        ``hooks`` are a cache's own, or None for the process-wide ones.
        """
        return cls._made(hooks, kind, role_arn, refresh=True)

    @classmethod
    def lone(
        cls, hooks: tuple[Hook, ...] | None, kind: str, role_arn: str | None
    ) -> Emitter | None:
        """An emitter for events outside a refresh, or None when no hook is in force."""
        return cls._made(hooks, kind, role_arn, refresh=False)

    @classmethod
    def _made(
        cls, hooks: tuple[Hook, ...] | None, kind: str, role_arn: str | None, *, refresh: bool
    ) -> Emitter | None:
        in_force = _hooks if hooks is None else hooks
        if not in_force:
            return None
        return cls(in_force, kind, role_arn, next(_refresh_ids) if refresh else None)

    def emit(self, event: Event) -> None:
        """Call each hook with ``event``; drop one that raises or overruns the budget."""
        for hook in self._hooks:
            started = time.perf_counter()
            try:
                hook(event)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as error:
                # A synchronous call cannot be cancelled from outside: a CancelledError
                # (or GeneratorExit...) out of a hook is the hook's own failure.
                self._drop(hook, event, f"raised {type(error).__name__}", error)
                continue
            took = time.perf_counter() - started
            if took > HOOK_TIME_BUDGET:
                why = f"took {took:.3f} s, over its budget of {HOOK_TIME_BUDGET:g} s,"
                self._drop(hook, event, why, None)

    def _drop(self, hook: Hook, event: Event, why: str, error: BaseException | None) -> None:
        self._hooks = tuple(other for other in self._hooks if other is not hook)
        log.warning(
            "instrumentation hook %r %s on %s; not called again for the rest of this %s",
            hook,
            why,
            type(event).__name__,
            "refresh" if self.refresh_id is not None else "event",
            exc_info=error,
        )

    def __enter__(self) -> Emitter:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            _current.reset(token)


def current_refresh() -> Emitter | None:
    """The emitter of the refresh running in this task, if any."""
    return _current.get()


def detach_refresh() -> None:
    """Leave the refresh this task's context was copied from (for a refresh of its own)."""
    if _current.get() is not None:
        _current.set(None)


def emitter_for(kind: str, role_arn: str | None) -> Emitter | None:
    """The refresh running in this task's emitter, else a lone one with the process-wide hooks.

    None when no hook is in force. ``kind`` and ``role_arn`` describe the events
    made outside a refresh; inside one, the refresh's own description wins.
    """
    return _current.get() or Emitter.lone(None, kind, role_arn)
