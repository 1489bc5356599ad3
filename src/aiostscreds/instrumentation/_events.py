"""The events the library reports to instrumentation hooks: immutable, and free of secrets.

Every event says which kind of source it concerns (``kind``) and, where there is
one, the role (``role_arn``). None carries a secret key, a session token, an MFA
code or a web identity token; an access key id (not a secret) appears where a log
line needs it. Events of one refresh share its ``refresh_id``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

__all__ = [
    "BackoffEntered",
    "CredentialsIssued",
    "Event",
    "KeyRejected",
    "MFAPromptFinished",
    "MFAPromptStarted",
    "RefreshFinished",
    "RefreshStarted",
    "SharedCacheAccessed",
]

Kind = Literal["assume_role", "session_token", "web_identity", "mfa_session", "sso", "custom"]
"""What kind of source the credentials come from."""

Trigger = Literal["initial", "advisory", "mandatory", "forced", "rejected_key"]
"""Why a refresh started: no credentials yet; the advisory window began; the expiry
window began (or the credentials expired); ``force_refresh()``; the held key was passed
to ``invalidate()``."""


@attrs.frozen(kw_only=True)
class RefreshStarted:
    """A refresh started: one per refresh, however many callers wait for it.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None (a session token, a custom source).
        refresh_id: Identifies this refresh's events within the process.
        trigger: Why it started.
    """

    kind: str
    role_arn: str | None
    refresh_id: int
    trigger: str


@attrs.frozen(kw_only=True)
class RefreshFinished:
    """A refresh ended, in success or failure: one per refresh.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        refresh_id: The refresh's id, as in its :class:`RefreshStarted`.
        trigger: Why it started.
        outcome: ``"success"``, ``"recoverable_error"`` (a backoff follows) or
            ``"error"`` (not worth retrying; the error is cached briefly).
        duration: Seconds from start to end, on a monotonic clock.
        callers: How many :meth:`~aiostscreds.CredentialsCache.get` and
            :meth:`~aiostscreds.CredentialsCache.force_refresh` calls waited for this
            refresh and got its outcome.
        expiration: The new credentials' expiration, on success.
        access_key_id: The new access key id, on success (an id, not a secret).
        advisory_window: Seconds before expiration at which the next refresh is
            due, on success.
        error_type: The error's class name, on failure.
        error_message: The error's message, on failure; the library builds its
            messages from safe parts only (codes, ARNs, parameter names).
        recoverable: On failure, whether it is worth retrying after a backoff.
        serving: On failure, whether the credentials held are still handed out.
        retry_in: On failure, seconds until the next attempt (the backoff, or how
            long the error is cached); None if the refresh was cut short by
            ``aclose()`` or a cancellation.
    """

    kind: str
    role_arn: str | None
    refresh_id: int
    trigger: str
    outcome: Literal["success", "recoverable_error", "error"]
    duration: float
    callers: int
    expiration: dt.datetime | None = None
    access_key_id: str | None = None
    advisory_window: float | None = None
    error_type: str | None = None
    error_message: str | None = None
    recoverable: bool | None = None
    serving: bool = False
    retry_in: float | None = None


@attrs.frozen(kw_only=True)
class BackoffEntered:
    """A recoverable failure put the source in backoff: no new attempt before ``deadline``.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        refresh_id: The failed refresh's id.
        deadline: When the next attempt may start, in epoch seconds of the cache's clock.
        seconds: The length of the backoff.
        failures: Consecutive recoverable failures so far.
    """

    kind: str
    role_arn: str | None
    refresh_id: int
    deadline: float
    seconds: float
    failures: int


@attrs.frozen(kw_only=True)
class MFAPromptStarted:
    """The MFA token provider was called for a code (the terminal prompt, TOTP, or your own).

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        refresh_id: The refresh that asked, or None outside one.
    """

    kind: str
    role_arn: str | None
    refresh_id: int | None


@attrs.frozen(kw_only=True)
class MFAPromptFinished:
    """The MFA token provider's call ended. Never carries the code.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        refresh_id: The refresh that asked, or None outside one.
        outcome: ``"answered"`` (six digits), ``"failed"`` (it raised, or answered
            something else) or ``"timed_out"`` (``token_timeout``).
        duration: Seconds the call took, on a monotonic clock.
    """

    kind: str
    role_arn: str | None
    refresh_id: int | None
    outcome: Literal["answered", "failed", "timed_out"]
    duration: float


@attrs.frozen(kw_only=True)
class SharedCacheAccessed:
    """A refresh used its shared cache (``cache=``): one event per step of interest.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        refresh_id: The refresh, or None outside one.
        cache: ``"file"`` (:class:`~aiostscreds.FileCache`), ``"redis"``
            (:class:`~aiostscreds.RedisCache`) or ``"custom"``.
        result: ``"hit"`` (an entry was used instead of an STS call), ``"miss"``
            (no usable entry), ``"store"`` (the new credentials were handed to the
            cache) or ``"error"`` (the cache raised; the refresh went on without it).
        operation: For an error, what failed: ``"lock"``, ``"unlock"``, ``"load"`` or
            ``"store"``.
        error_type: For an error, the class name of what the cache raised.
        cache_name: The cache's ``repr()``, which holds no secret.
        expiration: For a hit, the entry's expiration.
    """

    kind: str
    role_arn: str | None
    refresh_id: int | None
    cache: str
    result: Literal["hit", "miss", "store", "error"]
    operation: str | None = None
    error_type: str | None = None
    cache_name: str = ""
    expiration: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class CredentialsIssued:
    """STS (or the source's service) issued new credentials: one per successful call.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        refresh_id: The refresh, or None for a direct ``retrieve()``.
        operation: The API call, such as ``"AssumeRole"``.
        session_name: The role session name, where there is one.
        expiration: The credentials' expiration.
        duration: Seconds the call took, on a monotonic clock.
    """

    kind: str
    role_arn: str | None
    refresh_id: int | None
    operation: str
    session_name: str | None
    expiration: dt.datetime
    duration: float


@attrs.frozen(kw_only=True)
class KeyRejected:
    """The access key held was passed to ``invalidate()``: once per rejection.

    Attributes:
        kind: The kind of source.
        role_arn: The role, or None.
        access_key_id: The rejected key's id (an id, not a secret).
    """

    kind: str
    role_arn: str | None
    access_key_id: str


Event = (
    RefreshStarted
    | RefreshFinished
    | BackoffEntered
    | MFAPromptStarted
    | MFAPromptFinished
    | SharedCacheAccessed
    | CredentialsIssued
    | KeyRejected
)
"""Any of the events above."""
