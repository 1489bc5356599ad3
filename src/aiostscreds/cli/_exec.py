"""``aiostscreds exec``: run a command with a profile's credentials."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping

from .._errors import ConfigurationError

__all__ = ["child_environment", "run_exec"]

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


def _command(args: argparse.Namespace) -> list[str]:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise ConfigurationError("exec needs a command: aiostscreds exec -- COMMAND [ARGS...]")
    return argv


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
                    child.send_signal(signum)

            # Handlers go in before the child starts, so no signal is lost.
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, forward, sig)
            try:
                try:
                    child = await asyncio.create_subprocess_exec(*argv, env=env)
                except OSError as error:
                    print(
                        f"aiostscreds: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr
                    )
                    return 127 if isinstance(error, FileNotFoundError) else 126
                for pending in early:
                    child.send_signal(pending)
                return await child.wait()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
    finally:
        await chain.aclose()


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
    argv = _command(args)
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
            print(f"aiostscreds: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr)
            return 127 if isinstance(error, FileNotFoundError) else 126
    return _exit_like(asyncio.run(_run_with_server(args, argv)))
