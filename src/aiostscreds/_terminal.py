"""The MFA prompt on the controlling terminal, awaited without a thread."""

from __future__ import annotations

import contextlib
import os
from typing import NoReturn

import anyio

try:
    import termios
except ImportError:  # pragma: no cover - Windows: no terminal to prompt on
    _HAVE_TERMIOS = False
else:
    _HAVE_TERMIOS = True

from ._crossloop import Lock
from ._errors import TokenProviderError

__all__ = ["terminal_token_provider"]

_TERMINAL = "/dev/tty"
# A canonical-mode read returns at most one line, and a line holds at most this much.
_LINE_MAX = 4096

# One prompt at a time in the whole process, whatever the event loop or thread.
_prompt_lock = Lock()


async def terminal_token_provider(serial_number: str) -> str:
    """Ask for an MFA code on the controlling terminal.

    Writes ``MFA code for <serial>:`` to the terminal (``/dev/tty``), never to
    stdout or stderr, turns echo off, and reads one line back, with the
    terminal's own line editing (backspace works). No thread is used: the wait
    is an ordinary await, so cancellation, ``token_timeout``,
    :meth:`~aiostscreds.AssumeRoleProvider.aclose` and Ctrl-C end it at once,
    on asyncio and trio. The terminal's settings are restored however the
    prompt ends. What was typed but not yet read (a code typed after a prompt
    timed out, say) stays in the terminal's input and answers the next prompt.

    Surrounding whitespace is ignored, and an empty line asks again. Prompts
    are serialised process-wide: two never interleave. Standard input is
    never read, even when it is a pipe: it may carry the program's data.

    Args:
        serial_number: The MFA device, named in the prompt.

    Returns:
        The line typed, without surrounding whitespace.

    Raises:
        TokenProviderError: There is no controlling terminal (a CI job, a
            container, a service), or its input ended (Ctrl-D) before a code
            was typed. Pass ``token_provider=`` a provider that needs no
            person there, such as :class:`~aiostscreds.TOTPTokenProvider`.
    """
    prompt = f"MFA code for {serial_number}: ".encode(errors="replace")
    async with _prompt_lock:
        fd = _open_terminal()
        try:
            return await _prompt_on(fd, prompt)
        finally:
            os.close(fd)


def _open_terminal() -> int:
    if not _HAVE_TERMIOS:  # pragma: no cover - Windows
        _no_terminal("no termios on this platform")
    # A file description of our own, so O_NONBLOCK does not leak into stdin's.
    try:
        fd = os.open(_TERMINAL, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        reason = error.strerror or type(error).__name__
    else:
        if os.isatty(fd):
            return fd
        os.close(fd)
        reason = "not a terminal"
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
    try:
        while True:
            await _write(fd, prompt)
            answer = (await _read_line(fd)).decode(errors="replace").strip()
            # Echo is off, so the Enter that was pressed did not move the cursor.
            _write_now(fd, b"\n")
            if answer:
                return answer
    except BaseException:
        _write_now(fd, b"\n")  # leave the cursor on a new line, as Enter would have
        raise
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


async def _read_line(fd: int) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        await anyio.wait_readable(fd)
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


async def _write(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            await anyio.wait_writable(fd)


def _write_now(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, data)
