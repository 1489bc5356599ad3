"""Bad input is refused at construction, with the library's error naming the parameter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from aiostscreds import (
    AssumeRoleProvider,
    ConfigurationError,
    Credentials,
    CredentialsError,
    RefreshPolicy,
    SessionTokenProvider,
)

from .conftest import MFA_SERIAL, ROLE_ARN


class CountingClient:
    def __init__(self) -> None:
        self.calls = 0

    async def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        raise AssertionError("no STS call may be made for invalid input")

    async def get_session_token(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        raise AssertionError("no STS call may be made for invalid input")


async def _token(serial_number: str) -> str:
    return "123456"


BAD_ASSUME_ROLE = [
    ("role_arn", {"role_arn": "arn:aws:iam::123456789012:user/bob"}, "IAM role ARN"),
    ("role_arn", {"role_arn": "arn:aws:iam::12345:role/short-account"}, "IAM role ARN"),
    ("role_arn", {"role_arn": "short"}, "20-2048"),
    ("role_arn", {"role_arn": 42}, "must be a str"),
    ("role_session_name", {"role_session_name": "x"}, "2-64"),
    ("role_session_name", {"role_session_name": "a" * 65}, "2-64"),
    ("role_session_name", {"role_session_name": "has space"}, "characters"),
    ("role_session_name", {"role_session_name": "ünïcode"}, "characters"),
    ("duration", {"duration": 899}, "between 900 and 43200"),
    ("duration", {"duration": 43201}, "between 900 and 43200"),
    ("duration", {"duration": dt.timedelta(hours=13)}, "between 900 and 43200"),
    ("duration", {"duration": 900.5}, "whole number"),
    ("duration", {"duration": "900"}, "timedelta or a number"),
    ("duration", {"duration": True}, "timedelta or a number"),
    ("external_id", {"external_id": "x"}, "2-1224"),
    ("external_id", {"external_id": "bad id!"}, "characters"),
    ("policy", {"policy": ""}, "at least 1"),
    ("policy", {"policy": '{"x": "\u2603"}'}, "characters"),
    ("policy_arns", {"policy_arns": ["arn:aws:iam::aws:policy/P"] * 11}, "at most 10"),
    ("policy_arns[0]", {"policy_arns": [ROLE_ARN]}, "IAM policy ARN"),
    ("policy_arns", {"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, "single string"),
    ("tags", {"tags": {f"k{i}": "v" for i in range(51)}}, "at most 50"),
    ("tags key", {"tags": {"": "v"}}, "1-128"),
    ("tags key", {"tags": {"k" * 129: "v"}}, "1-128"),
    ("tags['k'] value", {"tags": {"k": "v" * 257}}, "0-256"),
    ("tags['k'] value", {"tags": {"k": "semi;colon"}}, "characters"),
    ("tags", {"tags": [("Team", "a"), ("team", "b")]}, "twice"),
    ("tags", {"tags": "team=a"}, "mapping"),
    ("transitive_tag_keys", {"transitive_tag_keys": [f"k{i}" for i in range(51)]}, "at most 50"),
    ("transitive_tag_keys[0]", {"transitive_tag_keys": [""]}, "1-128"),
    ("source_identity", {"source_identity": "x"}, "2-64"),
    ("source_identity", {"source_identity": "bad/slash"}, "characters"),
    ("serial_number", {"serial_number": "short", "token_provider": _token}, "9-256"),
    ("serial_number", {"serial_number": "bad serial #1", "token_provider": _token}, "characters"),
    ("token_provider", {"serial_number": MFA_SERIAL}, "token_provider"),
    ("token_code", {"serial_number": MFA_SERIAL, "token_code": "12345"}, "6 ASCII digits"),
    ("token_code", {"serial_number": MFA_SERIAL, "token_code": "١٢٣٤٥٦"}, "6 ASCII digits"),
    ("token_provider", {"serial_number": MFA_SERIAL, "token_provider": "123456"}, "callable"),
    ("serial_number", {"token_provider": _token}, "serial_number"),
    ("expiry_window", {"refresh": RefreshPolicy(expiry_window=900)}, "shorter than duration"),
    ("advisory_window", {"refresh": RefreshPolicy(advisory_window=1000)}, "must not exceed"),
    ("refresh", {"refresh": {"expiry_window": 5}}, "RefreshPolicy"),
]


@pytest.mark.parametrize(
    ("parameter", "options", "rule"),
    BAD_ASSUME_ROLE,
    ids=[f"{p}:{r}" for p, _, r in BAD_ASSUME_ROLE],
)
def test_invalid_assume_role_input_names_the_parameter_and_rule(
    parameter: str, options: dict[str, Any], rule: str
) -> None:
    client = CountingClient()
    role_arn = options.pop("role_arn", ROLE_ARN)
    with pytest.raises(ConfigurationError) as caught:
        AssumeRoleProvider(client, role_arn, **options)
    message = str(caught.value)
    assert parameter in message
    assert rule in message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, CredentialsError)
    assert client.calls == 0


def test_token_code_is_never_echoed_in_an_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AssumeRoleProvider(
            CountingClient(), ROLE_ARN, serial_number=MFA_SERIAL, token_code="98765x"
        )
    assert "98765" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        ({"duration": 899}, "between 900 and 129600"),
        ({"duration": 129601}, "between 900 and 129600"),
        ({"serial_number": MFA_SERIAL}, "token_provider"),
    ],
)
def test_invalid_session_token_input_is_refused(options: dict[str, Any], rule: str) -> None:
    client = CountingClient()
    with pytest.raises(ConfigurationError, match=rule):
        SessionTokenProvider(client, **options)
    assert client.calls == 0


def test_session_token_accepts_its_36_hour_maximum() -> None:
    provider = SessionTokenProvider(CountingClient(), duration=dt.timedelta(hours=36))
    assert provider.request == {"DurationSeconds": 129600}


def test_client_without_the_sts_method_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="assume_role"):
        AssumeRoleProvider(object(), ROLE_ARN)


def test_valid_input_becomes_the_exact_assume_role_request() -> None:
    provider = AssumeRoleProvider(
        CountingClient(),
        "arn:aws-us-gov:iam::123456789012:role/path/to/Role_1",
        role_session_name="sess.ion@x",
        duration=dt.timedelta(hours=2),
        external_id="ext:id/1",
        policy='{"Version": "2012-10-17"}',
        policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        tags={"Team": "a b", "Cost": ""},
        transitive_tag_keys=["Team"],
        source_identity="alice",
        serial_number=MFA_SERIAL,
        token_provider=_token,
    )
    assert provider.request == {
        "RoleArn": "arn:aws-us-gov:iam::123456789012:role/path/to/Role_1",
        "RoleSessionName": "sess.ion@x",
        "DurationSeconds": 7200,
        "ExternalId": "ext:id/1",
        "Policy": '{"Version": "2012-10-17"}',
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "Tags": [{"Key": "Team", "Value": "a b"}, {"Key": "Cost", "Value": ""}],
        "TransitiveTagKeys": ["Team"],
        "SourceIdentity": "alice",
        "SerialNumber": MFA_SERIAL,
    }


# RefreshPolicy -------------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = RefreshPolicy()
    assert policy.expiry_window == dt.timedelta(seconds=60)
    assert policy.advisory_window is None
    assert policy.backoff is None
    assert policy.error_cache == (dt.timedelta(seconds=1), dt.timedelta(seconds=5))
    assert policy.serve_expired is False
    assert policy.load_timeout == dt.timedelta(seconds=30)
    assert policy.token_timeout is None


def test_policy_accepts_plain_seconds() -> None:
    policy = RefreshPolicy(expiry_window=30, advisory_window=120.5, backoff=(1, 2), error_cache=3)
    assert policy.expiry_window == dt.timedelta(seconds=30)
    assert policy.advisory_window == dt.timedelta(seconds=120.5)
    assert policy.backoff == (dt.timedelta(seconds=1), dt.timedelta(seconds=2))
    assert policy.error_cache == (dt.timedelta(seconds=3), dt.timedelta(seconds=3))


@pytest.mark.parametrize(
    ("options", "field", "rule"),
    [
        ({"expiry_window": -1}, "expiry_window", "negative"),
        ({"expiry_window": "60"}, "expiry_window", "timedelta or a number"),
        ({"expiry_window": float("nan")}, "expiry_window", "finite"),
        ({"advisory_window": 30}, "advisory_window", "at least expiry_window"),
        ({"backoff": (10, 5)}, "backoff", "low <= high"),
        ({"backoff": (1, 2, 3)}, "backoff", "pair"),
        ({"error_cache": None}, "error_cache", "pair"),
        ({"load_timeout": 0}, "load_timeout", "positive"),
        ({"token_timeout": 0}, "token_timeout", "positive"),
    ],
)
def test_invalid_policy_names_the_field(options: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RefreshPolicy(**options)
    assert field in str(caught.value) and rule in str(caught.value)


# Credentials ---------------------------------------------------------------------------


def test_credentials_repr_and_str_hide_the_secret_and_the_token() -> None:
    credentials = Credentials(
        access_key_id="ASIAREPRTEST",
        secret_access_key="super-secret-key-value",
        session_token="super-secret-session-token",
        expiration=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
    )
    for text in (repr(credentials), str(credentials), f"{credentials}", repr([credentials])):
        assert "ASIAREPRTEST" in text
        assert "2030-01-01" in text
        assert "super-secret" not in text


def test_credentials_expiration_is_aware_utc() -> None:
    tz = dt.timezone(dt.timedelta(hours=2))
    credentials = Credentials("A", "s", "t", dt.datetime(2030, 1, 1, 2, tzinfo=tz))
    assert credentials.expiration == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert credentials.expiration.tzinfo is dt.timezone.utc
    assert credentials.expires_at == credentials.expiration.timestamp()
    with pytest.raises(ValueError):
        Credentials("A", "s", "t", dt.datetime(2030, 1, 1))
    with pytest.raises(AttributeError):
        credentials.access_key_id = "B"  # type: ignore[misc]
