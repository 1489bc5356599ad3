"""The demo that README.md's first command runs."""

from __future__ import annotations

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
