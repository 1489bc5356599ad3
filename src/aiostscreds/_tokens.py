"""MFA codes: calling token providers off the event loop, and the stdin prompt."""

from __future__ import annotations

import datetime as dt
import getpass
import inspect
import re
import sys
import threading
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread

from ._errors import ConfigurationError, TokenProviderError
from ._validation import check_string, check_token_code

__all__ = ["TokenProvider", "MFACodes", "stdin_token_provider"]

TokenProvider = Callable[[str], str | Awaitable[str]]
"""A callable that takes the MFA device's serial number and returns a code.

``async def`` functions, and objects with an ``async def __call__``, are
awaited on the event loop. Any other callable runs in a worker thread.
"""

_SIX_DIGITS = re.compile(r"[0-9]{6}", re.ASCII)


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` gives a coroutine, judged without calling it."""
    call = getattr(fn, "__call__", None)  # noqa: B004 - the method itself is inspected
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


async def _ask(provider: TokenProvider, serial_number: str) -> object:
    if is_async_callable(provider):
        return await provider(serial_number)  # type: ignore[misc]
    # A blocking provider (a prompt, a hardware token) must never stall the loop.
    # If the wait is cancelled, the thread is abandoned and its answer dropped.
    return await anyio.to_thread.run_sync(provider, serial_number, abandon_on_cancel=True)


class MFACodes:
    """Hands out one MFA code per STS call, from a provider or a single static code."""

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
                "pass token_provider= (for example aiostscreds.stdin_token_provider) "
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
        try:
            if self._timeout is None:
                answer = await _ask(self._provider, self.serial_number)
            else:
                with anyio.fail_after(self._timeout):
                    answer = await _ask(self._provider, self.serial_number)
        except TimeoutError:
            raise TokenProviderError(
                f"the token provider gave no MFA code for {self.serial_number} "
                f"within token_timeout ({self._timeout:g} s)"
            ) from None
        except TokenProviderError:
            raise
        except Exception as error:
            raise TokenProviderError(
                f"the token provider for {self.serial_number} raised {type(error).__name__}"
            ) from error
        if inspect.isawaitable(answer):
            if inspect.iscoroutine(answer):
                answer.close()
            raise TokenProviderError(
                "the token provider returned an awaitable from a plain function; "
                "make it an async def so it is awaited on the event loop"
            )
        if not isinstance(answer, str) or _SIX_DIGITS.fullmatch(answer) is None:
            # Never echo the answer: it may be a real code with stray whitespace.
            raise TokenProviderError(
                f"the token provider for {self.serial_number} must return exactly "
                f"6 ASCII digits, got {_describe(answer)}"
            )
        return answer


def _describe(answer: object) -> str:
    if not isinstance(answer, str):
        return f"a {type(answer).__name__}"
    return f"a str of {len(answer)} characters"


# One prompt at a time in the whole process, whatever the event loop or thread.
_prompt_lock = threading.Lock()


def _prompt_blocking(serial_number: str) -> str:
    with _prompt_lock:
        return getpass.getpass(f"MFA code for {serial_number}: ", stream=sys.stderr).strip()


async def stdin_token_provider(serial_number: str) -> str:
    """Ask for an MFA code on the controlling terminal.

    Prompts ``"MFA code for <serial>: "`` on the terminal (falling back to stderr
    and stdin when there is none) and reads the answer in a worker thread, so
    the event loop keeps running. Prompts are serialised process-wide: two
    never interleave. Surrounding whitespace in the answer is ignored.
    """
    return await anyio.to_thread.run_sync(_prompt_blocking, serial_number, abandon_on_cancel=True)
