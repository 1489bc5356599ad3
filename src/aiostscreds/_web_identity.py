"""STS AssumeRoleWithWebIdentity (EKS service-account tokens, CI OIDC tokens): the source
that calls it, and the provider (the engine around that source)."""

from __future__ import annotations

import datetime as dt
import errno
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread
import botocore
from aiobotocore.config import AioConfig

from ._cache import CredentialsCache
from ._clients import client_factory, session_clients
from ._credentials import Credentials
from ._errors import ConfigurationError, RefreshError
from ._paths import check_path
from ._policy import RefreshPolicy
from ._source import Sealed, SourceInfo
from ._sts import (
    STSCall,
    account_of_assumed_role,
    lifetime,
    load_timeout,
    report_issued,
    requested_duration,
    session_name,
)
from ._validation import (
    ASSUME_ROLE_MAX_DURATION,
    check_policy,
    check_policy_arns,
    check_role_arn,
)
from .instrumentation._hooks import Hook

__all__ = ["WebIdentityProvider", "WebIdentitySource"]

# STS's limit on WebIdentityToken (clientTokenType), in characters.
_MAX_TOKEN_CHARS = 20000


def _read_token(path: Path) -> str:
    """The token in ``path``, read afresh; RefreshError (recoverable) naming the file if none."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise RefreshError(
                f"web identity token file {path} is not a regular file", recoverable=True
            )
        # O_NONBLOCK: never wait on a FIFO swapped in after the check.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            raw = file.read(_MAX_TOKEN_CHARS + 1)
    except FileNotFoundError:
        raise RefreshError(
            f"web identity token file {path} does not exist (yet)", recoverable=True
        ) from None
    except OSError as error:
        reason = error.strerror or errno.errorcode.get(error.errno or 0, "error")
        raise RefreshError(
            f"web identity token file {path} could not be read: {reason}", recoverable=True
        ) from None
    # Neither the bytes nor the token may be a local (or an exception's context)
    # of this frame when it raises: error reporters record them.
    try:
        token: str | None = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        token = None
    del raw
    if token is None:
        raise RefreshError(
            f"web identity token file {path} does not hold a token (not ASCII text)",
            recoverable=True,
        )
    if not token:
        raise RefreshError(f"web identity token file {path} is empty", recoverable=True)
    if len(token) > _MAX_TOKEN_CHARS:
        del token
        raise RefreshError(
            f"web identity token file {path} holds more than {_MAX_TOKEN_CHARS} characters",
            recoverable=True,
        )
    return token


class WebIdentitySource:
    """Fetches credentials with STS AssumeRoleWithWebIdentity; holds no state.

    Takes :class:`WebIdentityProvider`'s arguments. The token file is read
    again for every call, since Kubernetes rotates it. Never shared through a
    shared cache (no cache key).
    """

    def __init__(
        self,
        client: object,
        role_arn: str,
        token_file: str | os.PathLike[str],
        *,
        role_session_name: str | None = None,
        duration: dt.timedelta | float | None = None,
        policy: str | None = None,
        policy_arns: Iterable[str] = (),
        refresh: RefreshPolicy = RefreshPolicy(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.role_arn = check_role_arn(role_arn)
        self.token_file = check_path(token_file, parameter="token_file")
        self.role_session_name = session_name(role_session_name)
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.role_session_name,
        }
        if policy is not None:
            params["Policy"] = check_policy(policy)
        arns = check_policy_arns(policy_arns)
        if arns:
            params["PolicyArns"] = [{"arn": arn} for arn in arns]
        self._duration = requested_duration(
            duration, maximum=ASSUME_ROLE_MAX_DURATION, refresh=refresh
        )
        if not callable(clock):
            raise ConfigurationError("clock must be callable, returning epoch seconds")
        if self._duration is not None:
            params["DurationSeconds"] = self._duration
        self._params = params
        self._sts = STSCall(
            client_factory(client, "assume_role_with_web_identity"),
            operation="AssumeRoleWithWebIdentity",
            method="assume_role_with_web_identity",
            subject=self.role_arn,
            load_timeout=load_timeout(refresh),
            clock=clock,
        )
        self.info = SourceInfo(kind="web_identity", role_arn=self.role_arn, cache_key=None)

    def __repr__(self) -> str:
        return (
            f"<WebIdentitySource role_arn={self.role_arn!r} "
            f"token_file={str(self.token_file)!r} "
            f"role_session_name={self.role_session_name!r}>"
        )

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS (STS's 1 hour when none is sent)."""
        return lifetime(self._duration)

    @property
    def request(self) -> dict[str, Any]:
        """The request parameters sent on each call, without ``WebIdentityToken``."""
        return dict(self._params)

    async def retrieve(self) -> Credentials:
        """One AssumeRoleWithWebIdentity call, with the token read afresh."""
        credentials, _ = await self.retrieve_with_response()
        return credentials

    async def retrieve_with_response(self) -> tuple[Credentials, Sealed[Mapping[str, Any]]]:
        """One AssumeRoleWithWebIdentity call: the credentials and STS's raw response, sealed.

        Raises:
            RefreshError: The token file could not be read (recoverable, naming
                the file), STS or the network failed, or the response was unusable.
        """
        request = Sealed(dict(self._params))
        # Read at every refresh: Kubernetes rotates the token. The token goes
        # straight into the sealed request, never into a local of this frame.
        request.value["WebIdentityToken"] = await anyio.to_thread.run_sync(
            _read_token, self.token_file
        )
        credentials, response, elapsed = await self._sts.fetch(
            request, account_id=self._account_id
        )
        report_issued(
            self.info, "AssumeRoleWithWebIdentity", self.role_session_name, credentials, elapsed
        )
        return credentials, response

    def _account_id(self, response: object) -> str | None:
        return account_of_assumed_role(response, self.role_arn)


class WebIdentityProvider(CredentialsCache):
    """Credentials for an IAM role from an OIDC token, via STS AssumeRoleWithWebIdentity.

    What EKS (IRSA) and CI systems with OIDC use, and what botocore does for a
    profile (or environment) with ``role_arn`` and ``web_identity_token_file``.
    A :class:`CredentialsCache` around an AssumeRoleWithWebIdentity source, as
    :class:`AssumeRoleProvider` is around an AssumeRole one: one refresh at a
    time, the same refresh policy, errors classified the same way. Every
    parameter is checked at construction; a bad one raises
    :class:`ConfigurationError` naming it, and no STS call is made.

    The token file is read again at every refresh, since Kubernetes rotates
    it. A missing, empty or unreadable file fails that refresh with a
    recoverable :class:`RefreshError` naming the file: the next attempt reads
    it again.

    AssumeRoleWithWebIdentity is an unsigned call: :meth:`from_session` makes
    unsigned clients. A client passed directly should be unsigned too
    (``AioConfig(signature_version=botocore.UNSIGNED)``); a signed one works
    but needs credentials of its own.

    Args:
        client: An STS client with ``async assume_role_with_web_identity()``.
            See :meth:`from_session` to have unsigned clients made for you.
        role_arn: The role to assume.
        token_file: The file holding the OIDC token. A leading ``~`` or
            ``~user`` is expanded at construction; one whose home directory
            cannot be found is a :class:`ConfigurationError`.
        role_session_name: The session name. By default one is generated once
            per provider and kept across refreshes.
        duration: The session duration (``timedelta`` or seconds), 900-43200 s.
            Default ``None``: no ``DurationSeconds`` is sent and STS gives
            1 hour, as botocore and the Go SDK do.
        policy: An inline session policy (JSON text).
        policy_arns: Up to 10 managed session policy ARNs.
        refresh: The refresh policy; its windows must fit ``duration``.
        clock: Returns epoch seconds; for tests.
        hooks: Instrumentation hooks for this provider's events instead of the
            process-wide ones (:func:`aiostscreds.instrumentation.set_hooks`).
    """

    def __init__(
        self,
        client: object,
        role_arn: str,
        token_file: str | os.PathLike[str],
        *,
        role_session_name: str | None = None,
        duration: dt.timedelta | float | None = None,
        policy: str | None = None,
        policy_arns: Iterable[str] = (),
        refresh: RefreshPolicy = RefreshPolicy(),
        clock: Callable[[], float] = time.time,
        hooks: Iterable[Hook] | None = None,
    ) -> None:
        source = WebIdentitySource(
            client,
            role_arn,
            token_file,
            role_session_name=role_session_name,
            duration=duration,
            policy=policy,
            policy_arns=policy_arns,
            refresh=refresh,
            clock=clock,
        )
        self._web_identity = source  # before the engine's __init__: repr() reads it
        super().__init__(source, refresh=refresh, clock=clock, hooks=hooks)

    get_credentials = CredentialsCache.get

    @classmethod
    def from_session(
        cls,
        session: Any,
        role_arn: str,
        token_file: str | os.PathLike[str],
        *,
        client_config: Any = None,
        **options: Any,
    ) -> WebIdentityProvider:
        """A provider that makes an unsigned STS client from an ``AioSession`` per refresh.

        The session's region and endpoint settings (``AWS_ENDPOINT_URL_STS``
        included) apply; its credentials are neither needed nor used.
        ``client_config`` is an optional ``AioConfig`` merged under the
        unsigned setting. Other keyword options are the constructor's.
        """
        unsigned = AioConfig(signature_version=botocore.UNSIGNED)
        if client_config is not None:
            if not callable(getattr(client_config, "merge", None)):
                raise ConfigurationError("client_config must be an AioConfig")
            unsigned = client_config.merge(unsigned)
        return cls(session_clients(session, unsigned), role_arn, token_file, **options)

    def __repr__(self) -> str:
        source = self._web_identity
        return (
            f"<WebIdentityProvider role_arn={source.role_arn!r} "
            f"token_file={str(source.token_file)!r} "
            f"role_session_name={source.role_session_name!r} "
            f"duration={source.duration.total_seconds():.0f}s>"
        )

    async def retrieve(self) -> Credentials:
        """Make exactly one STS call, with the token read afresh; bypasses the in-memory state.

        Raises:
            RefreshError: The token file could not be read, STS or the network
                failed, or the response was unusable.
        """
        return await self._retrieve()

    @property
    def role_arn(self) -> str:
        """The role assumed."""
        return self._web_identity.role_arn

    @property
    def token_file(self) -> Path:
        """The file the OIDC token is read from at every refresh."""
        return self._web_identity.token_file

    @property
    def role_session_name(self) -> str:
        """The session name sent on each refresh."""
        return self._web_identity.role_session_name

    @property
    def duration(self) -> dt.timedelta:
        """The session duration requested from STS (STS's 1 hour when none is sent)."""
        return self._web_identity.duration

    @property
    def request(self) -> dict[str, Any]:
        """The request parameters sent on each refresh, without ``WebIdentityToken``."""
        return self._web_identity.request
