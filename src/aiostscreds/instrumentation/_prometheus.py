"""The Prometheus hook (the ``prometheus`` extra: prometheus-client)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from .._errors import ConfigurationError
from ._events import (
    Event,
    KeyRejected,
    MFAPromptFinished,
    RefreshFinished,
    SharedCacheAccessed,
)

__all__ = ["PrometheusHook"]

CALLER_BUCKETS = (1, 2, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000)
"""Buckets of ``aiostscreds_refresh_callers``: from one caller to a 100,000-waiter storm."""

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Buckets of ``aiostscreds_refresh_duration_seconds``: an STS call to an unanswered prompt."""


def _prometheus_client() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ConfigurationError(
            "PrometheusHook needs prometheus-client: pip install 'aiostscreds[prometheus]'"
        ) from None
    return prometheus_client


class _Metrics:
    """The library's metrics in one registry."""

    def __init__(self, client: Any, registry: Any) -> None:
        self.refreshes = client.Counter(
            "aiostscreds_refreshes",
            "Refreshes, by kind of source and outcome (success, recoverable_error, error).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.duration = client.Histogram(
            "aiostscreds_refresh_duration_seconds",
            "How long refreshes took, MFA prompt and shared cache included.",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.callers = client.Histogram(
            "aiostscreds_refresh_callers",
            "How many callers each refresh served (one STS call for all of them).",
            ["kind"],
            buckets=CALLER_BUCKETS,
            registry=registry,
        )
        self.expiry = client.Gauge(
            "aiostscreds_credentials_expiry_timestamp_seconds",
            "Unix time at which the credentials last fetched expire.",
            ["kind", "role_arn"],
            registry=registry,
        )
        self.prompts = client.Counter(
            "aiostscreds_mfa_prompts",
            "MFA token-provider calls, by outcome (answered, failed, timed_out).",
            ["outcome"],
            registry=registry,
        )
        self.shared_cache = client.Counter(
            "aiostscreds_shared_cache",
            "Shared-cache steps of refreshes, by cache (file, redis, custom) and result "
            "(hit, miss, store, error).",
            ["cache", "result"],
            registry=registry,
        )
        self.rejected = client.Counter(
            "aiostscreds_rejected_keys",
            "Access keys rejected (passed to invalidate() while held).",
            ["kind"],
            registry=registry,
        )


# One set of metrics per registry: a registry refuses a second metric of the same name.
_by_registry: weakref.WeakKeyDictionary[Any, _Metrics] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class PrometheusHook:
    """Counts refreshes, prompts, shared-cache steps and rejected keys in Prometheus metrics.

    Needs the ``prometheus`` extra (``pip install 'aiostscreds[prometheus]'``);
    prometheus-client is imported when the hook is made, not before.

    Metrics (every label value is a kind, an outcome or a role ARN; never a secret):

    - ``aiostscreds_refreshes_total{kind,outcome}``: outcome is ``success``,
      ``recoverable_error`` or ``error``;
    - ``aiostscreds_refresh_duration_seconds{kind}`` (histogram);
    - ``aiostscreds_refresh_callers{kind}`` (histogram): the callers each refresh served;
    - ``aiostscreds_credentials_expiry_timestamp_seconds{kind,role_arn}`` (gauge): when
      the credentials last fetched expire (``role_arn`` is empty for none);
    - ``aiostscreds_mfa_prompts_total{outcome}``: one per token-provider call;
      ``answered``, ``failed`` or ``timed_out``;
    - ``aiostscreds_shared_cache_total{cache,result}``;
    - ``aiostscreds_rejected_keys_total{kind}``.

    Args:
        registry: The ``CollectorRegistry`` to register the metrics in; default
            prometheus-client's global ``REGISTRY``. Hooks made with the same
            registry share the metrics.

    Raises:
        ConfigurationError: prometheus-client is not installed.
    """

    def __init__(self, registry: Any = None) -> None:
        client = _prometheus_client()
        if registry is None:
            registry = client.REGISTRY
        with _lock:
            metrics = _by_registry.get(registry)
            if metrics is None:
                metrics = _by_registry[registry] = _Metrics(client, registry)
        self.registry = registry
        self._metrics = metrics

    def __repr__(self) -> str:
        return f"PrometheusHook(registry={self.registry!r})"

    def __call__(self, event: Event) -> None:
        """Update the metrics ``event`` concerns."""
        metrics = self._metrics
        if isinstance(event, RefreshFinished):
            metrics.refreshes.labels(event.kind, event.outcome).inc()
            metrics.duration.labels(event.kind).observe(event.duration)
            metrics.callers.labels(event.kind).observe(event.callers)
            if event.expiration is not None:
                metrics.expiry.labels(event.kind, event.role_arn or "").set(
                    event.expiration.timestamp()
                )
        elif isinstance(event, MFAPromptFinished):
            metrics.prompts.labels(event.outcome).inc()
        elif isinstance(event, SharedCacheAccessed):
            metrics.shared_cache.labels(event.cache, event.result).inc()
        elif isinstance(event, KeyRejected):
            metrics.rejected.labels(event.kind).inc()
