"""MFA once for many roles: GetSessionToken with MFA, then roles assumed without a prompt.

aws-vault's default. The bottom of a profile chain (an IAM user's long-term
keys) calls GetSessionToken with the MFA code once; every role above it, and
every other role profile on the same source, is assumed from that session
with no ``SerialNumber``. The session carries ``aws:MultiFactorAuthPresent``,
so MFA-conditioned trust policies still pass, and one prompt serves a working
day. The session is shared with other processes through the :class:`FileCache`.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._cache import CredentialsCache
from ._cache_format import cache_key
from ._clients import session_clients
from ._errors import ConfigurationError
from ._policy import RefreshPolicy
from ._session_token import SessionTokenSource
from ._tokens import TokenProvider
from ._validation import CHAINED_ROLE_MAX_DURATION, SESSION_TOKEN_MAX_DURATION, check_duration
from .caches._shared import SharedCache

__all__ = ["mfa_session_cache_key", "mfa_session_chain"]


def mfa_session_cache_key(access_key_id: str, serial_number: str) -> str:
    """The FileCache key of an MFA session (a documented key; aws-vault keeps its own
    sessions in the OS keyring, not in files, so there is no shared format to follow).

    The hex SHA-1 of ``{"Operation": "GetSessionToken", "AccessKeyId": <the IAM
    user's access key id>, "SerialNumber": <mfa_serial>}`` as the AWS CLI's keys
    are computed; it can never equal an AssumeRole key, which has a ``RoleArn``.
    """
    args = {"Operation": "GetSessionToken", "AccessKeyId": access_key_id}
    return cache_key({**args, "SerialNumber": serial_number})


def mfa_session_chain(
    chain: list[Any],
    *,
    duration: object,
    token_provider: TokenProvider | None,
    cache: SharedCache | None,
    refresh: RefreshPolicy,
    source_session: Any,
) -> tuple[list[Any], CredentialsCache]:
    """The chain's hops rewritten to be assumed from an MFA session, and that session.

    The session is one :class:`CredentialsCache` around a GetSessionToken
    source keyed by :func:`mfa_session_cache_key`, shared through ``cache``.

    ``chain`` is the profile's hops, bottom first; ``source_session`` signs with
    the bottom hop's long-term keys.

    Raises:
        ConfigurationError: The chain's bottom is not an IAM user's long-term keys,
            no profile in it has ``mfa_serial``, ``duration`` is outside
            900-129600 s, or a hop asks for more than 1 hour (STS limits a role
            assumed from a GetSessionToken session as it limits role chaining).
    """
    bottom = chain[0]
    if bottom.source[0] != "static" or bottom.source[1][2] is not None:
        raise ConfigurationError(
            f"mfa_session needs an IAM user's long-term keys (aws_access_key_id and "
            f"aws_secret_access_key) at the bottom of profile {chain[-1].profile!r}'s chain"
        )
    serials = [hop.mfa_serial for hop in chain if hop.mfa_serial is not None]
    if not serials:
        raise ConfigurationError(
            f"mfa_session needs mfa_serial in profile {chain[-1].profile!r} or a profile it uses"
        )
    for hop in chain:
        if hop.duration_seconds is not None and hop.duration_seconds > CHAINED_ROLE_MAX_DURATION:
            raise ConfigurationError(
                f"duration_seconds in profile {hop.profile!r} must be at most "
                f"{CHAINED_ROLE_MAX_DURATION} with mfa_session: STS limits a role assumed "
                "from a GetSessionToken session to 1 hour"
            )
    seconds = check_duration(duration, parameter="mfa_session", maximum=SESSION_TOKEN_MAX_DURATION)
    source = SessionTokenSource(
        session_clients(source_session, None),
        duration=seconds,
        serial_number=serials[0],
        token_provider=token_provider,
        refresh=refresh,
        mfa_session_key=mfa_session_cache_key(bottom.source[1][0], serials[0]),
    )
    session = CredentialsCache(source, refresh=refresh, shared=cache)
    hops = [attrs.evolve(hop, mfa_serial=None) for hop in chain]
    hops[0] = attrs.evolve(hops[0], source=("role",))
    return hops, session

