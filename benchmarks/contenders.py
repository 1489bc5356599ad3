"""What the benchmarks compare: a fake STS, a counted MFA token provider, and the contenders.

Every contender that refreshes asks the same :class:`FakeSTS` (a fixed latency,
then an AssumeRole-shaped answer or a ``Throttling`` error) and calls the same
:class:`CountedTokenProvider` once per STS call, as an MFA role would. So the
source calls and the prompts are counted the same way for all of them.

Contenders:
    aiostscreds: ``CredentialsCache.get()`` over a source that calls the fake
        STS, and ``AssumeRoleProvider.get_credentials()`` with the fake STS as
        its client and MFA on (the library's own request, MFA and response
        handling included).
    aiobotocore: ``AioDeferredRefreshableCredentials`` (what aiobotocore's own
        assume-role provider builds) and ``AioRefreshableCredentials``, with
        botocore's default windows (15 min advisory, 10 min mandatory) and with
        fair windows (5 min advisory, 1 min mandatory) set by subclassing. On
        trio, aiobotocore's anyio variants, which it uses with an httpx session.
    floors: an ``async def`` that checks one float deadline against
        ``time.time()``, and N tasks waiting on one ``anyio.Event``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import attrs
from aiobotocore.credentials import (
    AioDeferredRefreshableCredentials,
    AioRefreshableCredentials,
    AnyioDeferredRefreshableCredentials,
    AnyioRefreshableCredentials,
)
from botocore.exceptions import ClientError

from aiostscreds import (
    AiobotocoreCredentials,
    AssumeRoleProvider,
    Credentials,
    CredentialsCache,
    RefreshError,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/aiostscreds-bench"
MFA_SERIAL = "arn:aws:iam::123456789012:mfa/bench-user"
SESSION_NAME = "aiostscreds-bench"
ACCOUNT_ID = "123456789012"

STS_LATENCY = 0.050
"""Seconds the fake STS takes to answer, as in the issue's storms."""

FRESH_LIFETIME = 3600.0
"""Lifetime of credentials in the storms' answers and on the hot path: one hour,
so that no contender, whatever its windows, refreshes on the hot path."""

_PRIMING_LIFETIME = 0.02
"""Lifetime of the credentials a contender is primed with before a storm."""

Getter = Callable[[], Awaitable[object]]


class CountedTokenProvider:
    """An async MFA token provider that counts how often it is asked for a code."""

    def __init__(self) -> None:
        self.prompts = 0

    async def __call__(self, serial_number: str) -> str:
        """Return a new six-digit code for ``serial_number``."""
        self.prompts += 1
        return f"{self.prompts % 1_000_000:06d}"


class FakeSTS:
    """A stand-in STS endpoint with a fixed latency, counting its AssumeRole calls.

    Attributes:
        latency: Seconds each call takes before answering.
        lifetime: Seconds the returned credentials live, from the answer.
        fail: When True, each call raises a ``Throttling`` ``ClientError``
            after the latency instead of answering.
        gate: When set, each call also waits for this event before answering.
        calls: AssumeRole calls so far.
        first_answer: ``(time.perf_counter(), time.thread_time())`` at the
            first answer or failure, or None before it.
        entered: Set as soon as a call starts.
        on_answer: Called once, at the first answer or failure, if set.
    """

    def __init__(self, *, latency: float = STS_LATENCY, lifetime: float = FRESH_LIFETIME) -> None:
        self.latency = latency
        self.lifetime = lifetime
        self.fail = False
        self.gate: anyio.Event | None = None
        self.calls = 0
        self.first_answer: tuple[float, float] | None = None
        self.entered = anyio.Event()
        self.on_answer: Callable[[], None] | None = None
        self._serial = 0

    def reset(self) -> None:
        """Forget the calls and the answers so far."""
        self.calls = 0
        self.first_answer = None
        self.entered = anyio.Event()

    async def assume_role(self, **params: Any) -> Mapping[str, Any]:
        """Answer like STS AssumeRole, after ``latency`` seconds."""
        self.calls += 1
        self.entered.set()
        if self.latency:
            await anyio.sleep(self.latency)
        if self.gate is not None:
            await self.gate.wait()
        if self.first_answer is None:
            self.first_answer = (time.perf_counter(), time.thread_time())
            if self.on_answer is not None:
                self.on_answer()
        if self.fail:
            raise ClientError(
                {
                    "Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "AssumeRole",
            )
        self._serial += 1
        expiration = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.lifetime)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIABENCH{self._serial:011d}",
                "SecretAccessKey": f"bench-secret-{self._serial}",
                "SessionToken": f"bench-token-{self._serial}",
                "Expiration": expiration,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": f"AROABENCH:{SESSION_NAME}",
                "Arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/aiostscreds-bench/{SESSION_NAME}",
            },
        }

    async def get_session_token(self, **params: Any) -> Mapping[str, Any]:
        """Not used by the benchmarks; present to fit the STS client shape."""
        raise NotImplementedError("the benchmarks only call AssumeRole")


class FakeSTSSource:
    """A ``CredentialsCache`` source: one MFA prompt and one fake AssumeRole per call."""

    def __init__(self, sts: FakeSTS, tokens: CountedTokenProvider) -> None:
        self._sts = sts
        self._tokens = tokens

    async def retrieve(self) -> Credentials:
        """Fetch credentials from the fake STS, as a provider would."""
        code = await self._tokens(MFA_SERIAL)
        try:
            response = await self._sts.assume_role(
                RoleArn=ROLE_ARN,
                RoleSessionName=SESSION_NAME,
                SerialNumber=MFA_SERIAL,
                TokenCode=code,
            )
        except ClientError as error:
            raise RefreshError(
                "AssumeRole failed: Throttling", recoverable=True, code="Throttling"
            ) from error
        fields = response["Credentials"]
        return Credentials(
            access_key_id=fields["AccessKeyId"],
            secret_access_key=fields["SecretAccessKey"],
            session_token=fields["SessionToken"],
            expiration=fields["Expiration"],
            account_id=ACCOUNT_ID,
        )


def aiobotocore_fetcher(sts: FakeSTS, tokens: CountedTokenProvider) -> Getter:
    """aiobotocore's ``refresh_using``: one prompt and one fake AssumeRole per call.

    Returns the metadata shape aiobotocore's assume-role fetcher returns, with
    the expiry serialized as ISO-8601 text as it does.
    """

    async def fetch() -> dict[str, Any]:
        code = await tokens(MFA_SERIAL)
        response = await sts.assume_role(
            RoleArn=ROLE_ARN,
            RoleSessionName=SESSION_NAME,
            SerialNumber=MFA_SERIAL,
            TokenCode=code,
        )
        fields = response["Credentials"]
        return {
            "access_key": fields["AccessKeyId"],
            "secret_key": fields["SecretAccessKey"],
            "token": fields["SessionToken"],
            "expiry_time": fields["Expiration"].isoformat(),
            "account_id": ACCOUNT_ID,
        }

    return fetch


# Fair windows for aiobotocore, set the only way it allows: by subclassing.
_FAIR_ADVISORY = 5 * 60
_FAIR_MANDATORY = 60


class FairAioRefreshableCredentials(AioRefreshableCredentials):  # type: ignore[misc]
    """``AioRefreshableCredentials`` with a 5 min advisory and a 1 min mandatory window."""

    _advisory_refresh_timeout = _FAIR_ADVISORY
    _mandatory_refresh_timeout = _FAIR_MANDATORY


class FairAioDeferredRefreshableCredentials(AioDeferredRefreshableCredentials):  # type: ignore[misc]
    """``AioDeferredRefreshableCredentials`` with fair windows (5 min, 1 min)."""

    _advisory_refresh_timeout = _FAIR_ADVISORY
    _mandatory_refresh_timeout = _FAIR_MANDATORY


class FairAnyioRefreshableCredentials(AnyioRefreshableCredentials):  # type: ignore[misc]
    """``AnyioRefreshableCredentials`` (trio) with fair windows (5 min, 1 min)."""

    _advisory_refresh_timeout = _FAIR_ADVISORY
    _mandatory_refresh_timeout = _FAIR_MANDATORY


class FairAnyioDeferredRefreshableCredentials(AnyioDeferredRefreshableCredentials):  # type: ignore[misc]
    """``AnyioDeferredRefreshableCredentials`` (trio) with fair windows (5 min, 1 min)."""

    _advisory_refresh_timeout = _FAIR_ADVISORY
    _mandatory_refresh_timeout = _FAIR_MANDATORY


def aiobotocore_classes(backend: str, *, fair: bool) -> tuple[type[Any], type[Any]]:
    """aiobotocore's (refreshable, deferred) credential classes for ``backend``."""
    if backend == "trio":
        if fair:
            return FairAnyioRefreshableCredentials, FairAnyioDeferredRefreshableCredentials
        return AnyioRefreshableCredentials, AnyioDeferredRefreshableCredentials
    if fair:
        return FairAioRefreshableCredentials, FairAioDeferredRefreshableCredentials
    return AioRefreshableCredentials, AioDeferredRefreshableCredentials


@attrs.define
class Contender:
    """One way to get credentials, with the fake STS and token provider behind it.

    Attributes:
        key: A short stable name, used in the JSON results.
        label: The name shown in the report.
        get: The call each task makes for credentials.
        sts: The fake STS it refreshes from.
        tokens: The counted MFA token provider its refreshes call.
        closers: What :meth:`aclose` awaits, in order.
    """

    key: str
    label: str
    get: Getter
    sts: FakeSTS
    tokens: CountedTokenProvider
    closers: list[Callable[[], Awaitable[None]]] = attrs.field(factory=list)

    async def aclose(self) -> None:
        """Release what the contender holds (a refresh still in flight, say)."""
        for close in self.closers:
            await close()


# Keys and labels of the contenders, in report order.
CACHE = "aiostscreds_cache"
PROVIDER = "aiostscreds_provider"
ADAPTER = "aiostscreds_aiobotocore"
BOTO_DEFAULT = "aiobotocore_default"
BOTO_FAIR = "aiobotocore_fair"
BOTO_DEFERRED_DEFAULT = "aiobotocore_deferred_default"
BOTO_DEFERRED_FAIR = "aiobotocore_deferred_fair"
FLOOR = "floor"
RAISE_FLOOR = "floor_raise"

LABELS: dict[str, str] = {
    FLOOR: "floor",
    RAISE_FLOOR: "floor, plus one exception per waiter",
    CACHE: "aiostscreds CredentialsCache.get()",
    PROVIDER: "aiostscreds AssumeRoleProvider.get_credentials()",
    ADAPTER: "aiostscreds AiobotocoreCredentials().get_frozen_credentials()",
    BOTO_DEFAULT: "aiobotocore AioRefreshableCredentials, default windows",
    BOTO_FAIR: "aiobotocore AioRefreshableCredentials, fair windows",
    BOTO_DEFERRED_DEFAULT: "aiobotocore AioDeferredRefreshableCredentials, default windows",
    BOTO_DEFERRED_FAIR: "aiobotocore AioDeferredRefreshableCredentials, fair windows",
}

STORM_CONTENDERS = (CACHE, PROVIDER, BOTO_DEFERRED_DEFAULT, BOTO_DEFERRED_FAIR)
"""The contenders of the storms, besides the floors."""

GC_ON_CONTENDERS = (CACHE, PROVIDER)
"""The contenders of the storms' GC-on runs, besides the floors."""

HOT_PATH_CONTENDERS = (
    FLOOR,
    CACHE,
    PROVIDER,
    ADAPTER,
    BOTO_DEFAULT,
    BOTO_FAIR,
    BOTO_DEFERRED_DEFAULT,
    BOTO_DEFERRED_FAIR,
)
"""The contenders of the hot path."""

AIOBOTOCORE_CONTENDERS = frozenset(
    {BOTO_DEFAULT, BOTO_FAIR, BOTO_DEFERRED_DEFAULT, BOTO_DEFERRED_FAIR}
)
"""The contenders that are aiobotocore's own classes."""


def deadline_floor() -> Getter:
    """The hot-path floor: an ``async def`` checking one float deadline against ``time.time()``."""
    deadline = time.time() + FRESH_LIFETIME
    cached = object()

    async def floor_get() -> object:
        if time.time() < deadline:
            return cached
        raise AssertionError("the floor's deadline passed during the benchmark")

    return floor_get


async def build_contender(key: str, backend: str, sts: FakeSTS) -> Contender:
    """A contender of kind ``key`` holding fresh credentials from ``sts``.

    The first fetch is made here, with the fake STS answering at once; the
    contender's counters then start from zero.
    """
    tokens = CountedTokenProvider()
    latency, sts.latency = sts.latency, 0.0
    try:
        contender = _make(key, backend, sts, tokens)
        await contender.get()
    finally:
        sts.latency = latency
    sts.reset()
    tokens.prompts = 0
    return contender


async def build_expired_contender(key: str, backend: str, sts: FakeSTS) -> Contender:
    """A contender holding credentials that have just expired, as before a storm."""
    lifetime, sts.lifetime = sts.lifetime, _PRIMING_LIFETIME
    try:
        contender = await build_contender(key, backend, sts)
    finally:
        sts.lifetime = lifetime
    await anyio.sleep(_PRIMING_LIFETIME * 1.5)
    return contender


def _make(key: str, backend: str, sts: FakeSTS, tokens: CountedTokenProvider) -> Contender:
    label = LABELS[key]
    if key in (CACHE, ADAPTER):
        cache = CredentialsCache(FakeSTSSource(sts, tokens))
        get: Getter = cache.get
        if key == ADAPTER:
            get = AiobotocoreCredentials(cache).get_frozen_credentials
        return Contender(key, label, get, sts, tokens, [cache.aclose])
    if key == PROVIDER:
        provider = AssumeRoleProvider(
            sts,
            ROLE_ARN,
            role_session_name=SESSION_NAME,
            serial_number=MFA_SERIAL,
            token_provider=tokens,
        )
        return Contender(key, label, provider.get_credentials, sts, tokens, [provider.aclose])
    if key in AIOBOTOCORE_CONTENDERS:
        fair = key in (BOTO_FAIR, BOTO_DEFERRED_FAIR)
        refreshable, deferred = aiobotocore_classes(backend, fair=fair)
        fetch = aiobotocore_fetcher(sts, tokens)
        if key in (BOTO_DEFERRED_DEFAULT, BOTO_DEFERRED_FAIR):
            credentials = deferred(refresh_using=fetch, method="assume-role")
        else:
            # Constructed holding credentials, as aiobotocore does from a first
            # fetch; the first get() below finds them fresh and fetches nothing.
            credentials = refreshable(
                access_key="ASIABENCHINITIAL0000",
                secret_key="bench-secret-initial",
                token="bench-token-initial",
                expiry_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=sts.lifetime),
                refresh_using=fetch,
                method="assume-role",
            )
        return Contender(key, label, credentials.get_frozen_credentials, sts, tokens)
    raise ValueError(f"unknown contender {key!r}")
