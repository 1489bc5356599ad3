"""Shared-config profiles (``role_arn``, ``source_profile``, ``mfa_serial``) as sessions.

The config is read with botocore's own loader (``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE`` honoured) and validated at once. Each role
hop of a chain becomes an :class:`AssumeRoleProvider` with a cache of its own,
whose STS clients come from a session signed by the hop below it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import attrs
from aiobotocore.credentials import AioCredentialResolver
from aiobotocore.session import AioSession

from ._aiobotocore import install
from ._errors import ConfigurationError
from ._file_cache import FileCache
from ._policy import RefreshPolicy
from ._sts import DEFAULT_DURATION, AssumeRoleProvider
from ._tokens import TokenProvider
from ._validation import (
    ASSUME_ROLE_MAX_DURATION,
    CHAINED_ROLE_MAX_DURATION,
    check_duration,
    check_role_arn,
    check_string,
)

__all__ = ["TokenProviderRequiredError", "session_from_profile"]

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
    "web_identity_token_file",
)


class TokenProviderRequiredError(ConfigurationError):
    """A profile in the chain has ``mfa_serial`` but no ``token_provider`` was given.

    The AWS SDK for Go's AssumeRoleTokenProviderNotSetError: the library never
    falls back to prompting on stdin by itself.
    """


@attrs.frozen
class _Hop:
    """One AssumeRole step of a chain, as configured in one profile.

    ``source`` says what signs its STS calls: ``("static", keys)``,
    ``("credential_source", name)``, ``("role",)`` for the hop below it, or
    ``("profile", name)`` for a profile whose credentials botocore resolves
    itself (``credential_process``, SSO...).
    """

    profile: str
    role_arn: str
    source: tuple[Any, ...]
    mfa_serial: str | None
    external_id: str | None
    role_session_name: str | None
    duration_seconds: int | None


def _static_keys(name: str, config: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    access_key = config.get("aws_access_key_id")
    secret_key = config.get("aws_secret_access_key")
    if access_key and secret_key:
        return (str(access_key), str(secret_key), config.get("aws_session_token") or None)
    if access_key or secret_key:
        missing = "aws_secret_access_key" if access_key else "aws_access_key_id"
        raise ConfigurationError(
            f"profile {name!r} sets only half of a static key pair: {missing} is missing"
        )
    return None


def _option(name: str, config: Mapping[str, Any], key: str, shape: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    return check_string(str(value), parameter=f"{key} in profile {name!r}", shape=shape)


def _duration(name: str, config: Mapping[str, Any], *, chained: bool) -> int | None:
    raw = config.get("duration_seconds")
    if raw is None:
        return None
    parameter = f"duration_seconds in profile {name!r}"
    try:
        seconds = int(str(raw).strip())
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


def _source_of(
    profiles: Mapping[str, Mapping[str, Any]],
    name: str,
    config: Mapping[str, Any],
    visited: list[str],
) -> tuple[Any, ...]:
    """What signs the STS calls of the role in profile ``name``."""
    source_profile = config.get("source_profile")
    credential_source = config.get("credential_source")
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
            f"profile {name!r} sets role_arn but neither source_profile nor credential_source"
        )
    source = str(source_profile)
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
    keys = _static_keys(source, source_config)
    if keys is not None:  # a source profile's static keys win over its own role_arn
        return ("static", keys)
    if source_config.get("role_arn"):
        return ("role",)
    if any(source_config.get(key) for key in _OTHER_CREDENTIAL_KEYS):
        return ("profile", source)
    raise ConfigurationError(
        f"source_profile {source!r} in profile {name!r} has no credentials: give it "
        "aws_access_key_id and aws_secret_access_key, role_arn, credential_process or SSO"
    )


def _resolve(profiles: Mapping[str, Mapping[str, Any]], requested: str) -> list[_Hop]:
    """The role hops from the bottom of the chain up to ``requested``.

    An empty list means ``requested`` configures no role.
    """
    if requested not in profiles:
        raise ConfigurationError(f"profile {requested!r} is not in the shared config")
    hops: list[_Hop] = []
    visited: list[str] = []
    name = requested
    while True:
        config = profiles[name]
        _static_keys(name, config)  # a half-set pair is an error wherever it is
        role_arn = config.get("role_arn")
        if role_arn is None:
            return []  # only the requested profile can get here
        visited.append(name)
        source = _source_of(profiles, name, config, visited)
        hops.append(
            _Hop(
                profile=name,
                role_arn=check_role_arn(str(role_arn), parameter=f"role_arn in profile {name!r}"),
                source=source,
                mfa_serial=_option(name, config, "mfa_serial", "serialNumberType"),
                external_id=_option(name, config, "external_id", "externalIdType"),
                role_session_name=_option(name, config, "role_session_name", "roleSessionNameType"),
                duration_seconds=_duration(name, config, chained=source[0] == "role"),
            )
        )
        if source[0] != "role":
            return list(reversed(hops))
        name = str(config["source_profile"])


def _base_session(profile: str | None, region_name: str | None, client_config: Any) -> AioSession:
    session = AioSession(profile=profile)
    if region_name is not None:
        session.set_config_variable("region", region_name)
    if client_config is not None:
        session.set_default_client_config(client_config)
    return session


def _source_session(hop: _Hop, below: Any, region: str | None, client_config: Any) -> AioSession:
    """A session for ``hop``'s STS clients, signed by what lies below it."""
    kind = hop.source[0]
    profile = hop.source[1] if kind == "profile" else hop.profile
    session = _base_session(profile, region, client_config)
    if kind == "credential_source":
        # aiobotocore's own provider, configured as its default chain would.
        default_chain = AioSession().get_component("credential_provider")
        provider = default_chain.get_provider(_CREDENTIAL_SOURCES[hop.source[1]])
        session.register_component("credential_provider", AioCredentialResolver([provider]))
    elif kind == "static":
        access_key, secret_key, token = hop.source[1]
        session.set_credentials(access_key, secret_key, token)
    elif kind == "role":
        assert below is not None
        install(session, below)
    if session.get_config_variable("region") is None:
        # STS needs a region to build its endpoint; us-east-1 is where the global one lives.
        session.set_config_variable("region", "us-east-1")
    return session


def _assemble(
    profile: str | None,
    *,
    token_provider: TokenProvider | None,
    cache: FileCache | None,
    refresh: RefreshPolicy,
    region_name: str | None,
    client_config: Any = None,
    mfa_session: dt.timedelta | float | None = None,
) -> tuple[AioSession, list[AssumeRoleProvider]]:
    if cache is not None and not isinstance(cache, FileCache):
        raise ConfigurationError("cache must be a FileCache or None")
    if not isinstance(refresh, RefreshPolicy):
        raise ConfigurationError("refresh must be a RefreshPolicy")
    implied = profile is None and not (
        os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    )
    if profile is None:
        profile = (
            os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"
        )
    profiles: Mapping[str, Mapping[str, Any]] = AioSession().full_config.get("profiles", {})
    if implied and profile not in profiles:
        return _base_session(None, region_name, client_config), []
    chain = _resolve(profiles, profile)
    if not chain:
        return _base_session(profile, region_name, client_config), []
    for hop in chain:
        if hop.mfa_serial is not None and token_provider is None:
            raise TokenProviderRequiredError(
                f"profile {hop.profile!r} has mfa_serial, reached from profile {profile!r}: "
                "pass token_provider= (for example aiostscreds.stdin_token_provider)"
            )
    region = region_name or profiles[profile].get("region")
    providers: list[AssumeRoleProvider] = []
    below: Any = None
    if mfa_session is not None:
        from ._mfa_session import mfa_session_chain

        chain, session = mfa_session_chain(
            chain,
            duration=mfa_session,
            token_provider=token_provider,
            cache=cache,
            refresh=refresh,
            source_session=_source_session(chain[0], None, region, client_config),
        )
        below = session.cache
    for hop in chain:
        duration: dt.timedelta = DEFAULT_DURATION
        if hop.duration_seconds is not None:
            duration = dt.timedelta(seconds=hop.duration_seconds)
        refresh.check_fits(duration, parameter=f"the duration of profile {hop.profile!r}")
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
        )
        providers.append(below)
    return install(_base_session(profile, region_name, client_config), below), providers


def session_from_profile(
    profile: str | None = None,
    *,
    token_provider: TokenProvider | None = None,
    cache: FileCache | None = None,
    refresh: RefreshPolicy = RefreshPolicy(),
    region_name: str | None = None,
    client_config: Any = None,
    mfa_session: dt.timedelta | float | None = None,
) -> AioSession:
    """An ``AioSession`` whose clients sign with a shared-config profile's role.

    The async, refreshing counterpart of the AWS SDK for Go's shared-config
    sessions. The config is read (with botocore's loader) and validated now;
    source credentials and STS calls wait for the first signed request.

    Args:
        profile: The profile; ``None`` means ``AWS_PROFILE``, then
            ``AWS_DEFAULT_PROFILE``, else ``default``. If ``default`` is only
            implied and absent, the session is aiobotocore's default chain.
        token_provider: Gives MFA codes for every profile in the chain that
            has ``mfa_serial``. Required when one does.
        cache: A :class:`FileCache` shared by every role hop.
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
    ``EcsContainer``), ``mfa_serial``, ``external_id``, ``role_session_name``,
    ``duration_seconds`` (validated; a hop without it asks for 15 minutes; a
    chained role may not ask for more than 1 hour) and ``region``. A profile
    without ``role_arn`` gives aiobotocore's own session for that profile.

    Each hop refreshes on its own, so an MFA hop prompts once per refresh of
    that hop.

    Raises:
        ConfigurationError: An unknown profile, a ``source_profile`` loop, a
            source profile without credentials, a bad ``credential_source``, a
            half-set static key pair or a malformed value; the message names the
            profile and the key.
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
