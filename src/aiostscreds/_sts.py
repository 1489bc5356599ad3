"""The STS call, made the library's way: error classification, response parsing, secrets sealed.

The sources (:mod:`._assume_role`, :mod:`._session_token`, :mod:`._web_identity`)
hand their requests to :class:`STSCall`, which calls STS, classifies a failure
(recoverable or not, secrets scrubbed; :mod:`._sso` shares it) and parses the
response, correcting the expiration for a local clock behind STS's (``Date``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import attrs
import botocore.exceptions
import botocore.parsers
from botocore.utils import parse_timestamp

from ._arn import role_account
from ._clients import ClientFactory
from ._credentials import Credentials
from ._errors import ConfigurationError, CredentialsError, RefreshError
from ._policy import RefreshPolicy
from ._source import Sealed, SourceInfo
from ._tokens import MFACodes, TokenProvider
from ._validation import check_duration, check_string
from .instrumentation._events import CredentialsIssued
from .instrumentation._hooks import emitter_for

__all__ = [
    "DEFAULT_DURATION",
    "STS_DEFAULT_DURATION",
    "STSCall",
    "account_of_assumed_role",
    "classify_error",
    "credentials_from",
    "lifetime",
    "load_timeout",
    "mfa_codes",
    "requested_duration",
    "sealed_request",
    "session_name",
    "with_serial_number",
]

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


# A clock behind STS's by less: the Date header's 1 s resolution plus latency.
_SKEW_TOLERANCE = 2.0


def classify_error(
    error: Exception, operation: str, subject: str, request: Sealed[dict[str, Any]]
) -> RefreshError:
    """``error`` from an AWS call (STS, SSO, SSO-OIDC) as a scrubbed :class:`RefreshError`."""
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


def _scrub(text: str, request: Sealed[dict[str, Any]]) -> str:
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


def credentials_from(
    response: Sealed[Mapping[str, Any]],
    *,
    operation: str,
    subject: str,
    account_id: str | None,
    now: float,
) -> Credentials:
    """A response's credentials, checked (recoverable RefreshError) and clock-corrected."""
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


def requested_duration(duration: object, *, maximum: int, refresh: RefreshPolicy) -> int | None:
    """The ``DurationSeconds`` to send (None: send none, STS gives 1 hour), checked.

    Raises:
        ConfigurationError: ``duration`` is out of range, or ``refresh``'s
            windows do not fit it.
    """
    if not isinstance(refresh, RefreshPolicy):
        raise ConfigurationError("refresh must be a RefreshPolicy")
    seconds = None if duration is None else check_duration(duration, maximum=maximum)
    refresh.check_fits(lifetime(seconds))
    return seconds


def load_timeout(refresh: RefreshPolicy) -> float | None:
    """The policy's ``load_timeout`` in seconds, or None."""
    return None if refresh.load_timeout is None else refresh.load_timeout.total_seconds()


def lifetime(duration_seconds: int | None) -> dt.timedelta:
    """The session length STS gives for a request with this ``DurationSeconds`` (or none)."""
    if duration_seconds is None:
        return STS_DEFAULT_DURATION
    return dt.timedelta(seconds=duration_seconds)


def mfa_codes(
    serial_number: str | None,
    *,
    token_code: str | None,
    token_provider: TokenProvider | None,
    refresh: RefreshPolicy,
) -> MFACodes | None:
    """Where a source gets its MFA codes, or None without ``serial_number``."""
    if serial_number is None:
        if token_code is not None or token_provider is not None:
            raise ConfigurationError(
                "token_code and token_provider need serial_number, the MFA device's "
                "serial number or ARN"
            )
        return None
    return MFACodes(
        serial_number,
        token_code=token_code,
        token_provider=token_provider,
        timeout=refresh.token_timeout,
    )


def with_serial_number(params: Mapping[str, Any], mfa: MFACodes | None) -> dict[str, Any]:
    """A copy of ``params`` with ``SerialNumber`` added when MFA is used (never ``TokenCode``)."""
    request = dict(params)
    if mfa is not None:
        request["SerialNumber"] = mfa.serial_number
    return request


async def sealed_request(params: Mapping[str, Any], mfa: MFACodes | None) -> Sealed[dict[str, Any]]:
    """The request to send, with ``SerialNumber`` and a new ``TokenCode`` when MFA is used.

    Sealed from the start: it holds the MFA code, and every frame's locals may
    be recorded by an error reporter.

    Raises:
        TokenProviderError: The MFA code could not be had.
    """
    request = Sealed(with_serial_number(params, mfa))
    if mfa is not None:
        request.value["TokenCode"] = await mfa.next_code()
    return request


def session_name(value: str | None) -> str:
    """``value`` checked as a role session name, or a generated one if None."""
    if value is None:
        value = f"aiostscreds-{secrets.token_hex(8)}"
    return check_string(value, parameter="role_session_name", shape="roleSessionNameType")


def account_of_assumed_role(response: object, role_arn: str) -> str | None:
    """The account id of an AssumeRole* response: its ``AssumedRoleUser.Arn``, else the role's."""
    if isinstance(response, Mapping):
        assumed = response.get("AssumedRoleUser")
        if isinstance(assumed, Mapping):
            account = role_account(assumed.get("Arn"))
            if account:
                return account
    return role_account(role_arn)


def report_issued(
    info: SourceInfo,
    operation: str,
    session_name: str | None,
    credentials: Credentials,
    elapsed: float,
) -> None:
    """Report new credentials from STS to the hooks (the LoggingHook's "assumed role" INFO)."""
    emitter = emitter_for(info.kind, info.role_arn)
    if emitter is not None:
        emitter.emit(
            CredentialsIssued(
                kind=emitter.kind,
                role_arn=emitter.role_arn,
                refresh_id=emitter.refresh_id,
                operation=operation,
                session_name=session_name,
                expiration=credentials.expiration,
                duration=elapsed,
            )
        )


@attrs.frozen
class STSCall:
    """One STS operation for one subject, made the same way by every source.

    Attributes:
        clients: Makes (or lends) the STS client for each call.
        operation: The operation's name, for messages (``AssumeRole``).
        method: The client's method (``assume_role``).
        subject: Who the credentials are for, for messages (a role ARN).
        load_timeout: Seconds the call may take, or None.
        clock: Epoch seconds, read when the response arrives.
    """

    clients: ClientFactory
    operation: str
    method: str
    subject: str
    load_timeout: float | None
    clock: Callable[[], float]

    async def fetch(
        self,
        request: Sealed[dict[str, Any]],
        *,
        account_id: Callable[[object], str | None] | None = None,
    ) -> tuple[Credentials, Sealed[Mapping[str, Any]], float]:
        """Call STS with ``request``: the credentials, the raw response and the seconds taken.

        The request (with an MFA code or a token) and the response (with the
        secret key) stay sealed: this frame is in the traceback of every failure.

        Raises:
            RefreshError: STS or the network failed, or the response was unusable.
        """
        started = time.monotonic()
        try:
            if self.load_timeout is None:
                response = await self._call(request)
            else:
                with anyio.fail_after(self.load_timeout):
                    response = await self._call(request)
        except CredentialsError:
            raise
        except Exception as error:
            raise classify_error(error, self.operation, self.subject, request) from error
        credentials = credentials_from(
            response,
            operation=self.operation,
            subject=self.subject,
            account_id=None if account_id is None else account_id(response.value),
            now=self.clock(),
        )
        return credentials, response, time.monotonic() - started

    async def _call(self, request: Sealed[dict[str, Any]]) -> Sealed[Mapping[str, Any]]:
        async with self.clients() as client:
            return Sealed(await getattr(client, self.method)(**request.value))
