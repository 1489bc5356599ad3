"""``aiostscreds serve``: the ECS credentials protocol, real HTTP clients, boto3."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anyio
import anyio.to_thread
import pytest

from aiostscreds.cli._profile import open_profile
from aiostscreds.cli._server import credential_server
from tests.cli_env import COMMAND, ROLE_IDENTITY, command_env, started_serve, write_config
from tests.conftest import MFA_SERIAL
from tests.moto_recorder import recording

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp.web runs on asyncio only


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


@pytest.fixture
def served(home: Path, moto_endpoint: str) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """``aiostscreds serve --profile role`` running, and the variables it printed."""
    with started_serve(home, moto_endpoint) as running:
        yield running


async def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.read()


async def test_serve_answers_only_requests_with_its_token(
    served: tuple[dict[str, str], subprocess.Popen[str]],
) -> None:
    env, process = served
    url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert url.startswith("http://127.0.0.1:")
    assert await _get(url, {}) == (401, b"")
    assert await _get(url, {"Authorization": token[:-1]}) == (403, b"")
    assert await _get(url, {"Authorization": token + "x"}) == (403, b"")
    assert await _get(url, {"Authorization": "Bearer " + token}) == (403, b"")
    status, body = await _get(url, {"Authorization": token})
    assert status == 200
    answer = json.loads(body)
    assert set(answer) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert answer["Expiration"].endswith("Z")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None and process.stderr.read() == ""


async def test_serve_shuts_down_cleanly_on_sigint(
    served: tuple[dict[str, str], subprocess.Popen[str]],
) -> None:
    env, process = served
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None and process.stderr.read() == ""
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], {})


def _boto3_arn(endpoint: str, env: dict[str, str]) -> str:
    code = (
        "import boto3, sys\n"
        "print(boto3.client('sts', endpoint_url=sys.argv[1]).get_caller_identity()['Arn'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_boto3_signs_with_the_served_role(
    served: tuple[dict[str, str], subprocess.Popen[str]], home: Path, moto_endpoint: str
) -> None:
    env, _ = served
    child_env = command_env(home, moto_endpoint, **env)
    assert _boto3_arn(moto_endpoint, child_env).endswith(ROLE_IDENTITY)


async def test_a_thousand_concurrent_clients_of_serve_make_one_assume_role(
    home: Path, moto_endpoint: str
) -> None:
    with recording(moto_endpoint) as recorder:
        process = subprocess.Popen(  # noqa: ASYNC220 - starts at once
            [*COMMAND, "serve", "--profile", "role"],
            env=command_env(home, moto_endpoint),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            env = dict(
                process.stdout.readline()[len("export ") :].strip().split("=", 1) for _ in range(2)
            )
            statuses = await _many(
                env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                env["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
                1000,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        assert statuses == [200] * 1000
        assert recorder.assume_role_calls() == 1


async def _many(url: str, token: str, clients: int) -> list[int]:
    """``clients`` requests at once, each on a connection of its own."""
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.get(url, headers={"Authorization": token}) as response:
                await response.read()
                statuses.append(response.status)

        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one)
    return statuses


@pytest.fixture
def profile_env(home: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)


@pytest.mark.usefixtures("profile_env")
async def test_a_thousand_clients_of_a_cold_server_share_one_mfa_prompt_and_one_call(
    moto_endpoint: str,
) -> None:
    prompts = 0

    async def tokens(serial_number: str) -> str:
        nonlocal prompts
        prompts += 1
        await anyio.sleep(0.2)  # a human typing, while the requests pile up
        return "123456"

    chain = open_profile("mfa", cache=False, token_provider=tokens)
    with recording(moto_endpoint) as recorder:
        async with credential_server(chain.top.get) as env:
            statuses = await _many(
                env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                env["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
                1000,
            )
        calls = [r for r in recorder.requests() if r.get("Action") == "AssumeRole"]
    await chain.aclose()
    assert statuses == [200] * 1000
    assert prompts == 1
    assert len(calls) == 1 and calls[0]["SerialNumber"] == MFA_SERIAL


@pytest.mark.usefixtures("profile_env")
async def test_boto3_through_the_server_picks_up_a_forced_refresh(
    home: Path, moto_endpoint: str
) -> None:
    # 15-minute credentials: botocore's container provider asks the server again on
    # every call (they are inside its 15-minute advisory window).
    write_config(home, duration=900)
    chain = open_profile("role", cache=False)
    code = (
        "import boto3, sys\n"
        "sts = boto3.client('sts', endpoint_url=sys.argv[1])\n"
        "for line in sys.stdin:\n"
        "    sts.get_caller_identity()\n"
        "    creds = sts._request_signer._credentials.get_frozen_credentials()\n"
        "    print(creds.access_key, flush=True)\n"
    )
    async with credential_server(chain.top.get) as env, await anyio.open_process(
        [sys.executable, "-c", code, moto_endpoint],
        env=command_env(home, moto_endpoint, **env),
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        lines = child.stdout

        async def ask() -> str:
            assert child.stdin is not None
            await child.stdin.send(b"go\n")
            return (await lines.receive()).decode().strip()

        first = await ask()
        assert first == (await chain.top.get()).access_key_id
        refreshed = await chain.top.force_refresh()
        assert refreshed.access_key_id != first
        assert await ask() == refreshed.access_key_id
        await child.stdin.aclose()
    await chain.aclose()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_botocores_container_provider_accepts_both_loopback_servers(host: str) -> None:
    import datetime as dt

    from botocore.credentials import ContainerProvider

    from aiostscreds import Credentials

    held = Credentials(
        access_key_id="ASIALOOPBACKTEST0001",
        secret_access_key="loopback-secret",
        session_token="loopback-token",
        expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
    )

    async def get_credentials() -> Credentials:
        return held

    async with credential_server(get_credentials, host=host) as env:
        loaded = await anyio.to_thread.run_sync(lambda: ContainerProvider(environ=env).load())
    frozen = loaded.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "ASIALOOPBACKTEST0001",
        "loopback-secret",
        "loopback-token",
    )


async def test_an_authorization_header_that_is_not_utf8_gets_403_without_a_body() -> None:
    import datetime as dt
    from urllib.parse import urlsplit

    from aiostscreds import Credentials

    calls = 0

    async def get_credentials() -> Credentials:
        nonlocal calls
        calls += 1
        return Credentials(
            access_key_id="ASIANOTUTF8TEST00001",
            secret_access_key="not-utf8-secret",
            session_token="not-utf8-token",
            expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
        )

    async with credential_server(get_credentials) as env:
        url = urlsplit(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
        assert url.hostname is not None and url.port is not None
        async with await anyio.connect_tcp(url.hostname, url.port) as stream:
            await stream.send(
                b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: \xff\xfe\r\n"
                b"Connection: close\r\n\r\n"
            )
            reply = b""
            with anyio.move_on_after(30):
                async for chunk in stream:
                    reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 "), head
    assert body == b""
    assert calls == 0


async def test_leaving_the_server_cancels_a_request_still_waiting_for_credentials() -> None:
    # A request can wait on a prompt nobody answers: SIGTERM must still end `serve`.
    from aiostscreds import Credentials

    started = anyio.Event()
    cancelled = 0
    outcomes: list[str] = []

    async def get_credentials() -> Credentials:
        nonlocal cancelled
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled += 1
            raise
        raise AssertionError("unreachable")

    async def client(env: dict[str, str]) -> None:
        headers = {"Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}
        try:
            outcomes.append(str(await _get(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers)))
        except aiohttp.ClientError as error:
            outcomes.append(type(error).__name__)

    with anyio.fail_after(50):  # a hang guard: aiohttp waited up to 2 x 60 s
        async with anyio.create_task_group() as tasks, credential_server(get_credentials) as env:
            tasks.start_soon(client, env)
            await started.wait()
    assert cancelled == 1
    assert len(outcomes) == 1


async def test_a_request_without_the_token_gets_401_or_403_whatever_its_method_and_path() -> None:
    import datetime as dt

    from aiostscreds import Credentials

    calls = 0

    async def get_credentials() -> Credentials:
        nonlocal calls
        calls += 1
        return Credentials(
            access_key_id="ASIAANYPATHTEST00001",
            secret_access_key="any-path-secret",
            session_token="any-path-token",
            expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
        )

    async with credential_server(get_credentials) as env, aiohttp.ClientSession() as session:
        url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        for method, path in (("POST", ""), ("GET", "x"), ("PUT", "y/z"), ("DELETE", "")):
            for headers, status in (({}, 401), ({"Authorization": "nope"}, 403)):
                async with session.request(method, url + path, headers=headers) as response:
                    assert (response.status, await response.read()) == (status, b"")
        async with session.post(url, headers={"Authorization": token}) as response:
            assert (response.status, await response.read()) == (404, b"")
        async with session.get(url, headers={"Authorization": token}) as response:
            assert response.status == 200
    assert calls == 1
