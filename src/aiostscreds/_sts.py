"""STS credential providers: AssumeRole and GetSessionToken, with MFA."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import anyio
import attrs
import botocore.exceptions
import botocore.parsers
from botocore.utils import parse_timestamp

from ._cache import CredentialsCache
from ._cache_format import assume_role_cache_key
from ._credentials import Credentials
from ._errors import ConfigurationError, CredentialsError, RefreshError
from ._policy import RefreshPolicy
from ._tokens import MFACodes, TokenProvider
from ._validation import (
    ASSUME_ROLE_MAX_DURATION,
    SESSION_TOKEN_MAX_DURATION,
    check_duration,
    check_policy,
    check_policy_arns,
    check_role_arn,
    check_string,
    check_tags,
    check_transitive_tag_keys,
    role_account,
)
from .caches._shared import (
    SharedCache,
    check_shared_cache,
    guarded_load,
    guarded_lock,
    guarded_store,
)

__all__ = ["AssumeRoleProvider", "SessionTokenProvider"]

log = logging.getLogger("aiostscreds")

DEFAULT_DURATION = dt.timedelta(minutes=15)
# What STS gives when a request carries no DurationSeconds.
STS_DEFAULT_DURATION = dt.timedelta(hours=1)

# STS error codes a retry after a pause can fix. Any 5xx counts too.
_RECOVERABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "IDPCommunicationError",
    }
)

# Failures on the way to STS or back: the network, or a garbled answer.
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ConnectionError,
    botocore.parsers.ResponseParserError,
    OSError,
)


class STSClient(Protocol):
    """The part of an STS client the providers use; an entered aiobotocore client fits."""

    async def assume_role(self, **kwargs: Any) -> Mapping[str, Any]: ...

    async def get_session_token(self, **kwargs: Any) -> Mapping[str, Any]: ...


ClientFactory = Callable[[], AbstractAsyncContextManager[Any]]

_T = TypeVar("_T")

# A local clock behind STS's by less than this is within the Date header's
# one-second resolution plus latency: left alone.
_SKEW_TOLERANCE = 2.0


class _Sealed(Generic[_T]):
    """Holds a request or response that carries secrets, behind a repr that hides them.

    Error reporters such as Sentry record the locals of every frame in a
    traceback; the library's frames keep such values only in these.
    """

    __slots__ = ("value",)

    def __init__(self, value: _T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<sealed>"


@contextlib.asynccontextmanager
async def _borrowed(client: object) -> AsyncIterator[object]:
    yield client


def _session_clients(session: Any, client_config: Any) -> ClientFactory:
    if not callable(getattr(session, "create_client", None)):
        raise ConfigurationError("session must be an aiobotocore AioSession")

    def factory() -> AbstractAsyncContextManager[Any]:
        # A client per refresh, built from the session's own credentials, region
        # and endpoint settings (AWS_ENDPOINT_URL_STS included), closed afterwards.
        return session.create_client("sts", config=client_config)  # type: ignore[no-any-return]

    return factory


def _classify(
    error: Exception, operation: str, subject: str, request: _Sealed[dict[str, Any]]
) -> RefreshError:
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        recoverable = code in _RECOVERABLE_CODES or status >= 500 or status == 429
        message = _scrub(str(details.get("Message") or ""), request)
        # The ClientError stays chained as __cause__, and every traceback prints it:
        # scrub the copy of the message it holds as well.
        error.args = tuple(
            _scrub(arg, request) if isinstance(arg, str) else arg for arg in error.args
        )
        if isinstance(details, dict) and "Message" in details:
            details["Message"] = message
        text = f"{operation} for {subject} failed: {code}"
        if message:
            text += f": {message}"
        return RefreshError(text, recoverable=recoverable, code=code)
    if isinstance(error, TimeoutError):
        return RefreshError(f"{operation} for {subject} timed out", recoverable=True)
    if isinstance(error, _TRANSIENT_ERRORS):
        return RefreshError(
            f"{operation} for {subject} failed: {type(error).__name__}", recoverable=True
        )
    if _raised_by_response_parser(error):
        # Say, botocore's RuntimeError or OverflowError for an Expiration of
        # "1e20": a malformed response, worth another try.
        return RefreshError(
            f"{operation} for {subject} returned a response botocore could not parse: "
            f"{type(error).__name__}",
            recoverable=True,
        )
    return RefreshError(
        f"{operation} for {subject} failed: {type(error).__name__}", recoverable=False
    )


def _raised_by_response_parser(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__") == botocore.parsers.__name__:
            return True
        traceback = traceback.tb_next
    return False


# Request parameters that are secrets: STS's, and the SSO portal's and SSO-OIDC's.
_SECRET_PARAMETERS = (
    "TokenCode",
    "WebIdentityToken",
    "accessToken",
    "refreshToken",
    "clientSecret",
)


def _scrub(text: str, request: _Sealed[dict[str, Any]]) -> str:
    for name in _SECRET_PARAMETERS:
        secret = request.value.get(name)
        if secret:
            text = text.replace(secret, "***")
    return text


def _read_credentials(response: object, account_id: str | None) -> Credentials | str:
    """The credentials in ``response``, or what is wrong with it. Never raises.

    Nothing is raised from here, so that no traceback holds this frame and its
    locals, which hold the secrets.
    """
    fields = response.get("Credentials") if isinstance(response, Mapping) else None
    names = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    if not isinstance(fields, Mapping) or not all(fields.get(name) for name in names):
        return "returned a response without complete Credentials"
    try:
        expiration = fields["Expiration"]
        if not isinstance(expiration, dt.datetime):
            # botocore raises ValueError, RuntimeError or OverflowError for
            # what it cannot read: any of them is a malformed response.
            expiration = parse_timestamp(expiration)
        return Credentials(
            access_key_id=str(fields["AccessKeyId"]),
            secret_access_key=str(fields["SecretAccessKey"]),
            session_token=str(fields["SessionToken"]),
            expiration=expiration,
            account_id=str(fields.get("AccountId") or account_id or "") or None,
        )
    except Exception:
        return "returned an unreadable Expiration"


def _clock_behind(response: object, now: float) -> float:
    """How many seconds the local clock runs behind STS's, from the HTTP Date header.

    0 when it does not run behind (or there is no usable header).
    """
    try:
        date = response["ResponseMetadata"]["HTTPHeaders"]["date"]  # type: ignore[index]
        server_now = email.utils.parsedate_to_datetime(date).timestamp()
    except Exception:
        return 0.0
    behind = server_now - now
    return behind if behind > _SKEW_TOLERANCE else 0.0


def _credentials_from(
    response: _Sealed[Mapping[str, Any]],
    *,
    operation: str,
    subject: str,
    account_id: str | None,
    now: float,
) -> Credentials:
    credentials = _read_credentials(response.value, account_id)
    if isinstance(credentials, str):
        raise RefreshError(f"{operation} for {subject} {credentials}", recoverable=True)
    behind = _clock_behind(response.value, now)
    if behind:
        # The credentials stop working when the local clock reads Expiration
        # minus the skew: every decision about them is made in local time.
        log.warning(
            "the local clock runs %.0f s behind STS's (HTTP Date header): "
            "treating the credentials as expiring that much earlier",
            behind,
        )
        credentials = attrs.evolve(
            credentials, expiration=credentials.expiration - dt.timedelta(seconds=behind)
        )
    if credentials.expires_at <= now:
        raise RefreshError(
            f"{operation} for {subject} returned credentials that expired at "
            f"{credentials.expiration.isoformat()}",
            recoverable=True,
        )
    return credentials


class _STSProvider:
    """What both STS providers share: MFA codes, the STS call and the cache."""

    _operation: str
    _method: str

    def __init__(
        self,
        client: object,
        *,
        duration: object,
        max_duration: int,
        serial_number: str | None,
        token_code: str | None,
        token_provider: TokenProvider | None,
        refresh: RefreshPolicy,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(refresh, RefreshPolicy):
            raise ConfigurationError("refresh must be a RefreshPolicy")
        if not callable(clock):
            raise ConfigurationError("clock must be callable, returning epoch seconds")
        # None sends no DurationSeconds: STS then gives 1 hour, which the
        # windows are checked against.
        self._duration: int | None = (
            None if duration is None else check_duration(duration, maximum=max_duration)
        )
        refresh.check_fits(self.duration)
        if serial_number is None:
            if token_code is not None or token_provider is not None:
                raise ConfigurationError(
                    "token_code and token_provider need serial_number, the MFA device's "
                    "serial number or ARN"
                )
            self._mfa: MFACodes | None = None
        else:
            self._mfa = MFACodes(
                serial_number,
                token_code=token_code,
                token_provider=token_provider,
                timeout=refresh.token_timeout,
            )
        self._clients = self._client_factory(client)
        self._load_timeout = (
            None if refresh.load_timeout is None else refresh.load_timeout.total_seconds()
        )
        self._clock = clock
        # Set by session_from_profile for a hop signed by MFA-derived credentials:
        # STS carries the MFA context through role chaining, so a shared cache must
        # treat this hop's credentials as MFA-derived too.
        self._mfa_derived = False
        self._cache = CredentialsCache(self, refresh=refresh, clock=clock)

    def _client_factory(self, client: object) -> ClientFactory:
        if isinstance(client, _SessionClients):
            return client.factory
        if not callable(getattr(client, self._method, None)):
            raise ConfigurationError(
                f"client must be an STS client with an async {self._method}() method, "
                "such as an entered aiobotocore STS client"
            )
        return lambda: _borrowed(client)

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS (STS's 1 hour when none is sent)."""
        if self._duration is None:
            return STS_DEFAULT_DURATION
        return dt.timedelta(seconds=self._duration)

    @property
    def serial_number(self) -> str | None:
        """The MFA device's serial number or ARN, if MFA is used."""
        return None if self._mfa is None else self._mfa.serial_number

    @property
    def cache(self) -> CredentialsCache:
        """The provider's own :class:`CredentialsCache`."""
        return self._cache

    def _subject(self) -> str:
        raise NotImplementedError

    def _request(self) -> dict[str, Any]:
        raise NotImplementedError

    def _account_id(self, response: object) -> str | None:
        return None

    def _log_success(self, credentials: Credentials, elapsed: float) -> None:
        raise NotImplementedError

    async def retrieve(self) -> Credentials:
        """Make exactly one STS call (and at most one token-provider call).

        This bypasses the in-memory cache; use :meth:`get_credentials` in
        applications.

        Raises:
            TokenProviderError: The MFA code could not be had.
            RefreshError: STS or the network failed, or the response was unusable.
        """
        credentials, _ = await self._fetch()
        return credentials

    async def _fetch(self) -> tuple[Credentials, _Sealed[Mapping[str, Any]]]:
        # The request (with the MFA code) and the response (with the secret
        # key) stay sealed: this frame is in the traceback of every failure.
        request = _Sealed(self._request())
        if self._mfa is not None:
            request.value["SerialNumber"] = self._mfa.serial_number
            request.value["TokenCode"] = await self._mfa.next_code()
        subject = self._subject()
        started = time.monotonic()
        try:
            if self._load_timeout is None:
                response = await self._call(request)
            else:
                with anyio.fail_after(self._load_timeout):
                    response = await self._call(request)
        except CredentialsError:
            raise
        except Exception as error:
            raise _classify(error, self._operation, subject, request) from error
        credentials = _credentials_from(
            response,
            operation=self._operation,
            subject=subject,
            account_id=self._account_id(response.value),
            now=self._clock(),
        )
        self._log_success(credentials, time.monotonic() - started)
        return credentials, response

    async def _call(self, request: _Sealed[dict[str, Any]]) -> _Sealed[Mapping[str, Any]]:
        async with self._clients() as client:
            return _Sealed(await getattr(client, self._method)(**request.value))

    async def get_credentials(self) -> Credentials:
        """Return usable credentials through the provider's cache, refreshing if due.

        See :meth:`CredentialsCache.get` for what it raises.
        """
        # CredentialsCache.get's freshness check, inlined: awaiting a second
        # coroutine on every call would double the cost of the common case.
        cache = self._cache
        credentials = cache._credentials
        if credentials is not None and cache._clock() < cache._refresh_at:
            return credentials
        return await cache.get()

    def invalidate(self, access_key_id: str) -> None:
        """Mark those credentials as rejected; see :meth:`CredentialsCache.invalidate`."""
        self._cache.invalidate(access_key_id)

    async def force_refresh(self) -> Credentials:
        """Refresh now, ignoring backoff; see :meth:`CredentialsCache.force_refresh`."""
        return await self._cache.force_refresh()

    def is_expired(self) -> bool:
        """True when there are no credentials or the expiry window has begun."""
        return self._cache.is_expired()

    async def aclose(self) -> None:
        """Cancel a refresh in flight, failing its waiters; see :meth:`CredentialsCache.aclose`."""
        await self._cache.aclose()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _SharedFetcher(Protocol):
    """What the shared-cache step reads of a provider."""

    _mfa_derived: bool
    _clock: Callable[[], float]

    @property
    def serial_number(self) -> str | None: ...

    def _subject(self) -> str: ...

    async def _fetch(self) -> tuple[Credentials, _Sealed[Any]]: ...


async def fetch_shared(
    provider: _SharedFetcher,
    shared: SharedCache,
    key: str,
    role_arn: str | None,
    cache: CredentialsCache,
) -> Credentials:
    """One refresh of ``provider`` through a shared cache: lock, load, else fetch and store.

    An entry is used instead of an STS call when it is outside the expiry
    window, newer than the credentials ``cache`` holds, and not a key passed to
    its ``invalidate()``. Whatever the shared cache raises, the refresh goes on
    to STS.
    """
    mfa = provider.serial_number is not None or provider._mfa_derived
    async with guarded_lock(shared, key, mfa=mfa):
        stored = await guarded_load(shared, key, role_arn)
        if stored is not None and _reusable(stored, cache, provider._clock()):
            log.info(
                "using credentials for %s from %r until %s",
                provider._subject(),
                shared,
                stored.expiration.isoformat(),
            )
            return stored
        credentials, response = await provider._fetch()
        await guarded_store(shared, key, response.value, credentials, mfa=mfa)
        return credentials


def _reusable(stored: Credentials, cache: CredentialsCache, now: float) -> bool:
    expiry = cache.policy.expiry_window.total_seconds()
    if stored.expires_at - expiry <= now:
        return False
    held = cache.credentials
    if held is not None and stored.expires_at <= held.expires_at:
        return False
    return stored.access_key_id not in cache.rejected_keys


class _SessionClients:
    """Marks a client argument that is really a per-refresh client factory."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory


class AssumeRoleProvider(_STSProvider):
    """Credentials for an IAM role, from STS AssumeRole, refreshed as they age.

    The async port of the AWS SDK for Go's ``stscreds.AssumeRoleProvider``.
    Every parameter is checked against STS's documented limits here, at
    construction: a bad one raises :class:`ConfigurationError` naming it, and
    no STS call is made.

    Args:
        client: An STS client: anything with ``async assume_role(**kwargs)``
            that returns STS's response shape, such as an entered aiobotocore
            STS client. See :meth:`from_session` to have clients made for you.
        role_arn: The role to assume.
        role_session_name: The session name. By default one is generated once
            per provider and kept across refreshes.
        duration: The session duration (``timedelta`` or seconds), 900-43200 s.
            Default 15 minutes, as in the Go SDK. ``None`` sends no
            ``DurationSeconds``, so STS gives its default, 1 hour: what the AWS
            CLI and botocore do for a profile without ``duration_seconds``.
        external_id: The external id the role's trust policy demands.
        policy: An inline session policy (JSON text). Only the characters STS
            allows are checked here; STS itself enforces the packed size.
        policy_arns: Up to 10 managed session policy ARNs.
        tags: Session tags, as a mapping or (key, value) pairs; up to 50.
        transitive_tag_keys: Tag keys that pass on to chained role sessions.
        source_identity: The source identity to set on the session.
        serial_number: The MFA device's serial number or ARN. It needs a
            ``token_provider`` (or a one-shot ``token_code``).
        token_code: A static MFA code. STS takes each code once, so it serves
            the first STS attempt only.
        token_provider: Called with the serial number on every refresh for a
            new code; wins over ``token_code``. ``async`` callables are awaited
            on the loop; others run in a daemon thread. One call at a time.
        refresh: The refresh policy; its windows must fit ``duration``.
        clock: Returns epoch seconds; for tests.
        cache: A :class:`SharedCache`, such as :class:`FileCache` (other
            processes and the AWS CLI) or :class:`RedisCache` (other hosts),
            to share each refresh with. A failing cache is bypassed with a
            WARNING, never a credential outage. Default: none.
    """

    _operation = "AssumeRole"
    _method = "assume_role"

    def __init__(
        self,
        client: object,
        role_arn: str,
        *,
        role_session_name: str | None = None,
        duration: dt.timedelta | float | None = DEFAULT_DURATION,
        external_id: str | None = None,
        policy: str | None = None,
        policy_arns: Iterable[str] = (),
        tags: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        transitive_tag_keys: Iterable[str] = (),
        source_identity: str | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
        token_provider: TokenProvider | None = None,
        refresh: RefreshPolicy = RefreshPolicy(),
        clock: Callable[[], float] = time.time,
        cache: SharedCache | None = None,
    ) -> None:
        self.role_arn = check_role_arn(role_arn)
        self._shared_cache = check_shared_cache(cache)
        explicit_session_name = role_session_name is not None
        if role_session_name is None:
            role_session_name = f"aiostscreds-{secrets.token_hex(8)}"
        self.role_session_name = check_string(
            role_session_name, parameter="role_session_name", shape="roleSessionNameType"
        )
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.role_session_name,
        }
        if external_id is not None:
            params["ExternalId"] = check_string(
                external_id, parameter="external_id", shape="externalIdType"
            )
        if policy is not None:
            params["Policy"] = check_policy(policy)
        arns = check_policy_arns(policy_arns)
        if arns:
            params["PolicyArns"] = [{"arn": arn} for arn in arns]
        tag_list = check_tags(tags)
        if tag_list:
            params["Tags"] = tag_list
        transitive = check_transitive_tag_keys(transitive_tag_keys)
        if transitive:
            params["TransitiveTagKeys"] = transitive
        if source_identity is not None:
            params["SourceIdentity"] = check_string(
                source_identity, parameter="source_identity", shape="sourceIdentityType"
            )
        super().__init__(
            client,
            duration=duration,
            max_duration=ASSUME_ROLE_MAX_DURATION,
            serial_number=serial_number,
            token_code=token_code,
            token_provider=token_provider,
            refresh=refresh,
            clock=clock,
        )
        if self._duration is not None:
            params["DurationSeconds"] = self._duration
        self._params = params
        # The AWS CLI's cache key: what the user configured, never a generated
        # session name or the library's default duration.
        self._cache_key = assume_role_cache_key(
            self.request,
            explicit_session_name=explicit_session_name,
            explicit_duration=duration is not DEFAULT_DURATION,
        )

    async def retrieve(self) -> Credentials:
        """Fetch new credentials: one AssumeRole call and at most one token-provider call.

        With a shared cache, an entry another process (or the AWS CLI, or
        another host) wrote is used instead when it is newer than the credentials held and
        outside the expiry window; otherwise the STS call is made under the
        cache's lock and its response written back. Bypasses the
        in-memory cache; use :meth:`get_credentials` in applications.

        Raises:
            TokenProviderError: The MFA code could not be had.
            RefreshError: STS or the network failed, or the response was unusable.
        """
        shared = self._shared_cache
        if shared is None:
            credentials, _ = await self._fetch()
            return credentials
        return await fetch_shared(self, shared, self._cache_key, self.role_arn, self._cache)

    @classmethod
    def from_session(
        cls, session: Any, role_arn: str, *, client_config: Any = None, **options: Any
    ) -> AssumeRoleProvider:
        """A provider that makes its own STS client from an ``AioSession`` for each refresh.

        The Go SDK's ``stscreds.NewCredentials(sess, roleARN, ...)``. Each
        refresh creates an STS client from ``session`` (its credentials, region
        and endpoint configuration, ``AWS_ENDPOINT_URL_STS`` included) and
        closes it afterwards, so there is no client lifetime to manage.
        ``client_config`` is an optional ``AioConfig`` for those clients, for
        example to set retries. Other keyword options are the constructor's.
        """
        return cls(_SessionClients(_session_clients(session, client_config)), role_arn, **options)

    def __repr__(self) -> str:
        return (
            f"<AssumeRoleProvider role_arn={self.role_arn!r} "
            f"role_session_name={self.role_session_name!r} "
            f"duration={self.duration.total_seconds():.0f}s>"
        )

    @property
    def request(self) -> dict[str, Any]:
        """The AssumeRole parameters sent on each refresh, without ``TokenCode``."""
        params = dict(self._params)
        if self._mfa is not None:
            params["SerialNumber"] = self._mfa.serial_number
        return params

    def _subject(self) -> str:
        return self.role_arn

    def _request(self) -> dict[str, Any]:
        return dict(self._params)

    def _account_id(self, response: object) -> str | None:
        if isinstance(response, Mapping):
            arn = response.get("AssumedRoleUser", {}).get("Arn", "")
            parts = str(arn).split(":")
            if len(parts) > 4 and parts[4]:
                return parts[4]
        return role_account(self.role_arn)

    def _log_success(self, credentials: Credentials, elapsed: float) -> None:
        log.info(
            "assumed role %s as session %s until %s (AssumeRole took %.0f ms)",
            self.role_arn,
            self.role_session_name,
            credentials.expiration.isoformat(),
            elapsed * 1000,
        )


class SessionTokenProvider(_STSProvider):
    """Temporary credentials for the calling user, from STS GetSessionToken.

    The same contract as :class:`AssumeRoleProvider`: MFA through a token
    provider called on every refresh, validation at construction, one shared
    refresh at a time. ``duration`` lies in 900-129600 s (36 h); default 15
    minutes.
    """

    _operation = "GetSessionToken"
    _method = "get_session_token"

    def __init__(
        self,
        client: object,
        *,
        duration: dt.timedelta | float = DEFAULT_DURATION,
        serial_number: str | None = None,
        token_code: str | None = None,
        token_provider: TokenProvider | None = None,
        refresh: RefreshPolicy = RefreshPolicy(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if duration is None:
            raise ConfigurationError(
                "duration must be a timedelta or a number of seconds, not None"
            )
        super().__init__(
            client,
            duration=duration,
            max_duration=SESSION_TOKEN_MAX_DURATION,
            serial_number=serial_number,
            token_code=token_code,
            token_provider=token_provider,
            refresh=refresh,
            clock=clock,
        )

    @classmethod
    def from_session(
        cls, session: Any, *, client_config: Any = None, **options: Any
    ) -> SessionTokenProvider:
        """A provider that makes its own STS client from an ``AioSession`` for each refresh.

        See :meth:`AssumeRoleProvider.from_session`.
        """
        return cls(_SessionClients(_session_clients(session, client_config)), **options)

    def __repr__(self) -> str:
        serial = self.serial_number
        seconds = self.duration.total_seconds()
        return f"<SessionTokenProvider serial_number={serial!r} duration={seconds:.0f}s>"

    @property
    def request(self) -> dict[str, Any]:
        """The GetSessionToken parameters sent on each refresh, without ``TokenCode``."""
        params = self._request()
        if self._mfa is not None:
            params["SerialNumber"] = self._mfa.serial_number
        return params

    def _subject(self) -> str:
        return "the calling user"

    def _request(self) -> dict[str, Any]:
        return {"DurationSeconds": self._duration}

    def _log_success(self, credentials: Credentials, elapsed: float) -> None:
        log.info(
            "got a session token until %s (GetSessionToken took %.0f ms)",
            credentials.expiration.isoformat(),
            elapsed * 1000,
        )
