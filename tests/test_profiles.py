"""session_from_profile: shared-config role chains with MFA, against moto's STS on loopback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiostscreds import (
    ConfigurationError,
    FileCache,
    RefreshPolicy,
    TokenProviderRequiredError,
    session_from_profile,
)
from aiostscreds._profiles import _assemble

from .moto_recorder import recording

pytestmark = pytest.mark.anyio

MIDDLE_ROLE = "arn:aws:iam::111111111111:role/middle"
TOP_ROLE = "arn:aws:iam::222222222222:role/top"
ALICE_MFA = "arn:aws:iam::111111111111:mfa/alice"

WriteConfig = Callable[..., Path]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiobotocore's default HTTP stack; trio is covered below


@pytest.fixture
def shared_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_endpoint: str
) -> WriteConfig:
    """Write config and credentials files and point botocore at them and at moto."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)

    def write(config: str, credentials: str = "") -> Path:
        config_path = tmp_path / "config"
        credentials_path = tmp_path / "credentials"
        config_path.write_text(config)
        credentials_path.write_text(credentials)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config_path))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_path))
        return tmp_path

    return write


class Tokens:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def __call__(self, serial_number: str) -> str:
        self.prompts.append(serial_number)
        return f"{400000 + len(self.prompts):06d}"


CHAIN = f"""
[profile middle]
role_arn = {MIDDLE_ROLE}
source_profile = base
region = us-east-1

[profile top]
role_arn = {TOP_ROLE}
source_profile = middle
mfa_serial = {ALICE_MFA}
role_session_name = alice-top
region = us-east-1
"""
BASE_KEYS = """
[base]
aws_access_key_id = AKIABASESTATICKEY001
aws_secret_access_key = base-static-secret
"""


async def test_static_to_role_to_mfa_role_chain_signs_as_the_last_role(
    shared_config: WriteConfig, moto_endpoint: str
) -> None:
    shared_config(CHAIN, BASE_KEYS)
    tokens = Tokens()
    session, (middle, top) = _assemble(
        "top", token_provider=tokens, cache=None, refresh=RefreshPolicy(), region_name=None
    )
    with recording(moto_endpoint) as server:
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/top/alice-top"
        requests = [r for r in server.requests() if r.get("Action") == "AssumeRole"]
    assert [r["RoleArn"] for r in requests] == [MIDDLE_ROLE, TOP_ROLE]
    middle_request, top_request = requests
    assert middle_request["_signing_key"] == "AKIABASESTATICKEY001"
    assert "SerialNumber" not in middle_request
    assert top_request["SerialNumber"] == ALICE_MFA
    assert top_request["TokenCode"] == "400001"
    # No duration_seconds: nothing sent, as botocore and the AWS CLI do (STS gives 1 hour).
    assert "DurationSeconds" not in top_request and "DurationSeconds" not in middle_request
    assert top.duration.total_seconds() == 3600
    assert top_request["_signing_key"] == (await middle.get_credentials()).access_key_id
    assert tokens.prompts == [ALICE_MFA]

    # Each hop refreshes on its own: the MFA hop prompts once per refresh of itself only.
    await middle.force_refresh()
    assert tokens.prompts == [ALICE_MFA]
    await top.force_refresh()
    assert tokens.prompts == [ALICE_MFA, ALICE_MFA]


async def test_session_from_profile_returns_an_installed_session(
    shared_config: WriteConfig,
) -> None:
    shared_config(CHAIN, BASE_KEYS)
    session = session_from_profile("top", token_provider=Tokens())
    async with session.create_client("sts") as sts:
        identity = await sts.get_caller_identity()
    assert identity["Arn"].startswith("arn:aws:sts::222222222222:assumed-role/top/")


async def test_credential_source_environment_uses_the_environment_keys(
    shared_config: WriteConfig, moto_endpoint: str
) -> None:
    shared_config(
        f"[profile env-role]\nrole_arn = {MIDDLE_ROLE}\ncredential_source = Environment\n"
    )
    session = session_from_profile("env-role")
    with recording(moto_endpoint) as server:
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        (request,) = [r for r in server.requests() if r.get("Action") == "AssumeRole"]
    assert identity["Arn"].startswith("arn:aws:sts::111111111111:assumed-role/middle/")
    assert request["_signing_key"] == "AKIATESTSOURCE000001"  # from the environment


async def test_source_profile_static_keys_win_over_its_own_role(
    shared_config: WriteConfig, moto_endpoint: str
) -> None:
    shared_config(
        f"[profile source]\nrole_arn = {TOP_ROLE}\nsource_profile = nowhere\n"
        "aws_access_key_id = AKIASOURCEOWNKEY0001\naws_secret_access_key = s\n"
        f"[profile role]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = source\n"
    )
    session = session_from_profile("role")
    with recording(moto_endpoint) as server:
        async with session.create_client("sts") as sts:
            await sts.get_caller_identity()
        requests = [r for r in server.requests() if r.get("Action") == "AssumeRole"]
    assert [r["RoleArn"] for r in requests] == [MIDDLE_ROLE]
    assert requests[0]["_signing_key"] == "AKIASOURCEOWNKEY0001"


async def test_profile_may_source_its_own_static_keys(shared_config: WriteConfig) -> None:
    shared_config(
        f"[profile self]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = self\n"
        "aws_access_key_id = AKIASELFSOURCEKEY001\naws_secret_access_key = s\n"
    )
    session = session_from_profile("self")
    async with session.create_client("sts") as sts:
        identity = await sts.get_caller_identity()
    assert ":assumed-role/middle/" in identity["Arn"]


async def test_duration_seconds_and_external_id_are_requested(
    shared_config: WriteConfig, moto_endpoint: str
) -> None:
    shared_config(
        f"[profile long]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = base\n"
        "duration_seconds = 7200\nexternal_id = ext-1\n",
        BASE_KEYS,
    )
    session = session_from_profile("long")
    with recording(moto_endpoint) as server:
        async with session.create_client("sts") as sts:
            await sts.get_caller_identity()
        (request,) = [r for r in server.requests() if r.get("Action") == "AssumeRole"]
    assert request["DurationSeconds"] == "7200"
    assert request["ExternalId"] == "ext-1"


async def test_profile_without_a_role_is_aiobotocores_own_session(
    shared_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # it would win over the profile's region
    shared_config("[profile plain]\nregion = eu-west-1\n", BASE_KEYS.replace("[base]", "[plain]"))
    tokens = Tokens()
    session = session_from_profile("plain", token_provider=tokens)
    credentials = await session.get_credentials()
    assert credentials.access_key == "AKIABASESTATICKEY001"
    assert session.get_config_variable("region") == "eu-west-1"
    assert tokens.prompts == []


async def test_implied_default_profile_absent_gives_the_default_chain(
    shared_config: WriteConfig,
) -> None:
    shared_config(f"[profile other]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = base\n", BASE_KEYS)
    session = session_from_profile()
    credentials = await session.get_credentials()
    assert credentials.access_key == "AKIATESTSOURCE000001"  # the environment's, via the chain


async def test_aws_profile_then_aws_default_profile_choose_the_profile(
    shared_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_config(CHAIN, BASE_KEYS)
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "middle")
    session = session_from_profile()
    async with session.create_client("sts") as sts:
        assert ":assumed-role/middle/" in (await sts.get_caller_identity())["Arn"]
    monkeypatch.setenv("AWS_PROFILE", "top")
    with pytest.raises(TokenProviderRequiredError):
        session_from_profile()  # AWS_PROFILE wins, and top needs MFA


def test_explicit_profile_that_is_missing_is_an_error(shared_config: WriteConfig) -> None:
    shared_config(CHAIN, BASE_KEYS)
    with pytest.raises(ConfigurationError, match="'nope'"):
        session_from_profile("nope")


def test_region_name_overrides_the_profile_region(shared_config: WriteConfig) -> None:
    shared_config(CHAIN, BASE_KEYS)
    session = session_from_profile("middle", region_name="ap-southeast-2")
    assert session.get_config_variable("region") == "ap-southeast-2"


def test_mfa_profile_without_token_provider_names_both_profiles(
    shared_config: WriteConfig,
) -> None:
    shared_config(
        CHAIN + f"[profile above]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = top\n", BASE_KEYS
    )
    with pytest.raises(TokenProviderRequiredError) as caught:
        session_from_profile("above")
    message = str(caught.value)
    assert "'top'" in message and "'above'" in message and "mfa_serial" in message
    assert isinstance(caught.value, ConfigurationError)


BAD_CONFIGS = [
    (
        "unknown source",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = ghost\n",
        ["'ghost'", "'a'", "source_profile"],
    ),
    (
        "loop",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = b\n"
        f"[profile b]\nrole_arn = {TOP_ROLE}\nsource_profile = a\n",
        ["a -> b -> a", "loop"],
    ),
    (
        "source without credentials",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = b\n"
        "[profile b]\nregion = us-east-1\n",
        ["'b'", "no credentials"],
    ),
    (
        "bad credential_source",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\ncredential_source = Env\n",
        ["'a'", "credential_source", "Environment"],
    ),
    (
        "half key pair",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = b\n"
        "[profile b]\naws_access_key_id = AKIAHALF\n",
        ["'b'", "aws_secret_access_key"],
    ),
    (
        "half key pair on the requested profile",
        "[profile a]\naws_secret_access_key = x\n",
        ["'a'", "aws_access_key_id"],
    ),
    (
        "malformed duration",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\nduration_seconds = 1h\n",
        ["'a'", "duration_seconds", "whole number"],
    ),
    (
        "duration too long",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\nduration_seconds = 50000\n",
        ["'a'", "duration_seconds", "43200"],
    ),
    (
        "chained duration over an hour",
        CHAIN.replace(
            "region = us-east-1\n\n[profile top]",
            "region = us-east-1\n\n[profile top]\nduration_seconds = 7200",
        ),
        ["'top'", "duration_seconds", "1 hour"],
    ),
    (
        "malformed role_arn",
        "[profile a]\nrole_arn = arn:aws:iam::1:user/x\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\n",
        ["'a'", "role_arn"],
    ),
    (
        "malformed mfa_serial",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\nmfa_serial = bad serial!\n",
        ["'a'", "mfa_serial"],
    ),
    (
        "malformed external_id",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\nexternal_id = x\n",
        ["'a'", "external_id"],
    ),
    (
        "malformed role_session_name",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\nrole_session_name = has space\n",
        ["'a'", "role_session_name"],
    ),
    (
        "two sources",
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "credential_source = Environment\n",
        ["'a'", "source_profile", "credential_source"],
    ),
    ("no source", f"[profile a]\nrole_arn = {MIDDLE_ROLE}\n", ["'a'", "source_profile"]),
]


@pytest.mark.parametrize(
    ("case", "config", "expected"), BAD_CONFIGS, ids=[c for c, _, _ in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_profile_and_key(
    shared_config: WriteConfig, case: str, config: str, expected: list[str]
) -> None:
    shared_config(config, BASE_KEYS)
    with pytest.raises(ConfigurationError) as caught:
        session_from_profile("top" if "chained" in case else "a", token_provider=Tokens())
    for fragment in expected:
        assert fragment in str(caught.value), case


def test_refresh_policy_must_fit_each_hop(shared_config: WriteConfig) -> None:
    shared_config(CHAIN, BASE_KEYS)
    with pytest.raises(ConfigurationError, match="'middle'"):
        session_from_profile("middle", refresh=RefreshPolicy(expiry_window=3600))


def test_cache_must_implement_shared_cache(shared_config: WriteConfig, tmp_path: Path) -> None:
    shared_config(CHAIN, BASE_KEYS)
    with pytest.raises(ConfigurationError, match="FileCache"):
        session_from_profile("middle", cache=str(tmp_path))  # type: ignore[arg-type]
    assert session_from_profile("middle", cache=FileCache(tmp_path / "c"))


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_profile_chain_runs_on_trio_with_an_httpx_client_config(
    shared_config: WriteConfig, client_config: Any
) -> None:
    shared_config(CHAIN, BASE_KEYS)
    session = session_from_profile("top", token_provider=Tokens(), client_config=client_config)
    async with session.create_client("sts") as sts:
        identity = await sts.get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/top/alice-top"


async def test_generic_aws_endpoint_url_is_honoured(
    shared_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, moto_endpoint: str
) -> None:
    shared_config(CHAIN, BASE_KEYS)
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    with recording(moto_endpoint) as server:
        session = session_from_profile("middle")
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        assert server.assume_role_calls(MIDDLE_ROLE) == 1
    assert ":assumed-role/middle/" in identity["Arn"]


class ClockedSTS:
    """A stand-in STS (engine-level test) whose credentials live as STS would give them."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.calls: list[dict[str, Any]] = []

    async def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        lifetime = params.get("DurationSeconds", 3600)  # STS's default when none is sent
        expiration = dt.datetime.fromtimestamp(self.clock() + lifetime, dt.timezone.utc)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIACADENCE{n:09d}",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": expiration,
            }
        }


@pytest.mark.parametrize(
    ("duration", "prompts"),
    [
        pytest.param(dt.timedelta(minutes=15), 48, id="15-minutes"),
        pytest.param(None, 11, id="no-DurationSeconds-1-hour"),
    ],
)
async def test_mfa_prompt_cadence_over_an_8_hour_working_day(
    duration: dt.timedelta | None, prompts: int
) -> None:
    """15-minute credentials prompt every 10 min (5-min advisory window): 48 times a day;
    1-hour ones every 45 min (15-min window): 11 times."""
    from aiostscreds import AssumeRoleProvider

    from .fakes import FakeClock

    clock = FakeClock()
    tokens = Tokens()
    sts = ClockedSTS(clock)
    provider = AssumeRoleProvider(
        sts,
        MIDDLE_ROLE,
        duration=duration,
        serial_number=ALICE_MFA,
        token_provider=tokens,
        clock=clock,
    )
    for _ in range(8 * 60 * 2):  # a request every 30 s for 8 hours
        await provider.get_credentials()
        clock.advance(30)
    assert len(tokens.prompts) == prompts
    sent = {call.get("DurationSeconds") for call in sts.calls}
    assert sent == ({None} if duration is None else {900})


# Bad input: only ConfigurationError, and no STS call (issue 9, item 5) ----------------

RAW_CONFIGS = [
    pytest.param(
        b"[profile a]\nregion = us-east-1\n[profile a]\nregion = eu-west-1\n",
        "DuplicateSectionError",
        id="duplicate-section",
    ),
    pytest.param(b"[profile a]\nregion = caf\xe9\n", "UnicodeDecodeError", id="not-utf-8"),
    pytest.param(
        b"\xef\xbb\xbf[profile a]\nregion = us-east-1\n", "MissingSectionHeader", id="bom"
    ),
    pytest.param(
        b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n", "MissingSectionHeader", id="no-header"
    ),
    pytest.param(
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\ncredential_source =\n"
        "    Environment = yes\n".encode(),
        "credential_source in profile 'a'",
        id="credential-source-sub-section",
    ),
    pytest.param(
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile =\n    x = y\n".encode(),
        "source_profile in profile 'a'",
        id="source-profile-sub-section",
    ),
    pytest.param(
        b"[profile a]\nrole_arn =\n    x = y\n",
        "role_arn in profile 'a'",
        id="role-arn-sub-section",
    ),
    pytest.param(
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\nregion = not a region!\n".encode(),
        "region in profile 'a'",
        id="bad-region",
    ),
    pytest.param(
        f"[profile a]\nrole_arn = {MIDDLE_ROLE}\nsource_profile = b\n"
        "[profile b]\naws_access_key_id = K\naws_secret_access_key = S\n"
        "region = us_east_1!\n".encode(),
        "region in profile 'b'",
        id="bad-region-in-source",
    ),
]


@pytest.mark.parametrize(("raw", "named"), RAW_CONFIGS)
def test_unparseable_or_malformed_config_is_a_configuration_error_without_sts_calls(
    shared_config: WriteConfig, moto_endpoint: str, raw: bytes, named: str
) -> None:
    directory = shared_config("")
    (directory / "config").write_bytes(raw)
    with recording(moto_endpoint) as server:
        with pytest.raises(ConfigurationError) as caught:
            session_from_profile("a", token_provider=Tokens())
        assert server.requests() == []
    assert named in str(caught.value)
    assert "wJalrXUtnFEMI" not in str(caught.value)  # the offending line is never quoted


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"region_name": "not a region!"}, "region_name"),
        ({"region_name": 3}, "region_name"),
        ({"profile": 3}, "profile"),
        ({"profile": ""}, "profile"),
        ({"refresh": "often"}, "refresh"),
    ],
)
def test_bad_arguments_are_configuration_errors(
    shared_config: WriteConfig, options: dict[str, Any], named: str
) -> None:
    shared_config(CHAIN, BASE_KEYS)
    options.setdefault("profile", "middle")
    with pytest.raises(ConfigurationError, match=named):
        session_from_profile(**options)


def test_inline_policy_nested_3000_deep_is_a_configuration_error() -> None:
    from aiostscreds import AssumeRoleProvider
    from aiostscreds._cache_format import cache_key

    class NoSTS:
        async def assume_role(self, **kwargs: Any) -> Any:
            raise AssertionError("no STS call for bad input")

    deep = '{"Statement": ' + "[" * 3000 + "]" * 3000 + "}"
    with pytest.raises(ConfigurationError, match="policy"):
        AssumeRoleProvider(NoSTS(), MIDDLE_ROLE, policy=deep)
    # The key itself never fails either: an unparseable policy keeps its text.
    assert len(cache_key({"RoleArn": MIDDLE_ROLE, "Policy": deep})) == 40
    assert AssumeRoleProvider(NoSTS(), MIDDLE_ROLE, policy='{"a": [[[["x"]]]]}')


# A handle on a profile (issue 9, item 6) -----------------------------------------------


async def test_profile_provider_is_a_handle_on_every_hop_of_the_chain(
    shared_config: WriteConfig, moto_endpoint: str
) -> None:
    from aiostscreds import AssumeRoleProvider, CredentialsError, ProfileProvider, profile_provider

    shared_config(CHAIN, BASE_KEYS)
    tokens = Tokens()
    handle = profile_provider("top", token_provider=tokens)
    assert isinstance(handle, ProfileProvider) and handle.profile == "top"
    middle, top = handle.hops
    assert handle.top is top and isinstance(top, AssumeRoleProvider)
    assert top.role_arn == TOP_ROLE and middle.role_arn == MIDDLE_ROLE
    assert top.credentials is None and top.is_expired()
    with recording(moto_endpoint) as server:
        first = await top.get()
        assert top.credentials == first and not top.is_expired()
        async with handle.session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()  # the session signs with the handle's
        assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/top/alice-top"
        assert server.assume_role_calls(TOP_ROLE) == 1 and len(tokens.prompts) == 1

        top.invalidate(first.access_key_id)
        assert top.is_expired()
        second = await top.get()
        assert second.access_key_id != first.access_key_id
        third = await top.force_refresh()
        assert third.access_key_id != second.access_key_id
        assert server.assume_role_calls(TOP_ROLE) == 3
        assert server.assume_role_calls(MIDDLE_ROLE) == 1  # the lower hop refreshes on its own
    assert len(tokens.prompts) == 3

    async with handle:
        pass  # aclose() on exit closes every hop
    for provider in handle.hops:
        with pytest.raises(CredentialsError, match="closed"):
            await provider.get()


def test_profile_provider_refuses_a_profile_without_a_role(shared_config: WriteConfig) -> None:
    from aiostscreds import profile_provider

    shared_config("", BASE_KEYS)
    with pytest.raises(ConfigurationError, match=r"'base'.*neither role_arn"):
        profile_provider("base")


MFA_THEN_ROLE = f"""
[profile middle]
role_arn = {MIDDLE_ROLE}
source_profile = base
mfa_serial = {ALICE_MFA}
region = us-east-1

[profile top]
role_arn = {TOP_ROLE}
source_profile = middle
region = us-east-1
"""


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(CHAIN, [False, True], id="mfa-on-top"),
        pytest.param(MFA_THEN_ROLE, [True, True], id="role-above-an-mfa-hop"),
    ],
)
async def test_a_shared_cache_is_told_which_hops_derive_from_mfa(
    shared_config: WriteConfig, config: str, expected: list[bool]
) -> None:
    # STS carries the MFA context through role chaining (aws:MultiFactorAuthPresent
    # holds for a role assumed with MFA-derived credentials), so a cache shared
    # between hosts must see every hop above an MFA hop as MFA-derived.
    from aiostscreds import profile_provider

    from .test_shared_cache import MemoryCache

    shared_config(config, BASE_KEYS)
    cache = MemoryCache()
    async with profile_provider("top", token_provider=Tokens(), cache=cache) as handle:
        await handle.top.get()
    # Stored bottom hop first; locked top hop first (its STS call needs the hop below).
    assert cache.stored_with_mfa == expected
    assert cache.locked_with_mfa == expected[::-1]
