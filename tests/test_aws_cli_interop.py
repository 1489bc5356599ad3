"""One MFA prompt and one AssumeRole per hop, shared with the real AWS CLI (v1, from PyPI).

The CLI runs as a subprocess against moto on 127.0.0.1, with an environment
built from scratch, under umask 002 (the default for users with a private
group on Debian, Ubuntu and Fedora). Its MFA prompt is answered through a
pseudo-terminal. STS calls are counted at the server.
"""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from aiostscreds import FileCache, session_from_profile

from .moto_recorder import recording

pytestmark = pytest.mark.anyio

MIDDLE_ROLE = "arn:aws:iam::111111111111:role/middle"
TOP_ROLE = "arn:aws:iam::222222222222:role/top"
ALICE_MFA = "arn:aws:iam::111111111111:mfa/alice"
MFA_CODE = "246810"

BASE_KEYS = """
[base]
aws_access_key_id = AKIACLIINTEROPBASE01
aws_secret_access_key = cli-interop-base-secret
"""


def config_for(*, mfa: bool, hops: int) -> str:
    """A profile ``target``: one hop (base -> target) or two (base -> middle -> target)."""
    source = "base"
    text = ""
    if hops == 2:
        text += f"[profile middle]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = base\n\n"
        source = "middle"
    text += f"[profile target]\nrole_arn = {TOP_ROLE}\nsource_profile = {source}\n"
    if mfa:
        text += f"mfa_serial = {ALICE_MFA}\n"
    return text + "region = us-east-1\n"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@attrs.define
class CliRun:
    identity: dict[str, Any]
    prompts: int
    stderr: str


@attrs.define
class Home:
    """A user's home with ~/.aws, shared by this process and the CLI subprocess."""

    path: Path
    moto_endpoint: str

    @property
    def cache_dir(self) -> Path:
        return self.path / ".aws" / "cli" / "cache"

    def environment(self) -> dict[str, str]:
        """The CLI's whole environment: nothing inherited from the test runner's."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.path),
            "LANG": "C.UTF-8",
            "AWS_CONFIG_FILE": str(self.path / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.path / ".aws" / "credentials"),
            "AWS_ENDPOINT_URL_STS": self.moto_endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }

    def run_cli(self, profile: str) -> CliRun:
        """``aws sts get-caller-identity --profile P`` under umask 002, answering MFA on a pty."""
        controller, terminal = pty.openpty()
        command = [sys.executable, "-m", "awscli", "sts", "get-caller-identity"]
        process = subprocess.Popen(
            [*command, "--profile", profile, "--output", "json"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=self.environment(),
            cwd=self.path,
            start_new_session=True,  # no controlling terminal: getpass uses the pty on stdin
            umask=0o002,
        )
        os.close(terminal)
        screen = b""
        prompts = 0
        deadline = time.monotonic() + 120  # only a guard against a hung CLI
        try:
            while process.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([controller], [], [], 0.1)
                if not ready:
                    continue
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the CLI closed the terminal
                    break
                screen += chunk
                while screen.count(b"MFA code") > prompts:
                    prompts += 1
                    os.write(controller, MFA_CODE.encode() + b"\n")
            stdout, _ = process.communicate(timeout=60)
        finally:
            os.close(controller)
            if process.poll() is None:
                process.kill()
        text = screen.decode(errors="replace")
        assert process.returncode == 0, text
        return CliRun(identity=json.loads(stdout), prompts=prompts, stderr=text)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> Home:
    home = Home(tmp_path / "home", moto_endpoint)
    (home.path / ".aws").mkdir(parents=True)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in home.environment().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return home


class Tokens:
    def __init__(self) -> None:
        self.prompts = 0

    async def __call__(self, serial_number: str) -> str:
        self.prompts += 1
        return MFA_CODE


async def sign_with_aiostscreds(home: Home, tokens: Tokens) -> str:
    session = session_from_profile(
        "target", token_provider=tokens, cache=FileCache(home.cache_dir)
    )
    async with session.create_client("sts") as sts:
        identity = await sts.get_caller_identity()
    return str(identity["Arn"])


def assume_role_calls(requests: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in requests if r.get("Action") == "AssumeRole"]


CASES = [
    pytest.param(False, 1, id="no-mfa"),
    pytest.param(True, 1, id="mfa"),
    pytest.param(False, 2, id="two-hops"),
    pytest.param(True, 2, id="two-hops-mfa"),
]


@pytest.mark.parametrize(("mfa", "hops"), CASES)
async def test_aiostscreds_then_the_aws_cli_make_one_prompt_and_one_call_per_hop(
    home: Home, moto_endpoint: str, mfa: bool, hops: int
) -> None:
    (home.path / ".aws" / "config").write_text(config_for(mfa=mfa, hops=hops))
    (home.path / ".aws" / "credentials").write_text(BASE_KEYS)
    tokens = Tokens()
    with recording(moto_endpoint) as server:
        ours = await sign_with_aiostscreds(home, tokens)
        cli = home.run_cli("target")
        calls = assume_role_calls(server.requests())
    assert cli.identity["Arn"] == ours  # the CLI signed with the entry aiostscreds wrote
    assert len(calls) == hops  # one AssumeRole per hop, all by aiostscreds
    assert all("DurationSeconds" not in call for call in calls)
    assert tokens.prompts + cli.prompts == (1 if mfa else 0)
    assert cli.prompts == 0


@pytest.mark.parametrize(("mfa", "hops"), CASES)
async def test_the_aws_cli_then_aiostscreds_make_one_prompt_and_one_call_per_hop(
    home: Home, moto_endpoint: str, mfa: bool, hops: int, caplog: pytest.LogCaptureFixture
) -> None:
    (home.path / ".aws" / "config").write_text(config_for(mfa=mfa, hops=hops))
    (home.path / ".aws" / "credentials").write_text(BASE_KEYS)
    tokens = Tokens()
    with recording(moto_endpoint) as server:
        cli = home.run_cli("target")
        # The CLI made the cache directory under umask 002, group-writable.
        assert stat.S_IMODE(home.cache_dir.stat().st_mode) == 0o775
        ours = await sign_with_aiostscreds(home, tokens)
        calls = assume_role_calls(server.requests())
    assert ours == cli.identity["Arn"]  # aiostscreds signed with the CLI's entry
    assert len(calls) == hops
    assert cli.prompts + tokens.prompts == (1 if mfa else 0)
    assert tokens.prompts == 0
    assert stat.S_IMODE(home.cache_dir.stat().st_mode) == 0o700  # tightened, then shared


async def test_aws_cli_entry_for_a_15_minute_duration_is_not_reused_by_the_cli(
    home: Home, moto_endpoint: str
) -> None:
    """Why a profile must not ask for 15 minutes: the CLI calls such an entry expired."""
    (home.path / ".aws" / "config").write_text(
        config_for(mfa=True, hops=1) + "duration_seconds = 900\n"
    )
    (home.path / ".aws" / "credentials").write_text(BASE_KEYS)
    tokens = Tokens()
    with recording(moto_endpoint) as server:
        await sign_with_aiostscreds(home, tokens)
        cli = home.run_cli("target")
        calls = assume_role_calls(server.requests())
    assert [call.get("DurationSeconds") for call in calls] == ["900", "900"]
    assert tokens.prompts + cli.prompts == 2  # the 2 prompts a profile without it avoids


