"""The library's exception types.

Every message is built from safe parts only: parameter names, rules, STS error
codes, role ARNs. Secrets, session tokens and MFA codes never go into one.
"""

from __future__ import annotations

import copy

__all__ = [
    "ConfigurationError",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsRejectedError",
    "RefreshError",
    "SSOLoginRequiredError",
    "TokenProviderError",
]


class CredentialsError(Exception):
    """Base class of every error this library raises."""


class ConfigurationError(CredentialsError, ValueError):
    """Invalid input: a constructor argument, a policy or a shared-config value.

    Raised before any STS call is made. The message names the parameter and the
    rule it breaks.
    """


class TokenProviderError(CredentialsError):
    """The MFA token provider failed, timed out, or answered something that is
    not a six-digit code; or a static ``token_code`` was already used."""

    recoverable = False


class RefreshError(CredentialsError):
    """Fetching credentials from STS (or another source) failed.

    The underlying botocore or network error is chained as ``__cause__``.

    Attributes:
        recoverable: True for throttling, 5xx, connection errors, timeouts and
            malformed responses, which are worth retrying after a backoff;
            False for errors such as ``AccessDenied`` that a retry won't fix.
        code: The STS error code (``"AccessDenied"``, ``"Throttling"``...), or
            None when the failure did not come with one.
    """

    def __init__(self, message: str, *, recoverable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.recoverable = recoverable
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_refresh_error, (str(self), self.recoverable, self.code))


def _rebuild_refresh_error(message: str, recoverable: bool, code: str | None) -> RefreshError:
    return RefreshError(message, recoverable=recoverable, code=code)


class SSOLoginRequiredError(RefreshError):
    """An IAM Identity Center (SSO) profile needs ``aws sso login`` before it works again.

    The SSO access token is missing, expired, unusable or refused, and could
    not be refreshed. Never recoverable: no retry helps until a human signs in.
    The message names the profile and says to run ``aws sso login --profile
    NAME``; the library never opens a browser itself.

    Attributes:
        profile: The profile to sign in with (None for an :class:`SSOProvider`
            made without one).
    """

    def __init__(self, message: str, *, profile: str | None, code: str | None = None) -> None:
        super().__init__(message, recoverable=False, code=code)
        self.profile = profile

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_login_error, (str(self), self.profile, self.code))


def _rebuild_login_error(
    message: str, profile: str | None, code: str | None
) -> SSOLoginRequiredError:
    return SSOLoginRequiredError(message, profile=profile, code=code)


class CredentialsExpiredError(CredentialsError):
    """The cached credentials have expired and could not be refreshed.

    Raised (chained to the last refresh error) instead of handing out
    credentials that STS would reject, unless ``RefreshPolicy.serve_expired``
    is set.
    """


class CredentialsRejectedError(CredentialsExpiredError):
    """The held credentials were rejected with ``invalidate()`` and could not be refreshed.

    Chained to the refresh error. The rejected key is never handed out again,
    unless ``RefreshPolicy.serve_expired`` is set.
    """


# Exception types whose copy is ``type(error)(*error.args)`` plus their ``__dict__``.
_PLAIN_TYPES = frozenset(
    {
        CredentialsError,
        ConfigurationError,
        TokenProviderError,
        CredentialsExpiredError,
        CredentialsRejectedError,
    }
)


def is_recoverable(error: BaseException) -> bool:
    """Whether a failed refresh is worth retrying after a backoff."""
    return bool(getattr(error, "recoverable", False))


def fresh_copy(error: BaseException) -> BaseException:
    """A copy of ``error`` to raise in one more task.

    One outcome is shared by every waiter; raising the very same instance in
    many tasks would keep growing its traceback, so each waiter raises a copy
    that carries the same cause.
    """
    cls = type(error)
    try:
        # The library's own types are copied directly: it is what copy.copy()
        # does for them, at a fraction of the cost, which counts when one
        # failed refresh is raised in thousands of waiters. A new instance has
        # no traceback, and setting __cause__ sets __suppress_context__ too.
        if cls in _PLAIN_TYPES:
            clone: BaseException = cls(*error.args)
            if error.__dict__:
                clone.__dict__.update(error.__dict__)
            clone.__cause__ = error.__cause__
            return clone
        if type(error) is RefreshError:
            refresh_error = _rebuild_refresh_error(str(error), error.recoverable, error.code)
            refresh_error.__cause__ = error.__cause__
            return refresh_error
        clone = copy.copy(error)
    except Exception:  # pragma: no cover - exotic exception types
        return error
    clone.__cause__ = error.__cause__
    clone.__suppress_context__ = True
    clone.__traceback__ = None
    return clone
