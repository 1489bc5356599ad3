"""The credentials object aiobotocore signs with, and install()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import ReadOnlyCredentials

from aiostscreds import (
    AiobotocoreCredentials,
    AssumeRoleProvider,
    ConfigurationError,
    CredentialsCache,
    install,
)

from .conftest import ROLE_ARN
from .fakes import FakeClock, FakeSource, fresh
from .wire import WireLog

pytestmark = pytest.mark.anyio


async def test_frozen_credentials_are_botocore_read_only_credentials() -> None:
    clock = FakeClock()
    source = FakeSource(clock, fresh(900), fresh(900))
    cache = CredentialsCache(source, clock=clock)
    signer_view = AiobotocoreCredentials(cache)
    frozen = await signer_view.get_frozen_credentials()
    held = cache.credentials
    assert held is not None
    assert isinstance(frozen, ReadOnlyCredentials)
    assert frozen == (
        held.access_key_id,
        held.secret_access_key,
        held.session_token,
        "123456789012",
    )
    assert await signer_view.get_frozen_credentials() is frozen  # no rebuild on the hot path
    assert await signer_view.get_account_id() == "123456789012"
    assert signer_view.method == "aiostscreds"
    assert signer_view.get_deferred_property("account_id")() == "123456789012"
    clock.advance(1000)
    assert (await signer_view.get_frozen_credentials()).access_key != held.access_key_id
    assert "secret" not in repr(signer_view)


async def test_install_on_a_session_that_resolved_credentials_is_refused() -> None:
    from aiobotocore.session import AioSession

    session = AioSession()
    session.set_credentials("AKIAEXPLICIT", "explicit-secret")
    with pytest.raises(ConfigurationError, match="already resolved"):
        install(session, CredentialsCache(FakeSource(FakeClock())))

    resolved = AioSession()
    await resolved.get_credentials()
    with pytest.raises(ConfigurationError, match="already resolved"):
        install(resolved, CredentialsCache(FakeSource(FakeClock())))


def test_install_refuses_what_is_not_a_provider() -> None:
    from aiobotocore.session import AioSession

    with pytest.raises(ConfigurationError, match="get_credentials"):
        install(AioSession(), object())
    with pytest.raises(ConfigurationError, match="AioSession"):
        install(object(), CredentialsCache(FakeSource(FakeClock())))


async def test_install_works_on_a_session_created_with_a_profile(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sts_client: Any,
    moto_endpoint: str,
    client_config: Any,
) -> None:
    from aiobotocore.session import AioSession

    config = tmp_path / "config"
    config.write_text(
        "[profile static]\n"
        "aws_access_key_id = AKIAPROFILESTATIC01\n"
        "aws_secret_access_key = profile-static-secret\n"
        "region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    provider = AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="over-profile")
    session = AioSession(profile="static")
    assert install(session, provider) is session
    async with session.create_client(
        "sts", endpoint_url=moto_endpoint, config=client_config
    ) as sts:
        wire = WireLog().attach(sts)
        identity = await sts.get_caller_identity()
    assert identity["Arn"].endswith("assumed-role/aiostscreds-test/over-profile")
    assert wire.access_keys == [(await provider.get_credentials()).access_key_id]
