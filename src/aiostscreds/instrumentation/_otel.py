"""The OpenTelemetry hook (the ``otel`` extra: opentelemetry-api)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .._errors import ConfigurationError
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

__all__ = ["OpenTelemetryHook"]

SPAN_NAME = "aiostscreds.refresh"

_MAX_OPEN_SPANS = 1024
"""Spans of refreshes whose end this hook has not seen (it was dropped for that refresh)
are forgotten beyond this many."""


def _opentelemetry() -> tuple[Any, Any]:
    try:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode
    except ImportError:
        raise ConfigurationError(
            "OpenTelemetryHook needs opentelemetry-api: pip install 'aiostscreds[otel]'"
        ) from None
    return trace, (Status, StatusCode)


def _common(event: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {"aiostscreds.kind": event.kind}
    if event.role_arn is not None:
        attributes["aiostscreds.role_arn"] = event.role_arn
    return attributes


class OpenTelemetryHook:
    """One span per refresh, ``aiostscreds.refresh``, with events for its steps.

    Needs the ``otel`` extra (``pip install 'aiostscreds[otel]'``);
    opentelemetry-api is imported when the hook is made, not before.

    - The span starts when the refresh does and ends when it ends. Attributes:
      ``aiostscreds.kind``, ``aiostscreds.role_arn`` (when there is one),
      ``aiostscreds.trigger``, ``aiostscreds.outcome``, ``aiostscreds.callers``
      (callers served) and, on success, ``aiostscreds.expiration`` (ISO 8601).
    - On failure its status is ERROR, described by the error's class, which is also
      its ``error.type``; ``aiostscreds.recoverable`` says whether a backoff follows.
    - Span events: ``aiostscreds.mfa_prompt`` (asked, then its outcome),
      ``aiostscreds.shared_cache`` (hit, miss, store or error, with the cache),
      ``aiostscreds.credentials_issued`` (the STS call) and ``aiostscreds.backoff``.
    - A rejected key is an event, ``aiostscreds.key_rejected``, on the span current
      where ``invalidate()`` is called (say, the instrumented request that was refused).

    No attribute or event carries a secret, a session token or an MFA code.

    Args:
        tracer_provider: The ``TracerProvider`` to use; default the global one.

    Raises:
        ConfigurationError: opentelemetry-api is not installed.
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        from .. import __version__

        trace, (status, status_code) = _opentelemetry()
        self._trace = trace
        self._status = status
        self._error_code = status_code.ERROR
        self.tracer_provider = tracer_provider
        self._tracer = trace.get_tracer("aiostscreds", __version__, tracer_provider=tracer_provider)
        self._spans: OrderedDict[int, Any] = OrderedDict()

    def __repr__(self) -> str:
        return f"OpenTelemetryHook(tracer_provider={self.tracer_provider!r})"

    def __call__(self, event: Event) -> None:
        """Start, annotate or end the span of the refresh ``event`` belongs to."""
        if isinstance(event, RefreshStarted):
            attributes = _common(event)
            attributes["aiostscreds.trigger"] = event.trigger
            span = self._tracer.start_span(SPAN_NAME, attributes=attributes)
            spans = self._spans
            spans[event.refresh_id] = span
            while len(spans) > _MAX_OPEN_SPANS:
                spans.popitem(last=False)
        elif isinstance(event, RefreshFinished):
            self._finish(event)
        elif isinstance(event, KeyRejected):
            attributes = _common(event)
            attributes["aiostscreds.access_key_id"] = event.access_key_id
            self._trace.get_current_span().add_event("aiostscreds.key_rejected", attributes)
        else:
            span = self._spans.get(event.refresh_id) if event.refresh_id is not None else None
            if span is not None:
                name, attributes = _step(event)
                span.add_event(name, attributes)

    def _finish(self, event: RefreshFinished) -> None:
        span = self._spans.pop(event.refresh_id, None)
        if span is None:
            return
        span.set_attribute("aiostscreds.outcome", event.outcome)
        span.set_attribute("aiostscreds.callers", event.callers)
        if event.expiration is not None:
            span.set_attribute("aiostscreds.expiration", event.expiration.isoformat())
        if event.outcome != "success":
            error_type = event.error_type or "Error"
            span.set_attribute("error.type", error_type)
            if event.recoverable is not None:
                span.set_attribute("aiostscreds.recoverable", event.recoverable)
            span.set_status(self._status(self._error_code, error_type))
        span.end()


def _step(event: Event) -> tuple[str, dict[str, Any]]:
    if isinstance(event, MFAPromptStarted):
        return "aiostscreds.mfa_prompt", {"aiostscreds.mfa.outcome": "asked"}
    if isinstance(event, MFAPromptFinished):
        return "aiostscreds.mfa_prompt", {
            "aiostscreds.mfa.outcome": event.outcome,
            "aiostscreds.mfa.duration_s": event.duration,
        }
    if isinstance(event, SharedCacheAccessed):
        attributes: dict[str, Any] = {
            "aiostscreds.cache": event.cache,
            "aiostscreds.cache.result": event.result,
        }
        if event.operation is not None:
            attributes["aiostscreds.cache.operation"] = event.operation
        if event.error_type is not None:
            attributes["error.type"] = event.error_type
        return "aiostscreds.shared_cache", attributes
    if isinstance(event, CredentialsIssued):
        return "aiostscreds.credentials_issued", {
            "aiostscreds.operation": event.operation,
            "aiostscreds.duration_s": event.duration,
            "aiostscreds.expiration": event.expiration.isoformat(),
        }
    if isinstance(event, BackoffEntered):
        return "aiostscreds.backoff", {
            "aiostscreds.backoff.seconds": event.seconds,
            "aiostscreds.backoff.failures": event.failures,
        }
    return f"aiostscreds.{type(event).__name__}", {}
