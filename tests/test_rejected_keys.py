"""Installed sessions recover from a rejected key by themselves (issue 8, item 5).

Every client here is a real aiobotocore client of a session given to
``install()``, signing real requests. The rejection comes either from the
fault proxy in front of moto (``reject_expired_keys``: the proxy, playing the
service, refuses with ``400 ExpiredToken`` any key whose expiry is past on its
clock), or from a ``before-send`` hook that answers the service call with a
canned response, so a thousand of them cost no network. AssumeRole always goes
to moto, and is counted there or on the wire.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import botocore.exceptions
import pytest
from aiobotocore.awsrequest import AioAWSResponse
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from aiostscreds import AssumeRoleProvider, install, session_from_profile
from aiostscreds import _rejected_keys as rejected_keys

from .conftest import ROLE_ARN
from .fault_proxy import FaultProxy, error_body
from .wire import WireLog

pytestmark = pytest.mark.anyio

_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
_IDENTITY = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/aiostscreds-test/"
    b"canned</Arn><UserId>AROACANNED:canned</UserId><Account>123456789012</Account>"
    b"</GetCallerIdentityResult><ResponseMetadata><RequestId>canned</RequestId>"
    b"</ResponseMetadata></GetCallerIdentityResponse>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self) -> bytes:
        return self.data


def canned(status: int, body: bytes) -> AioAWSResponse:
    return AioAWSResponse(
        "http://127.0.0.1/", status, {"content-type": "text/xml"}, _Body(body)
    )


class CannedService:
    """A ``before-send`` hook playing STS's GetCallerIdentity: ``code`` for rejected keys."""

    def __init__(self, rejects: Callable[[str], bool], code: str = "ExpiredToken") -> None:
        self.rejects = rejects
        self.code = code
        self.keys: list[str] = []
        self.hold: Callable[[int, str], Any] | None = None

    async def __call__(self, request: Any, **kwargs: Any) -> AioAWSResponse:
        authorization = request.headers["Authorization"]
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        key = _CREDENTIAL.search(authorization).group(1)  # type: ignore[union-attr]
        index = len(self.keys)
        self.keys.append(key)
        if self.hold is not None:
            await self.hold(index, key)
        if self.rejects(key):
            status = 400 if self.code.startswith(("Expired", "Request")) else 403
            return canned(status, error_body(self.code, "the key is no good"))
        return canned(200, _IDENTITY)


@pytest.fixture
async def provider(sts_client: Any) -> AsyncIterator[AssumeRoleProvider]:
    async with AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="rejected") as p:
        yield p


@pytest.fixture
def assume_role_wire(sts_client: Any) -> WireLog:
    """AssumeRole calls as sent to moto by the provider's own client."""
    return WireLog().attach(sts_client, "before-send.sts.AssumeRole")


def installed_client(
    provider: Any, endpoint: str, config: Any, service: str = "sts"
) -> Any:
    session = install(AioSession(), provider)
    return session.create_client(service, endpoint_url=endpoint, config=config)


async def test_a_key_the_service_rejects_is_replaced_and_the_call_succeeds(
    fault_proxy: FaultProxy, aio_session: Any, client_config: Any
) -> None:
    # STS (moto behind the proxy) and S3 see one clock; the library's cache keeps its own.
    skew = [0.0]
    fault_proxy.clock = lambda: time.time() + skew[0]
    async with aio_session.create_client(
        "sts", endpoint_url=fault_proxy.url, config=client_config
    ) as sts:
        provider = AssumeRoleProvider(sts, ROLE_ARN, role_session_name="rejected-by-s3")
        async with installed_client(provider, fault_proxy.url, client_config, "s3") as s3:
            await s3.list_buckets()
            first = (await provider.get_credentials()).access_key_id
            # The service now counts the key as expired while the cache, on its clock,
            # still holds it as fresh: S3 answers 400 ExpiredToken.
            fault_proxy.reject_expired_keys = True
            skew[0] = 7200.0
            answer = await s3.list_buckets()
            second = (await provider.get_credentials()).access_key_id
        await provider.aclose()
    s3_calls = [(seen.access_key, seen.status) for seen in fault_proxy.calls() if not seen.action]
    assert s3_calls == [(first, 200), (first, 400), (second, 200)]
    assert second != first
    assert len(fault_proxy.calls("AssumeRole")) == 2
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert provider.rejected_keys == {first}


async def test_a_thousand_concurrent_rejections_make_one_assume_role(
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: key == first)
    all_signed = anyio.Event()
    new_key_seen = anyio.Event()
    n = 1000

    async def hold(index: int, key: str) -> None:
        # Every first attempt is signed with the rejected key before any answer;
        # half the rejections arrive at once, the other half once the new key is
        # already in use, so they must not invalidate it.
        if key != first:
            new_key_seen.set()
            return
        if index == n - 1:
            all_signed.set()
        await all_signed.wait()
        if index >= n // 2:
            await new_key_seen.wait()

    service.hold = hold
    answers: list[Any] = []
    async with installed_client(provider, moto_endpoint, client_config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)

        async def call() -> None:
            answers.append(await sts.get_caller_identity())

        async with anyio.create_task_group() as group:
            for _ in range(n):
                group.start_soon(call)
    second = (await provider.get_credentials()).access_key_id
    assert len(answers) == n
    assert len(assume_role_wire.requests) == 2  # the first fetch, and one for all rejections
    assert service.keys[:n] == [first] * n
    assert sorted(service.keys[n:]) == [second] * n
    assert provider.rejected_keys == {first}


@pytest.mark.parametrize("code", sorted(rejected_keys.REJECTED_KEY_CODES))
async def test_each_rejected_key_code_invalidates_the_signing_key_and_retries(
    code: str,
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: key == first, code)
    async with installed_client(provider, moto_endpoint, client_config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
        answer = await sts.get_caller_identity()
    second = (await provider.get_credentials()).access_key_id
    assert answer["Account"] == "123456789012"
    assert service.keys == [first, second]
    assert second != first
    assert len(assume_role_wire.requests) == 2


@pytest.mark.parametrize(
    "code",
    [
        "RequestExpired",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "RequestTimeTooSkewed",
        "AccessDenied",
    ],
)
async def test_clock_and_signature_errors_do_not_invalidate_the_key(
    code: str,
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: True, code)
    async with installed_client(provider, moto_endpoint, client_config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            await sts.get_caller_identity()
    assert raised.value.response["Error"]["Code"] == code
    assert service.keys == [first]  # botocore retries none of these
    assert provider.rejected_keys == set()
    assert len(assume_role_wire.requests) == 1


async def test_a_rejection_adds_at_most_one_attempt_to_a_request(
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No cooldown, and a retry budget of 5: the marker alone stops the loop.
    monkeypatch.setattr(rejected_keys, "COOLDOWN_SECONDS", 0.0)
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: True)
    config = client_config.merge(
        AioConfig(retries={"mode": "standard", "total_max_attempts": 5})
    )
    async with installed_client(provider, moto_endpoint, config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
        with pytest.raises(botocore.exceptions.ClientError, match="ExpiredToken"):
            await sts.get_caller_identity()
    assert len(service.keys) == 2
    assert service.keys[0] == first
    assert service.keys[1] != first
    assert len(assume_role_wire.requests) == 2


async def test_a_key_refused_right_after_its_replacement_is_not_invalidated_again(
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every key is refused (say, a region that refuses the global STS endpoint's
    # tokens): one replacement is tried, then no AssumeRole per call.
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: True, "InvalidClientTokenId")
    async with installed_client(provider, moto_endpoint, client_config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
        for _ in range(5):
            with pytest.raises(botocore.exceptions.ClientError, match="InvalidClientTokenId"):
                await sts.get_caller_identity()
    second = (await provider.get_credentials()).access_key_id
    assert service.keys == [first, second, second, second, second, second]
    assert len(assume_role_wire.requests) == 2
    assert provider.rejected_keys == {first}
    warnings = [r.getMessage() for r in caplog.records if r.name == "aiostscreds"]
    assert sum(f"rejected key {first} " in m and "invalidated it" in m for m in warnings) == 1
    assert sum("not invalidating it" in m for m in warnings) == 1  # once, not per call


async def test_a_client_without_retries_still_drops_the_rejected_key(
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: key == first)
    config = client_config.merge(AioConfig(retries={"total_max_attempts": 1}))
    async with installed_client(provider, moto_endpoint, config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
        with pytest.raises(botocore.exceptions.ClientError, match="ExpiredToken"):
            await sts.get_caller_identity()
        await sts.get_caller_identity()
    second = (await provider.get_credentials()).access_key_id
    assert service.keys == [first, second]
    assert provider.rejected_keys == {first}
    assert len(assume_role_wire.requests) == 2


async def test_only_the_key_that_signed_the_rejected_request_is_invalidated(
    provider: AssumeRoleProvider,
    assume_role_wire: WireLog,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    # The request is signed with the first key; before its rejection comes back,
    # another refresh has replaced that key. The replacement must stay.
    first = (await provider.get_credentials()).access_key_id
    service = CannedService(lambda key: key == first)

    async def refresh_in_between(index: int, key: str) -> None:
        if index == 0:
            await provider.force_refresh()

    service.hold = refresh_in_between
    async with installed_client(provider, moto_endpoint, client_config) as sts:
        sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
        answer = await sts.get_caller_identity()
    second = (await provider.get_credentials()).access_key_id
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert service.keys == [first, second]
    assert len(assume_role_wire.requests) == 2  # the first fetch and the forced one only
    assert provider.rejected_keys == set()


async def test_a_role_chain_replaces_each_rejected_hop_key(
    fault_proxy: FaultProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client_config: Any,
) -> None:
    # base (static keys) -> middle (role) -> top (role): session_from_profile installs
    # each hop, so the top hop's AssumeRole, signed with the middle key, recovers too.
    (tmp_path / "config").write_text(
        "[profile middle]\n"
        "role_arn = arn:aws:iam::111111111111:role/middle\n"
        "source_profile = base\n"
        "region = us-east-1\n"
        "[profile top]\n"
        "role_arn = arn:aws:iam::222222222222:role/top\n"
        "source_profile = middle\n"
        "role_session_name = chain-top\n"
        "region = us-east-1\n"
    )
    (tmp_path / "credentials").write_text(
        "[base]\naws_access_key_id = AKIABASESTATICKEY001\n"
        "aws_secret_access_key = base-static-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fault_proxy.url)
    skew = [0.0]
    fault_proxy.clock = lambda: time.time() + skew[0]
    session = session_from_profile("top", client_config=client_config)
    async with session.create_client("sts") as sts:
        await sts.get_caller_identity()
        # Both role keys are now past their expiry on the service's clock.
        fault_proxy.reject_expired_keys = True
        skew[0] = 7200.0
        identity = await sts.get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/top/chain-top"
    trail = [
        (seen.action, seen.status, (seen.access_key or "")[:4]) for seen in fault_proxy.calls()
    ]
    assert trail == [
        ("AssumeRole", 200, "AKIA"),  # middle, signed with the base keys
        ("AssumeRole", 200, "ASIA"),  # top, signed with the middle key
        ("GetCallerIdentity", 200, "ASIA"),
        ("GetCallerIdentity", 400, "ASIA"),  # top key rejected: invalidated, retried
        ("AssumeRole", 400, "ASIA"),  # top refresh: middle key rejected: invalidated, retried
        ("AssumeRole", 200, "AKIA"),  # middle refresh
        ("AssumeRole", 200, "ASIA"),  # top refresh, retried with the new middle key
        ("GetCallerIdentity", 200, "ASIA"),  # the user's call, with the new top key
    ]


async def test_installing_again_moves_the_recovery_to_the_new_source(
    provider: AssumeRoleProvider,
    sts_client: Any,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    async with AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="replaced") as earlier:
        session = install(install(AioSession(), earlier), provider)
        first = (await provider.get_credentials()).access_key_id
        service = CannedService(lambda key: key == first)
        async with session.create_client(
            "sts", endpoint_url=moto_endpoint, config=client_config
        ) as sts:
            sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
            await sts.get_caller_identity()
    assert service.keys == [first, (await provider.get_credentials()).access_key_id]
    assert provider.rejected_keys == {first}
