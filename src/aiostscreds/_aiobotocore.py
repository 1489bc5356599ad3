"""Signing aiobotocore clients with a provider's or a cache's credentials."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Union

from aiobotocore.credentials import AioCredentialResolver
from botocore.credentials import ReadOnlyCredentials

from ._cache import CredentialsCache
from ._credentials import Credentials
from ._errors import ConfigurationError
from ._rejected_keys import RejectedKeyHook

__all__ = ["AiobotocoreCredentials", "install"]

CredentialsSource = Union[CredentialsCache, Any]  # noqa: UP007
"""A :class:`CredentialsCache`, or a provider with ``async get_credentials()``."""

METHOD = "aiostscreds"


def _getter(source: object) -> Callable[[], Awaitable[Credentials]]:
    if isinstance(source, CredentialsCache) and not hasattr(source, "get_credentials"):
        return source.get
    get_credentials = getattr(source, "get_credentials", None)
    if not callable(get_credentials):
        raise ConfigurationError(
            "expected a CredentialsCache or a provider with async get_credentials(), "
            f"got {type(source).__name__}"
        )
    return get_credentials  # type: ignore[no-any-return]


def _cache_behind(source: object) -> CredentialsCache | None:
    """``source`` if its getter returns :meth:`CredentialsCache.current`'s credentials as they are.

    True of a ``CredentialsCache`` and of the library's providers (which are
    ones); a subclass that overrides the getter, or any other object, gets None.
    """
    if not isinstance(source, CredentialsCache):
        return None
    kind = type(source)
    if kind.get is not CredentialsCache.get:
        return None
    if getattr(kind, "get_credentials", CredentialsCache.get) is not CredentialsCache.get:
        return None
    return source


class AiobotocoreCredentials:
    """The credentials object aiobotocore clients sign with.

    The signer awaits :meth:`get_frozen_credentials` before every request, which
    goes through the cache's hot path: a clock read and a compare while the
    credentials are fresh. Pass it wherever aiobotocore expects a credentials
    object; most code wants :func:`install` instead.

    Args:
        source: A :class:`CredentialsCache` (the library's providers are
            ones), or any object with ``async get_credentials()``.
    """

    method = METHOD

    def __init__(self, source: CredentialsSource) -> None:
        self._get = _getter(source)
        self._cache = _cache_behind(source)
        self._source = source
        self._last: Credentials | None = None
        self._frozen: ReadOnlyCredentials | None = None

    def __repr__(self) -> str:
        return f"<AiobotocoreCredentials source={self._source!r}>"

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """The current credentials as botocore's ``ReadOnlyCredentials``."""
        cache = self._cache
        if cache is not None:
            # While the credentials are fresh and already frozen, no coroutine is awaited.
            frozen = self._frozen
            if frozen is not None and cache.current() is self._last:
                return frozen
        credentials = await self._get()
        if credentials is not self._last:
            self._frozen = ReadOnlyCredentials(
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token,
                credentials.account_id,
            )
            self._last = credentials
        assert self._frozen is not None
        return self._frozen

    async def get_account_id(self) -> str | None:
        """The account id of the current credentials (for account-based endpoints)."""
        return (await self._get()).account_id

    def get_deferred_property(self, property_name: str) -> Callable[[], Any]:
        """botocore's hook for lazily read properties; the client replaces its only use."""

        def get_property() -> Any:
            last = self._last
            return None if last is None else getattr(last, property_name, None)

        return get_property


class _InstalledProvider:
    # The shape of a botocore credential provider, for the session's resolver.
    METHOD = METHOD
    CANONICAL_NAME = "aiostscreds"

    def __init__(self, credentials: AiobotocoreCredentials) -> None:
        self._credentials = credentials

    async def load(self) -> AiobotocoreCredentials:
        return self._credentials


def install(session: Any, source: CredentialsSource) -> Any:
    """Make every client that ``session`` creates sign with ``source``.

    Replaces the session's ``credential_provider`` component with a resolver
    that yields only ``source``'s credentials, so no other provider in the
    chain (environment, profile, instance metadata...) can win. Works on any
    ``AioSession``, including one created with ``profile=``.

    It also registers two handlers on the session's events, so its clients
    recover from a rejected key by themselves: when a service answers that the
    key which signed a request is no good (``ExpiredToken``,
    ``InvalidClientTokenId``... see docs/design.md, "Rejected keys"), exactly
    that key id is invalidated and the request is retried once, re-signed
    with fresh credentials, within the client's retry budget.

    Returns the session.

    Raises:
        ConfigurationError: The session already resolved credentials of its
            own (through ``get_credentials()``, ``set_credentials()`` or a
            client created earlier); clients would silently keep signing with
            those.
    """
    if not callable(getattr(session, "register_component", None)):
        raise ConfigurationError("session must be an aiobotocore AioSession")
    # botocore exposes no public "already resolved" flag; reading it is the only way
    # to refuse instead of silently losing to credentials the session already holds.
    if getattr(session, "_credentials", None) is not None:
        raise ConfigurationError(
            "the session already resolved credentials of its own; install() must be "
            "called before the session creates a client or is given credentials"
        )
    provider = _InstalledProvider(AiobotocoreCredentials(source))
    session.register_component("credential_provider", AioCredentialResolver([provider]))
    RejectedKeyHook(source).register(session)
    return session
