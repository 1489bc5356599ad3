"""Where a source's STS clients come from: a client the caller owns, or one per refresh.

A source is given either an STS client (an entered aiobotocore client, or any
object with the operation's async method), which it borrows for each call, or
a factory that makes a client per refresh from an ``AioSession``
(``from_session``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from ._errors import ConfigurationError

__all__ = ["ClientFactory", "SessionClients", "STSClient", "client_factory", "session_clients"]

ClientFactory = Callable[[], AbstractAsyncContextManager[Any]]
"""Makes an STS client for one call, as an async context manager that closes it."""


class STSClient(Protocol):
    """The part of an STS client the sources use; an entered aiobotocore client fits."""

    async def assume_role(self, **kwargs: Any) -> Mapping[str, Any]: ...

    async def get_session_token(self, **kwargs: Any) -> Mapping[str, Any]: ...


class SessionClients:
    """Marks a client argument that is really a per-refresh client factory."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory


@contextlib.asynccontextmanager
async def _borrowed(client: object) -> AsyncIterator[object]:
    yield client


def session_clients(session: Any, client_config: Any) -> SessionClients:
    """A client per refresh from ``session`` (an ``AioSession``), closed afterwards."""
    if not callable(getattr(session, "create_client", None)):
        raise ConfigurationError("session must be an aiobotocore AioSession")

    def factory() -> AbstractAsyncContextManager[Any]:
        # A client per refresh, built from the session's own credentials, region
        # and endpoint settings (AWS_ENDPOINT_URL_STS included), closed afterwards.
        return session.create_client("sts", config=client_config)  # type: ignore[no-any-return]

    return SessionClients(factory)


def client_factory(client: object, method: str) -> ClientFactory:
    """The factory behind ``client``: its own if made by :func:`session_clients`, else borrowing.

    Raises:
        ConfigurationError: ``client`` has no async ``method``.
    """
    if isinstance(client, SessionClients):
        return client.factory
    if not callable(getattr(client, method, None)):
        raise ConfigurationError(
            f"client must be an STS client with an async {method}() method, "
            "such as an entered aiobotocore STS client"
        )
    return lambda: _borrowed(client)
