"""MFA once for many roles: GetSessionToken with MFA, then roles assumed without a prompt.

aws-vault's default. The bottom of a profile chain (an IAM user's long-term
keys) calls GetSessionToken with the MFA code once; every role above it, and
every other role profile on the same source, is assumed from that session
with no ``SerialNumber``. The session carries ``aws:MultiFactorAuthPresent``,
so MFA-conditioned trust policies still pass, and one prompt serves a working
day. The session is shared with other processes through the :class:`FileCache`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import attrs

from ._cache import CredentialsCache
from ._cache_format import cache_key
from ._credentials import Credentials
from ._errors import ConfigurationError
from ._policy import RefreshPolicy
from ._sts import SessionTokenProvider, fetch_shared
from ._tokens import TokenProvider
from ._validation import CHAINED_ROLE_MAX_DURATION, SESSION_TOKEN_MAX_DURATION, check_duration
from .caches._shared import SharedCache

__all__ = ["MFASession", "mfa_session_cache_key", "mfa_session_chain"]

log = logging.getLogger("aiostscreds")


def mfa_session_cache_key(access_key_id: str, serial_number: str) -> str:
    """The FileCache key of an MFA session (a documented key; aws-vault keeps its own
    sessions in the OS keyring, not in files, so there is no shared format to follow).

    The hex SHA-1 of ``{"Operation": "GetSessionToken", "AccessKeyId": <the IAM
    user's access key id>, "SerialNumber": <mfa_serial>}`` as the AWS CLI's keys
    are computed; it can never equal an AssumeRole key, which has a ``RoleArn``.
    """
    args = {"Operation": "GetSessionToken", "AccessKeyId": access_key_id}
    return cache_key({**args, "SerialNumber": serial_number})


class MFASession:
    """GetSessionToken with MFA, cached in memory (single flight) and in a FileCache."""

    def __init__(
        self,
        provider: SessionTokenProvider,
        *,
        key: str,
        cache: SharedCache | None,
        refresh: RefreshPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider = provider
        self._key = key
        self._shared_cache = cache
        self._clock = clock
        self.cache = CredentialsCache(self, refresh=refresh, clock=clock)

    def __repr__(self) -> str:
        return f"<MFASession serial_number={self._provider.serial_number!r}>"

    async def retrieve(self) -> Credentials:
        """A cached session still outside the expiry window, else one GetSessionToken call."""
        shared = self._shared_cache
        if shared is None:
            credentials, _ = await self._provider._fetch()
            return credentials
        return await fetch_shared(self._provider, shared, self._key, None, self.cache)


def mfa_session_chain(
    chain: list[Any],
    *,
    duration: object,
    token_provider: TokenProvider | None,
    cache: SharedCache | None,
    refresh: RefreshPolicy,
    source_session: Any,
) -> tuple[list[Any], MFASession]:
    """The chain's hops rewritten to be assumed from an MFA session, and that session.

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
    provider = SessionTokenProvider.from_session(
        source_session,
        duration=seconds,
        serial_number=serials[0],
        token_provider=token_provider,
        refresh=refresh,
    )
    session = MFASession(
        provider,
        key=mfa_session_cache_key(bottom.source[1][0], serials[0]),
        cache=cache,
        refresh=refresh,
    )
    hops = [attrs.evolve(hop, mfa_serial=None) for hop in chain]
    hops[0] = attrs.evolve(hops[0], source=("role",))
    return hops, session

