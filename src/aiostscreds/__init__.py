"""Async AWS STS temporary credentials: AssumeRole and GetSessionToken, with MFA.

One refresh at a time however many tasks wait, an awaitable MFA token
provider called on every refresh, the AWS cross-SDK refresh rules, and
credentials that aiobotocore clients sign with. Runs on asyncio and trio.
"""

from ._aiobotocore import AiobotocoreCredentials, aiobotocore_credentials, install
from ._cache import CredentialsCache, CredentialSource
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
from ._sts import AssumeRoleProvider, SessionTokenProvider
from ._terminal import stdin_token_provider, terminal_token_provider
from ._tokens import TokenProvider
from ._totp import TOTPTokenProvider
from ._web_identity import WebIdentityProvider
from .caches import FileCache, SharedCache

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
    "RefreshError",
    "RefreshPolicy",
    "SessionTokenProvider",
    "SharedCache",
    "TOTPTokenProvider",
    "TokenProvider",
    "TokenProviderError",
    "TokenProviderRequiredError",
    "WebIdentityProvider",
    "aiobotocore_credentials",
    "install",
    "profile_provider",
    "session_from_profile",
    "stdin_token_provider",
    "terminal_token_provider",
]

__version__ = "0.1.0"
