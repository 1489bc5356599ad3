"""The cost of instrumentation: a storm with every built-in hook on, against one with none.

Each run primes a contender, then lets ``waiters`` tasks arrive at once on its
expired credentials (the success storm). The runs take turns: hooks off
(``set_hooks([])``: no event is built), then every hook on (``LoggingHook``,
``PrometheusHook`` on a fresh ``CollectorRegistry``, ``OpenTelemetryHook`` with
the SDK's ``TracerProvider`` and an in-memory exporter), and the other way
round on the next repeat. A counting hook checks that the storm's refresh made
exactly one ``RefreshStarted`` and one ``RefreshFinished``, and that the
latter says it served every waiter.
"""

from __future__ import annotations

import collections
from typing import Any

from aiostscreds.instrumentation import (
    Event,
    LoggingHook,
    OpenTelemetryHook,
    PrometheusHook,
    RefreshFinished,
    get_hooks,
    set_hooks,
)

from . import report, scenarios
from .contenders import STS_LATENCY, FakeSTS, build_expired_contender


class EventCounter:
    """A hook that counts events by class, and keeps the callers of each finished refresh."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.callers: list[int] = []

    def __call__(self, event: Event) -> None:
        self.counts[type(event).__name__] += 1
        if isinstance(event, RefreshFinished):
            self.callers.append(event.callers)

    def reset(self) -> None:
        self.counts.clear()
        self.callers.clear()


def all_hooks() -> tuple[list[Any], Any, Any]:
    """The three built-in hooks on fresh backends; and the registry and the span exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hooks = [LoggingHook(), PrometheusHook(registry), OpenTelemetryHook(tracer_provider=provider)]
    return hooks, registry, exporter


async def hooks_storm(
    key: str, backend: str, waiters: int, *, repeats: int, latency: float = STS_LATENCY
) -> dict[str, Any]:
    """Success storms of ``key`` at N = ``waiters``, hooks off and on in turns."""
    hooks, registry, exporter = all_hooks()
    counter = EventCounter()
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    saved = get_hooks()
    try:
        for repeat in range(repeats):
            for mode in ("off", "on") if repeat % 2 == 0 else ("on", "off"):
                set_hooks([*hooks, counter] if mode == "on" else [])
                contender = await build_expired_contender(key, backend, FakeSTS(latency=latency))
                counter.reset()
                spans_before = len(exporter.get_finished_spans())
                try:
                    run = await scenarios._storm(contender, backend, waiters)
                finally:
                    await contender.aclose()
                if mode == "on":
                    run["events"] = dict(counter.counts)
                    run["callers"] = list(counter.callers)
                    run["spans"] = len(exporter.get_finished_spans()) - spans_before
                runs[mode].append(run)
    finally:
        set_hooks(saved)
    on, off = report.summarize_runs(runs["on"]), report.summarize_runs(runs["off"])
    pairs_ok = all(
        run["events"].get("RefreshStarted") == 1
        and run["events"].get("RefreshFinished") == 1
        and run["callers"] == [waiters]
        and run["spans"] == 1
        for run in runs["on"]
    )
    ratio = on["release_best_s"] / off["release_best_s"] if off["release_best_s"] else None
    median_ratio = (
        on["release_median_s"] / off["release_median_s"] if off["release_median_s"] else None
    )
    sample = runs["on"][0]
    return {
        "contender": key,
        "waiters": waiters,
        "repeats": repeats,
        "hooks": [repr(hook) for hook in hooks],
        "off": off,
        "on": on,
        "one_event_pair_per_storm": pairs_ok,
        "events_per_storm": sample["events"],
        "callers_per_storm": sample["callers"],
        "spans_per_storm": sample["spans"],
        "refreshes_total": registry.get_sample_value(
            "aiostscreds_refreshes_total", {"kind": "assume_role", "outcome": "success"}
        )
        or registry.get_sample_value(
            "aiostscreds_refreshes_total", {"kind": "custom", "outcome": "success"}
        ),
        "release_ratio_best": ratio,
        "release_ratio_median": median_ratio,
    }
