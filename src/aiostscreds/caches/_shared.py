"""The contract between the providers and a shared credential cache, and the cache key."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from .._cache_format import cache_key
from .._credentials import Credentials
from .._errors import ConfigurationError

__all__ = ["SharedCache", "cache_key"]

log = logging.getLogger("aiostscreds")


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

    Keys are the AWS CLI's cache keys (:func:`cache_key`): hex digests, safe as
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


# The provider's side of "a cache failure is never a credential outage": whatever a
# cache raises, the refresh goes on to STS without it.


@contextlib.asynccontextmanager
async def guarded_lock(cache: SharedCache, key: str, *, mfa: bool) -> AsyncIterator[None]:
    """``cache.locked(key)``, or no lock at all if taking it fails."""
    try:
        lock = cache.locked(key, mfa=mfa)
        await lock.__aenter__()
    except Exception as error:
        log.warning(
            "shared cache %r could not lock: %s; refreshing without the lock",
            cache,
            _describe(error),
        )
        yield
        return
    try:
        yield
    except BaseException as error:
        # The body's own error (STS's, a cancellation) is what the caller must see:
        # a cache may neither replace it nor swallow it.
        try:
            await lock.__aexit__(type(error), error, error.__traceback__)
        except Exception as unlock_error:
            if unlock_error is not error:
                log.warning(
                    "shared cache %r could not unlock: %s", cache, _describe(unlock_error)
                )
        raise
    else:
        try:
            await lock.__aexit__(None, None, None)
        except Exception as error:
            log.warning("shared cache %r could not unlock: %s", cache, _describe(error))


async def guarded_load(cache: SharedCache, key: str, role_arn: str | None) -> Credentials | None:
    """``cache.load()``, or None if it fails or returns something else than Credentials."""
    try:
        stored = await cache.load(key, role_arn=role_arn)
    except Exception as error:
        log.warning("shared cache %r could not load: %s; calling STS", cache, _describe(error))
        return None
    return stored if isinstance(stored, Credentials) else None


async def guarded_store(
    cache: SharedCache,
    key: str,
    response: Mapping[str, Any],
    credentials: Credentials,
    *,
    mfa: bool,
) -> None:
    """``cache.store()``; a failure is logged, never raised."""
    try:
        await cache.store(key, response, credentials, mfa=mfa)
    except Exception as error:
        log.warning("shared cache %r could not store: %s", cache, _describe(error))


def _describe(error: BaseException) -> str:
    # The type only: a cache's own message may quote what it was handed.
    return type(error).__name__
