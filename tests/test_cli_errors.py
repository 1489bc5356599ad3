"""The command's failures: one line on stderr, a status from one table, the command's terms."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiostscreds.cli._main import EXIT_STATUSES
from tests.cli_env import COMMAND, ROOT, command_env, run_on_terminal, write_config
from tests.moto_recorder import recording
from tests.test_cli import run as run_command

# Names of the library's Python API, which the command's users never typed.
LIBRARY_TERMS = re.compile(
    r"token_provider|session_from_profile|profile_provider|mfa_session|region_name|"
    r"client_config|token_timeout|aiostscreds\.[A-Za-z_]|\w+=(?!\S)"
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A new session: no controlling terminal, so no prompt can be answered.
    return run_command(args, env, start_new_session=True)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aiostscreds: error: "), result.stderr
    return lines[0]


def test_the_exit_status_table_is_the_same_in_help_the_docs_and_the_readme() -> None:
    help_text = run(["--help"], dict(os.environ)).stdout
    for status, meaning in EXIT_STATUSES:
        assert re.search(rf"^  {status}\s+{re.escape(meaning)}$", help_text, re.M), meaning
    docs = (ROOT / "docs" / "cli.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for section in (
        docs.split("## Errors and exit statuses", 1)[1].split("\n## ", 1)[0],
        readme.split("## At a terminal: the command", 1)[1].split("\n## ", 1)[0],
    ):
        rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)
        assert [(int(status), meaning) for status, meaning in rows] == list(EXIT_STATUSES)
    assert 130 in dict(EXIT_STATUSES)


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--format", "yaml"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "0"],
        ["serve", "--port", "http"],
        ["exec"],
        ["exec", "--profile", "role"],
        ["exec", "role", "--"],
        ["exec", "one", "two", "--", "true"],
        ["exec", "--profile", "role", "mfa", "--", "true"],
        ["no-such-subcommand"],
        [],
    ],
    ids=lambda args: " ".join(args) or "nothing",
)
def test_usage_errors_are_one_line_with_status_2(
    home: Path, moto_endpoint: str, args: list[str]
) -> None:
    result = run(args, command_env(home, moto_endpoint))
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "usage:" not in result.stderr
    assert "--help" in line


def test_exec_without_a_command_names_the_form_it_takes(home: Path, moto_endpoint: str) -> None:
    result = run(["exec", "--profile", "role"], command_env(home, moto_endpoint))
    assert result.returncode == 2
    assert "aiostscreds exec [PROFILE] -- COMMAND" in one_line(result)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("port", ["99999", "busy"])
def test_serve_checks_and_binds_its_port_before_any_prompt_or_sts_call(
    home: Path, moto_endpoint: str, busy_port: int, port: str
) -> None:
    port = str(busy_port) if port == "busy" else port
    env = command_env(home, moto_endpoint)
    with recording(moto_endpoint) as recorder:
        result = run_on_terminal([*COMMAND, "serve", "--profile", "mfa", "--port", port], env)
        assert recorder.assume_role_calls() == 0
    assert result.prompts == 0, result.terminal
    if port == "99999":
        assert result.returncode == 2
        assert "1 to 65535" in result.stderr
    else:
        assert result.returncode == 3
        assert f"cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "OverflowError" not in result.stderr and "OSError" not in result.stderr


def test_sts_unreachable_names_the_endpoint(home: Path, moto_endpoint: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = command_env(home, endpoint)
    result = run(["credential-process", "--profile", "role", "--no-cache"], env)
    assert result.returncode == 5
    line = one_line(result)
    assert line.startswith("aiostscreds: error: AssumeRole for ")
    assert line.endswith(f"could not connect to the endpoint {endpoint}/")


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["export", "--profile", "source"], 3),  # no role: the library says session_from_profile
        (["export", "--profile", "role", "--mfa-session", "8h"], 3),  # no mfa_serial
        (["export", "--profile", "mfa", "--mfa-session", "1m"], 3),  # out of STS's range
        (["export", "--profile", "mfa", "--no-cache"], 4),  # no terminal: token_provider=
        (["export", "--profile", "missing"], 3),
    ],
    ids=["no-role", "mfa-session-without-mfa", "mfa-session-range", "no-terminal", "missing"],
)
def test_messages_speak_of_the_commands_flags_not_the_librarys_parameters(
    home: Path, moto_endpoint: str, args: list[str], status: int
) -> None:
    result = run(args, command_env(home, moto_endpoint))
    assert result.returncode == status, result.stderr
    line = one_line(result)
    assert LIBRARY_TERMS.search(line) is None, line
    if "--mfa-session" in args:
        assert "--mfa-session" in line


# profiles ----------------------------------------------------------------------------

PRINT_URI = "import os; print(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'])"


def test_aws_default_profile_is_the_profile_when_aws_profile_is_unset(
    home: Path, moto_endpoint: str
) -> None:
    env = command_env(home, moto_endpoint, AWS_DEFAULT_PROFILE="role")
    result = run(["export", "--format", "json"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"].startswith("ASIA")
    # AWS_PROFILE comes first, as in the library.
    env = command_env(home, moto_endpoint, AWS_DEFAULT_PROFILE="role", AWS_PROFILE="missing")
    assert "'missing'" in one_line(run(["export"], env))


def test_exec_takes_the_profile_before_the_double_dash_as_aws_vault_does(
    home: Path, moto_endpoint: str
) -> None:
    env = command_env(home, moto_endpoint)
    result = run(["exec", "role", "--", sys.executable, "-c", PRINT_URI], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("http://127.0.0.1:")
    same = run(["exec", "--profile", "role", "role", "--", sys.executable, "-c", PRINT_URI], env)
    assert same.returncode == 0, same.stderr
    differ = run(["exec", "--profile", "mfa", "role", "--", "true"], env)
    assert differ.returncode == 2
    assert "--profile 'mfa'" in one_line(differ) and "'role'" in one_line(differ)
