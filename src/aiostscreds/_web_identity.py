"""STS AssumeRoleWithWebIdentity: EKS service-account tokens, CI OIDC tokens."""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread
import botocore
from aiobotocore.config import AioConfig

from ._credentials import Credentials
from ._errors import ConfigurationError, RefreshError
from ._paths import check_path
from ._policy import RefreshPolicy
from ._sts import (
    AssumeRoleProvider,
    _Sealed,
    _session_clients,
    _SessionClients,
    _STSProvider,
)
from ._validation import (
    ASSUME_ROLE_MAX_DURATION,
    check_policy,
    check_policy_arns,
    check_role_arn,
    check_string,
)

__all__ = ["WebIdentityProvider"]

log = logging.getLogger("aiostscreds")

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


class WebIdentityProvider(_STSProvider):
    """Credentials for an IAM role from an OIDC token, via STS AssumeRoleWithWebIdentity.

    What EKS (IRSA) and CI systems with OIDC use, and what botocore does for a
    profile (or environment) with ``role_arn`` and ``web_identity_token_file``.
    It runs on the same engine as :class:`AssumeRoleProvider`: one refresh at
    a time, the same refresh policy, errors classified the same way. Every
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
    """

    _operation = "AssumeRoleWithWebIdentity"
    _method = "assume_role_with_web_identity"

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
        if role_session_name is None:
            role_session_name = f"aiostscreds-{secrets.token_hex(8)}"
        self.role_session_name = check_string(
            role_session_name, parameter="role_session_name", shape="roleSessionNameType"
        )
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.role_session_name,
        }
        if policy is not None:
            params["Policy"] = check_policy(policy)
        arns = check_policy_arns(policy_arns)
        if arns:
            params["PolicyArns"] = [{"arn": arn} for arn in arns]
        super().__init__(
            client,
            duration=duration,
            max_duration=ASSUME_ROLE_MAX_DURATION,
            serial_number=None,
            token_code=None,
            token_provider=None,
            refresh=refresh,
            clock=clock,
        )
        if self._duration is not None:
            params["DurationSeconds"] = self._duration
        self._params = params

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
        clients = _SessionClients(_session_clients(session, unsigned))
        return cls(clients, role_arn, token_file, **options)

    def __repr__(self) -> str:
        return (
            f"<WebIdentityProvider role_arn={self.role_arn!r} "
            f"token_file={str(self.token_file)!r} "
            f"role_session_name={self.role_session_name!r} "
            f"duration={self.duration.total_seconds():.0f}s>"
        )

    @property
    def request(self) -> dict[str, Any]:
        """The request parameters sent on each refresh, without ``WebIdentityToken``."""
        return dict(self._params)

    def _subject(self) -> str:
        return self.role_arn

    def _request(self) -> dict[str, Any]:
        return dict(self._params)

    async def _call(self, request: _Sealed[dict[str, Any]]) -> _Sealed[Mapping[str, Any]]:
        # Read at every refresh: Kubernetes rotates the token. The token goes
        # straight into the sealed request, never into a local of this frame.
        request.value["WebIdentityToken"] = await anyio.to_thread.run_sync(
            _read_token, self.token_file
        )
        return await super()._call(request)

    _account_id = AssumeRoleProvider._account_id

    def _log_success(self, credentials: Credentials, elapsed: float) -> None:
        log.info(
            "assumed role %s with a web identity as session %s until %s "
            "(AssumeRoleWithWebIdentity took %.0f ms)",
            self.role_arn,
            self.role_session_name,
            credentials.expiration.isoformat(),
            elapsed * 1000,
        )
