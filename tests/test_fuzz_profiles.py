"""Fuzzing shared-config files: bad ones raise only ConfigurationError, good ones round-trip."""

from __future__ import annotations

import contextlib
import string
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aiostscreds import ConfigurationError, RefreshPolicy
from aiostscreds._profiles import _assemble
from aiostscreds._tokens import TokenProvider

NAMES = ["a", "b", "c", "default"]
KEYS = [
    "role_arn",
    "source_profile",
    "credential_source",
    "mfa_serial",
    "external_id",
    "role_session_name",
    "duration_seconds",
    "region",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "web_identity_token_file",
]
# INI values: anything printable but line breaks (botocore's loader strips the ends).
ini_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=0, max_size=40
).map(str.strip)
plausible = {
    "role_arn": st.sampled_from(
        [
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:iam::1:role/r",
            "arn:aws:iam::123456789012:user/u",
        ]
    ),
    "source_profile": st.sampled_from([*NAMES, "ghost"]),
    "credential_source": st.sampled_from(
        ["Environment", "EcsContainer", "Ec2InstanceMetadata", "env", ""]
    ),
    "mfa_serial": st.sampled_from(
        ["arn:aws:iam::123456789012:mfa/u", "GAHT12345678", "bad serial"]
    ),
    "web_identity_token_file": st.sampled_from(
        ["/var/run/token", "relative/token", "~/t", "~aiostscreds-no-such-user/t"]
    ),
    "duration_seconds": st.sampled_from(
        ["900", "3600", "7200", "43200", "43201", "899", "1h", "-5", ""]
    ),
}


def value_for(key: str) -> st.SearchStrategy[str]:
    if key in plausible:
        return st.one_of(plausible[key], ini_text)
    return ini_text


random_body = st.lists(st.sampled_from(KEYS), unique=True, max_size=6).flatmap(
    lambda keys: st.fixed_dictionaries({key: value_for(key) for key in keys})
)
# Mostly well-formed role profiles, so that chains get built and not just refused.
role_body = st.fixed_dictionaries(
    {"role_arn": st.just("arn:aws:iam::123456789012:role/r")},
    optional={
        "mfa_serial": st.just("arn:aws:iam::123456789012:mfa/u"),
        "duration_seconds": st.sampled_from(["900", "3600", "7200"]),
        "aws_access_key_id": st.just("AKIAFUZZ"),
        "aws_secret_access_key": st.just("fuzz-secret"),
    },
)
role_body = st.tuples(
    role_body,
    st.one_of(
        st.fixed_dictionaries({"source_profile": st.sampled_from(NAMES)}),
        st.just({"credential_source": "Environment"}),
    ),
).map(lambda parts: {**parts[0], **parts[1]})
static_body = st.just({"aws_access_key_id": "AKIAFUZZ", "aws_secret_access_key": "fuzz-secret"})
profile_body = st.one_of(random_body, role_body, role_body, role_body, static_body, static_body)
configs = st.dictionaries(st.sampled_from(NAMES), profile_body, min_size=1, max_size=4)
# A config and a profile to ask for: mostly one it defines.
cases = configs.flatmap(
    lambda profiles: st.tuples(
        st.just(profiles), st.one_of(st.sampled_from(sorted(profiles)), st.sampled_from(NAMES))
    )
)


def render(profiles: dict[str, dict[str, str]]) -> str:
    lines = []
    for name, body in profiles.items():
        lines.append(f"[profile {name}]" if name != "default" else "[default]")
        lines.extend(f"{key} = {value}" for key, value in body.items() if value)
    return "\n".join(lines) + "\n"


async def _token(serial_number: str) -> str:
    return "123456"


@pytest.fixture
def no_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test if building a session makes a client (and so could call STS)."""
    made: list[str] = []

    def refuse(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service_name)
        raise AssertionError("session_from_profile must not create clients")

    monkeypatch.setattr(AioSession, "create_client", refuse)
    return made


def _build(tmp: Path, config: str, profile: str, token_provider: TokenProvider | None) -> Any:
    path = tmp / "config"
    path.write_text(config)  # AWS_CONFIG_FILE points here (set by the test)
    return _assemble(
        profile,
        token_provider=token_provider,
        cache=None,
        refresh=RefreshPolicy(),
        region_name=None,
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases, with_tokens=st.booleans())
def test_any_config_builds_a_session_or_raises_configuration_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_clients: list[str],
    case: tuple[dict[str, dict[str, str]], str],
    with_tokens: bool,
) -> None:
    profiles, profile = case
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    try:
        session, providers = _build(
            tmp_path, render(profiles), profile, _token if with_tokens else None
        )
    except ConfigurationError as error:
        event(f"refused: {type(error).__name__}")
    else:
        assert isinstance(session, AioSession)
        event(f"built with {len(providers)} role hop(s)")
    assert no_clients == []


role_names = st.text(
    alphabet=string.ascii_letters + string.digits + "+=,.@-_", min_size=1, max_size=20
)
session_names = st.text(
    alphabet=string.ascii_letters + string.digits + "+=,.@-_", min_size=2, max_size=64
)
external_ids = st.text(
    alphabet=string.ascii_letters + string.digits + "+=,.@:/-_", min_size=2, max_size=60
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    role=role_names,
    session_name=st.none() | session_names,
    external_id=st.none() | external_ids,
    duration=st.none() | st.integers(900, 43200),
    mfa=st.booleans(),
)
def test_valid_profile_round_trips_into_the_assume_role_request(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
    session_name: str | None,
    external_id: str | None,
    duration: int | None,
    mfa: bool,
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    role_arn = f"arn:aws:iam::123456789012:role/{role}"
    body = {
        "role_arn": role_arn,
        "source_profile": "a",
        "aws_access_key_id": "AKIAFUZZ",
        "aws_secret_access_key": "fuzz-secret",
        "role_session_name": session_name,
        "external_id": external_id,
        "duration_seconds": None if duration is None else str(duration),
        "mfa_serial": "arn:aws:iam::123456789012:mfa/fuzzer" if mfa else None,
    }
    config = render({"a": {k: v for k, v in body.items() if v is not None}})
    _, (provider,) = _build(tmp_path, config, "a", _token)
    expected: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name or provider.role_session_name,
    }
    if duration is not None:  # none configured: none sent, STS gives 1 hour
        expected["DurationSeconds"] = duration
    if external_id is not None:
        expected["ExternalId"] = external_id
    if mfa:
        expected["SerialNumber"] = "arn:aws:iam::123456789012:mfa/fuzzer"
    assert provider.request == expected


# Raw config text (issue 9, item 5): whatever the file holds, ConfigurationError or a session.

LINES = [
    "[profile a]",
    "[profile b]",
    "[a]",
    "[default]",
    "[profile a",
    "[sso-session s]",
    "role_arn = arn:aws:iam::123456789012:role/r",
    "source_profile = b",
    "source_profile = a",
    "credential_source = Environment",
    "web_identity_token_file = /var/run/token",
    "aws_access_key_id = AKIAFUZZ",
    "aws_secret_access_key = fuzz-secret",
    "mfa_serial = arn:aws:iam::123456789012:mfa/u",
    "duration_seconds = 3600",
    "region = us-east-1",
    "region = not a region!",
    "credential_source =",
    "role_arn =",
    "source_profile =",
    "    x = y",
    "  Environment",
    "= nothing",
    "no equals sign",
    "; comment",
    "",
]
raw_line = st.one_of(
    st.sampled_from(LINES),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)
raw_config = st.tuples(
    st.sampled_from([b"", b"\xef\xbb\xbf"]),
    st.lists(raw_line, max_size=12),
    st.sampled_from([b"", b"\xff", b"\xc3", b"\x00"]),
).map(lambda parts: parts[0] + "\n".join(parts[1]).encode("utf-8") + parts[2])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=raw_config, profile=st.sampled_from(["a", "b", "default", None]))
def test_any_config_bytes_build_a_session_or_raise_configuration_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_clients: list[str],
    raw: bytes,
    profile: str | None,
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "config").write_bytes(raw)
    try:
        _assemble(
            profile, token_provider=_token, cache=None, refresh=RefreshPolicy(), region_name=None
        )
    except ConfigurationError as error:
        event(f"refused: {str(error)[:40]}")
    assert no_clients == []


# Constructor arguments: anything at all gives ConfigurationError or a working object.

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.lists(st.text(max_size=5), max_size=3),
    st.just(Path("/tmp")),
)


@settings(max_examples=300, deadline=None)
@given(directory=anything, lock_timeout=anything)
def test_file_cache_arguments_raise_only_configuration_error(
    directory: object, lock_timeout: object
) -> None:
    from aiostscreds import FileCache

    with contextlib.suppress(ConfigurationError):
        FileCache(directory, lock_timeout=lock_timeout)  # type: ignore[arg-type]


class _NoSTS:
    async def assume_role_with_web_identity(self, **kwargs: Any) -> Any:
        raise AssertionError("no STS call at construction")


@settings(max_examples=300, deadline=None)
@given(
    role_arn=st.one_of(st.just("arn:aws:iam::123456789012:role/r"), anything),
    token_file=st.one_of(st.just("/var/run/token"), anything),
    role_session_name=anything,
    duration=anything,
    policy=anything,
    policy_arns=st.one_of(st.just(()), anything),
)
def test_web_identity_provider_arguments_raise_only_configuration_error(
    role_arn: object,
    token_file: object,
    role_session_name: object,
    duration: object,
    policy: object,
    policy_arns: object,
) -> None:
    from aiostscreds import WebIdentityProvider

    with contextlib.suppress(ConfigurationError):
        WebIdentityProvider(
            _NoSTS(),
            role_arn,  # type: ignore[arg-type]
            token_file,  # type: ignore[arg-type]
            role_session_name=role_session_name,  # type: ignore[arg-type]
            duration=duration,  # type: ignore[arg-type]
            policy=policy,  # type: ignore[arg-type]
            policy_arns=policy_arns,  # type: ignore[arg-type]
        )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=anything, region_name=anything)
def test_profile_arguments_raise_only_configuration_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_clients: list[str],
    profile: object,
    region_name: object,
) -> None:
    from aiostscreds import profile_provider

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "config").write_text(
        "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = a\n"
        "aws_access_key_id = K\naws_secret_access_key = S\n"
    )
    with contextlib.suppress(ConfigurationError):
        profile_provider(profile, region_name=region_name)  # type: ignore[arg-type]
    assert no_clients == []
