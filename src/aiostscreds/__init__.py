"""Async AWS STS temporary credentials: AssumeRole and GetSessionToken, with MFA.

One refresh at a time however many tasks wait, an awaitable MFA token
provider called on every refresh, the AWS cross-SDK refresh rules, and
credentials that aiobotocore clients sign with. Runs on asyncio and trio.
"""

from __future__ import annotations

import importlib

# Not typing.TYPE_CHECKING: importing typing would cost the warm path of
# `aiostscreds credential-process` more than a millisecond. mypy treats any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._aiobotocore import AiobotocoreCredentials, install
    from ._assume_role import AssumeRoleProvider
    from ._cache import CredentialsCache
    from ._credentials import Credentials
    from ._errors import (
        ConfigurationError,
        CredentialsError,
        CredentialsExpiredError,
        CredentialsRejectedError,
        RefreshError,
        TokenProviderError,
    )
    from ._policy import RefreshPolicy
    from ._profiles import (
        ProfileProvider,
        TokenProviderRequiredError,
        profile_provider,
        session_from_profile,
    )
    from ._session_token import SessionTokenProvider
    from ._source import CredentialSource
    from ._terminal import terminal_token_provider
    from ._tokens import TokenProvider
    from ._totp import TOTPTokenProvider
    from ._web_identity import WebIdentityProvider
    from .caches import FileCache, RedisCache, SharedCache

__all__ = [
    "AiobotocoreCredentials",
    "AssumeRoleProvider",
    "ConfigurationError",
    "CredentialSource",
    "Credentials",
    "CredentialsCache",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsRejectedError",
    "FileCache",
    "ProfileProvider",
    "RedisCache",
    "RefreshError",
    "RefreshPolicy",
    "SessionTokenProvider",
    "SharedCache",
    "TOTPTokenProvider",
    "TokenProvider",
    "TokenProviderError",
    "TokenProviderRequiredError",
    "WebIdentityProvider",
    "install",
    "profile_provider",
    "session_from_profile",
    "terminal_token_provider",
]

__version__ = "0.1.0"

# Each public name and the private module that owns it. They are imported on
# first use, so that `aiostscreds credential-process` on a warm cache never
# pays for aiobotocore: importing any submodule runs this file first.
_OWNERS = {
    "AiobotocoreCredentials": "._aiobotocore",
    "install": "._aiobotocore",
    "CredentialsCache": "._cache",
    "CredentialSource": "._source",
    "Credentials": "._credentials",
    "ConfigurationError": "._errors",
    "CredentialsError": "._errors",
    "CredentialsExpiredError": "._errors",
    "CredentialsRejectedError": "._errors",
    "RefreshError": "._errors",
    "TokenProviderError": "._errors",
    "RefreshPolicy": "._policy",
    "ProfileProvider": "._profiles",
    "TokenProviderRequiredError": "._profiles",
    "profile_provider": "._profiles",
    "session_from_profile": "._profiles",
    "AssumeRoleProvider": "._assume_role",
    "SessionTokenProvider": "._session_token",
    "terminal_token_provider": "._terminal",
    "TokenProvider": "._tokens",
    "TOTPTokenProvider": "._totp",
    "WebIdentityProvider": "._web_identity",
    "FileCache": ".caches",
    "SharedCache": ".caches",
    # Needs the `redis` extra (coredis, cryptography): imported on first use only.
    "RedisCache": ".caches",
}


def __getattr__(name: str) -> Any:
    owner = _OWNERS.get(name)
    if owner is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(owner, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
