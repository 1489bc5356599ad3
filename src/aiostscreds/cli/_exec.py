"""``aiostscreds exec``: run a command with a profile's credentials."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping

__all__ = ["child_environment", "run_exec"]

log = logging.getLogger("aiostscreds")

# Variables through which an SDK in the child could pick another source.
_REMOVED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
)


def child_environment(environ: Mapping[str, str], added: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any credential source, plus ``added``."""
    env = {name: value for name, value in environ.items() if name not in _REMOVED}
    env.update(added)
    return env


# Signals a terminal sends to its whole foreground process group (Ctrl-C, a hangup).
_FROM_TERMINAL = (signal.SIGINT, signal.SIGHUP)
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _in_terminal_foreground(pid: int) -> bool:
    """Whether ``pid``'s process group is the controlling terminal's foreground group.

    If so, a Ctrl-C (or hangup) there reached it directly, as it reached us.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # no controlling terminal: no signal came from one
    try:
        return os.tcgetpgrp(fd) == os.getpgid(pid)
    except OSError:
        return False
    finally:
        os.close(fd)


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _signal_child(child: asyncio.subprocess.Process, signum: int) -> None:
    """Send ``signum`` to the child, unless the terminal already did.

    ``os.kill``, not ``Process.send_signal``: that polls the child and can reap it
    before asyncio's watcher does, which then reports status 255.
    """
    if signum in _FROM_TERMINAL and _in_terminal_foreground(child.pid):
        log.debug("%s reached the command from the terminal: not sent again", _name(signum))
        return
    if child.returncode is not None:
        return
    log.debug("sending %s to the command", _name(signum))
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.kill(child.pid, signum)


async def _run_with_server(args: argparse.Namespace, argv: list[str]) -> int:
    from ._profile import open_profile
    from ._server import credential_server

    chain = open_profile(args.profile, cache=args.cache, mfa_session=args.mfa_session)
    try:
        await chain.top.get()  # prompt before the command starts
        async with credential_server(chain.top.get) as server_env:
            env = child_environment(os.environ, server_env)
            loop = asyncio.get_running_loop()
            child: asyncio.subprocess.Process | None = None
            early: list[int] = []

            def forward(signum: int) -> None:
                if child is None:
                    early.append(signum)  # the child exists a moment later
                else:
                    _signal_child(child, signum)

            # Handlers go in before the child starts, so no signal is lost.
            for sig in _FORWARDED:
                loop.add_signal_handler(sig, forward, sig)
            try:
                try:
                    child = await asyncio.create_subprocess_exec(*argv, env=env)
                except OSError as error:
                    print(
                        f"aiostscreds: error: cannot run {argv[0]!r}: {error.strerror}",
                        file=sys.stderr,
                    )
                    return _cannot_run(error)
                for pending in early:
                    # Sent before the child existed: it cannot have had it.
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, pending)
                return await child.wait()
            finally:
                for sig in _FORWARDED:
                    loop.remove_signal_handler(sig)
    finally:
        await chain.aclose()


def _cannot_run(error: OSError) -> int:
    from ._main import EXIT_CANNOT_RUN, EXIT_NOT_FOUND

    return EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_CANNOT_RUN


def _exit_like(status: int) -> int:
    """The child's status as ours; a child killed by a signal kills us by the same one."""
    if status >= 0:
        return status
    signum = -status
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum  # if the signal did not end us


def run_exec(args: argparse.Namespace) -> int:
    """Run the command; its exit status becomes the command's."""
    argv: list[str] = args.argv  # checked by the parser: not empty
    if args.env:
        from ._credential_process import obtain, process_document

        document = process_document(obtain(args))
        env = child_environment(
            os.environ,
            {
                "AWS_ACCESS_KEY_ID": document["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": document["SecretAccessKey"],
                "AWS_SESSION_TOKEN": document["SessionToken"],
                "AWS_CREDENTIAL_EXPIRATION": document["Expiration"],
            },
        )
        sys.stdout.flush()
        try:
            os.execvpe(argv[0], argv, env)  # the command takes over this process
        except OSError as error:
            print(f"aiostscreds: error: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr)
            return _cannot_run(error)
    return _exit_like(asyncio.run(_run_with_server(args, argv)))
