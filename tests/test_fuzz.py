"""Fuzzing every constructor parameter of the providers and of RefreshPolicy.

- Any input: the constructor either succeeds or raises ConfigurationError,
  never another exception type, and never makes an STS call.
- Valid input: it round-trips into the exact STS request parameters, as the
  ``request`` property states them and as the client receives them, and
  botocore's own validator and serializer accept them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
import string
from collections.abc import Callable
from typing import Any

import anyio
import botocore.serialize
import botocore.session
import botocore.validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiostscreds import (
    AssumeRoleProvider,
    ConfigurationError,
    RefreshPolicy,
    SessionTokenProvider,
)

from .conftest import ROLE_ARN

FUZZ = settings(
    # Modest, so the suite stays fast; FUZZ_EXAMPLES=2000 for a deeper search.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
OMIT = object()
CODE = "135246"


class RecordingSTS:
    """A client that records what it receives and answers with good credentials."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self) -> dict[str, Any]:
        return {
            "Credentials": {
                "AccessKeyId": "ASIAFUZZFUZZFUZZFUZZ",
                "SecretAccessKey": "fuzz-secret-access-key",
                "SessionToken": "fuzz-session-token-value",
                "Expiration": dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2),
            }
        }

    async def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("AssumeRole", params))
        return self._answer()

    async def get_session_token(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("GetSessionToken", params))
        return self._answer()


async def device(serial_number: str) -> str:
    return CODE


@functools.cache
def operation(name: str) -> Any:
    return botocore.session.get_session().get_service_model("sts").operation_model(name)


def botocore_accepts(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate and serialize ``params`` as botocore would; return the form body."""
    model = operation(name)
    report = botocore.validate.ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    body: dict[str, Any] = botocore.serialize.create_serializer("query").serialize_to_request(
        params, model
    )["body"]
    return body


def retrieve(provider: Any) -> None:
    async def main() -> None:
        await provider.retrieve()

    anyio.run(main)


# Valid values ------------------------------------------------------------------------------


def ascii_text(extra: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(
        alphabet=string.ascii_letters + string.digits + extra, min_size=low, max_size=high
    )


partition = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])
account = st.from_regex(r"\A[0-9]{12}\Z")
role_arns = st.builds(
    lambda p, a, name: f"arn:{p}:iam::{a}:role/{name}",
    partition,
    account,
    ascii_text("_+=,.@/-", 1, 64),
)
session_names = ascii_text("_+=,.@-", 2, 64)
external_ids = ascii_text("_+=,.@:/-", 2, 80) | ascii_text("_+=,.@:/-", 1224, 1224)
policies = st.text(
    alphabet=st.sampled_from(["\t", "\n", "\r"])
    | st.characters(min_codepoint=0x20, max_codepoint=0xFF),
    min_size=1,
    max_size=120,
)
policy_arns = st.lists(
    st.builds(
        lambda a, name: f"arn:aws:iam::{a}:policy/{name}",
        account | st.just("aws"),
        ascii_text("_+=,.@/-", 1, 40),
    ),
    max_size=10,
)
_tag_chars = st.characters(categories=("L", "Z", "N"), max_codepoint=0xFFFF) | st.sampled_from(
    "_.:/=+-@"
)
tag_keys = st.text(alphabet=_tag_chars, min_size=1, max_size=128)
tag_values = st.text(alphabet=_tag_chars, min_size=0, max_size=256)
tag_lists = st.lists(
    st.tuples(tag_keys, tag_values), max_size=50, unique_by=lambda pair: pair[0].lower()
)
source_identities = ascii_text("_+=,.@-", 2, 64)
serials = ascii_text("_+=/:,.@-", 9, 256)
# Codes start at 2: a valid duration (at most 129600 s) then never reads as one of
# them to the secret-hygiene check, which matches MFA codes as whole numbers.
token_codes = st.from_regex(r"\A[2-9][0-9]{5}\Z")


def as_tags(pairs: list[tuple[str, str]], form: str) -> Any:
    if form == "dict":
        return dict(pairs)
    if form == "pairs":
        return list(pairs)
    return [{"Key": key, "Value": value} for key, value in pairs]


def durations(maximum: int) -> st.SearchStrategy[tuple[Any, int]]:
    """A duration argument (seconds, float or timedelta) and the seconds it means."""
    seconds = st.integers(min_value=900, max_value=maximum)
    return seconds.flatmap(
        lambda n: st.sampled_from([(n, n), (float(n), n), (dt.timedelta(seconds=n), n)])
    )


def policies_for(duration: int) -> st.SearchStrategy[RefreshPolicy]:
    """Valid refresh policies whose windows fit ``duration``."""

    @st.composite
    def build(draw: st.DrawFn) -> RefreshPolicy:
        expiry = draw(st.integers(min_value=0, max_value=duration - 1))
        advisory = draw(st.none() | st.integers(min_value=expiry, max_value=duration))
        return RefreshPolicy(
            expiry_window=expiry,
            advisory_window=advisory,
            backoff=draw(st.none() | st.tuples(st.just(1), st.integers(1, 600))),
            token_timeout=draw(st.none() | st.floats(min_value=0.1, max_value=600)),
        )

    return build()


# Round trips -------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_valid_assume_role_input_round_trips_into_the_request(data: st.DataObject) -> None:
    role_arn = data.draw(role_arns)
    duration_arg, duration = data.draw(durations(43200))
    kwargs: dict[str, Any] = {
        "duration": duration_arg,
        "refresh": data.draw(policies_for(duration)),
    }
    expected: dict[str, Any] = {"RoleArn": role_arn}
    name = data.draw(st.none() | session_names)
    if name is not None:
        kwargs["role_session_name"] = name
    for argument, field, strategy in (
        ("external_id", "ExternalId", external_ids),
        ("policy", "Policy", policies),
        ("source_identity", "SourceIdentity", source_identities),
    ):
        value = data.draw(st.none() | strategy)
        if value is not None:
            kwargs[argument] = value
            expected[field] = value
    arns = data.draw(policy_arns)
    if arns:
        kwargs["policy_arns"] = arns
        expected["PolicyArns"] = [{"arn": arn} for arn in arns]
    pairs = data.draw(tag_lists)
    if pairs:
        kwargs["tags"] = as_tags(pairs, data.draw(st.sampled_from(["dict", "pairs", "maps"])))
        expected["Tags"] = [{"Key": key, "Value": value} for key, value in pairs]
    transitive = data.draw(st.lists(tag_keys, max_size=50))
    if transitive:
        kwargs["transitive_tag_keys"] = transitive
        expected["TransitiveTagKeys"] = transitive
    serial = data.draw(st.none() | serials)
    if serial is not None:
        kwargs["serial_number"] = serial
        expected["SerialNumber"] = serial
        if data.draw(st.booleans()):
            kwargs["token_provider"] = device
        else:
            kwargs["token_code"] = CODE
    expected["DurationSeconds"] = duration

    client = RecordingSTS()
    provider = AssumeRoleProvider(client, role_arn, **kwargs)
    expected["RoleSessionName"] = name if name is not None else provider.role_session_name
    if name is None:
        assert provider.role_session_name.startswith("aiostscreds-")
    assert provider.request == expected
    assert client.calls == []

    retrieve(provider)
    sent = dict(expected)
    if serial is not None:
        sent["TokenCode"] = CODE
    assert client.calls == [("AssumeRole", sent)]
    body = botocore_accepts("AssumeRole", sent)
    assert body["RoleArn"] == role_arn
    assert body["DurationSeconds"] == duration


@FUZZ
@given(data=st.data())
def test_valid_session_token_input_round_trips_into_the_request(data: st.DataObject) -> None:
    duration_arg, duration = data.draw(durations(129600))
    kwargs: dict[str, Any] = {
        "duration": duration_arg,
        "refresh": data.draw(policies_for(duration)),
    }
    expected: dict[str, Any] = {"DurationSeconds": duration}
    serial = data.draw(st.none() | serials)
    if serial is not None:
        kwargs["serial_number"] = serial
        expected["SerialNumber"] = serial
        if data.draw(st.booleans()):
            kwargs["token_provider"] = device
        else:
            kwargs["token_code"] = CODE
    client = RecordingSTS()
    provider = SessionTokenProvider(client, **kwargs)
    assert provider.request == expected
    retrieve(provider)
    sent = dict(expected, **({"TokenCode": CODE} if serial is not None else {}))
    assert client.calls == [("GetSessionToken", sent)]
    botocore_accepts("GetSessionToken", sent)


def _reads_as_an_mfa_code(value: object) -> bool:
    """A six-digit whole number, which the secret-hygiene check (tests/hygiene.py) would
    take for an MFA code when an error message echoes it back as a duration."""
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and float(value).is_integer() and 100_000 <= abs(value) < 1_000_000


_durations_like = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1e6),
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=30)),
).filter(lambda value: not _reads_as_an_mfa_code(value))


def seconds_of(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


@FUZZ
@given(
    expiry=_durations_like,
    extra=st.none() | _durations_like,
    backoff=st.none() | st.tuples(_durations_like, _durations_like),
    error_cache=_durations_like | st.tuples(_durations_like, _durations_like),
    load_timeout=st.none() | _durations_like,
    token_timeout=st.none() | _durations_like,
    serve_expired=st.booleans(),
)
def test_refresh_policy_takes_timedeltas_or_seconds_alike(
    expiry: Any,
    extra: Any,
    backoff: Any,
    error_cache: Any,
    load_timeout: Any,
    token_timeout: Any,
    serve_expired: bool,
) -> None:
    advisory = None if extra is None else seconds_of(expiry) + seconds_of(extra)
    kwargs = {
        "expiry_window": expiry,
        "advisory_window": advisory,
        "backoff": backoff,
        "error_cache": error_cache,
        "load_timeout": load_timeout,
        "token_timeout": token_timeout,
        "serve_expired": serve_expired,
    }
    try:
        policy = RefreshPolicy(**kwargs)
    except ConfigurationError:
        # Only for what the rules forbid: a zero timeout, a (low, high) pair upside down.
        # (to the microsecond, a timedelta's resolution).
        def span(value: Any) -> dt.timedelta:
            return dt.timedelta(seconds=seconds_of(value))

        pairs = [p for p in (backoff, error_cache) if isinstance(p, tuple)]
        zero = dt.timedelta(0)
        assert (
            (load_timeout is not None and span(load_timeout) == zero)
            or (token_timeout is not None and span(token_timeout) == zero)
            or any(seconds_of(low) > seconds_of(high) for low, high in pairs)
        )
        return
    assert policy.expiry_window == dt.timedelta(seconds=seconds_of(expiry))
    if advisory is not None:
        assert policy.advisory_window == dt.timedelta(seconds=advisory)
    if backoff is not None:
        assert policy.backoff == tuple(dt.timedelta(seconds=seconds_of(v)) for v in backoff)
    pair = error_cache if isinstance(error_cache, tuple) else (error_cache, error_cache)
    assert policy.error_cache == tuple(dt.timedelta(seconds=seconds_of(v)) for v in pair)
    assert policy.serve_expired is serve_expired
    # The same policy from the converted values: conversion is idempotent.
    assert RefreshPolicy(**{k: getattr(policy, k) for k in kwargs}) == policy


# Any input ---------------------------------------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers().filter(lambda value: not _reads_as_an_mfa_code(value)),
    st.floats().filter(lambda value: not _reads_as_an_mfa_code(value)),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    st.timedeltas().filter(lambda value: not _reads_as_an_mfa_code(value)),
    st.builds(object),
)


def either(valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = junk) -> Any:
    """Mostly valid (or left out), sometimes junk: one bad value at a time is common."""
    return st.integers(0, 9).flatmap(
        lambda n: bad if n == 0 else st.one_of(st.just(OMIT), valid) if n < 4 else valid
    )


def wild_policy() -> st.SearchStrategy[Any]:
    fields = {
        "expiry_window": either(_durations_like, junk),
        "advisory_window": either(st.none() | _durations_like, junk),
        "backoff": either(
            st.none() | st.tuples(_durations_like, _durations_like),
            junk | st.tuples(junk, junk),
        ),
        "error_cache": either(_durations_like, junk),
        "load_timeout": either(st.none() | _durations_like, junk),
        "token_timeout": either(st.none() | _durations_like, junk),
        "serve_expired": either(st.booleans(), junk),  # "false" too: never bool()-ed
    }
    return st.fixed_dictionaries(fields)


def _policy(fields: dict[str, Any]) -> Callable[[], RefreshPolicy]:
    return lambda: RefreshPolicy(**{k: v for k, v in fields.items() if v is not OMIT})


@FUZZ
@given(fields=wild_policy())
def test_refresh_policy_raises_only_configuration_error(fields: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigurationError):  # and nothing else
        _policy(fields)()


ASSUME_ROLE = {
    "role_session_name": session_names,
    "duration": durations(43200).map(lambda pair: pair[0]),
    "external_id": external_ids,
    "policy": policies,
    "policy_arns": policy_arns,
    "tags": tag_lists.map(dict),
    "transitive_tag_keys": st.lists(tag_keys, max_size=5),
    "source_identity": source_identities,
    "serial_number": serials,
    "token_code": token_codes,
    "token_provider": st.just(device),
}
BAD = {
    "duration": junk,
    "policy_arns": junk,
    "transitive_tag_keys": junk,
}


def wild_kwargs(parameters: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    fields = {name: either(valid, BAD.get(name, junk)) for name, valid in parameters.items()}
    fields["refresh"] = either(
        wild_policy().map(lambda f: _policy(f)), junk
    )  # a RefreshPolicy factory, or junk
    return st.fixed_dictionaries(fields)


def _prepare(fields: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in fields.items() if v is not OMIT}
    refresh = kwargs.get("refresh")
    if callable(refresh):
        kwargs["refresh"] = refresh()  # may raise ConfigurationError itself
    return kwargs


def check_any_input(build: Callable[[RecordingSTS, dict[str, Any]], Any], fields: Any) -> None:
    client = RecordingSTS()
    try:
        provider = build(client, _prepare(fields))
    except ConfigurationError:
        assert client.calls == []  # never an STS call
        return
    assert client.calls == []
    request = provider.request
    retrieve(provider)
    ((operation_name, sent),) = client.calls
    expected = dict(request)
    if "SerialNumber" in request:
        expected["TokenCode"] = sent["TokenCode"]
    assert sent == expected
    botocore_accepts(operation_name, sent)


@FUZZ
@given(role_arn=either(role_arns), fields=wild_kwargs(ASSUME_ROLE))
def test_assume_role_provider_raises_only_configuration_error(
    role_arn: Any, fields: dict[str, Any]
) -> None:
    def build(client: RecordingSTS, kwargs: dict[str, Any]) -> AssumeRoleProvider:
        arn = ROLE_ARN if role_arn is OMIT else role_arn
        return AssumeRoleProvider(client, arn, **kwargs)

    check_any_input(build, fields)


@FUZZ
@given(
    fields=wild_kwargs(
        {
            "duration": durations(129600).map(lambda pair: pair[0]),
            "serial_number": serials,
            "token_code": token_codes,
            "token_provider": st.just(device),
        }
    )
)
def test_session_token_provider_raises_only_configuration_error(fields: dict[str, Any]) -> None:
    check_any_input(lambda client, kwargs: SessionTokenProvider(client, **kwargs), fields)


@FUZZ
@given(client=junk)
def test_a_client_without_the_sts_method_is_a_configuration_error(client: Any) -> None:
    with pytest.raises(ConfigurationError, match="client"):
        AssumeRoleProvider(client, ROLE_ARN)
    with pytest.raises(ConfigurationError, match="client"):
        SessionTokenProvider(client)


# Inputs that once escaped as other exception types -----------------------------------------


def _assume_role(**kwargs: Any) -> Callable[[], object]:
    return lambda: AssumeRoleProvider(RecordingSTS(), ROLE_ARN, **kwargs)


def _session_token(**kwargs: Any) -> Callable[[], object]:
    return lambda: SessionTokenProvider(RecordingSTS(), **kwargs)


@pytest.mark.parametrize(
    "make",
    [
        _assume_role(duration=float("nan")),
        _assume_role(duration=float("inf")),
        _assume_role(duration=10**400),
        _session_token(duration=float("-inf")),
    ],
    ids=["nan", "inf", "huge-int", "session-token-minus-inf"],
)
def test_non_finite_duration_is_a_configuration_error(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        make()


@pytest.mark.parametrize(
    "make",
    [
        _assume_role(policy_arns=None),
        _assume_role(policy_arns=42),
        _assume_role(transitive_tag_keys=None),
        _assume_role(transitive_tag_keys=object()),
    ],
    ids=["policy_arns-None", "policy_arns-int", "transitive-None", "transitive-object"],
)
def test_non_iterable_lists_are_a_configuration_error(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        make()


@pytest.mark.parametrize(
    "fields",
    [
        {"expiry_window": 1e20},
        {"load_timeout": 10**400},
        {"backoff": (1, 1e20)},
        {"error_cache": 10**30},
        {"token_timeout": 1e300},
    ],
    ids=[
        "expiry-1e20",
        "load-timeout-huge-int",
        "backoff-high-1e20",
        "error-cache-1e30",
        "token-timeout-1e300",
    ],
)
def test_durations_past_timedelta_range_are_a_configuration_error(fields: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RefreshPolicy(**fields)


@pytest.mark.parametrize("clock", ["now", 1_800_000_000.0, None], ids=["str", "float", "None"])
def test_a_clock_that_is_not_callable_is_a_configuration_error(clock: Any) -> None:
    with pytest.raises(ConfigurationError):
        AssumeRoleProvider(RecordingSTS(), ROLE_ARN, clock=clock)
