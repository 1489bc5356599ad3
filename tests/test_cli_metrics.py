"""``aiostscreds serve --metrics``: Prometheus text on GET /metrics, behind the same token."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli_env import started_serve, write_config
from tests.conftest import ROLE_ARN

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp.web runs on asyncio only


def serve(home: Path, moto_endpoint: str, *flags: str) -> Iterator[dict[str, str]]:
    with started_serve(home, moto_endpoint, *flags) as (env, process):
        yield env
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


async def _get(url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_metrics_answer_in_prometheus_text_with_the_token_only(
    home: Path, moto_endpoint: str
) -> None:
    for env in serve(home, moto_endpoint, "--metrics"):
        url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] + "metrics"
        token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        assert (await _get(url, {}))[::2] == (401, b"")
        assert (await _get(url, {"Authorization": token + "x"}))[::2] == (403, b"")
        status, content_type, body = await _get(url, {"Authorization": token})
        assert status == 200
        assert content_type.startswith("text/plain")
        families = {family.name: family for family in text_string_to_metric_families(body.decode())}
        assert {
            "aiostscreds_refreshes",
            "aiostscreds_refresh_duration_seconds",
            "aiostscreds_refresh_callers",
            "aiostscreds_credentials_expiry_timestamp_seconds",
            "aiostscreds_mfa_prompts",
            "aiostscreds_shared_cache",
            "aiostscreds_rejected_keys",
        } <= set(families)
        # serve's first refresh, before it printed the variables: one, for one caller.
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in families.values()
            for sample in family.samples
        }
        success = (("kind", "assume_role"), ("outcome", "success"))
        assert samples[("aiostscreds_refreshes_total", success)] == 1
        assert samples[("aiostscreds_refresh_callers_sum", (("kind", "assume_role"),))] == 1
        expiry = (("kind", "assume_role"), ("role_arn", ROLE_ARN))
        assert ("aiostscreds_credentials_expiry_timestamp_seconds", expiry) in samples
        # The credentials are still served at / beside the metrics, and are not in them.
        status, _, answer = await _get(
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], {"Authorization": token}
        )
        assert status == 200
        served = json.loads(answer)
        for secret in (served["SecretAccessKey"], served["Token"]):
            assert secret.encode() not in body


async def test_without_the_flag_there_is_no_metrics_page(home: Path, moto_endpoint: str) -> None:
    for env in serve(home, moto_endpoint):
        url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] + "metrics"
        token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        assert (await _get(url, {"Authorization": token}))[::2] == (404, b"")
