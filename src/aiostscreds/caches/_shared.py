"""The contract between the engine and a shared credential cache."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from .._credentials import Credentials
from .._errors import ConfigurationError

__all__ = ["SharedCache", "check_shared_cache"]


@runtime_checkable
class SharedCache(Protocol):
    """Credentials shared beyond one process: with other processes, tools or hosts.

    A provider given a shared cache (``cache=``) runs each refresh as
    "take :meth:`locked`, :meth:`load`, and if nothing usable came back, call
    STS and :meth:`store` the answer", so that everyone sharing the cache makes
    one STS call and one MFA prompt per refresh. :class:`FileCache` (one host,
    the AWS CLI's files) and :class:`RedisCache` (a fleet) implement it; you
    may write your own.

    The contract:

    * **A cache failure is never a credential outage.** The provider treats any
      ``Exception`` raised by :meth:`load`, :meth:`store` or by entering
      :meth:`locked` as "no cache this time": it logs a WARNING and calls STS
      itself. Implementations should still catch what they expect (a network
      error, a timeout) and log once per incident rather than per call, and
      must bound every operation in time: a cache that hangs does block the
      refresh.
    * :meth:`load` returns ``None`` for anything it cannot trust: a missing,
      corrupt, tampered, foreign or expired entry. It must never hand back
      credentials for another role: ``role_arn`` says which role the entry must
      be for, where the entry records one.
    * :meth:`store` may decline to store (say, an MFA-derived entry in a cache
      shared between hosts); ``mfa`` tells it whether the credentials came
      from a call that carried an MFA code. The key alone cannot say: the MFA
      serial number is hashed into it.
    * :meth:`locked` is an async context manager held across the STS call and
      the MFA prompt. It should give up after a bounded wait and let the body
      run unlocked (logging a WARNING) rather than fail.

    * A cache with a lifecycle of its own (a network client that must be
      entered, as :class:`RedisCache`'s) behaves, outside that lifecycle, as a
      cache that has nothing: :meth:`load` returns ``None``, :meth:`store` and
      :meth:`locked` do nothing. It logs that once; it does not raise.

    Keys are the AWS CLI's cache keys (SHA-1 hex digests), safe as
    file names.
    """

    def locked(self, key: str, *, mfa: bool = False) -> AbstractAsyncContextManager[None]:
        """Hold the cross-process (or cross-host) lock for ``key``.

        Args:
            key: The entry's key.
            mfa: Whether the refresh under the lock will carry an MFA code, or
                derive from credentials that did. A cache that will not share
                such entries should not make others wait for them: it may hand
                out no lock at all.
        """
        ...

    async def load(self, key: str, *, role_arn: str | None = None) -> Credentials | None:
        """The credentials stored under ``key``, or ``None`` if there is no trustworthy entry.

        Args:
            key: The entry's key.
            role_arn: The role the credentials must belong to, or ``None`` for
                a session token of the calling user.
        """
        ...

    async def store(
        self,
        key: str,
        response: Mapping[str, Any],
        credentials: Credentials,
        *,
        mfa: bool = False,
    ) -> None:
        """Store an STS response under ``key``.

        Args:
            key: The entry's key.
            response: The STS response (``Credentials``, ``AssumedRoleUser``...).
            credentials: The credentials parsed from it.
            mfa: Whether the STS call carried an MFA code.
        """
        ...


def check_shared_cache(cache: object) -> SharedCache | None:
    """``cache`` if it implements :class:`SharedCache` (or is None); else ConfigurationError."""
    if cache is None or isinstance(cache, SharedCache):
        return cache
    raise ConfigurationError(
        "cache must be a SharedCache (such as FileCache or RedisCache) with locked(), "
        f"load() and store(), or None; got {type(cache).__name__}"
    )
