"""IAM Identity Center (SSO): the token ``aws sso login`` leaves, its refresh, and role credentials.

The token cache is botocore's (``~/.aws/sso/cache/<sha1>.json``, the SHA-1 of
the ``sso_session`` name or of the legacy ``sso_start_url``), read and written
in botocore's format so that the AWS CLI, boto3 and this library share one
token. A token due for refresh (botocore's window: under 15 minutes left) is
refreshed with SSO-OIDC ``CreateToken`` and the refresh token, once per host,
under a cross-process file lock, and written back atomically. The role
credentials come from the SSO portal's ``GetRoleCredentials``.

One idea, though over 400 lines: IAM Identity Center as a credential source.
The profile's SSO settings, the token (read, refreshed, written back) and the
role call all serve the one ``GetRoleCredentials`` request, and share the
token's state and its "log in again" error; the engine around it,
:class:`SSOProvider`, is a thin subclass like the other providers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs
import botocore
import botocore.exceptions
from aiobotocore.config import AioConfig

from ._cache import CredentialsCache
from ._cache_format import (
    parse_expiration,
    read_private_json,
    sso_role_cache_key,
    sso_token_cache_key,
    write_private,
)
from ._credentials import Credentials
from ._errors import ConfigurationError, CredentialsError, RefreshError, SSOLoginRequiredError
from ._paths import check_path
from ._policy import RefreshPolicy
from ._source import Sealed, SourceInfo
from ._sts import classify_error, credentials_from, load_timeout, report_issued
from .caches._file import FileCache
from .caches._shared import SharedCache
from .instrumentation._hooks import Hook

__all__ = [
    "TOKEN_DIRECTORY",
    "TOKEN_REFRESH_WINDOW",
    "SSOConfig",
    "SSOProvider",
    "SSORoleSource",
]

log = logging.getLogger("aiostscreds")

TOKEN_DIRECTORY = "~/.aws/sso/cache"
"""Where ``aws sso login`` leaves the token: botocore's ``SSOTokenProvider`` directory."""

TOKEN_REFRESH_WINDOW = 15 * 60
"""A token with less than this left (seconds) is refreshed: botocore's ``_REFRESH_WINDOW``."""

# What a refresh needs besides the access token, as botocore's SSOTokenProvider checks.
_REFRESH_KEYS = ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt")
# CreateToken errors worth another try; any 5xx or 429 counts too.
_OIDC_RECOVERABLE = frozenset({"SlowDownException", "InternalServerException"})
_ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)


@attrs.frozen
class SSOConfig:
    """What an SSO profile configures, resolved through its ``sso_session`` section if any."""

    profile: str | None
    account_id: str
    role_name: str
    region: str
    start_url: str
    session_name: str | None

    @property
    def role_cache_key(self) -> str:
        """The role credentials' key in ``~/.aws/cli/cache``, as the AWS CLI v2 computes it."""
        return sso_role_cache_key(
            account_id=self.account_id,
            role_name=self.role_name,
            session_name=self.session_name,
            start_url=self.start_url,
        )

    @property
    def token_cache_key(self) -> str:
        """The token file's name in ``~/.aws/sso/cache``, without ``.json``."""
        return sso_token_cache_key(session_name=self.session_name, start_url=self.start_url)

    @property
    def login_command(self) -> str:
        """The command that gets a new token for this profile."""
        if self.profile is not None:
            return f"aws sso login --profile {self.profile}"
        if self.session_name is not None:
            return f"aws sso login --sso-session {self.session_name}"
        return "aws sso login"

    @property
    def subject(self) -> str:
        """The role, as messages name it."""
        return f"role {self.role_name} in account {self.account_id}"


# The constructor's parameter for each shared-config key.
_PARAMETERS = {
    "sso_account_id": "account_id",
    "sso_role_name": "role_name",
    "sso_region": "sso_region",
    "sso_start_url": "start_url",
    "sso_session": "sso_session",
}


def check_sso_config(
    *,
    profile: str | None,
    account_id: object,
    role_name: object,
    region: object,
    start_url: object,
    session_name: object = None,
    where: str | None = None,
) -> SSOConfig:
    """An :class:`SSOConfig`, every value checked.

    A ConfigurationError names the key and ``where`` (a profile, by default
    ``profile``); with neither, it names :class:`SSOProvider`'s parameter.
    """
    if where is None and profile is not None:
        where = f"profile {profile!r}"

    def name(key: str) -> str:
        return _PARAMETERS[key] if where is None else f"{key} in {where}"

    values = {
        "sso_account_id": account_id,
        "sso_role_name": role_name,
        "sso_region": region,
        "sso_start_url": start_url,
    }
    for key, value in values.items():
        if value is None and where is not None:
            raise ConfigurationError(f"{where} uses IAM Identity Center (SSO) but sets no {key}")
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name(key)} must be a non-empty single value")
    assert isinstance(account_id, str) and isinstance(role_name, str)
    assert isinstance(region, str) and isinstance(start_url, str)
    if _ACCOUNT_ID.fullmatch(account_id) is None:
        raise ConfigurationError(
            f"{name('sso_account_id')} must be a 12-digit AWS account id (got {account_id!r})"
        )
    if any(ord(char) < 0x20 for char in role_name):
        raise ConfigurationError(f"{name('sso_role_name')} may not contain control characters")
    if not start_url.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"{name('sso_start_url')} must be a URL such as https://example.awsapps.com/start"
        )
    if session_name is not None and (not isinstance(session_name, str) or not session_name):
        raise ConfigurationError(f"{name('sso_session')} must be a non-empty single value")
    try:
        botocore.utils.validate_region_name(region)
    except botocore.exceptions.InvalidRegionError:
        raise ConfigurationError(
            f"{name('sso_region')} must be a region name such as us-east-1 (got {region!r})"
        ) from None
    return SSOConfig(
        profile=profile,
        account_id=account_id,
        role_name=role_name,
        region=region,
        start_url=start_url,
        session_name=session_name,
    )


# The token file --------------------------------------------------------------------


@attrs.define(repr=False)
class _Token:
    """A token file's contents: the access token, its expiry, and what a refresh needs."""

    document: dict[str, Any]
    expires_at: float

    def __repr__(self) -> str:  # it holds the access and refresh tokens
        return f"<SSO token expiring at {self.expires_at:.0f}>"

    @property
    def access_token(self) -> str:
        return str(self.document["accessToken"])

    def refreshable(self, now: float) -> bool:
        """botocore's conditions: the refresh keys are there and the registration is valid."""
        if not all(self.document.get(key) for key in _REFRESH_KEYS):
            return False
        try:
            registration = parse_expiration(str(self.document["registrationExpiresAt"]))
        except (ValueError, OverflowError):
            return False
        return registration.timestamp() > now


def _load_token(path: Path, start_url: str) -> _Token | str:
    """The token in ``path``, or why there is none usable. Never raises, never blocks."""
    try:
        document = read_private_json(str(path), path.name)
    except Exception as error:
        return f"the token file {path} is corrupt ({type(error).__name__})"
    if document is None:
        return f"there is no usable token file {path} (missing, or not a private file of yours)"
    if not isinstance(document, dict):
        return f"the token file {path} is corrupt (not a JSON object)"
    token = document.get("accessToken")
    expires = document.get("expiresAt")
    if not isinstance(token, str) or not token or not isinstance(expires, str):
        return f"the token file {path} holds no accessToken and expiresAt"
    theirs = document.get("startUrl")
    if theirs is not None and theirs != start_url:
        return f"the token file {path} is for another start URL than {start_url}"
    try:
        expires_at = parse_expiration(expires).timestamp()
    except (ValueError, OverflowError):
        return f"the token file {path} has an unreadable expiresAt"
    return _Token(document, expires_at)


def _utc_text(epoch: float) -> str:
    # botocore's _sso_json_dumps spelling.
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refreshed_document(
    old: Mapping[str, Any], response: Mapping[str, Any], config: SSOConfig, started: float
) -> _Token | None:
    """The new token file: botocore's ``SSOTokenProvider._attempt_create_token``, key for key.

    None if ``response`` holds no usable token. Never raises: no traceback
    holds this frame's locals.
    """
    access = response.get("accessToken")
    expires_in = response.get("expiresIn")
    if not isinstance(access, str) or not access:
        return None
    # An int of seconds, at most a year: anything else is a garbled answer.
    if type(expires_in) is not int or not 0 < expires_in <= 366 * 86400:
        return None
    expires_at = started + expires_in
    document: dict[str, Any] = {
        "startUrl": config.start_url,
        "region": config.region,
        "accessToken": access,
        "expiresAt": _utc_text(expires_at),
        "clientId": old["clientId"],
        "clientSecret": old["clientSecret"],
        "registrationExpiresAt": old["registrationExpiresAt"],
    }
    if response.get("refreshToken"):
        document["refreshToken"] = response["refreshToken"]
    return _Token(document, expires_at)


def _save_token(directory: Path, key: str, document: Mapping[str, Any]) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(directory, f"{key}.json", json.dumps(document))


class _Tokens:
    """The access token of one SSO configuration, refreshed when botocore would refresh it."""

    def __init__(
        self,
        config: SSOConfig,
        session: Any,
        *,
        client_config: Any,
        directory: Path,
        load_timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._load_timeout = load_timeout
        self._session = session
        self._client_config = client_config
        self._directory = directory
        self._path = directory / f"{config.token_cache_key}.json"
        # FileCache's advisory lock, on the token directory, keyed by the token's name.
        # Where it has no POSIX locks (Windows), refreshes go on unlocked.
        try:
            self._lock: FileCache | None = FileCache(directory)
        except ConfigurationError:
            self._lock = None
        self._clock = clock

    def login_required(self, reason: str, code: str | None = None) -> SSOLoginRequiredError:
        """The error that tells the user to sign in again, and how, with ``reason``."""
        config = self._config
        return SSOLoginRequiredError(
            f"IAM Identity Center (SSO) sign-in needed for {config.subject}: {reason}; "
            f"run `{config.login_command}`",
            profile=config.profile,
            code=code,
        )

    async def _load(self) -> _Token | str:
        return await anyio.to_thread.run_sync(_load_token, self._path, self._config.start_url)

    def _due(self, token: _Token | str, now: float) -> bool:
        return (
            isinstance(token, _Token)
            and token.expires_at - now < TOKEN_REFRESH_WINDOW
            and self._config.session_name is not None  # botocore refreshes no legacy token
            and token.refreshable(now)
        )

    async def access_token(self) -> Sealed[str]:
        """The access token to send; refreshed first (once per host) if due.

        Raises:
            SSOLoginRequiredError: No usable token, and none could be refreshed.
            RefreshError: (recoverable) The refresh failed for a reason worth
                retrying, and the token held has expired.
        """
        token = await self._load()
        if self._due(token, self._clock()):
            lock = self._lock
            async with (
                lock.locked(self._config.token_cache_key)
                if lock is not None
                else contextlib.nullcontext()
            ):
                # Another process (or the AWS CLI) may have refreshed it meanwhile.
                token = await self._load()
                if self._due(token, self._clock()):
                    assert isinstance(token, _Token)
                    token = await self._refresh(token)
        if isinstance(token, str):
            raise self.login_required(token)
        if token.expires_at <= self._clock():
            raise self.login_required(
                f"the token expired at {_utc_text(token.expires_at)} and cannot be refreshed"
            )
        return Sealed(token.access_token)

    async def _refresh(self, token: _Token) -> _Token:
        """CreateToken with the refresh token; the new token written back in botocore's format.

        A failure while the old token is still valid keeps the old one (a WARNING).
        The tokens and the client secret stay in the token and in sealed
        values: error reporters record the locals of every frame.
        """
        config = self._config
        request = Sealed(
            {
                "grantType": "refresh_token",
                "clientId": token.document["clientId"],
                "clientSecret": token.document["clientSecret"],
                "refreshToken": token.document["refreshToken"],
            }
        )
        started = self._clock()
        try:
            response = await self.call("sso-oidc", "create_token", request)
        except Exception as error:
            subject = f"SSO session {config.session_name}"
            failure = classify_error(error, "CreateToken", subject, request)
            if token.expires_at > self._clock():
                log.warning("%s; using the SSO token held until it expires", failure)
                return token
            if failure.recoverable or failure.code in _OIDC_RECOVERABLE:
                raise RefreshError(str(failure), recoverable=True, code=failure.code) from error
            raise self.login_required(
                f"refreshing the token failed ({failure.code or 'error'})", code=failure.code
            ) from error
        refreshed = _refreshed_document(token.document, response.value, config, started)
        if refreshed is None:
            if token.expires_at > self._clock():
                log.warning("CreateToken returned an unusable token; using the one held")
                return token
            raise RefreshError(
                "CreateToken returned a response without a usable token", recoverable=True
            )
        try:
            await anyio.to_thread.run_sync(
                _save_token, self._directory, config.token_cache_key, refreshed.document
            )
        except OSError as error:
            log.warning(
                "could not write the refreshed SSO token to %s: %s", self._path, error.strerror
            )
        log.info(
            "refreshed the SSO token of session %s until %s",
            config.session_name,
            _utc_text(refreshed.expires_at),
        )
        return refreshed

    async def call(
        self, service: str, method: str, request: Sealed[dict[str, Any]]
    ) -> Sealed[Mapping[str, Any]]:
        """One unsigned call to ``service`` in the SSO region, within the load timeout."""
        unsigned = AioConfig(signature_version=botocore.UNSIGNED)
        if self._client_config is not None:
            unsigned = self._client_config.merge(unsigned)
        with anyio.fail_after(self._load_timeout):
            async with self._session.create_client(
                service, region_name=self._config.region, config=unsigned
            ) as client:
                return Sealed(await getattr(client, method)(**request.value))


# Role credentials -----------------------------------------------------------------


def _role_document(response: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """GetRoleCredentials' answer in the shape the AWS CLI v2 caches (and STS answers).

    ``expiration`` is epoch milliseconds; an unreadable one is left out, which
    the reader reports as an incomplete response.
    """
    raw = response.get("roleCredentials")
    raw = raw if isinstance(raw, Mapping) else {}
    fields: dict[str, Any] = {
        "AccessKeyId": raw.get("accessKeyId"),
        "SecretAccessKey": raw.get("secretAccessKey"),
        "SessionToken": raw.get("sessionToken"),
        "AccountId": account_id,
    }
    milliseconds = raw.get("expiration")
    if isinstance(milliseconds, (int, float)) and not isinstance(milliseconds, bool):
        with contextlib.suppress(ValueError, OverflowError, OSError):
            fields["Expiration"] = dt.datetime.fromtimestamp(milliseconds / 1000, dt.timezone.utc)
    document: dict[str, Any] = {"ProviderType": "sso", "Credentials": fields}
    if "ResponseMetadata" in response:  # the Date header: clock-skew correction
        document["ResponseMetadata"] = response["ResponseMetadata"]
    return document


def _cache_document(document: Mapping[str, Any], credentials: Credentials) -> dict[str, Any]:
    """What the AWS CLI v2 writes for SSO role credentials (a shared cache stores it)."""
    fields = dict(document["Credentials"])
    fields["Expiration"] = _utc_text(credentials.expires_at)
    return {"ProviderType": "sso", "Credentials": fields}


class SSORoleSource:
    """A pure source of SSO role credentials: one ``GetRoleCredentials`` call per fetch.

    Holds its configuration only; the engine (:class:`SSOProvider`) holds the
    state. The access token comes from botocore's token cache, refreshed first
    when due. Errors: an expired, missing or refused token is a non-recoverable
    :class:`SSOLoginRequiredError`; throttling, 5xx and network failures are
    recoverable :class:`RefreshError`\\ s; any other refusal (no such role
    assignment) is not recoverable. Shareable: kind ``"sso"``, never
    MFA-derived, keyed as botocore's ``SSOCredentialFetcher`` keys it.
    """

    def __init__(
        self,
        config: SSOConfig,
        session: Any,
        *,
        client_config: Any = None,
        refresh: RefreshPolicy = RefreshPolicy(),
        token_directory: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(getattr(session, "create_client", None)):
            raise ConfigurationError("session must be an aiobotocore AioSession")
        if client_config is not None and not callable(getattr(client_config, "merge", None)):
            raise ConfigurationError("client_config must be an AioConfig")
        if not callable(clock):
            raise ConfigurationError("clock must be callable, returning epoch seconds")
        if os.name == "nt" or not hasattr(os, "getuid"):
            # Else every token file would be reported as unusable: "run aws sso login".
            raise ConfigurationError(
                "IAM Identity Center (SSO) profiles need POSIX file ownership and modes to "
                f"trust the token file in {TOKEN_DIRECTORY}, which this platform "
                f"(os.name={os.name!r}) lacks"
            )
        self.config = config
        directory = check_path(token_directory or TOKEN_DIRECTORY, parameter="token_directory")
        self._tokens = _Tokens(
            config,
            session,
            client_config=client_config,
            directory=directory,
            load_timeout=load_timeout(refresh),
            clock=clock,
        )
        self._clock = clock
        self.info = SourceInfo(kind="sso", role_arn=None, cache_key=config.role_cache_key)

    def __repr__(self) -> str:
        return f"<SSORoleSource {self.config.subject} profile={self.config.profile!r}>"

    async def retrieve(self) -> Credentials:
        """Fetch new role credentials (refreshing the token first if due)."""
        credentials, _ = await self.retrieve_with_response()
        return credentials

    async def retrieve_with_response(self) -> tuple[Credentials, Sealed[Mapping[str, Any]]]:
        """One GetRoleCredentials call: the credentials, and the AWS CLI v2's cache document.

        Raises:
            SSOLoginRequiredError: No usable token (missing, expired and not
                refreshable, refused by the portal).
            RefreshError: The portal, SSO-OIDC or the network failed, or the
                response was unusable.
        """
        config = self.config
        token = await self._tokens.access_token()
        request = Sealed(
            {
                "roleName": config.role_name,
                "accountId": config.account_id,
                "accessToken": token.value,
            }
        )
        del token
        started = time.monotonic()
        try:
            response = await self._tokens.call("sso", "get_role_credentials", request)
        except CredentialsError:
            raise
        except Exception as error:
            failure = classify_error(error, "GetRoleCredentials", config.subject, request)
            if failure.code == "UnauthorizedException":
                raise self._tokens.login_required(
                    "the SSO portal refused the token (UnauthorizedException)",
                    code=failure.code,
                ) from error
            raise failure from error
        document: Sealed[Mapping[str, Any]] = Sealed(
            _role_document(response.value, config.account_id)
        )
        del response
        credentials = credentials_from(
            document,
            operation="GetRoleCredentials",
            subject=config.subject,
            account_id=config.account_id,
            now=self._clock(),
        )
        # To the hooks, as every source reports: the LoggingHook writes the INFO line.
        report_issued(
            self.info, "GetRoleCredentials", None, credentials, time.monotonic() - started
        )
        return credentials, Sealed(_cache_document(document.value, credentials))


class SSOProvider(CredentialsCache):
    """Credentials for an IAM Identity Center (SSO) role, from the SSO portal's GetRoleCredentials.

    What botocore and the AWS CLI do for a profile with ``sso_session`` (or the
    legacy ``sso_start_url``), ``sso_account_id`` and ``sso_role_name``: a
    :class:`CredentialsCache` (the engine) around a GetRoleCredentials source,
    as :class:`AssumeRoleProvider` is around an AssumeRole one. One fetch at a
    time however many tasks wait, the :class:`RefreshPolicy`'s windows and
    backoff, and, with ``cache=``, one fetch per host (or fleet) shared with
    the AWS CLI v2.

    * The access token is the one ``aws sso login`` left in
      ``~/.aws/sso/cache`` (botocore's file name and format). With less than
      15 minutes left (botocore's window) it is refreshed with SSO-OIDC
      ``CreateToken`` and the refresh token, once per host under a file lock,
      and written back atomically for the AWS CLI and boto3 to use. Legacy
      ``sso_start_url`` tokens have no refresh token: they are used until
      they expire, as botocore does.
    * No token, an expired one, or one the portal refuses raises
      :class:`SSOLoginRequiredError` (not recoverable), whose message says to
      run ``aws sso login --profile NAME``. No browser is ever opened.
    * SSO role credentials are not MFA-derived. A :class:`FileCache` keeps
      them under botocore's ``SSOCredentialFetcher`` key, in the AWS CLI v2's
      format; a :class:`RedisCache` shares them like any other.

    The calls are unsigned; ``session`` provides the endpoint settings
    (``AWS_ENDPOINT_URL_SSO``, ``AWS_ENDPOINT_URL_SSO_OIDC``) and the HTTP
    stack. Every parameter is checked here: a bad one raises
    :class:`ConfigurationError` naming it.

    Args:
        session: An aiobotocore ``AioSession``.
        start_url: The ``sso_start_url``.
        sso_region: The ``sso_region``, where the portal and SSO-OIDC are called.
        account_id: The ``sso_account_id``.
        role_name: The ``sso_role_name``.
        sso_session: The ``sso_session`` name, or None for a legacy profile.
        profile: The profile name, for the ``aws sso login`` hint.
        client_config: An ``AioConfig`` merged under the unsigned setting.
        refresh: The refresh policy of the role credentials.
        cache: A :class:`SharedCache` to share the role credentials through.
        clock: Returns epoch seconds; for tests.
        hooks: Instrumentation hooks for this provider's events (kind ``"sso"``)
            instead of the process-wide ones
            (:func:`aiostscreds.instrumentation.set_hooks`).
    """

    def __init__(
        self,
        session: Any,
        *,
        start_url: str,
        sso_region: str,
        account_id: str,
        role_name: str,
        sso_session: str | None = None,
        profile: str | None = None,
        client_config: Any = None,
        refresh: RefreshPolicy = RefreshPolicy(),
        cache: SharedCache | None = None,
        clock: Callable[[], float] = time.time,
        hooks: Iterable[Hook] | None = None,
    ) -> None:
        if profile is not None and (not isinstance(profile, str) or not profile):
            raise ConfigurationError("profile must be a non-empty str or None")
        config = attrs.evolve(
            check_sso_config(
                profile=None,  # errors name this constructor's parameters
                account_id=account_id,
                role_name=role_name,
                region=sso_region,
                start_url=start_url,
                session_name=sso_session,
            ),
            profile=profile,
        )
        if not isinstance(refresh, RefreshPolicy):
            raise ConfigurationError("refresh must be a RefreshPolicy")
        source = SSORoleSource(
            config, session, client_config=client_config, refresh=refresh, clock=clock
        )
        self._sso = source  # before the engine's __init__: repr() reads it
        super().__init__(source, refresh=refresh, clock=clock, shared=cache, hooks=hooks)

    get_credentials = CredentialsCache.get

    def __repr__(self) -> str:
        config = self._sso.config
        return f"<SSOProvider {config.subject} profile={config.profile!r}>"

    async def retrieve(self) -> Credentials:
        """Fetch new credentials (through the shared cache if there is one).

        Bypasses the in-memory state; use :meth:`get_credentials` in applications.
        """
        return await self._retrieve()

    @property
    def config(self) -> SSOConfig:
        """The resolved SSO configuration: account, role, region, start URL, session."""
        return self._sso.config

    @property
    def duration(self) -> dt.timedelta:
        """1 hour: the shortest session an IAM Identity Center permission set grants."""
        return dt.timedelta(hours=1)
