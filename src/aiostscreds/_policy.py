"""When to refresh: the refresh policy and the window and backoff arithmetic."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Union

import attrs

from ._errors import ConfigurationError

__all__ = ["RefreshPolicy"]

Duration = Union[dt.timedelta, int, float]  # noqa: UP007 (evaluated on 3.10 too)
"""A span of time: a ``timedelta``, or a plain number of seconds."""

_AUTO_BACKOFF_FLOOR = 1.0
_EXPIRED_BACKOFF_CAP = 30.0
_ADVISORY_BACKOFF_CAP = 300.0
# Credentials that arrive inside, or nearly inside, their advisory window are
# next refreshed after this fraction of the time they have left, and never
# sooner than _MIN_REFRESH_GAP seconds (unless they expire sooner). At most a
# quarter: a 20.5-minute credential must keep its 15-minute advisory window.
_LATE_FRACTION = 0.25
_MIN_REFRESH_GAP = 5.0


_MAX_SECONDS = 1e9  # about 31 years: anything longer is a mistake, and overflows timedelta


def to_seconds(value: object, name: str) -> float:
    """``value`` (a timedelta or a number) as non-negative finite seconds; errors name ``name``."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        raise ConfigurationError(
            f"{name} must be a timedelta or a number of seconds, not {type(value).__name__}"
        )
    if not math.isfinite(seconds):
        raise ConfigurationError(f"{name} must be a finite duration")
    if seconds < 0:
        raise ConfigurationError(f"{name} must not be negative (got {seconds:g} s)")
    if seconds > _MAX_SECONDS:
        raise ConfigurationError(f"{name} must be at most {_MAX_SECONDS:g} s (got {seconds:g} s)")
    return seconds


def _range(value: object, name: str) -> tuple[dt.timedelta, dt.timedelta]:
    if isinstance(value, (dt.timedelta, int, float)) and not isinstance(value, bool):
        seconds = dt.timedelta(seconds=to_seconds(value, name))
        return (seconds, seconds)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigurationError(f"{name} must be a (low, high) pair of timedeltas or seconds")
    low, high = to_seconds(value[0], f"{name}[0]"), to_seconds(value[1], f"{name}[1]")
    if low > high:
        raise ConfigurationError(f"{name} must have low <= high (got {low:g} s > {high:g} s)")
    return (dt.timedelta(seconds=low), dt.timedelta(seconds=high))


# attrs converters, one per field so that each error names its field.
def _expiry_window(value: Duration) -> dt.timedelta:
    return dt.timedelta(seconds=to_seconds(value, "expiry_window"))


def _advisory_window(value: Duration | None) -> dt.timedelta | None:
    return None if value is None else dt.timedelta(seconds=to_seconds(value, "advisory_window"))


def _backoff(
    value: tuple[Duration, Duration] | None,
) -> tuple[dt.timedelta, dt.timedelta] | None:
    return None if value is None else _range(value, "backoff")


def _error_cache(value: tuple[Duration, Duration] | Duration) -> tuple[dt.timedelta, dt.timedelta]:
    return _range(value, "error_cache")


def _flag(value: object, name: str) -> bool:
    # bool("false") is True: refuse anything but a real bool.
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {type(value).__name__}")
    return value


def _serve_expired(value: bool) -> bool:
    return _flag(value, "serve_expired")


def _load_timeout(value: Duration | None) -> dt.timedelta | None:
    return None if value is None else dt.timedelta(seconds=to_seconds(value, "load_timeout"))


def _token_timeout(value: Duration | None) -> dt.timedelta | None:
    return None if value is None else dt.timedelta(seconds=to_seconds(value, "token_timeout"))


@attrs.frozen
class RefreshPolicy:
    """Decides when credentials are refreshed and what happens when that fails.

    Every time-like field takes a ``timedelta`` or a plain number of seconds.

    Attributes:
        expiry_window: Inside this span before expiration, credentials count as
            expired: every caller waits for the refresh (the Go SDK's
            ExpiryWindow). Default 60 s.
        advisory_window: Inside this span before expiration, the first caller
            starts a refresh and waits for it, while callers that arrive during
            that refresh get the current credentials at once. ``None`` (the
            default) picks it from the credential lifetime, as the cross-SDK
            rules do: 5 min for lifetimes up to 20 min, 15 min under 90 min,
            60 min beyond.
        backoff: How long to leave the source alone after a recoverable
            failure. ``None`` (the default) is a rule made for short
            credentials: the next attempt comes before the expiry window
            starts, or before expiration once inside it; with credentials
            expired (or rejected) it is a short jittered exponential capped
            at 30 s. A ``(low, high)`` pair gives a uniform random backoff in
            that range instead, as the cross-SDK rules do with (300 s, 600 s).
            With no credentials held, whatever this says, the call after a
            first failure tries again at once and further failures back off
            jittered exponentially from about 1 s up to 30 s.
        error_cache: How long a non-recoverable error (``AccessDenied``, a
            failed token provider...) is re-raised without contacting the
            source. A ``(low, high)`` pair is drawn uniformly; default 1-5 s.
        serve_expired: Whether to hand out expired credentials while backing
            off. STS-issued tokens are rejected once expired, so the default,
            False, raises :class:`CredentialsExpiredError` chained to the last
            refresh error instead.
        load_timeout: Bounds one STS round trip, retries included. Default 30 s.
        token_timeout: Bounds one wait for an MFA code. Default ``None``: a
            human may take their time.
    """

    expiry_window: dt.timedelta = attrs.field(
        default=dt.timedelta(seconds=60), converter=_expiry_window
    )
    advisory_window: dt.timedelta | None = attrs.field(default=None, converter=_advisory_window)
    backoff: tuple[dt.timedelta, dt.timedelta] | None = attrs.field(
        default=None, converter=_backoff
    )
    error_cache: tuple[dt.timedelta, dt.timedelta] = attrs.field(
        default=(dt.timedelta(seconds=1), dt.timedelta(seconds=5)),
        converter=_error_cache,
    )
    serve_expired: bool = attrs.field(default=False, converter=_serve_expired)
    load_timeout: dt.timedelta | None = attrs.field(
        default=dt.timedelta(seconds=30), converter=_load_timeout
    )
    token_timeout: dt.timedelta | None = attrs.field(default=None, converter=_token_timeout)

    def __attrs_post_init__(self) -> None:
        if self.load_timeout is not None and self.load_timeout <= dt.timedelta(0):
            raise ConfigurationError("load_timeout must be positive or None")
        if self.token_timeout is not None and self.token_timeout <= dt.timedelta(0):
            raise ConfigurationError("token_timeout must be positive or None")
        if self.advisory_window is not None and self.advisory_window < self.expiry_window:
            raise ConfigurationError(
                "advisory_window must be at least expiry_window "
                f"({self.advisory_window.total_seconds():g} s < "
                f"{self.expiry_window.total_seconds():g} s)"
            )

    def check_fits(self, duration: dt.timedelta, *, parameter: str = "duration") -> None:
        """Raise :class:`ConfigurationError` if the windows don't fit ``duration``.

        ``expiry_window`` must be shorter than the credential lifetime (or every
        call would refresh), and an explicit ``advisory_window`` must lie between
        ``expiry_window`` and the lifetime.
        """
        if self.expiry_window >= duration:
            raise ConfigurationError(
                f"RefreshPolicy.expiry_window ({self.expiry_window.total_seconds():g} s) "
                f"must be shorter than {parameter} ({duration.total_seconds():g} s), "
                "or every call would refresh"
            )
        if self.advisory_window is not None and self.advisory_window > duration:
            raise ConfigurationError(
                f"RefreshPolicy.advisory_window ({self.advisory_window.total_seconds():g} s) "
                f"must not exceed {parameter} ({duration.total_seconds():g} s)"
            )


def advisory_seconds(policy: RefreshPolicy, lifetime: float) -> float:
    """The advisory window for credentials that live ``lifetime`` seconds."""
    expiry = policy.expiry_window.total_seconds()
    if policy.advisory_window is not None:
        return policy.advisory_window.total_seconds()
    if lifetime <= 20 * 60:
        window = 5 * 60.0
    elif lifetime < 90 * 60:
        window = 15 * 60.0
    else:
        window = 60 * 60.0
    return max(window, expiry)


def schedule(policy: RefreshPolicy, *, now: float, expires_at: float) -> tuple[float, float, float]:
    """When to refresh credentials received at ``now`` that expire at ``expires_at``.

    Returns ``(refresh_at, expire_at, advisory)``: the epoch seconds at which
    the advisory refresh and the mandatory (expiry-window) refresh are due,
    and the advisory window chosen from the lifetime.

    Credentials that arrive inside, or nearly inside, their advisory window
    (a skewed clock, or a source that hands back the same credentials as they
    age) would otherwise be due for refresh at once, and again on every call.
    Their next refresh instead waits a quarter of the time they have left (at
    least a few seconds); inside the expiry window, that wait also holds off
    the mandatory refresh. Each refresh then costs at most one source call per
    quarter of the remaining lifetime.
    """
    lifetime = expires_at - now
    advisory = advisory_seconds(policy, lifetime)
    refresh_at = expires_at - advisory
    expire_at = expires_at - policy.expiry_window.total_seconds()
    earliest = now + max(lifetime * _LATE_FRACTION, min(_MIN_REFRESH_GAP, lifetime))
    if refresh_at < earliest:
        refresh_at = earliest
        expire_at = max(expire_at, earliest)
    return refresh_at, expire_at, advisory


def error_cache_seconds(policy: RefreshPolicy, rng: random.Random) -> float:
    """How long to keep re-raising one non-recoverable error."""
    low, high = policy.error_cache
    return rng.uniform(low.total_seconds(), high.total_seconds())


def backoff_seconds(
    policy: RefreshPolicy,
    rng: random.Random,
    *,
    now: float,
    expires_at: float | None,
    failures: int,
) -> float:
    """How long to leave the source alone after a recoverable failure.

    ``expires_at`` is the expiration of the credentials still held (None when
    there are none); ``failures`` counts consecutive failures, from 1.
    """
    if expires_at is None:
        # Nothing to serve meanwhile, so a long pause would be an outage: the
        # call after a first failure tries again at once (the cross-SDK rule),
        # then a short jittered exponential backoff, whatever ``backoff`` says.
        if failures <= 1:
            return 0.0
        return _jittered(rng, failures - 1, _EXPIRED_BACKOFF_CAP)
    if policy.backoff is not None:
        low, high = policy.backoff
        return rng.uniform(low.total_seconds(), high.total_seconds())
    expiry_starts = expires_at - policy.expiry_window.total_seconds()
    if now < expiry_starts:
        # Outside the expiry window: back off, but try again before it starts.
        delay = _jittered(rng, failures, _ADVISORY_BACKOFF_CAP)
        return min(delay, expiry_starts - now)
    if now < expires_at:
        # Inside the expiry window: keep at least one more try before expiration.
        return min(_jittered(rng, failures, _EXPIRED_BACKOFF_CAP), (expires_at - now) / 2)
    return _jittered(rng, failures, _EXPIRED_BACKOFF_CAP)


def _jittered(rng: random.Random, failures: int, cap: float) -> float:
    ceiling = min(cap, _AUTO_BACKOFF_FLOOR * 2 ** min(failures - 1, 32))
    return rng.uniform(ceiling / 2, ceiling)
