"""Async AWS STS temporary credentials: AssumeRole and GetSessionToken, with MFA.

One refresh at a time however many tasks wait, an awaitable MFA token
provider called on every refresh, the AWS cross-SDK refresh rules, and
credentials that aiobotocore clients sign with. Runs on asyncio and trio.
"""

from typing import TYPE_CHECKING, Any

from ._aiobotocore import AiobotocoreCredentials, aiobotocore_credentials, install
from ._cache import CredentialsCache, CredentialSource
from ._credentials import Credentials
from ._errors import (
    ConfigurationError,
    CredentialsError,
    CredentialsExpiredError,
    RefreshError,
    TokenProviderError,
)
from ._policy import RefreshPolicy
from ._profiles import TokenProviderRequiredError, session_from_profile
from ._sts import AssumeRoleProvider, SessionTokenProvider
from ._tokens import TokenProvider, stdin_token_provider
from ._totp import TOTPTokenProvider
from .caches import FileCache, SharedCache

if TYPE_CHECKING:
    from .caches import RedisCache

__all__ = [
    "AiobotocoreCredentials",
    "AssumeRoleProvider",
    "ConfigurationError",
    "CredentialSource",
    "Credentials",
    "CredentialsCache",
    "CredentialsError",
    "CredentialsExpiredError",
    "FileCache",
    "RefreshError",
    "RedisCache",
    "RefreshPolicy",
    "SessionTokenProvider",
    "SharedCache",
    "TOTPTokenProvider",
    "TokenProvider",
    "TokenProviderError",
    "TokenProviderRequiredError",
    "aiobotocore_credentials",
    "install",
    "session_from_profile",
    "stdin_token_provider",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # RedisCache needs the `redis` extra (coredis, cryptography): imported on first use.
    if name == "RedisCache":
        from .caches import RedisCache

        return RedisCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
