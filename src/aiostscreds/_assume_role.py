"""AssumeRole: the source that calls it, and the provider (the engine around that source)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._cache import CredentialsCache
from ._cache_format import assume_role_cache_key
from ._clients import client_factory, session_clients
from ._credentials import Credentials
from ._errors import ConfigurationError
from ._policy import RefreshPolicy
from ._source import Sealed, SourceInfo
from ._sts import (
    DEFAULT_DURATION,
    STSCall,
    account_of_assumed_role,
    lifetime,
    load_timeout,
    mfa_codes,
    report_issued,
    requested_duration,
    sealed_request,
    session_name,
    with_serial_number,
)
from ._tokens import TokenProvider
from ._validation import (
    ASSUME_ROLE_MAX_DURATION,
    check_policy,
    check_policy_arns,
    check_role_arn,
    check_string,
    check_tags,
    check_transitive_tag_keys,
)
from .caches._shared import SharedCache
from .instrumentation._hooks import Hook

__all__ = ["AssumeRoleProvider", "AssumeRoleSource"]


class AssumeRoleSource:
    """Fetches credentials for an IAM role with STS AssumeRole; holds no state.

    Takes :class:`AssumeRoleProvider`'s arguments (but ``refresh`` only for
    its token timeout and the check that its windows fit the duration, and no
    ``cache``). ``mfa_derived`` says that the client signs with credentials
    derived from an MFA code (a hop above an MFA hop, or on an MFA session):
    STS carries the MFA context through role chaining, so a shared cache
    treats these credentials as MFA-derived too.
    """

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
        mfa_derived: bool = False,
    ) -> None:
        self.role_arn = check_role_arn(role_arn)
        explicit_session_name = role_session_name is not None
        self.role_session_name = session_name(role_session_name)
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
        # None sends no DurationSeconds: STS then gives 1 hour.
        self._duration = requested_duration(
            duration, maximum=ASSUME_ROLE_MAX_DURATION, refresh=refresh
        )
        self._mfa = mfa_codes(
            serial_number, token_code=token_code, token_provider=token_provider, refresh=refresh
        )
        if not callable(clock):
            raise ConfigurationError("clock must be callable, returning epoch seconds")
        if self._duration is not None:
            params["DurationSeconds"] = self._duration
        self._params = params
        self._sts = STSCall(
            client_factory(client, "assume_role"),
            operation="AssumeRole",
            method="assume_role",
            subject=self.role_arn,
            load_timeout=load_timeout(refresh),
            clock=clock,
        )
        self.info = SourceInfo(
            kind="assume_role",
            role_arn=self.role_arn,
            # The AWS CLI's cache key: what the user configured, never a generated
            # session name or the library's default duration.
            cache_key=assume_role_cache_key(
                self.request,
                explicit_session_name=explicit_session_name,
                explicit_duration=duration is not DEFAULT_DURATION,
            ),
            mfa=self._mfa is not None or bool(mfa_derived),
        )

    def __repr__(self) -> str:
        return (
            f"<AssumeRoleSource role_arn={self.role_arn!r} "
            f"role_session_name={self.role_session_name!r} "
            f"duration={self.duration.total_seconds():.0f}s>"
        )

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS (STS's 1 hour when none is sent)."""
        return lifetime(self._duration)

    @property
    def serial_number(self) -> str | None:
        """The MFA device's serial number or ARN, if MFA is used."""
        return None if self._mfa is None else self._mfa.serial_number

    @property
    def request(self) -> dict[str, Any]:
        """The AssumeRole parameters sent on each call, without ``TokenCode``."""
        return with_serial_number(self._params, self._mfa)

    async def retrieve(self) -> Credentials:
        """One AssumeRole call (and at most one token-provider call)."""
        credentials, _ = await self.retrieve_with_response()
        return credentials

    async def retrieve_with_response(self) -> tuple[Credentials, Sealed[Mapping[str, Any]]]:
        """One AssumeRole call: the credentials and STS's raw response, sealed.

        Raises:
            TokenProviderError: The MFA code could not be had.
            RefreshError: STS or the network failed, or the response was unusable.
        """
        request = await sealed_request(self._params, self._mfa)
        credentials, response, elapsed = await self._sts.fetch(
            request, account_id=self._account_id
        )
        report_issued(self.info, "AssumeRole", self.role_session_name, credentials, elapsed)
        return credentials, response

    def _account_id(self, response: object) -> str | None:
        return account_of_assumed_role(response, self.role_arn)


class AssumeRoleProvider(CredentialsCache):
    """Credentials for an IAM role, from STS AssumeRole, refreshed as they age.

    The async port of the AWS SDK for Go's ``stscreds.AssumeRoleProvider``:
    a :class:`CredentialsCache` around an AssumeRole source.
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
        hooks: Instrumentation hooks for this provider's events instead of the
            process-wide ones (:func:`aiostscreds.instrumentation.set_hooks`).
        mfa_derived: The client signs with credentials derived from an MFA
            code (a role chained above an MFA role): a shared cache then
            treats these credentials as MFA-derived too. Default False.
    """

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
        mfa_derived: bool = False,
        hooks: Iterable[Hook] | None = None,
    ) -> None:
        source = AssumeRoleSource(
            client,
            role_arn,
            role_session_name=role_session_name,
            duration=duration,
            external_id=external_id,
            policy=policy,
            policy_arns=policy_arns,
            tags=tags,
            transitive_tag_keys=transitive_tag_keys,
            source_identity=source_identity,
            serial_number=serial_number,
            token_code=token_code,
            token_provider=token_provider,
            refresh=refresh,
            clock=clock,
            mfa_derived=mfa_derived,
        )
        self._assume_role = source  # before the engine's __init__: repr() reads it
        super().__init__(source, refresh=refresh, clock=clock, shared=cache, hooks=hooks)

    get_credentials = CredentialsCache.get

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
        return cls(session_clients(session, client_config), role_arn, **options)

    def __repr__(self) -> str:
        source = self._assume_role
        return (
            f"<AssumeRoleProvider role_arn={source.role_arn!r} "
            f"role_session_name={source.role_session_name!r} "
            f"duration={source.duration.total_seconds():.0f}s>"
        )

    async def retrieve(self) -> Credentials:
        """Fetch new credentials: one AssumeRole call and at most one token-provider call.

        With a shared cache, an entry another process (or the AWS CLI, or
        another host) wrote is used instead when it is newer than the
        credentials held and outside the expiry window; otherwise the STS call
        is made under the cache's lock and its response written back. Bypasses
        the in-memory state; use :meth:`get_credentials` in applications.

        Raises:
            TokenProviderError: The MFA code could not be had.
            RefreshError: STS or the network failed, or the response was unusable.
        """
        return await self._retrieve()

    @property
    def role_arn(self) -> str:
        """The role assumed."""
        return self._assume_role.role_arn

    @property
    def role_session_name(self) -> str:
        """The session name sent on each refresh."""
        return self._assume_role.role_session_name

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS (STS's 1 hour when none is sent)."""
        return self._assume_role.duration

    @property
    def serial_number(self) -> str | None:
        """The MFA device's serial number or ARN, if MFA is used."""
        return self._assume_role.serial_number

    @property
    def request(self) -> dict[str, Any]:
        """The AssumeRole parameters sent on each refresh, without ``TokenCode``."""
        return self._assume_role.request
