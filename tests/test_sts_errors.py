"""How STS and network failures become RefreshError: recoverable or not, chained, safe."""

from __future__ import annotations

import datetime as dt
import socket
import traceback
from typing import Any

import anyio
import botocore.exceptions
import botocore.parsers
import pytest

from aiostscreds import AssumeRoleProvider, RefreshError, RefreshPolicy

from .conftest import MFA_SERIAL, ROLE_ARN

pytestmark = pytest.mark.anyio


def client_error(code: str, status: int, message: str = "nope") -> Exception:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "AssumeRole",
    )


class RaisingClient:
    def __init__(self, error: BaseException | None = None, response: Any = None) -> None:
        self.error = error
        self.response = response
        self.calls = 0

    async def assume_role(self, **params: Any) -> Any:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.response


@pytest.mark.parametrize(
    ("error", "recoverable", "code"),
    [
        (client_error("Throttling", 400), True, "Throttling"),
        (client_error("ServiceUnavailable", 503), True, "ServiceUnavailable"),
        (client_error("InternalFailure", 500), True, "InternalFailure"),
        (client_error("SomethingNew", 502), True, "SomethingNew"),
        (client_error("AccessDenied", 403), False, "AccessDenied"),
        (client_error("ValidationError", 400), False, "ValidationError"),
        (client_error("MalformedPolicyDocument", 400), False, "MalformedPolicyDocument"),
        (client_error("RegionDisabledException", 403), False, "RegionDisabledException"),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            True,
            None,
        ),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True, None),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1"), True, None),
        (botocore.parsers.ResponseParserError("bad xml"), True, None),
        (botocore.exceptions.NoRegionError(), False, None),
    ],
)
async def test_failures_are_classified_and_chained(
    error: Exception, recoverable: bool, code: str | None
) -> None:
    provider = AssumeRoleProvider(RaisingClient(error), ROLE_ARN)
    with pytest.raises(RefreshError) as caught:
        await provider.retrieve()
    assert caught.value.recoverable is recoverable
    assert caught.value.code == code
    assert caught.value.__cause__ is error
    assert ROLE_ARN in str(caught.value)


async def test_mfa_code_is_scrubbed_from_sts_messages() -> None:
    error = client_error("AccessDenied", 403, "MFA code 424242 was already used")

    async def device(serial_number: str) -> str:
        return "424242"

    provider = AssumeRoleProvider(
        RaisingClient(error), ROLE_ARN, serial_number=MFA_SERIAL, token_provider=device
    )
    with pytest.raises(RefreshError) as caught:
        await provider.retrieve()
    assert "424242" not in str(caught.value)
    assert "AccessDenied" in str(caught.value)


async def test_mfa_code_is_scrubbed_from_the_chained_botocore_error_too() -> None:
    # The chained ClientError is printed in every traceback (the command's --debug,
    # logging's exc_info, error reporters): it must not quote the code either.
    error = client_error("ValidationError", 400, "Value '424242' at 'tokenCode' is bad")

    async def device(serial_number: str) -> str:
        return "424242"

    provider = AssumeRoleProvider(
        RaisingClient(error), ROLE_ARN, serial_number=MFA_SERIAL, token_provider=device
    )
    with pytest.raises(RefreshError) as caught:
        await provider.retrieve()
    text = "".join(traceback.format_exception(caught.value))
    assert "424242" not in text
    assert caught.value.__cause__ is error
    assert "ValidationError" in str(error)


@pytest.mark.parametrize(
    "response",
    [
        {},
        {"Credentials": {}},
        {"Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"}},
        {
            "Credentials": {
                "AccessKeyId": "ASIA1",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": "not a date",
            }
        },
        {
            "Credentials": {
                "AccessKeyId": "ASIA1",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc),
            }
        },
    ],
    ids=["empty", "no-fields", "no-expiration", "bad-expiration", "already-expired"],
)
async def test_unusable_responses_are_recoverable_failures_and_never_cached(
    response: dict[str, Any],
) -> None:
    client = RaisingClient(response=response)
    provider = AssumeRoleProvider(client, ROLE_ARN)
    with pytest.raises(RefreshError) as caught:
        await provider.get_credentials()
    assert caught.value.recoverable
    assert provider.credentials is None


async def test_load_timeout_bounds_the_sts_round_trip() -> None:
    class Slow:
        async def assume_role(self, **params: Any) -> Any:
            await anyio.sleep_forever()

    provider = AssumeRoleProvider(Slow(), ROLE_ARN, refresh=RefreshPolicy(load_timeout=0.05))
    with pytest.raises(RefreshError, match="timed out") as caught:
        await provider.retrieve()
    assert caught.value.recoverable


async def test_unreachable_endpoint_is_a_recoverable_failure(client_config: Any) -> None:
    from aiobotocore.session import AioSession

    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = client_config.merge(
        type(client_config)(retries={"total_max_attempts": 1}, connect_timeout=1)
    )
    async with AioSession().create_client(
        "sts", endpoint_url=f"http://127.0.0.1:{port}", config=config
    ) as client:
        provider = AssumeRoleProvider(client, ROLE_ARN)
        with pytest.raises(RefreshError) as caught:
            await provider.get_credentials()
    assert caught.value.recoverable
    assert isinstance(caught.value.__cause__, botocore.exceptions.BotoCoreError)
