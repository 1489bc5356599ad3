"""Every Python example in README.md and the user docs runs as printed, against a local STS.

The convention (docs/contributing.md says the same for writers):

- Every fenced ```python block in the files of ``EXAMPLE_FILES`` is a complete program. It is
  written to a file and run with this interpreter, in a subprocess of its own.
- Its environment is built here, never inherited: a fresh ``HOME`` (so ``FileCache()``'s
  ``~/.aws/cli/cache`` is the test's), the ```ini blocks whose first line is
  ``# ~/.aws/config`` or ``# ~/.aws/credentials`` written as those two files (a page's own
  blocks if it has any, else the quickstart's, which says it is the site's configuration),
  ``AWS_ENDPOINT_URL`` pointing every client at moto's
  server on 127.0.0.1, ``AWS_EC2_METADATA_DISABLED=true``, and no other ``AWS_*`` variable.
- Leading comment lines of a block adjust that:
  ``# env: NAME=value NAME2=value`` sets variables for the block;
  ``# terminal: CODE`` runs the program with a real pseudo-terminal as its controlling
  terminal and types ``CODE`` at every ``MFA code`` prompt that appears on it (the prompt of
  ``terminal_token_provider``, which reads ``/dev/tty`` only). Any other block runs in a new
  session with no controlling terminal and stdin from ``/dev/null``, so a prompt there fails;
  ``# sts: none`` says the block makes no call to this STS (it starts its own, or needs none);
  ``# redis`` gives the block the test's real redis-server as ``REDIS_URL`` (with its password)
  and a fresh 32-byte key, base64, as ``AIOSTSCREDS_REDIS_KEY``.
- A block passes when it exits 0 with no traceback, after making at least one STS call (counted
  at the server by moto's request recorder; none with ``# sts: none``); a block with
  ``# terminal:`` must also have been prompted on its terminal and have sent what was typed
  there as the ``TokenCode`` of a call.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .cli_env import TerminalRun, run_on_terminal
from .moto_recorder import recording

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = [
    "README.md",
    "docs/quickstart.md",
    "docs/howto/mfa.md",
    "docs/howto/profiles.md",
    "docs/howto/web-identity.md",
    "docs/howto/aws-cli.md",
    "docs/cli.md",
    "docs/howto/testing.md",
    "docs/migrating.md",
    "docs/troubleshooting.md",
    "docs/fleets.md",
    "docs/refresh.md",
]
# The pages without ```ini blocks of their own run with this page's.
DEFAULT_AWS_FILES = "docs/quickstart.md"
STS_ACTIONS = {"AssumeRole", "GetSessionToken", "AssumeRoleWithWebIdentity"}
_FENCE = re.compile(r"^```(\w+)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_AWS_FILES = {"# ~/.aws/config": "config", "# ~/.aws/credentials": "credentials"}


@dataclass
class Example:
    """One ```python block and what its header lines ask for."""

    path: str
    line: int
    code: str
    env: dict[str, str] = field(default_factory=dict)
    terminal: str | None = None
    calls_sts: bool = True
    redis: bool = False

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def fenced_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """The (first line number, body) of every ```language block of ``text``."""
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(2))
        for match in _FENCE.finditer(text)
        if match.group(1) == language
    ]


def parse_example(path: str, line: int, code: str) -> Example:
    example = Example(path, line, code)
    for header in code.splitlines():
        if header.startswith("# env:"):
            for pair in shlex.split(header.removeprefix("# env:")):
                name, sep, value = pair.partition("=")
                assert sep, f"{example.id}: '# env:' takes NAME=value pairs, got {pair!r}"
                example.env[name] = value
        elif header.startswith("# terminal:"):
            example.terminal = header.removeprefix("# terminal:").strip()
        elif header.strip() == "# sts: none":
            example.calls_sts = False
        elif header.strip() == "# redis":
            example.redis = True
        else:
            break
    return example


def examples_in(path: str) -> list[Example]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return [parse_example(path, line, code) for line, code in fenced_blocks(text, "python")]


def aws_files(path: str) -> dict[str, str]:
    """The page's ``# ~/.aws/...`` ini blocks by file name (config, credentials), else the default's."""
    found: dict[str, str] = {}
    for source in (path, DEFAULT_AWS_FILES):
        text = (ROOT / source).read_text(encoding="utf-8")
        for _, body in fenced_blocks(text, "ini"):
            name = _AWS_FILES.get(body.splitlines()[0].strip() if body else "")
            if name:
                found[name] = found.get(name, "") + body
        if found:
            return found
    return found


EXAMPLES = [example for path in EXAMPLE_FILES for example in examples_in(path)]


def test_readme_examples_are_all_collected() -> None:
    # The README's examples: a service (the role, installed) and a fleet (RedisCache); its
    # other examples moved to the docs, where they still run.
    readme = [example for example in EXAMPLES if example.path == "README.md"]
    assert len(readme) == 2
    assert sum(example.redis for example in readme) == 1
    assert set(aws_files("README.md")) == {"config", "credentials"}
    assert len(EXAMPLES) >= 29, "an example stopped running: check EXAMPLE_FILES"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_example_runs_as_printed(
    example: Example, moto_endpoint: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    for name, body in aws_files(example.path).items():
        (home / ".aws" / name).write_text(body, encoding="utf-8")
    program = tmp_path / "example.py"
    program.write_text(example.code, encoding="utf-8")

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if "PYTHONPATH" in os.environ:  # a checkout run without installing it
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    if example.redis:
        server = request.getfixturevalue("redis_server")
        env["REDIS_URL"] = server.url
        env["AIOSTSCREDS_REDIS_KEY"] = base64.b64encode(os.urandom(32)).decode()
    env.update(example.env)

    argv = [sys.executable, str(program)]
    with recording(moto_endpoint) as recorder:
        if example.terminal is None:
            result: subprocess.CompletedProcess[str] | TerminalRun = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=180,
                start_new_session=True,  # no controlling terminal: a prompt fails
            )
        else:
            result = run_on_terminal(argv, env, code=example.terminal, cwd=tmp_path, timeout=180)
        requests = recorder.requests()

    report = f"{example.id}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    assert "Traceback" not in result.stderr, report
    sts_calls = [request for request in requests if request.get("Action") in STS_ACTIONS]
    if not example.calls_sts:
        assert sts_calls == [], f"'# sts: none', yet STS was called\n{report}"
        return
    assert sts_calls, f"no STS call was made\n{report}"
    if example.terminal is not None:
        assert isinstance(result, TerminalRun)
        assert result.prompts >= 1, f"no MFA prompt appeared on the terminal\n{report}"
        assert example.terminal in [call.get("TokenCode") for call in sts_calls], report
