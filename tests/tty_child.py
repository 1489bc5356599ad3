"""A program that prompts for MFA codes on its controlling terminal, for tests/test_terminal_prompt.py.

Run as ``python tty_child.py BACKEND SCENARIO TTY``. Started in a new session,
it opens TTY (a pseudo-terminal's slave) first, which makes it the session's
controlling terminal, so ``/dev/tty`` is that pty; TTY ``-`` leaves the
process without one. It reports on stdout, one JSON object a line; stdin is a
pipe from the test, which the prompt must never read.

With ``TTY_CHILD_REFUSE_DEV_TTY=1`` in the environment the event loop refuses
to poll ``/dev/tty`` exactly as macOS's kqueue does (``OSError(EINVAL)`` when
it is registered) and polls the real device; with ``TTY_CHILD_STDIN_TTY=1``
standard input is the terminal (an interactive shell) instead of a pipe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import json
import os
import selectors
import stat
import sys
import threading
from typing import Any

import anyio
import anyio.to_thread

from aiostscreds import (
    AssumeRoleProvider,
    CredentialsError,
    TokenProviderError,
    terminal_token_provider,
)
from aiostscreds._tokens import MFACodes

SERIAL = "arn:aws:iam::123456789012:mfa/tester"


def report(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def prompt_once() -> None:
    """One prompt, with a task counting loop turns and threads meanwhile.

    After 20 turns of the loop it says so, while the prompt is still waiting:
    a prompt that blocked the loop would never let it.
    """
    threads_before = threading.active_count()
    ticks = 0
    most_threads = threads_before

    async def ticker() -> None:
        nonlocal ticks, most_threads
        while True:
            ticks += 1
            if ticks == 20:
                report(loop_turning=True)
            most_threads = max(most_threads, threading.active_count())
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        code = await terminal_token_provider(SERIAL)
        tg.cancel_scope.cancel()
    report(
        code=code,
        threads_before=threads_before,
        most_threads=most_threads,
        threads_after=threading.active_count(),
        ticks=ticks,
    )


async def timeout_then_late_code() -> None:
    """A refresh whose prompt times out, then the next refresh's prompt."""
    codes = MFACodes(
        SERIAL,
        token_code=None,
        token_provider=terminal_token_provider,
        timeout=dt.timedelta(seconds=0.5),
    )
    try:
        await codes.next_code()
    except TokenProviderError as error:
        report(error=str(error))
    sys.stdin.readline()  # the test types the code on the terminal, then says go
    report(code=await codes.next_code())


async def cancelled() -> None:
    with anyio.move_on_after(0.3) as scope:
        await terminal_token_provider(SERIAL)
    report(cancelled=scope.cancelled_caught)
    sys.stdin.readline()  # stay alive while the test looks at the terminal


async def forever() -> None:
    await terminal_token_provider(SERIAL)
    report(returned=True)


async def prompt_error() -> None:
    try:
        await terminal_token_provider(SERIAL)
    except TokenProviderError as error:
        report(error=str(error))


async def two_at_once() -> None:
    """A prompt on this event loop and one on another loop in another thread."""
    other = "trio" if sys.argv[1] == "asyncio" else "asyncio"
    codes: list[str] = []
    thread = threading.Thread(
        target=lambda: codes.append(anyio.run(terminal_token_provider, SERIAL, backend=other))
    )
    thread.start()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks == 20:
                report(loop_turning=True)
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        codes.append(await terminal_token_provider(SERIAL))
        tg.cancel_scope.cancel()
    await anyio.to_thread.run_sync(thread.join)
    report(codes=sorted(codes))


def sts_client() -> Any:
    """A real STS client for moto's server, whose URL is in STS_ENDPOINT."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    config = AioConfig()
    if sys.argv[1] == "trio":
        from aiobotocore.httpxsession import HttpxSession

        config = AioConfig(http_session_cls=HttpxSession)
    return AioSession().create_client(
        "sts", endpoint_url=os.environ["STS_ENDPOINT"], config=config
    )


async def assume_role() -> None:
    """AssumeRole with the prompt's code; then a second refresh, closed mid-prompt."""
    async with sts_client() as client:
        provider = AssumeRoleProvider(
            client,
            "arn:aws:iam::123456789012:role/aiostscreds-test",
            serial_number=SERIAL,
            token_provider=terminal_token_provider,
        )
        credentials = await provider.force_refresh()
        report(assumed=credentials.access_key_id.startswith("ASIA"))
        errors: list[str] = []

        async def caller() -> None:
            try:
                await provider.force_refresh()
            except CredentialsError as error:
                errors.append(type(error).__name__)

        async with anyio.create_task_group() as tg:
            tg.start_soon(caller)
            await anyio.wait_readable(sys.stdin.fileno())  # the test saw the second prompt
            sys.stdin.readline()
            await provider.aclose()
        report(errors=errors)
        sys.stdin.readline()  # stay alive while the test looks at the terminal


SCENARIOS = {
    "assume-role": assume_role,
    "two": two_at_once,
    "prompt": prompt_once,
    "timeout": timeout_then_late_code,
    "cancel": cancelled,
    "forever": forever,
    "no-terminal": prompt_error,
    "prompt-error": prompt_error,
    "eof": prompt_error,
}

def is_dev_tty(fd: Any) -> bool:
    """Whether ``fd`` was opened through the ``/dev/tty`` alias (not the real device).

    With ``TTY_CHILD_REFUSE_DEV_TTY=all``: whether ``fd`` is any terminal.
    """
    number = fd if isinstance(fd, int) else fd.fileno()
    if os.environ.get("TTY_CHILD_REFUSE_DEV_TTY") == "all":
        return os.isatty(number)
    mode = os.fstat(number)
    return stat.S_ISCHR(mode.st_mode) and mode.st_rdev == os.stat("/dev/tty").st_rdev


def refuse_dev_tty(backend: str) -> None:
    """Make the event loop refuse ``/dev/tty`` as kqueue does: EINVAL at registration."""

    def refused() -> OSError:
        return OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    if backend == "asyncio":

        class KqueueLikeSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
            def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
                if is_dev_tty(fileobj):
                    raise refused()
                return super().register(fileobj, events, data)

        class Policy(asyncio.DefaultEventLoopPolicy):
            def new_event_loop(self) -> asyncio.AbstractEventLoop:
                return asyncio.SelectorEventLoop(KqueueLikeSelector())

        asyncio.set_event_loop_policy(Policy())
    else:
        # Trio on macOS registers with kqueue inside wait_readable/wait_writable.
        from anyio._backends import _trio

        def refusing(wait: Any) -> Any:
            async def wait_for(fd: Any) -> None:
                if is_dev_tty(fd):
                    raise refused()
                await wait(fd)

            return wait_for

        _trio.wait_readable = refusing(_trio.wait_readable)  # type: ignore[attr-defined]
        _trio.wait_writable = refusing(_trio.wait_writable)  # type: ignore[attr-defined]


if __name__ == "__main__":
    backend, scenario, tty = sys.argv[1:4]
    if tty != "-":
        # A session leader without a controlling terminal acquires the first one it opens.
        terminal = os.open(tty, os.O_RDWR)
        if os.environ.get("TTY_CHILD_STDIN_TTY") == "1":
            os.dup2(terminal, 0)
        os.close(terminal)
    if os.environ.get("TTY_CHILD_REFUSE_DEV_TTY") in ("1", "all"):
        refuse_dev_tty(backend)
    anyio.run(SCENARIOS[scenario], backend=backend)
