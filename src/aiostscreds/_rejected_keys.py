"""Recovering from a rejected key: invalidate exactly the key that signed, retry once.

The AWS SDK for Go v1 does this in ``corehandlers.AfterRetryHandler``: when a
service answers that the credentials have expired, it expires them and lets
the retry re-sign the request. Here two handlers on botocore's public event
system do the same for every client of an installed session:

- ``request-created`` (run after the client's signer, which botocore registers
  under the more specific ``request-created.<service>``) remembers the
  ``Authorization`` header of each attempt in the request's context, so the key
  that signed it is known. It costs one dict read and one dict write.
- ``needs-retry`` (run after botocore's own retry handler) looks at the error
  code of each response. On a code that says the signing key is no good, it
  invalidates that key id and asks botocore for one more attempt, which
  botocore re-signs with fresh credentials.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._cache import CredentialsCache

__all__ = ["REJECTED_KEY_CODES", "RejectedKeyHook"]

log = logging.getLogger("aiostscreds")

REJECTED_KEY_CODES = frozenset(
    {
        # The temporary credentials are past their expiry, on the service's clock
        # (query/XML and S3 services; JSON services). Go v1's credsExpiredCodes.
        "ExpiredToken",
        "ExpiredTokenException",
        # The access key id or its session token is unknown to the service:
        # revoked, deleted, or from another partition (query services, JSON
        # services, S3).
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        # S3: the session token is malformed, or must be refreshed.
        "InvalidToken",
        "TokenRefreshRequired",
    }
)
"""Error codes that mean "the key that signed this request is no good".

Left out on purpose, because they also mean a wrong clock or a signing bug,
which a new key does not fix (the AWS SDK for JavaScript v3 classes all of them
as clock skew): ``RequestExpired`` (EC2's "request timestamp too old", which Go
v1 does count), ``SignatureDoesNotMatch``, ``InvalidSignatureException``,
``AuthFailure``, ``RequestTimeTooSkewed`` and ``RequestInTheFuture``.
"""

COOLDOWN_SECONDS = 30.0
"""After a rejection-driven invalidation, a *different* key rejected within this
many seconds is not invalidated: the replacement being refused too means the
problem is not the key (say, an opt-in region that refuses the tokens of the
global STS endpoint), and invalidating again would make one AssumeRole per call."""

_AUTHORIZATION = "aiostscreds.authorization"
_RETRIED = "aiostscreds.rejected_key_retried"
_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")


@attrs.define
class _Guard:
    """The last rejection-driven invalidation of one source."""

    key: str | None = None
    at: float = float("-inf")
    spared: str | None = None  # the last key rejected too soon after, logged once


# One guard per source, shared by every session installed with it.
_guards: weakref.WeakKeyDictionary[object, _Guard] = weakref.WeakKeyDictionary()


def _guard_for(target: object) -> _Guard:
    try:
        return _guards.setdefault(target, _Guard())
    except TypeError:  # not weakly referenceable: a guard of its own
        return _Guard()


def _signing_key(context: Mapping[str, Any]) -> str | None:
    authorization = context.get(_AUTHORIZATION)
    if isinstance(authorization, bytes):
        authorization = authorization.decode("ascii", "replace")
    if not isinstance(authorization, str):
        return None
    match = _CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def _error_code(error: object) -> str | None:
    code = error.get("Code") if isinstance(error, Mapping) else None
    return code if isinstance(code, str) else None


def _rewindable(body: object) -> bool:
    # botocore rewinds a file-like body before a retry; one it cannot rewind
    # would be sent empty or fail, so such a request is not retried.
    if body is None or isinstance(body, (bytes, bytearray, str, Mapping)):
        return True
    seekable = getattr(body, "seekable", None)
    if callable(seekable):
        try:
            return bool(seekable())
        except Exception:
            return False
    return callable(getattr(body, "seek", None))


class RejectedKeyHook:
    """The two event handlers that :func:`install` registers on a session.

    Args:
        source: What the session signs with: a :class:`CredentialsCache` (the
            library's providers are ones), or any object with
            ``invalidate(access_key_id)``.
        clock: Monotonic seconds, for the cooldown.
    """

    def __init__(
        self, source: object, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache = source if isinstance(source, CredentialsCache) else None
        invalidate = getattr(source, "invalidate", None)
        self._invalidate: Callable[[str], None] | None = (
            invalidate if callable(invalidate) else None
        )
        target = self._cache if self._cache is not None else source
        self._guard = _guard_for(target)
        self._clock = clock

    def register(self, session: Any) -> None:
        """Register both handlers on ``session``, replacing earlier ones."""
        for event, handler in (
            ("request-created", self.remember_signature),
            ("needs-retry", self.after_response),
        ):
            unique_id = f"aiostscreds-rejected-key-{event}"
            session.unregister(event, unique_id=unique_id)
            session.register(event, handler, unique_id=unique_id)

    def remember_signature(self, request: Any = None, **kwargs: Any) -> None:
        """``request-created``: keep the attempt's Authorization header (no secret in it)."""
        context = getattr(request, "context", None)
        if context is not None:
            context[_AUTHORIZATION] = request.headers.get("Authorization")

    def after_response(
        self,
        response: Any = None,
        attempts: int = 1,
        request_dict: Any = None,
        **kwargs: Any,
    ) -> int | None:
        """``needs-retry``: on a rejected key, invalidate it; 0 asks for one more attempt."""
        if response is None or self._invalidate is None:
            return None  # a connection error, or nothing to tell
        # Runs after every attempt: a success (no "Error") costs two lookups.
        parsed = response[1] if type(response) is tuple and len(response) == 2 else None
        if type(parsed) is not dict or "Error" not in parsed:
            return None
        code = _error_code(parsed["Error"])
        if code not in REJECTED_KEY_CODES:
            return None
        try:
            return self._on_rejection(code, attempts, request_dict)
        except Exception as error:  # never break the caller's request over this
            # No traceback: its frames' locals hold the request (an MFA code, for
            # an AssumeRole signed with an installed source).
            log.warning("handling a rejected key failed: %s", type(error).__name__)
            return None

    def _on_rejection(self, code: str, attempts: int, request_dict: Any) -> int | None:
        context = request_dict.get("context") if isinstance(request_dict, Mapping) else None
        if not isinstance(context, dict):
            return None
        key = _signing_key(context)
        if key is None:
            return None  # not signed with an Authorization header: not ours to judge
        if not self._replace(key, code):
            return None
        if context.get(_RETRIED):
            return None  # one extra attempt per request for this reason, never more
        retries = context.get("retries")
        most = retries.get("max") if isinstance(retries, Mapping) else None
        if isinstance(most, int) and attempts >= most:
            return None  # the client's retry budget is spent
        if not _rewindable(request_dict.get("body")):
            return None
        context[_RETRIED] = True
        return 0

    def _replace(self, key: str, code: str) -> bool:
        """Invalidate ``key`` if that is due; True when a retry could use another key."""
        assert self._invalidate is not None
        guard = self._guard
        held = self._cache.credentials if self._cache is not None else None
        if key == guard.key:
            return True  # already invalidated: the retry waits for, or has, the new key
        if held is not None and held.access_key_id != key:
            return True  # another refresh already replaced it
        now = self._clock()
        if now - guard.at < COOLDOWN_SECONDS:
            if guard.spared == key:
                return False
            guard.spared = key
            log.warning(
                "service rejected key %s (%s) too, %.0f s after its predecessor; "
                "not invalidating it: the problem is likely not the key",
                key,
                code,
                now - guard.at,
            )
            return False
        guard.key, guard.at = key, now
        log.warning("service rejected key %s (%s); invalidated it", key, code)
        self._invalidate(key)
        return True
