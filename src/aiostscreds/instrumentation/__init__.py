"""Instrumentation: refresh events for logging, Prometheus metrics and OpenTelemetry spans.

A hook is any callable taking one event. The process-wide hooks are set with
:func:`set_hooks` (default: ``[LoggingHook()]``, the library's log lines); a
:class:`~aiostscreds.CredentialsCache` may take ``hooks=`` of its own. Events
are built only when a refresh happens and a hook is in force: the hot path,
fresh credentials in memory, does not come here.
"""

from ._events import (
    BackoffEntered,
    CredentialsIssued,
    Event,
    KeyRejected,
    MFAPromptFinished,
    MFAPromptStarted,
    RefreshFinished,
    RefreshStarted,
    SharedCacheAccessed,
)
from ._hooks import HOOK_TIME_BUDGET, Hook, get_hooks, set_hooks
from ._logging import LoggingHook
from ._otel import OpenTelemetryHook
from ._prometheus import PrometheusHook

__all__ = [
    "HOOK_TIME_BUDGET",
    "BackoffEntered",
    "CredentialsIssued",
    "Event",
    "Hook",
    "KeyRejected",
    "LoggingHook",
    "MFAPromptFinished",
    "MFAPromptStarted",
    "OpenTelemetryHook",
    "PrometheusHook",
    "RefreshFinished",
    "RefreshStarted",
    "SharedCacheAccessed",
    "get_hooks",
    "set_hooks",
]
