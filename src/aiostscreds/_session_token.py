"""GetSessionToken: the source that calls it, and the provider (the engine around that source)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._cache import CredentialsCache
from ._clients import client_factory, session_clients
from ._credentials import Credentials
from ._errors import ConfigurationError
from ._policy import RefreshPolicy
from ._source import Sealed, SourceInfo
from ._sts import (
    DEFAULT_DURATION,
    STSCall,
    lifetime,
    load_timeout,
    mfa_codes,
    report_issued,
    requested_duration,
    sealed_request,
    with_serial_number,
)
from ._tokens import TokenProvider
from ._validation import SESSION_TOKEN_MAX_DURATION
from .instrumentation._hooks import Hook

__all__ = ["SessionTokenProvider", "SessionTokenSource"]


class SessionTokenSource:
    """Fetches the calling user's temporary credentials with STS GetSessionToken; no state.

    Takes :class:`SessionTokenProvider`'s arguments. ``mfa_session_key``, the
    shared-cache key of an MFA session (see :mod:`._mfa_session`), makes the
    source shareable (kind ``"mfa_session"``); without one it is never shared.
    """

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
        mfa_session_key: str | None = None,
    ) -> None:
        if duration is None:
            raise ConfigurationError(
                "duration must be a timedelta or a number of seconds, not None"
            )
        self._duration = requested_duration(
            duration, maximum=SESSION_TOKEN_MAX_DURATION, refresh=refresh
        )
        self._mfa = mfa_codes(
            serial_number, token_code=token_code, token_provider=token_provider, refresh=refresh
        )
        if not callable(clock):
            raise ConfigurationError("clock must be callable, returning epoch seconds")
        self._sts = STSCall(
            client_factory(client, "get_session_token"),
            operation="GetSessionToken",
            method="get_session_token",
            subject="the calling user",
            load_timeout=load_timeout(refresh),
            clock=clock,
        )
        self.info = SourceInfo(
            kind="session_token" if mfa_session_key is None else "mfa_session",
            role_arn=None,
            cache_key=mfa_session_key,
            mfa=self._mfa is not None,
        )

    def __repr__(self) -> str:
        seconds = self.duration.total_seconds()
        return f"<SessionTokenSource serial_number={self.serial_number!r} duration={seconds:.0f}s>"

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS."""
        return lifetime(self._duration)

    @property
    def serial_number(self) -> str | None:
        """The MFA device's serial number or ARN, if MFA is used."""
        return None if self._mfa is None else self._mfa.serial_number

    @property
    def request(self) -> dict[str, Any]:
        """The GetSessionToken parameters sent on each call, without ``TokenCode``."""
        return with_serial_number({"DurationSeconds": self._duration}, self._mfa)

    async def retrieve(self) -> Credentials:
        """One GetSessionToken call (and at most one token-provider call)."""
        credentials, _ = await self.retrieve_with_response()
        return credentials

    async def retrieve_with_response(self) -> tuple[Credentials, Sealed[Mapping[str, Any]]]:
        """One GetSessionToken call: the credentials and STS's raw response, sealed.

        Raises:
            TokenProviderError: The MFA code could not be had.
            RefreshError: STS or the network failed, or the response was unusable.
        """
        request = await sealed_request({"DurationSeconds": self._duration}, self._mfa)
        credentials, response, elapsed = await self._sts.fetch(request)
        report_issued(self.info, "GetSessionToken", None, credentials, elapsed)
        return credentials, response


class SessionTokenProvider(CredentialsCache):
    """Temporary credentials for the calling user, from STS GetSessionToken.

    The same contract as :class:`AssumeRoleProvider`: a
    :class:`CredentialsCache` around a GetSessionToken source, MFA through a
    token provider called on every refresh, validation at construction, one
    shared refresh at a time. ``duration`` lies in 900-129600 s (36 h);
    default 15 minutes. ``hooks``: instrumentation hooks for this provider's
    events instead of the process-wide ones.
    """

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
        hooks: Iterable[Hook] | None = None,
    ) -> None:
        source = SessionTokenSource(
            client,
            duration=duration,
            serial_number=serial_number,
            token_code=token_code,
            token_provider=token_provider,
            refresh=refresh,
            clock=clock,
        )
        self._session_token = source  # before the engine's __init__: repr() reads it
        super().__init__(source, refresh=refresh, clock=clock, hooks=hooks)

    get_credentials = CredentialsCache.get

    @classmethod
    def from_session(
        cls, session: Any, *, client_config: Any = None, **options: Any
    ) -> SessionTokenProvider:
        """A provider that makes its own STS client from an ``AioSession`` for each refresh.

        See :meth:`AssumeRoleProvider.from_session`.
        """
        return cls(session_clients(session, client_config), **options)

    def __repr__(self) -> str:
        serial = self.serial_number
        seconds = self.duration.total_seconds()
        return f"<SessionTokenProvider serial_number={serial!r} duration={seconds:.0f}s>"

    async def retrieve(self) -> Credentials:
        """Make exactly one STS call (and at most one token-provider call).

        This bypasses the in-memory state; use :meth:`get_credentials` in
        applications.

        Raises:
            TokenProviderError: The MFA code could not be had.
            RefreshError: STS or the network failed, or the response was unusable.
        """
        return await self._retrieve()

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS."""
        return self._session_token.duration

    @property
    def serial_number(self) -> str | None:
        """The MFA device's serial number or ARN, if MFA is used."""
        return self._session_token.serial_number

    @property
    def request(self) -> dict[str, Any]:
        """The GetSessionToken parameters sent on each refresh, without ``TokenCode``."""
        return self._session_token.request
