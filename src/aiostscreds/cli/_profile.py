"""The one place the command turns a profile into a credential provider.

Until ``session_from_profile`` gives a public handle on a profile's top
provider, this builds the chain with the library's private assembler.
"""

from __future__ import annotations

import attrs

from .._credentials import Credentials
from .._errors import ConfigurationError
from .._file_cache import FileCache
from .._policy import RefreshPolicy
from .._profiles import _assemble
from .._sts import AssumeRoleProvider
from .._tokens import TokenProvider, stdin_token_provider

__all__ = ["ProfileCredentials", "open_profile"]


@attrs.define
class ProfileCredentials:
    """A profile's role chain: its top provider serves, ``aclose`` closes every hop."""

    name: str
    top: AssumeRoleProvider
    providers: list[AssumeRoleProvider]

    async def get_credentials(self) -> Credentials:
        """The top hop's credentials, through its single-flight cache."""
        return await self.top.get_credentials()

    async def aclose(self) -> None:
        """Close every hop, top first."""
        for provider in reversed(self.providers):
            await provider.aclose()


def open_profile(
    profile: str,
    *,
    cache: bool,
    mfa_session: float | None = None,
    token_provider: TokenProvider = stdin_token_provider,
) -> ProfileCredentials:
    """The role chain of ``profile``; MFA codes are asked for on the terminal by default.

    Raises:
        ConfigurationError: The profile is missing, malformed, or has no role.
    """
    _, providers = _assemble(
        profile,
        token_provider=token_provider,
        cache=FileCache() if cache else None,
        refresh=RefreshPolicy(),
        region_name=None,
        mfa_session=mfa_session,
    )
    if not providers:
        raise ConfigurationError(
            f"profile {profile!r} sets no role_arn: aiostscreds serves roles "
            "(role_arn with source_profile or credential_source)"
        )
    return ProfileCredentials(profile, providers[-1], providers)
