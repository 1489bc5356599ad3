"""MFA prompts of the ``aiostscreds`` command, driven through a pseudo-terminal."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.cli_env import (
    COMMAND,
    ROLE_IDENTITY,
    command_env,
    run_on_terminal,
    write_config,
)
from tests.conftest import MFA_SERIAL
from tests.moto_recorder import recording


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


def test_credential_process_prompts_on_the_terminal_once_then_answers_from_cache(
    home: Path, moto_endpoint: str
) -> None:
    env = command_env(home, moto_endpoint)
    argv = [*COMMAND, "credential-process", "--profile", "mfa"]
    with recording(moto_endpoint) as recorder:
        first = run_on_terminal(argv, env, code="424242", stderr_to_terminal=True)
        second = run_on_terminal(argv, env, code="424242", stderr_to_terminal=True)
        calls = [r for r in recorder.requests() if r.get("Action") == "AssumeRole"]
    assert first.returncode == 0 and second.returncode == 0, first.terminal
    assert first.prompts == 1 and second.prompts == 0
    assert f"MFA code for {MFA_SERIAL}" in first.terminal
    assert "424242" not in first.terminal  # not echoed
    assert "MFA" not in first.stdout
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert len(calls) == 1
    assert calls[0]["SerialNumber"] == MFA_SERIAL and calls[0]["TokenCode"] == "424242"


def test_aws_cli_with_an_mfa_profile_prompts_once_for_three_commands(
    home: Path, moto_endpoint: str
) -> None:
    with (home / ".aws" / "config").open("a") as config:
        process = shlex.join([*COMMAND, "credential-process", "--profile", "mfa"])
        config.write(f"\n[profile cli]\ncredential_process = {process}\n")
    env = command_env(home, moto_endpoint, AWS_PROFILE="cli")
    prompts = 0
    with recording(moto_endpoint) as recorder:
        for _ in range(3):
            result = run_on_terminal(
                ["aws", "sts", "get-caller-identity", "--output", "json"], env, timeout=30
            )
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["Arn"].endswith(ROLE_IDENTITY)
            prompts += result.prompts
        assert recorder.assume_role_calls() == 1
    assert prompts == 1


def test_mfa_session_prompts_once_for_two_role_profiles(home: Path, moto_endpoint: str) -> None:
    with (home / ".aws" / "config").open("a") as config:
        config.write(
            "\n[profile mfa2]\nrole_arn = arn:aws:iam::123456789012:role/second\n"
            f"source_profile = source\nmfa_serial = {MFA_SERIAL}\n"
        )
    env = command_env(home, moto_endpoint)
    prompts = 0
    with recording(moto_endpoint) as recorder:
        for profile in ("mfa", "mfa2", "mfa", "mfa2"):
            argv = [*COMMAND, "export", "--format", "json", "--profile", profile]
            result = run_on_terminal([*argv, "--mfa-session", "8h"], env, stderr_to_terminal=True)
            assert result.returncode == 0, result.terminal
            prompts += result.prompts
        requests = recorder.requests()
    assert prompts == 1
    assert [r["Action"] for r in requests if r.get("Action") != "GetCallerIdentity"] == [
        "GetSessionToken",
        "AssumeRole",
        "AssumeRole",
    ]
    assert all("SerialNumber" not in r for r in requests if r["Action"] == "AssumeRole")
