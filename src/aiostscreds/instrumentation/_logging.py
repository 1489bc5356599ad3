"""The logging hook: the library's log lines about refreshes, made from the events."""

from __future__ import annotations

import logging

from ._events import CredentialsIssued, Event, RefreshFinished, SharedCacheAccessed

__all__ = ["LoggingHook"]

# What a shared entry without a role ARN is for, by the kind of its source.
_SUBJECTS = {
    "session_token": "the calling user",
    "mfa_session": "the calling user's MFA session",
    "sso": "the IAM Identity Center role",
}

_SHARED_CACHE_ERRORS = {
    "lock": "shared cache %s could not lock: %s; refreshing without the lock",
    "unlock": "shared cache %s could not unlock: %s",
    "load": "shared cache %s could not load: %s; calling STS",
    "store": "shared cache %s could not store: %s",
}


class LoggingHook:
    """Writes the library's log lines about refreshes to the ``aiostscreds`` logger.

    It is the default process-wide hook, so these lines appear unless
    :func:`set_hooks` leaves it out:

    - WARNING ``credential refresh failed: ...`` with what happens next (the
      backoff, or how long a non-recoverable error is cached);
    - INFO ``assumed role ... as session ... until ...`` for each STS call, and
      ``using credentials for ... from ... until ...`` for a shared-cache hit;
    - WARNING ``shared cache ... could not lock/load/store/unlock: ...``;
    - DEBUG ``credentials refreshed: ...``.

    Other lines (a rejected key, a clock behind STS's, a cache directory that is
    not used) are written by the code that notices them, whatever the hooks.

    Args:
        logger: Where to write; default ``logging.getLogger("aiostscreds")``.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logging.getLogger("aiostscreds") if logger is None else logger

    def __repr__(self) -> str:
        return f"LoggingHook(logger={self.logger.name!r})"

    def __call__(self, event: Event) -> None:
        """Write the log line ``event`` calls for, if any."""
        if isinstance(event, RefreshFinished):
            self._refresh_finished(event)
        elif isinstance(event, CredentialsIssued):
            self._credentials_issued(event)
        elif isinstance(event, SharedCacheAccessed):
            self._shared_cache(event)

    def _refresh_finished(self, event: RefreshFinished) -> None:
        log = self.logger
        if event.outcome == "success":
            log.debug(
                "credentials refreshed: %s, advisory window %.0f s",
                event.access_key_id,
                event.advisory_window or 0.0,
            )
        elif event.retry_in is None:
            return  # cut short by aclose() or a cancellation: not a failure of the source
        elif event.outcome == "error":
            log.warning(
                "credential refresh failed: %s; not recoverable, %s for %.1f s",
                event.error_message,
                "serving the credentials held, no new attempt" if event.serving else "re-raised",
                event.retry_in,
            )
        else:
            log.warning(
                "credential refresh failed: %s; %snext attempt in %.1f s",
                event.error_message,
                "serving the credentials held; " if event.serving else "",
                event.retry_in,
            )

    def _credentials_issued(self, event: CredentialsIssued) -> None:
        until = event.expiration.isoformat()
        took = event.duration * 1000
        if event.operation == "AssumeRole":
            self.logger.info(
                "assumed role %s as session %s until %s (AssumeRole took %.0f ms)",
                event.role_arn,
                event.session_name,
                until,
                took,
            )
        elif event.operation == "AssumeRoleWithWebIdentity":
            self.logger.info(
                "assumed role %s with a web identity as session %s until %s "
                "(AssumeRoleWithWebIdentity took %.0f ms)",
                event.role_arn,
                event.session_name,
                until,
                took,
            )
        elif event.operation == "GetSessionToken":
            self.logger.info(
                "got a session token until %s (GetSessionToken took %.0f ms)", until, took
            )
        else:
            self.logger.info(
                "got credentials for %s until %s (%s took %.0f ms)",
                event.role_arn or _SUBJECTS.get(event.kind, event.kind),
                until,
                event.operation,
                took,
            )

    def _shared_cache(self, event: SharedCacheAccessed) -> None:
        if event.result == "hit" and event.expiration is not None:
            self.logger.info(
                "using credentials for %s from %s until %s",
                event.role_arn or _SUBJECTS.get(event.kind, event.kind),
                event.cache_name,
                event.expiration.isoformat(),
            )
        elif event.result == "error":
            template = _SHARED_CACHE_ERRORS.get(event.operation or "")
            if template is not None:
                self.logger.warning(template, event.cache_name, event.error_type)
