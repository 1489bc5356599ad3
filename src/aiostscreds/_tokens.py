"""MFA codes: one token-provider call at a time, off the event loop."""

from __future__ import annotations

import contextvars
import datetime as dt
import inspect
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio

from ._crossloop import Lock, Signal
from ._errors import ConfigurationError, TokenProviderError
from ._validation import check_string, check_token_code
from .instrumentation._events import MFAPromptFinished, MFAPromptStarted
from .instrumentation._hooks import Emitter, emitter_for

__all__ = ["TokenProvider", "MFACodes"]

TokenProvider = Callable[[str], str | Awaitable[str]]
"""A callable that takes the MFA device's serial number and returns a code.

``async def`` functions, and objects with an ``async def __call__``, are
awaited on the event loop, and cancelled when the wait for them is. Any other
callable runs in a daemon thread of its own; such a call cannot be cancelled,
so a wait that gives up on it leaves it running, and the next code is its answer.
"""

_SIX_DIGITS = re.compile(r"[0-9]{6}", re.ASCII)


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` gives a coroutine, judged without calling it."""
    call = getattr(fn, "__call__", None)  # noqa: B004 - the method itself is inspected
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


class _BlockingCall:
    """One call of a blocking token provider, in a daemon thread of its own.

    A daemon thread, not one of anyio's workers: interpreter exit (after Ctrl-C,
    say) must not wait for a hardware token or a prompt that nobody answers.
    The outcome stays here until a refresh takes it, however late it comes.
    """

    __slots__ = ("_answer", "_error", "done")

    def __init__(self, provider: Callable[[str], object], serial_number: str) -> None:
        self.done = Signal()
        self._answer: object = None
        self._error: BaseException | None = None
        context = contextvars.copy_context()
        threading.Thread(
            target=self._run,
            args=(context, provider, serial_number),
            name=f"aiostscreds token provider for {serial_number}",
            daemon=True,
        ).start()

    def _run(
        self,
        context: contextvars.Context,
        provider: Callable[[str], object],
        serial_number: str,
    ) -> None:
        try:
            self._answer = context.run(provider, serial_number)
        except BaseException as error:  # handed to the refresh that takes the outcome
            self._error = error
        finally:
            self.done.set()

    def take(self) -> object:
        """The provider's answer; raises what the provider raised. Call once, when done."""
        self.done.close()
        error, self._error = self._error, None
        answer, self._answer = self._answer, None
        if error is not None:
            raise error
        return answer


class MFACodes:
    """Hands out one MFA code per STS call, from a provider or a single static code.

    The provider is called at most once at a time, and never again while a
    blocking call that a timed-out or cancelled refresh gave up on is still
    running: the next refresh waits for that call's answer, or takes it if it
    has come, and each answer serves one STS call only.
    """

    def __init__(
        self,
        serial_number: str,
        *,
        token_code: str | None,
        token_provider: TokenProvider | None,
        timeout: dt.timedelta | None,
    ) -> None:
        self.serial_number = check_string(
            serial_number, parameter="serial_number", shape="serialNumberType"
        )
        if token_provider is None and token_code is None:
            raise ConfigurationError(
                "serial_number is set but neither token_code nor token_provider is: "
                "pass token_provider= (for example aiostscreds.terminal_token_provider) "
                "so each refresh can get a new MFA code"
            )
        if token_provider is not None and not callable(token_provider):
            raise ConfigurationError("token_provider must be callable")
        if token_code is not None:
            check_token_code(token_code)
        self._provider = token_provider
        # A static code works once: STS rejects a TOTP code that was already used.
        self._static_code = None if token_provider is not None else token_code
        self._timeout = None if timeout is None else timeout.total_seconds()
        # One provider call in flight at a time, whatever the loop or thread asking.
        self._lock = Lock()
        self._blocking_call: _BlockingCall | None = None

    async def next_code(self) -> str:
        """A code for the next STS call. Raises :class:`TokenProviderError`."""
        if self._provider is None:
            code, self._static_code = self._static_code, None
            if code is None:
                raise TokenProviderError(
                    f"the static token_code for {self.serial_number} was already used by an "
                    "earlier STS call; a refresh needs a new MFA code, so pass token_provider="
                )
            return code
        emitter = emitter_for("custom", None)
        if emitter is None:  # no hooks: nothing to report
            # The answer never becomes a local of a frame that raises: it may be a code.
            return _checked(await self._answer(self._provider), self.serial_number)
        return await self._observed(emitter, self._provider)

    async def _observed(self, emitter: Emitter, provider: TokenProvider) -> str:
        """:meth:`next_code` with a token provider, reported to the instrumentation hooks."""
        kind, role_arn, refresh_id = emitter.kind, emitter.role_arn, emitter.refresh_id
        emitter.emit(MFAPromptStarted(kind=kind, role_arn=role_arn, refresh_id=refresh_id))
        started = time.monotonic()
        outcome: Literal["answered", "failed", "timed_out"] = "failed"
        try:
            # The answer never becomes a local of a frame that raises: it may be a code.
            code = _checked(await self._answer(provider), self.serial_number)
            outcome = "answered"
            return code
        except TokenProviderError as error:
            if _timed_out(error):
                outcome = "timed_out"
            raise
        finally:
            emitter.emit(
                MFAPromptFinished(
                    kind=kind,
                    role_arn=role_arn,
                    refresh_id=refresh_id,
                    outcome=outcome,
                    duration=time.monotonic() - started,
                )
            )

    async def _answer(self, provider: TokenProvider) -> object:
        # A cancel scope, not fail_after: a TimeoutError the provider raises itself is
        # the provider's error, and only the scope knows whether token_timeout fired.
        try:
            with anyio.move_on_after(self._timeout) as scope:
                async with self._lock:
                    return await self._ask(provider)
        except TokenProviderError:
            raise
        except Exception as error:
            raise TokenProviderError(
                f"the token provider for {self.serial_number} raised {type(error).__name__}"
            ) from error
        # Only token_timeout's deadline ends the block without a return or an exception.
        assert scope.cancelled_caught
        raise TokenProviderError(
            f"the token provider gave no MFA code for {self.serial_number} "
            f"within token_timeout ({self._timeout:g} s)"
        )

    async def _ask(self, provider: TokenProvider) -> object:
        # Called with self._lock held: one provider call at a time, ever.
        if is_async_callable(provider):
            # Cancelling the wait (token_timeout, aclose()) cancels the call itself.
            return await provider(self.serial_number)  # type: ignore[misc]
        # A blocking call cannot be cancelled. One left running by a wait that
        # gave up is waited for (or its answer taken) instead of starting another.
        call = self._blocking_call
        if call is None:
            call = self._blocking_call = _BlockingCall(provider, self.serial_number)
        await call.done.wait()
        self._blocking_call = None
        return call.take()


def is_mfa_code(text: str) -> bool:
    """Whether ``text`` is what STS takes as an MFA code: exactly six ASCII digits."""
    return _SIX_DIGITS.fullmatch(text) is not None


def _timed_out(error: TokenProviderError) -> bool:
    # token_timeout firing is told from the provider's own failures by its message,
    # which names the parameter (a provider's own TimeoutError is chained instead).
    return error.__cause__ is None and "within token_timeout" in str(error)


def _checked(answer: object, serial_number: str) -> str:
    if isinstance(answer, str) and is_mfa_code(answer):
        return answer
    if inspect.isawaitable(answer):
        if inspect.iscoroutine(answer):
            answer.close()
        raise TokenProviderError(
            "the token provider returned an awaitable from a plain function; "
            "make it an async def so it is awaited on the event loop"
        )
    # Never echo the answer, and drop it before raising: it may be a real code
    # with stray whitespace, and error reporters record the locals of frames.
    description = _describe(answer)
    del answer
    raise TokenProviderError(
        f"the token provider for {serial_number} must return exactly "
        f"6 ASCII digits, got {description}"
    )


def _describe(answer: object) -> str:
    if not isinstance(answer, str):
        return f"a {type(answer).__name__}"
    return f"a str of {len(answer)} characters"
