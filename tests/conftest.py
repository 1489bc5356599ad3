"""Test isolation, backends, and a real STS endpoint (moto's server) on loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Isolate every test from the user's ~/.aws and environment, before any botocore
# session exists: no config or credentials files, no metadata service, dummy keys.
_AWS_HOME = Path(tempfile.mkdtemp(prefix="aiostscreds-tests-"))
for _name in list(os.environ):
    if _name.startswith("AWS_"):
        del os.environ[_name]
os.environ.update(
    {
        "AWS_CONFIG_FILE": str(_AWS_HOME / "missing-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(_AWS_HOME / "missing-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIATESTSOURCE000001",
        "AWS_SECRET_ACCESS_KEY": "test-source-secret-key",
        # moto's request recorder (read when moto is imported) writes here, not in the cwd.
        "MOTO_RECORDER_FILEPATH": str(_AWS_HOME / "moto-recording.jsonl"),
    }
)

# One botocore data loader per data path in this process, shared by every session. A
# session's loader parses botocore's JSON data (endpoints, partitions, the STS model...)
# the first time a client needs it: about 90 ms of CPU for each fresh session's first
# client, and the tests make a fresh session in nearly every test. The data are read-only,
# and every client of one session already shares its loader's parsed copy, so sharing it
# across sessions changes nothing but the time. Processes the tests start load their own.
import functools  # noqa: E402

import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402

botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)  # type: ignore[attr-defined]

# Hypothesis in CI (CI=true, as .ci/run sets): derandomized, so every example comes from
# a seed fixed by the test itself and a red run replays with the same command, on any
# machine; no example database to carry between runs. pytest's header names the profile.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True
)
_HYPOTHESIS_PROFILE = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else None
if _HYPOTHESIS_PROFILE:
    _hypothesis_settings.load_profile(_HYPOTHESIS_PROFILE)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core, and one more.

    Some tests wait on purpose (a stalled STS past a read timeout, a fleet's cool-down,
    processes starting): the extra worker runs tests on the core a waiting one leaves
    idle. On 2 cores, 3 workers took the suite from 4 min 21 s to 3 min 55 s wall.
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) + 1
    return (os.cpu_count() or 1) + 1


def pytest_report_header() -> str:
    if _HYPOTHESIS_PROFILE:
        return (
            f"hypothesis: profile {_HYPOTHESIS_PROFILE!r} (derandomize=True: the seeds are fixed; "
            "replay a red run with CI=true python -m pytest ...)"
        )
    return "hypothesis: random seeds (CI=true for the derandomized 'ci' profile)"

ROLE_ARN = "arn:aws:iam::123456789012:role/aiostscreds-test"
MFA_SERIAL = "arn:aws:iam::123456789012:mfa/tester"


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def backend_name(anyio_backend: Any) -> str:
    # anyio_backend is a name, or a (name, options) pair.
    return str(anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server bound to 127.0.0.1 on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def client_config(backend_name: str) -> Any:
    """An AioConfig whose HTTP stack suits the running backend (httpx on trio)."""
    from aiobotocore.config import AioConfig

    if backend_name == "trio":
        from aiobotocore.httpxsession import HttpxSession

        return AioConfig(http_session_cls=HttpxSession)
    return AioConfig()


@pytest.fixture
def aio_session() -> Any:
    from aiobotocore.session import AioSession

    return AioSession()


@pytest.fixture
async def sts_client(
    aio_session: Any, moto_endpoint: str, client_config: Any
) -> AsyncIterator[Any]:
    """A real aiobotocore STS client that signs requests to the moto server."""
    async with aio_session.create_client(
        "sts", endpoint_url=moto_endpoint, config=client_config
    ) as client:
        yield client


# Issue 5: the fault-injecting STS proxy's fixtures and the secret-hygiene check.
pytest_plugins = ["tests.fault_proxy", "tests.hygiene", "tests.redis_server"]
