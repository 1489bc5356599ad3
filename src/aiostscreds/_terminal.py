"""The MFA prompt on the controlling terminal, awaited on the event loop where it can be."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import NoReturn

import anyio

try:
    import termios
except ImportError:  # pragma: no cover - Windows: no terminal to prompt on
    _HAVE_TERMIOS = False
else:
    _HAVE_TERMIOS = True

from ._crossloop import Lock, Signal
from ._errors import TokenProviderError
from ._tokens import is_mfa_code

__all__ = ["terminal_token_provider"]

_TERMINAL = "/dev/tty"
# A canonical-mode read returns at most one line, and a line holds at most this much.
_LINE_MAX = 4096
# Malformed answers (not six digits) before the prompt gives up.
_TRIES = 3

# One prompt at a time in the whole process, whatever the event loop or thread.
_prompt_lock = Lock()


async def terminal_token_provider(serial_number: str) -> str:
    """Ask for an MFA code on the controlling terminal.

    Writes ``MFA code for <serial>:`` to the controlling terminal, never to
    stdout or stderr, turns echo off, and reads one line back, with the
    terminal's own line editing (backspace works). The terminal is opened
    through its own device (``os.ttyname`` of whichever of standard input,
    output or error is the controlling terminal), else through ``/dev/tty``.

    The wait is an ordinary await on the event loop, with no thread, so
    cancellation, ``token_timeout``, :meth:`~aiostscreds.AssumeRoleProvider.aclose`
    and Ctrl-C end it at once, on asyncio and trio. Where the loop cannot poll
    the terminal (macOS's kqueue refuses ``/dev/tty``), a worker thread waits
    on ``select()`` instead, and the same four still end the prompt at once.
    The terminal's settings are restored however the prompt ends. What was
    typed but not yet read (a code typed after a prompt timed out, say) stays
    in the terminal's input and answers the next prompt.

    Surrounding whitespace is ignored, and an empty line asks again. An answer
    that is not six digits gets ``That is not six digits.`` and the prompt asks
    again, up to 3 times. Prompts are serialised process-wide: two never
    interleave. Standard input is never read, even when it is a pipe: it may
    carry the program's data.

    Args:
        serial_number: The MFA device, named in the prompt.

    Returns:
        The line typed, without surrounding whitespace.

    Raises:
        TokenProviderError: There is no controlling terminal (a CI job, a
            container, a service), its input ended (Ctrl-D) before a code
            was typed, or 3 answers were not six digits. Pass
            ``token_provider=`` a provider that needs no person there, such
            as :class:`~aiostscreds.TOTPTokenProvider`.
    """
    prompt = f"MFA code for {serial_number}: ".encode(errors="replace")
    async with _prompt_lock:
        fd = _open_terminal()
        try:
            return await _prompt_on(fd, prompt)
        finally:
            os.close(fd)


def _controlling_device() -> str | None:
    """The path of the controlling terminal's own device, if fd 0, 1 or 2 is it."""
    for fd in (0, 1, 2):
        try:
            os.tcgetpgrp(fd)  # fails unless fd is this process's controlling terminal
            return os.ttyname(fd)
        except OSError:
            continue
    return None


def _open_terminal() -> int:
    if not _HAVE_TERMIOS:  # pragma: no cover - Windows
        _no_terminal("no termios on this platform")
    # macOS's kqueue polls the real device (/dev/ttys003) but refuses /dev/tty.
    paths = [path for path in (_controlling_device(), _TERMINAL) if path is not None]
    reason = ""
    for path in paths:
        # A file description of our own, so O_NONBLOCK does not leak into stdin's.
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            reason = reason or (error.strerror or type(error).__name__)
            continue
        if os.isatty(fd):
            return fd
        os.close(fd)
        reason = reason or "not a terminal"
    _no_terminal(reason)


def _no_terminal(reason: str) -> NoReturn:
    raise TokenProviderError(
        f"no terminal to ask for the MFA code on ({_TERMINAL}: {reason}); where nobody "
        "can type a code (CI, containers, services), pass token_provider=, for example "
        "aiostscreds.TOTPTokenProvider with the device's secret"
    )


async def _prompt_on(fd: int, prompt: bytes) -> str:
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] = (quiet[3] & ~termios.ECHO) | termios.ICANON
    # TCSANOW, not getpass's TCSAFLUSH: what was typed ahead must not be lost.
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    wait = _Waiter(fd)
    try:
        malformed = 0
        while True:
            await _write(wait, prompt)
            answer = (await _read_line(wait)).decode(errors="replace").strip()
            # Echo is off, so the Enter that was pressed did not move the cursor.
            _write_now(fd, b"\n")
            if not answer:
                continue
            if is_mfa_code(answer):
                return answer
            del answer  # it may be a code with a typo: keep it out of tracebacks
            malformed += 1
            if malformed == _TRIES:
                raise TokenProviderError(f"no six-digit MFA code after {_TRIES} attempts")
            _write_now(fd, b"That is not six digits.\n")
    except BaseException:
        _write_now(fd, b"\n")  # leave the cursor on a new line, as Enter would have
        raise
    finally:
        # A terminal that hung up (SIGHUP) cannot be restored; nothing is lost.
        with contextlib.suppress(OSError):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


class _Waiter:
    """Waits for the terminal on the event loop, or in a thread where the loop refuses it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._loop_refuses = False

    async def readable(self) -> None:
        await self._wait(anyio.wait_readable, readable=True)

    async def writable(self) -> None:
        await self._wait(anyio.wait_writable, readable=False)

    async def _wait(self, on_loop: Callable[[int], Awaitable[None]], *, readable: bool) -> None:
        if not self._loop_refuses:
            try:
                await on_loop(self.fd)
                return
            except OSError:
                # kqueue's EINVAL for /dev/tty, raised when the loop registers it.
                self._loop_refuses = True
        await _wait_in_thread(self.fd, readable=readable)


async def _wait_in_thread(fd: int, *, readable: bool) -> None:
    """Wait for ``fd`` in a thread's ``select()``, which a socket can wake.

    The thread is our own, started here, so that it surely runs and its end
    can be awaited: cancellation closes the socket's other end, which ends
    the ``select()`` at once, and the terminal is not closed before the
    thread has let go of it.
    """
    wake_read, wake_write = socket.socketpair()
    done = Signal()
    failed: list[OSError] = []

    def wait() -> None:
        try:
            if readable:
                select.select([fd, wake_read.fileno()], [], [])
            else:
                select.select([wake_read.fileno()], [fd], [])
        except OSError as error:  # raised in the awaiting task, not lost in this thread
            failed.append(error)
        finally:
            wake_read.close()
            done.set()

    threading.Thread(target=wait, name="aiostscreds-terminal", daemon=True).start()
    try:
        await done.wait()
    finally:
        wake_write.close()  # ends the select() if it still waits
        with anyio.CancelScope(shield=True):
            await done.wait()
        done.close()
    if failed:
        raise failed[0]


async def _read_line(wait: _Waiter) -> bytes:
    fd = wait.fd
    line = b""
    while not line.endswith(b"\n"):
        await wait.readable()
        try:
            data = os.read(fd, _LINE_MAX)
        except BlockingIOError:
            continue
        if not data:
            del line  # a partial code
            raise TokenProviderError(
                "the terminal's input ended (Ctrl-D) before an MFA code was typed"
            )
        line += data
    return line


async def _write(wait: _Waiter, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(wait.fd, data) :]
        except BlockingIOError:
            await wait.writable()


def _write_now(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, data)
