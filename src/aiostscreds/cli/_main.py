"""Argument parsing, logging, and one line per error with an exit status per kind.

One idea, though over 400 lines: the command's front door, from ``argv`` to an
exit status. The parser's ``--help`` prints the exit-status table that
:func:`main` maps each error to, the one-line messages are written for those
same kinds, and SIGTERM/SIGHUP end up as a status too; split apart, each part
would have to import the others' table.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn

__all__ = ["EXIT_CONFIGURATION", "EXIT_MFA", "EXIT_SSO_LOGIN", "EXIT_STATUSES", "EXIT_STS", "main"]

# Exit statuses, one per kind of failure.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFIGURATION = 3
EXIT_MFA = 4
EXIT_STS = 5
EXIT_SSO_LOGIN = 6
EXIT_CANNOT_RUN = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130

EXIT_STATUSES: tuple[tuple[int, str], ...] = (
    (0, "success (exec: the command's own status)"),
    (1, "an unexpected error (--debug shows the traceback)"),
    (EXIT_USAGE, "usage: a bad option or argument"),
    (
        EXIT_CONFIGURATION,
        "configuration: an unknown profile, a malformed value, a --host or --port "
        "that cannot be used",
    ),
    (EXIT_MFA, "MFA: no code could be had (no terminal, Ctrl-D, 3 malformed codes)"),
    (EXIT_STS, "STS or the network failed"),
    (
        EXIT_SSO_LOGIN,
        "IAM Identity Center (SSO): sign-in needed, the token is missing or expired; "
        "run `aws sso login --profile NAME`",
    ),
    (EXIT_CANNOT_RUN, "exec: the command cannot be run"),
    (EXIT_NOT_FOUND, "exec: the command is not found"),
    (128 + signal.SIGHUP, "stopped by SIGHUP (the terminal restored)"),
    (EXIT_INTERRUPTED, "interrupted: Ctrl-C (the terminal restored)"),
    (128 + signal.SIGTERM, "stopped by SIGTERM (the terminal restored)"),
)
"""Every exit status of the command: the one table, in ``--help`` and docs/cli.md."""

_DESCRIPTION = """\
Temporary AWS credentials for every tool, from one MFA prompt: the AWS CLI,
boto3, Terraform, Go or Java programs, all through the same refreshing,
single-flight credential cache.
"""

_EXIT_HELP = "exit statuses (each failure is one line on stderr):\n" + "".join(
    f"  {status:<4} {meaning}\n" for status, meaning in EXIT_STATUSES
)

_CONFIG_LINES = """\
In ~/.aws/config:

  [profile work]
  credential_process = aiostscreds credential-process --profile work-mfa
"""


def _duration(text: str) -> float:
    """``8h``, ``90m``, ``3600s`` or ``3600`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 8h or 90m") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError("the duration must be positive")
    return seconds


def _six_digits(text: str) -> str:
    from .._tokens import is_mfa_code

    if not is_mfa_code(text):
        raise argparse.ArgumentTypeError("an MFA code is exactly six digits, such as 123456")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (no usage block) and status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"aiostscreds: error: {message} (see '{self.prog} --help')\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535 (got {text!r})")
    return port


def _default_profile() -> str:
    """As the library reads the environment: $AWS_PROFILE, $AWS_DEFAULT_PROFILE, 'default'."""
    return os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"


def _profile_options() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--profile",
        help="the shared-config profile (default: $AWS_PROFILE, else $AWS_DEFAULT_PROFILE, "
        "else 'default')",
    )
    common.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="do not read or write the AWS CLI's credential cache (~/.aws/cli/cache)",
    )
    common.add_argument(
        "--mfa-session",
        type=_duration,
        metavar="DURATION",
        help="MFA once: get an MFA session (GetSessionToken) this long, such as 8h, from "
        "the IAM user's keys at the bottom of the profile's chain, and assume every role "
        "from it without a prompt (each role for at most 1 hour)",
    )
    common.add_argument(
        "--debug", action="store_true", help="log what happens to stderr, with tracebacks"
    )
    return common


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aiostscreds",
        description=_DESCRIPTION,
        epilog=_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _profile_options()

    process = commands.add_parser(
        "credential-process",
        parents=[common],
        help="print credentials as the AWS credential_process JSON",
        description="Print the profile's credentials as credential_process JSON on stdout. "
        "Prompts for MFA codes on the terminal, never on stdout or stderr. A valid "
        "cached entry is answered without any STS call.",
        epilog=_CONFIG_LINES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    process.set_defaults(run="credential_process")

    export = commands.add_parser(
        "export",
        parents=[common],
        help="print credentials as shell variables or JSON",
        description="Print the profile's credentials. env: export lines for POSIX shells "
        '(eval "$(aiostscreds export)"); json: one JSON object; process: the '
        "credential_process JSON.",
    )
    export.add_argument("--format", choices=("env", "json", "process"), default="env")
    export.set_defaults(run="export")

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="serve credentials to local SDKs (ECS container-credentials protocol)",
        description="Serve the profile's credentials on loopback with the ECS "
        "container-credentials protocol that every AWS SDK speaks, refreshing them "
        "as they age. Prints the two variables to export. Every request must carry "
        "the printed authorization token. Stops on Ctrl-C or SIGTERM.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="a loopback address: 127.0.0.1 (default) or ::1"
    )
    serve.add_argument(
        "--port", type=_port, default=0, help="the port, 1 to 65535 (default: a free one)"
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        help="also answer GET /metrics (Prometheus text format; the same token); "
        "needs prometheus-client",
    )
    serve.set_defaults(run="serve")

    exec_ = commands.add_parser(
        "exec",
        parents=[common],
        help="run a command with the profile's credentials",
        description="Run COMMAND with the profile's credentials. By default a local "
        "credential server runs for the command's lifetime, so a long-running command "
        "keeps getting fresh credentials; --env passes static variables instead. "
        "AWS_PROFILE and any static keys are removed from the command's environment. "
        "Ctrl-C reaches the command from the terminal, once; SIGTERM sent to aiostscreds "
        "is passed on. The exit status is the command's.",
        usage="aiostscreds exec [options] [PROFILE] -- COMMAND [ARGS...]",
        epilog="PROFILE before -- is the same as --profile PROFILE (as in aws-vault).",
    )
    exec_.add_argument(
        "--env",
        action="store_true",
        help="pass AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN "
        "instead of running a server (they are not refreshed)",
    )
    exec_.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND")
    exec_.set_defaults(run="exec")

    demo = commands.add_parser(
        "demo",
        help="assume an MFA role against a local STS (moto), nothing leaves the machine",
        description="Start a local STS and S3 (moto) on 127.0.0.1, assume a role that "
        "needs MFA, and run concurrent S3 requests while refreshes are forced under "
        "them. The local STS accepts any six digits as an MFA code.",
    )
    demo.add_argument("--requests", type=int, default=1000, help="S3 requests (default 1000)")
    demo.add_argument("--refreshes", type=int, default=3, help="forced refreshes (default 3)")
    demo.add_argument("--concurrency", type=int, default=50, help="requests in flight (50)")
    demo.add_argument(
        "--mfa-code", type=_six_digits, help="a six-digit MFA code instead of prompting"
    )
    demo.set_defaults(run="demo", debug=False)
    return parser


def _configure_logging(debug: bool) -> None:
    root = logging.getLogger()
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        # Third-party DEBUG records (botocore's wire logs) can hold secrets.
        root.setLevel(logging.WARNING)
        logging.getLogger("aiostscreds").setLevel(logging.DEBUG)
    else:
        # A handler on the root keeps logging's last-resort stderr handler quiet.
        root.addHandler(logging.NullHandler())


def _exit_status(error: BaseException) -> int:
    from .._errors import (
        ConfigurationError,
        CredentialsError,
        SSOLoginRequiredError,
        TokenProviderError,
    )

    if isinstance(error, SSOLoginRequiredError) or isinstance(
        error.__cause__, SSOLoginRequiredError
    ):
        return EXIT_SSO_LOGIN
    if isinstance(error, ConfigurationError):
        return EXIT_CONFIGURATION
    if isinstance(error, TokenProviderError):
        return EXIT_MFA
    if isinstance(error, CredentialsError):
        return EXIT_STS
    return EXIT_ERROR


class _Stopped(SystemExit):
    """SIGTERM or SIGHUP: unwinds like SystemExit, so ``finally`` blocks (the prompt's
    terminal restore among them) run, where the signal's default action runs none."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


@contextlib.contextmanager
def _stopping_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`_Stopped` while the command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    stopping = (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, _stop) for signum in stopping}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _usage_error(message: str) -> NoReturn:
    _Parser(prog="aiostscreds exec").error(message)


def _exec_command(args: argparse.Namespace) -> None:
    """``exec [PROFILE] -- COMMAND...``: the command, and the profile before ``--``."""
    argv = list(args.argv)
    if "--" in argv:
        split = argv.index("--")
        before, argv = argv[:split], argv[split + 1 :]
        if len(before) > 1:
            _usage_error(f"exec takes at most one PROFILE before --, got {len(before)}")
        if before:
            if args.profile is not None and args.profile != before[0]:
                _usage_error(
                    f"exec was given two profiles, --profile {args.profile!r} and "
                    f"{before[0]!r} before --: give one"
                )
            args.profile = before[0]
    if not argv:
        _usage_error("exec needs a command: aiostscreds exec [PROFILE] -- COMMAND [ARGS...]")
    args.argv = argv


# Library advice that names Python parameters, as the command's users say it.
_IN_COMMAND_TERMS = (
    (
        "pass token_provider=, for example aiostscreds.TOTPTokenProvider with the device's secret",
        "run aiostscreds once where a code can be typed: the credentials are cached for "
        "later runs (with --mfa-session, for every role, for the session's length)",
    ),
    ("(use session_from_profile)", "(give --profile a profile with role_arn)"),
    ("mfa_session", "--mfa-session"),
)


def _message(error: BaseException) -> str:
    """The error's one line, in the command's terms; secret-free.

    The library's messages never hold a secret; other errors give only their type.
    """
    from .._errors import CredentialsError

    if not isinstance(error, CredentialsError):
        return type(error).__name__
    text = str(error)
    for library, command in _IN_COMMAND_TERMS:
        text = text.replace(library, command)
    endpoint = _unreachable_endpoint(error)
    if endpoint is not None:
        text += f": could not connect to the endpoint {endpoint}"
    return text


def _unreachable_endpoint(error: BaseException) -> str | None:
    """The URL botocore could not connect to (without its query), if that caused ``error``.

    STS's, or the SSO portal's or SSO-OIDC's: the line already names the operation.
    """
    from urllib.parse import urlsplit, urlunsplit

    from botocore.exceptions import EndpointConnectionError

    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, EndpointConnectionError):
            url = cause.kwargs.get("endpoint_url")
            if not isinstance(url, str):
                return None
            return urlunsplit(urlsplit(url)._replace(query="", fragment=""))
        cause = cause.__cause__ or cause.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the subcommand, and turn failures into one stderr line."""
    args = _parser().parse_args(argv)
    if args.run == "exec":
        _exec_command(args)
    if getattr(args, "profile", "") is None:
        args.profile = _default_profile()
    _configure_logging(args.debug)
    try:
        with _stopping_on_termination():
            return _run(args)
    except _Stopped as stopped:
        name = signal.Signals(stopped.signum).name
        print(f"aiostscreds: stopped by {name}", file=sys.stderr)
        return 128 + stopped.signum
    except KeyboardInterrupt:
        print("aiostscreds: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            raise
        print(f"aiostscreds: error: {_message(error)}", file=sys.stderr)
        return _exit_status(error)


def _run(args: argparse.Namespace) -> int:
    if args.run == "credential_process":
        from ._credential_process import run_credential_process

        return run_credential_process(args)
    if args.run == "export":
        from ._export import run_export

        return run_export(args)
    if args.run == "serve":
        from ._server import run_serve

        return run_serve(args)
    if args.run == "exec":
        from ._exec import run_exec

        return run_exec(args)
    from ._demo import run

    return run(args)
