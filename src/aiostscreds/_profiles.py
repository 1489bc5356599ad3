"""Shared-config profiles (``role_arn``, ``source_profile``, ``mfa_serial``,
``web_identity_token_file``) as sessions.

The config is read with botocore's own loader (``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE`` honoured) and validated at once. Each role
hop of a chain becomes an :class:`AssumeRoleProvider` (an engine of its own),
whose STS clients come from a session signed by the hop below it; a web
identity at the bottom of a chain becomes a :class:`WebIdentityProvider`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs
import botocore.exceptions
from aiobotocore.credentials import AioCredentialResolver
from aiobotocore.session import AioSession
from botocore.utils import validate_region_name

from ._aiobotocore import install
from ._assume_role import AssumeRoleProvider
from ._cache import CredentialsCache
from ._cache_format import profile_role_request
from ._errors import ConfigurationError
from ._policy import RefreshPolicy
from ._sts import lifetime
from ._tokens import TokenProvider
from ._validation import (
    ASSUME_ROLE_MAX_DURATION,
    CHAINED_ROLE_MAX_DURATION,
    check_duration,
    check_role_arn,
    check_string,
)
from ._web_identity import WebIdentityProvider, check_token_file
from .caches._shared import SharedCache, check_shared_cache

__all__ = [
    "ProfileProvider",
    "TokenProviderRequiredError",
    "profile_provider",
    "session_from_profile",
]

# credential_source values and the aiobotocore provider (by METHOD) each names.
_CREDENTIAL_SOURCES = {
    "Environment": "env",
    "Ec2InstanceMetadata": "iam-role",
    "EcsContainer": "container-role",
}
# Keys with which botocore can find credentials for a profile on its own.
_OTHER_CREDENTIAL_KEYS = (
    "credential_process",
    "sso_session",
    "sso_start_url",
)
# botocore's environment form of a web identity (AssumeRoleWithWebIdentityProvider).
_WEB_IDENTITY_ENV = {
    "web_identity_token_file": "AWS_WEB_IDENTITY_TOKEN_FILE",
    "role_arn": "AWS_ROLE_ARN",
    "role_session_name": "AWS_ROLE_SESSION_NAME",
}



class TokenProviderRequiredError(ConfigurationError):
    """A profile in the chain has ``mfa_serial`` but no ``token_provider`` was given.

    The AWS SDK for Go's AssumeRoleTokenProviderNotSetError: the library never
    falls back to prompting on stdin by itself.
    """


@attrs.frozen
class _WebIdentity:
    """A web identity at the bottom of a chain: a profile's keys, or the environment's."""

    profile: str | None
    role_arn: str
    token_file: str
    role_session_name: str | None
    duration_seconds: int | None


@attrs.frozen
class _Hop:
    """One AssumeRole step of a chain, as configured in one profile.

    ``source`` says what signs its STS calls: ``("static", keys)``,
    ``("credential_source", name)``, ``("role",)`` for the hop below it,
    ``("web_identity", _WebIdentity)``, or ``("profile", name)`` for a profile
    whose credentials botocore resolves itself (``credential_process``, SSO...).
    """

    profile: str
    role_arn: str
    # Only the kind in the repr: ("static", keys) holds the secret key.
    source: tuple[Any, ...] = attrs.field(repr=lambda source: f"({source[0]!r}, ...)")
    mfa_serial: str | None
    external_id: str | None
    role_session_name: str | None
    duration_seconds: int | None


def _value(name: str | None, config: Mapping[str, Any], key: str) -> str | None:
    """``config[key]`` as text; a sub-section (botocore's nested dict) is refused."""
    raw = config.get(key)
    if raw is None or isinstance(raw, str):
        return raw
    where = f"profile {name!r}" if name is not None else "the shared config"
    raise ConfigurationError(
        f"{key} in {where} must be a single value, not an indented sub-section"
    )


def _static_keys(name: str, config: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    access_key = _value(name, config, "aws_access_key_id")
    secret_key = _value(name, config, "aws_secret_access_key")
    token = _value(name, config, "aws_session_token")
    if access_key and secret_key:
        return (access_key, secret_key, token or None)
    if access_key or secret_key:
        missing = "aws_secret_access_key" if access_key else "aws_access_key_id"
        del access_key, secret_key, token  # not in the traceback's locals
        raise ConfigurationError(
            f"profile {name!r} sets only half of a static key pair: {missing} is missing"
        )
    return None


def _option(name: str, config: Mapping[str, Any], key: str, shape: str) -> str | None:
    value = _value(name, config, key)
    if value is None:
        return None
    return check_string(value, parameter=f"{key} in profile {name!r}", shape=shape)


def _duration(name: str, config: Mapping[str, Any], *, chained: bool) -> int | None:
    raw = _value(name, config, "duration_seconds")
    if raw is None:
        return None
    parameter = f"duration_seconds in profile {name!r}"
    try:
        seconds = int(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{parameter} must be a whole number of seconds") from None
    if chained:
        return check_duration(
            seconds,
            parameter=parameter,
            maximum=CHAINED_ROLE_MAX_DURATION,
            reason="(STS caps a role reached by role chaining at 1 hour)",
        )
    return check_duration(seconds, parameter=parameter, maximum=ASSUME_ROLE_MAX_DURATION)


def _region(name: str, config: Mapping[str, Any]) -> str | None:
    region = _value(name, config, "region")
    if region is not None:
        _check_region(region, f"region in profile {name!r}")
    return region


def _check_region(region: object, parameter: str) -> None:
    if not isinstance(region, str):
        raise ConfigurationError(f"{parameter} must be a str, not {type(region).__name__}")
    try:
        validate_region_name(region)
    except botocore.exceptions.InvalidRegionError:
        raise ConfigurationError(
            f"{parameter} must be a region name such as us-east-1 (got {region!r})"
        ) from None


def _web_identity(
    name: str | None, config: Mapping[str, Any], *, use_environment: bool
) -> _WebIdentity | None:
    """The web identity that ``config`` (and, if allowed, the environment) configures.

    As botocore's AssumeRoleWithWebIdentityProvider: each key is taken from its
    environment variable when that is set and the profile was not named
    explicitly, else from the profile.
    """

    def get(key: str) -> str | None:
        if use_environment and _WEB_IDENTITY_ENV[key] in os.environ:
            return os.environ[_WEB_IDENTITY_ENV[key]]
        return _value(name, config, key)

    token_file = get("web_identity_token_file")
    if not token_file:
        return None
    where = f"profile {name!r}" if name is not None else "the environment"
    check_token_file(token_file, parameter=f"web_identity_token_file in {where}")
    role_arn = get("role_arn")
    if not role_arn:
        raise ConfigurationError(
            f"{where} sets web_identity_token_file but no role_arn "
            "(AWS_ROLE_ARN in the environment form)"
        )
    session_name = get("role_session_name")
    return _WebIdentity(
        profile=name,
        role_arn=check_role_arn(role_arn, parameter=f"role_arn in {where}"),
        token_file=token_file,
        role_session_name=None
        if session_name is None
        else check_string(
            session_name,
            parameter=f"role_session_name in {where}",
            shape="roleSessionNameType",
        ),
        duration_seconds=None if name is None else _duration(name, config, chained=False),
    )


def _source_of(
    profiles: Mapping[str, Mapping[str, Any]],
    name: str,
    config: Mapping[str, Any],
    visited: list[str],
) -> tuple[Any, ...]:
    """What signs the STS calls of the role in profile ``name``."""
    source_profile = _value(name, config, "source_profile")
    credential_source = _value(name, config, "credential_source")
    if source_profile and credential_source:
        raise ConfigurationError(
            f"profile {name!r} sets both source_profile and credential_source; use one"
        )
    if credential_source:
        if credential_source not in _CREDENTIAL_SOURCES:
            raise ConfigurationError(
                f"credential_source in profile {name!r} must be one of "
                f"{', '.join(_CREDENTIAL_SOURCES)} (got {credential_source!r})"
            )
        return ("credential_source", credential_source)
    if not source_profile:
        raise ConfigurationError(
            f"profile {name!r} sets role_arn but neither source_profile nor credential_source "
            "(nor web_identity_token_file)"
        )
    source = source_profile
    if source == name:
        # A profile may name itself as source_profile to use its own static keys.
        keys = _static_keys(name, config)
        if keys is None:
            raise ConfigurationError(
                f"profile {name!r} names itself as source_profile but has no static keys"
            )
        return ("static", keys)
    if source not in profiles:
        raise ConfigurationError(
            f"source_profile {source!r} in profile {name!r} is not in the shared config"
        )
    if source in visited:
        path = " -> ".join([*visited, source])
        raise ConfigurationError(f"source_profile loop in the shared config: {path}")
    source_config = profiles[source]
    _region(source, source_config)
    # botocore resolves a source profile through its profile providers, where a
    # web identity comes first; the environment form never applies to a source.
    web_identity = _web_identity(source, source_config, use_environment=False)
    if web_identity is not None:
        return ("web_identity", web_identity)
    keys = _static_keys(source, source_config)
    if keys is not None:  # a source profile's static keys win over its own role_arn
        return ("static", keys)
    if _value(source, source_config, "role_arn"):
        return ("role",)
    if any(_value(source, source_config, key) for key in _OTHER_CREDENTIAL_KEYS):
        return ("profile", source)
    raise ConfigurationError(
        f"source_profile {source!r} in profile {name!r} has no credentials: give it "
        "aws_access_key_id and aws_secret_access_key, role_arn, web_identity_token_file, "
        "credential_process or SSO"
    )


def _resolve(
    profiles: Mapping[str, Mapping[str, Any]], requested: str, *, use_environment: bool
) -> tuple[_WebIdentity | None, list[_Hop]]:
    """The bottom web identity (if any) and the role hops above it, up to ``requested``.

    ``(None, [])`` means ``requested`` configures no role: aiobotocore's own
    session serves it.
    """
    config = profiles.get(requested, {})
    _static_keys(requested, config)  # a half-set pair is an error wherever it is
    _region(requested, config)
    role_arn = _value(requested, config, "role_arn")
    if role_arn is None or _value(requested, config, "web_identity_token_file") is not None:
        # Not an assume-role profile; botocore's next provider is the web identity.
        web_identity = _web_identity(
            requested if requested in profiles else None, config, use_environment=use_environment
        )
        if web_identity is not None:
            return web_identity, []
        if role_arn is None:
            return None, []
    hops: list[_Hop] = []
    visited: list[str] = []
    name = requested
    while True:
        config = profiles[name]
        _static_keys(name, config)
        visited.append(name)
        source = _source_of(profiles, name, config, visited)
        # Each key is checked first (its error names the profile and the key);
        # the hop is then built from the request the warm path keys too.
        check_role_arn(_value(name, config, "role_arn"), parameter=f"role_arn in profile {name!r}")
        _option(name, config, "mfa_serial", "serialNumberType")
        _option(name, config, "external_id", "externalIdType")
        _option(name, config, "role_session_name", "roleSessionNameType")
        _duration(name, config, chained=source[0] in ("role", "web_identity"))
        request = profile_role_request(config)
        assert request is not None
        hops.append(
            _Hop(
                profile=name,
                role_arn=request["RoleArn"],
                source=source,
                mfa_serial=request.get("SerialNumber"),
                external_id=request.get("ExternalId"),
                role_session_name=request.get("RoleSessionName"),
                duration_seconds=request.get("DurationSeconds"),
            )
        )
        if source[0] == "web_identity":
            return source[1], list(reversed(hops))
        if source[0] != "role":
            return None, list(reversed(hops))
        name = str(config["source_profile"])


def _base_session(profile: str | None, region_name: str | None, client_config: Any) -> AioSession:
    session = AioSession(profile=profile)
    if region_name is not None:
        session.set_config_variable("region", region_name)
    if client_config is not None:
        session.set_default_client_config(client_config)
    return session


def _sts_session(profile: str | None, region: str | None, client_config: Any) -> AioSession:
    session = _base_session(profile, region, client_config)
    if session.get_config_variable("region") is None:
        # STS needs a region to build its endpoint; us-east-1 is where the global one lives.
        session.set_config_variable("region", "us-east-1")
    return session


def _source_session(
    hop: _Hop, below: CredentialsCache | None, region: str | None, client_config: Any
) -> AioSession:
    """A session for ``hop``'s STS clients, signed by what lies below it."""
    kind = hop.source[0]
    profile = hop.source[1] if kind == "profile" else hop.profile
    session = _sts_session(profile, region, client_config)
    if kind == "credential_source":
        # aiobotocore's own provider, configured as its default chain would.
        default_chain = AioSession().get_component("credential_provider")
        provider = default_chain.get_provider(_CREDENTIAL_SOURCES[hop.source[1]])
        session.register_component("credential_provider", AioCredentialResolver([provider]))
    elif kind == "static":
        access_key, secret_key, token = hop.source[1]
        session.set_credentials(access_key, secret_key, token)
    elif kind in ("role", "web_identity"):
        assert below is not None
        install(session, below)
    return session


def _load_profiles() -> Mapping[str, Mapping[str, Any]]:
    try:
        profiles = AioSession().full_config.get("profiles", {})
    except (botocore.exceptions.BotoCoreError, OSError, UnicodeError) as error:
        # A duplicate section, a BOM, bytes that are not UTF-8, a bad sub-section...
        # Only the inner error's type is quoted: configparser's messages quote the
        # offending line, which may hold a secret key.
        inner = getattr(error, "kwargs", {}).get("error", error)
        path = getattr(error, "kwargs", {}).get("path")
        where = f"the shared config file {path}" if path else "the shared config"
        raise ConfigurationError(
            f"{where} could not be parsed ({type(inner).__name__}); "
            "a repeated section, a byte-order mark or text that is not UTF-8 are common causes"
        ) from None
    if not isinstance(profiles, Mapping):
        raise ConfigurationError("the shared config holds no profiles")
    return _Profiles(
        (name, _Section(section) if isinstance(section, dict) else section)
        for name, section in profiles.items()
    )


class _Profiles(dict[str, Any]):
    """The shared config's profiles, with a repr that names them only.

    They hold secret keys, and error reporters record repr() of the locals of
    every frame a ConfigurationError passes.
    """

    def __repr__(self) -> str:
        return f"<profiles {sorted(self)!r}>"


class _Section(dict[str, Any]):
    """One profile's keys, with a repr that names the keys only."""

    def __repr__(self) -> str:
        return f"<profile keys {sorted(self)!r}>"


def _assemble(
    profile: str | None,
    *,
    token_provider: TokenProvider | None,
    cache: SharedCache | None,
    refresh: RefreshPolicy,
    region_name: str | None,
    client_config: Any = None,
    mfa_session: dt.timedelta | float | None = None,
) -> tuple[AioSession, list[CredentialsCache]]:
    check_shared_cache(cache)
    if not isinstance(refresh, RefreshPolicy):
        raise ConfigurationError("refresh must be a RefreshPolicy")
    if profile is not None and (not isinstance(profile, str) or not profile):
        raise ConfigurationError("profile must be a non-empty str or None")
    if region_name is not None:
        _check_region(region_name, "region_name")
    # As botocore: naming the profile explicitly turns off the environment forms.
    explicit = profile is not None
    from_environment = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    implied = not explicit and not from_environment
    if profile is None:
        profile = from_environment or "default"
    profiles = _load_profiles()
    if profile not in profiles and not implied:
        raise ConfigurationError(f"profile {profile!r} is not in the shared config")
    # botocore's environment provider comes first in an implicit chain.
    env_keys_win = not explicit and bool(
        os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")
    )
    session_profile = profile if profile in profiles else None
    if profile not in profiles and env_keys_win:
        return _base_session(None, region_name, client_config), []
    web_identity, chain = _resolve(
        profiles, profile, use_environment=not explicit and not env_keys_win
    )
    if web_identity is None and not chain:
        # botocore's own session: a profile that came from the environment stays
        # implicit there too, so its environment keys keep their precedence.
        plain = session_profile if explicit else None
        return _base_session(plain, region_name, client_config), []
    for hop in chain:
        if hop.mfa_serial is not None and token_provider is None:
            raise TokenProviderRequiredError(
                f"profile {hop.profile!r} has mfa_serial, reached from profile {profile!r}: "
                "pass token_provider= (for example aiostscreds.terminal_token_provider)"
            )
    region = region_name or _value(profile, profiles.get(profile, {}), "region")
    hops: list[CredentialsCache] = []
    below: CredentialsCache | None = None
    if web_identity is not None:
        where = f"profile {web_identity.profile!r}" if web_identity.profile else "the environment"
        duration = web_identity.duration_seconds
        refresh.check_fits(lifetime(duration), parameter=f"the duration of {where}")
        below = WebIdentityProvider.from_session(
            _sts_session(web_identity.profile, region, client_config),
            web_identity.role_arn,
            web_identity.token_file,
            role_session_name=web_identity.role_session_name,
            duration=duration,
            refresh=refresh,
            client_config=client_config,
        )
        hops.append(below)
    if mfa_session is not None:
        from ._mfa_session import mfa_session_chain

        if web_identity is not None or not chain:
            raise ConfigurationError(
                f"mfa_session needs a role profile on an IAM user's long-term keys; "
                f"profile {profile!r} is not one"
            )
        chain, session = mfa_session_chain(
            chain,
            duration=mfa_session,
            token_provider=token_provider,
            cache=cache,
            refresh=refresh,
            source_session=_source_session(chain[0], None, region, client_config),
        )
        below = session
        hops.append(session)
    # Whether what signs the next hop came from a call that carried an MFA code.
    mfa_below = mfa_session is not None
    for hop in chain:
        # No duration_seconds means none is sent, as botocore and the AWS CLI do:
        # STS gives 1 hour, and the CLI reuses the cached entry.
        duration = hop.duration_seconds
        refresh.check_fits(
            lifetime(duration), parameter=f"the duration of profile {hop.profile!r}"
        )
        below = AssumeRoleProvider.from_session(
            _source_session(hop, below, region, client_config),
            hop.role_arn,
            role_session_name=hop.role_session_name,
            duration=duration,
            external_id=hop.external_id,
            serial_number=hop.mfa_serial,
            token_provider=token_provider if hop.mfa_serial else None,
            refresh=refresh,
            cache=cache,
            mfa_derived=mfa_below,
        )
        mfa_below = mfa_below or hop.mfa_serial is not None
        hops.append(below)
    assert below is not None
    return install(_base_session(session_profile, region_name, client_config), below), hops


def session_from_profile(
    profile: str | None = None,
    *,
    token_provider: TokenProvider | None = None,
    cache: SharedCache | None = None,
    refresh: RefreshPolicy = RefreshPolicy(),
    region_name: str | None = None,
    client_config: Any = None,
    mfa_session: dt.timedelta | float | None = None,
) -> AioSession:
    """An ``AioSession`` whose clients sign with a shared-config profile's role.

    The async, refreshing counterpart of the AWS SDK for Go's shared-config
    sessions. The config is read (with botocore's loader) and validated now;
    source credentials and STS calls wait for the first signed request. Use
    :func:`profile_provider` for a handle on the credentials themselves.

    Args:
        profile: The profile; ``None`` means ``AWS_PROFILE``, then
            ``AWS_DEFAULT_PROFILE``, else ``default``. If ``default`` is only
            implied and absent, the session is aiobotocore's default chain
            (or the environment's web identity, see below). As in botocore,
            naming the profile here turns off the environment form of a web
            identity.
        token_provider: Gives MFA codes for every profile in the chain that
            has ``mfa_serial``. Required when one does.
        cache: A :class:`SharedCache` (:class:`FileCache`, :class:`RedisCache`)
            shared by every AssumeRole hop.
        refresh: The refresh policy of every hop.
        region_name: The region for the session and its STS calls; default
            the profile's ``region``.
        client_config: An ``AioConfig`` set as the default client config of the
            session and of every hop's STS clients; for example
            ``AioConfig(http_session_cls=HttpxSession)`` to run on trio.
        mfa_session: MFA once for many roles (aws-vault's default): the IAM
            user's long-term keys at the bottom of the chain call
            GetSessionToken with MFA for this long (900-129600 s), shared
            through ``cache``; every role is then assumed from that session
            without a prompt, for at most 1 hour each (STS's limit for roles
            assumed from a session token). One prompt per session.

    Supported keys: ``role_arn``, ``source_profile`` (chains of any depth; a
    source profile's static keys win over its own ``role_arn``),
    ``credential_source`` (``Environment``, ``Ec2InstanceMetadata`` or
    ``EcsContainer``), ``web_identity_token_file`` with ``role_arn`` (an
    AssumeRoleWithWebIdentity, requested directly or as a source profile; the
    environment form ``AWS_WEB_IDENTITY_TOKEN_FILE``, ``AWS_ROLE_ARN``,
    ``AWS_ROLE_SESSION_NAME`` too), ``mfa_serial``, ``external_id``,
    ``role_session_name``, ``duration_seconds`` (validated; without it no
    ``DurationSeconds`` is sent and STS gives 1 hour, as with botocore and the
    AWS CLI; a chained role may not ask for more than 1 hour) and ``region``.
    A profile without a role gives aiobotocore's own session for it.

    Each hop refreshes on its own, so an MFA hop prompts once per refresh of
    that hop.

    Raises:
        ConfigurationError: An unknown profile, a ``source_profile`` loop, a
            source profile without credentials, a bad ``credential_source``, a
            half-set static key pair, a sub-section where a value belongs, a
            malformed value, or a config file botocore cannot parse; the
            message names the profile and the key (or the file).
        TokenProviderRequiredError: A profile in the chain has ``mfa_serial``
            and ``token_provider`` is None.
    """
    session, _ = _assemble(
        profile,
        token_provider=token_provider,
        cache=cache,
        refresh=refresh,
        region_name=region_name,
        client_config=client_config,
        mfa_session=mfa_session,
    )
    return session


class ProfileProvider:
    r"""A handle on a profile's credentials: the engines of its chain, and a session signed by it.

    Made by :func:`profile_provider`. Each hop of the chain is a
    :class:`CredentialsCache` (an :class:`AssumeRoleProvider`, a
    :class:`WebIdentityProvider`, or an MFA session's cache); the session signs
    with :attr:`top`. Use the top hop's own API: ``handle.top.get()``,
    ``handle.top.force_refresh()``, ``handle.top.invalidate(key)``... Lower hops
    refresh on their own when the top one needs them. It is an async context
    manager that closes every hop on exit.

    Attributes:
        profile: The profile's name (``None`` for the environment's web
            identity with no profile).
        session: An ``AioSession`` whose clients sign with :attr:`top`.
        hops: Every hop's engine, from the bottom of the chain to the top.
    """

    def __init__(
        self, profile: str | None, session: AioSession, hops: Sequence[CredentialsCache]
    ) -> None:
        if not hops:
            raise ConfigurationError("a ProfileProvider needs at least one hop")
        self.profile = profile
        self.session = session
        self.hops: tuple[CredentialsCache, ...] = tuple(hops)

    def __repr__(self) -> str:
        return f"<ProfileProvider profile={self.profile!r} top={self.top!r}>"

    @property
    def top(self) -> CredentialsCache:
        """The hop whose credentials the profile stands for, and the session signs with."""
        return self.hops[-1]

    async def aclose(self) -> None:
        """Close every hop, top first: refreshes in flight are cancelled."""
        for hop in reversed(self.hops):
            await hop.aclose()

    async def __aenter__(self) -> ProfileProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def profile_provider(
    profile: str | None = None,
    *,
    token_provider: TokenProvider | None = None,
    cache: SharedCache | None = None,
    refresh: RefreshPolicy = RefreshPolicy(),
    region_name: str | None = None,
    client_config: Any = None,
    mfa_session: dt.timedelta | float | None = None,
) -> ProfileProvider:
    """A :class:`ProfileProvider` for a profile that configures a role or a web identity.

    Takes the arguments of :func:`session_from_profile` and resolves and
    validates the profile the same way, without any STS call.

    Raises:
        ConfigurationError: As :func:`session_from_profile`, and also when the
            profile configures neither ``role_arn`` nor a web identity, so that
            there is no provider to hand out.
        TokenProviderRequiredError: A profile in the chain has ``mfa_serial``
            and ``token_provider`` is None.
    """
    session, hops = _assemble(
        profile,
        token_provider=token_provider,
        cache=cache,
        refresh=refresh,
        region_name=region_name,
        client_config=client_config,
        mfa_session=mfa_session,
    )
    if not hops:
        name = profile or "the default chain"
        raise ConfigurationError(
            f"profile {name!r} configures neither role_arn nor web_identity_token_file: "
            "there is no STS provider to hand out (use session_from_profile)"
        )
    return ProfileProvider(session.profile, session, hops)
