"""Argument parsing, logging, and one line per error with an exit status per kind."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["EXIT_CONFIGURATION", "EXIT_MFA", "EXIT_STS", "main"]

# Exit statuses, one per kind of failure (2 is argparse's, for usage errors).
EXIT_ERROR = 1
EXIT_CONFIGURATION = 3
EXIT_MFA = 4
EXIT_STS = 5
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
Temporary AWS credentials for every tool, from one MFA prompt: the AWS CLI,
boto3, Terraform, Go or Java programs, all through the same refreshing,
single-flight credential cache.

exit statuses: 0 success, 2 usage, 3 configuration error, 4 MFA code not
had, 5 STS or network failure (exec: the command's own status).
"""

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
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError("an MFA code is exactly six digits, such as 123456")
    return text


def _profile_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--profile",
        default=os.environ.get("AWS_PROFILE") or "default",
        help="the shared-config profile (default: $AWS_PROFILE, else 'default')",
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
    parser = argparse.ArgumentParser(
        prog="aiostscreds",
        description=_DESCRIPTION,
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
    serve.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
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
        "SIGINT and SIGTERM are forwarded; the exit status is the command's.",
        usage="aiostscreds exec [options] -- COMMAND [ARGS...]",
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
    from .._errors import ConfigurationError, CredentialsError, TokenProviderError

    if isinstance(error, ConfigurationError):
        return EXIT_CONFIGURATION
    if isinstance(error, TokenProviderError):
        return EXIT_MFA
    if isinstance(error, CredentialsError):
        return EXIT_STS
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the subcommand, and turn failures into one stderr line."""
    args = _parser().parse_args(argv)
    _configure_logging(args.debug)
    try:
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
    except KeyboardInterrupt:
        print("aiostscreds: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            raise
        # The library's messages never hold a secret; others get only their type.
        from .._errors import CredentialsError

        text = str(error) if isinstance(error, CredentialsError) else type(error).__name__
        print(f"aiostscreds: error: {text}", file=sys.stderr)
        return _exit_status(error)
