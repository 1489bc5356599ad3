"""The one place the command turns a profile into a credential provider."""

from __future__ import annotations

from .._policy import RefreshPolicy
from .._profiles import ProfileProvider, profile_provider
from .._terminal import terminal_token_provider
from .._tokens import TokenProvider
from ..caches import FileCache

__all__ = ["open_profile"]


def open_profile(
    profile: str,
    *,
    cache: bool,
    mfa_session: float | None = None,
    token_provider: TokenProvider = terminal_token_provider,
) -> ProfileProvider:
    """The role chain of ``profile``; MFA codes are asked for on the terminal by default.

    Raises:
        ConfigurationError: The profile is missing, malformed, or has no role.
    """
    return profile_provider(
        profile,
        token_provider=token_provider,
        cache=FileCache() if cache else None,
        refresh=RefreshPolicy(),
        mfa_session=mfa_session,
    )
