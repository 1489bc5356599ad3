"""What the engine asks of a credential source: the protocols, in one place.

A source only fetches: it holds its configuration and no mutable state. The
engine (:class:`CredentialsCache`) holds everything that changes: the
credentials, the single flight, backoff, the rejected keys, and the step
through a shared cache.

- :class:`CredentialSource`: any object with ``async retrieve() -> Credentials``.
- :class:`ShareableSource`: a source that can also go through a
  :class:`SharedCache`. It says what it is (:class:`SourceInfo`) and hands back
  the raw STS response with the credentials, for the shared cache to store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

import attrs

from ._credentials import Credentials

__all__ = ["CredentialSource", "ShareableSource", "SourceInfo", "SourceKind"]

_T = TypeVar("_T")

SourceKind = Literal["assume_role", "session_token", "web_identity", "mfa_session", "custom"]


@runtime_checkable
class CredentialSource(Protocol):
    """Anything that can fetch a new set of credentials."""

    async def retrieve(self) -> Credentials:
        """Fetch new credentials; raise :class:`RefreshError` on failure."""
        ...


@attrs.frozen
class SourceInfo:
    """What a source fetches, as a shared cache needs to know it.

    Attributes:
        kind: The STS operation (or ``"custom"``).
        role_arn: The role the credentials are for; ``None`` for the calling
            user's own session. A shared cache's ``load`` checks entries against it.
        cache_key: The shared cache's key (the AWS CLI's); ``None``: never shared.
        mfa: Whether the call carries an MFA code, or is signed by credentials
            derived from one (STS carries the MFA context through role chaining).
    """

    kind: SourceKind
    role_arn: str | None
    cache_key: str | None
    mfa: bool = False


class Sealed(Generic[_T]):
    """Holds a request or response that carries secrets, behind a repr that hides them.

    Error reporters such as Sentry record the locals of every frame in a
    traceback; the library's frames keep such values only in these.
    """

    __slots__ = ("value",)

    def __init__(self, value: _T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<sealed>"


@runtime_checkable
class ShareableSource(CredentialSource, Protocol):
    """A source whose fetches a :class:`SharedCache` can share."""

    @property
    def info(self) -> SourceInfo:
        """What the source fetches: its kind, role, shared-cache key and MFA use."""
        ...

    async def retrieve_with_response(self) -> tuple[Credentials, Sealed[Mapping[str, Any]]]:
        """One fetch: the credentials, and the raw response a shared cache stores."""
        ...
