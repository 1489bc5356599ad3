"""The demo that README.md's first command runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aiostscreds.cli._demo import run_demo


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_demo_refreshes_under_load_with_one_prompt_per_refresh(moto_endpoint: str) -> None:
    report = await run_demo(
        moto_endpoint, requests=120, refreshes=2, mfa_code="123456", concurrency=20
    )
    assert report["completed"] == 120 and report["failed"] == 0
    assert report["objects_listed"] >= 120
    assert report["sts_calls"] == 3
    assert report["prompts"] == 3
    assert report["signing_keys"] == 3
    assert report["identity"].endswith(":assumed-role/demo-admin/aiostscreds-demo")


def test_demo_command_runs_without_a_terminal() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aiostscreds", "demo", "--requests", "60", "--refreshes", "1"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "60/60 S3 requests succeeded" in result.stdout
    assert "STS AssumeRole calls: 2" in result.stdout
    assert "MFA prompts: 2" in result.stdout


DEMO = [sys.executable, "-m", "aiostscreds", "demo", "--requests", "40", "--refreshes", "1"]


def _demo_env() -> dict[str, str]:
    from tests.cli_env import ROOT

    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_demo_says_what_it_will_do_and_asks_again_after_a_typo() -> None:
    from tests.cli_env import run_on_terminal

    result = run_on_terminal(
        DEMO, _demo_env(), code=["12x45", "123456", "654321"], stderr_to_terminal=True, timeout=120
    )
    assert result.returncode == 0, result.terminal
    assert "accepts any six digits" in result.stdout
    assert "asked for a code 2 times" in result.stdout
    assert "That is not six digits" in result.terminal
    assert result.prompts == 3
    assert "MFA prompts: 2" in result.stdout
    assert "aiostscreds credential-process" in result.stdout
    assert "Traceback" not in result.terminal


def test_demo_ends_with_one_line_when_no_code_is_given() -> None:
    from tests.cli_env import run_on_terminal

    result = run_on_terminal(DEMO, _demo_env(), code="oops", stderr_to_terminal=True, timeout=120)
    assert result.returncode == 4, result.terminal
    assert "aiostscreds: error: no six-digit MFA code after 3 attempts" in result.terminal
    assert "Traceback" not in result.terminal


def test_demo_validates_mfa_code_with_argparse() -> None:
    result = subprocess.run(
        [*DEMO, "--mfa-code", "12"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # one line, no usage block
    assert "an MFA code is exactly six digits, such as 123456" in line
    assert "Traceback" not in result.stderr
