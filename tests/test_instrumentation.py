"""The instrumentation hooks: the protocol, the guard, and the built-in hooks on real backends.

Prometheus figures are read from a real ``prometheus_client.CollectorRegistry``;
spans from the OpenTelemetry SDK's ``InMemorySpanExporter``.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from aiostscreds import ConfigurationError, TokenProviderError
from aiostscreds._tokens import MFACodes
from aiostscreds.instrumentation import (
    HOOK_TIME_BUDGET,
    BackoffEntered,
    CredentialsIssued,
    Event,
    KeyRejected,
    LoggingHook,
    MFAPromptFinished,
    MFAPromptStarted,
    OpenTelemetryHook,
    PrometheusHook,
    RefreshFinished,
    RefreshStarted,
    SharedCacheAccessed,
    get_hooks,
    set_hooks,
)
from aiostscreds.instrumentation._hooks import Emitter

from .fakes import Recorder

ROLE = "arn:aws:iam::123456789012:role/observed"
EXPIRES = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def restore_hooks() -> Iterator[None]:
    saved = get_hooks()
    yield
    set_hooks(saved)


def started(refresh_id: int = 1, trigger: str = "initial") -> RefreshStarted:
    return RefreshStarted(kind="assume_role", role_arn=ROLE, refresh_id=refresh_id, trigger=trigger)


def succeeded(refresh_id: int = 1, callers: int = 3) -> RefreshFinished:
    return RefreshFinished(
        kind="assume_role",
        role_arn=ROLE,
        refresh_id=refresh_id,
        trigger="initial",
        outcome="success",
        duration=0.05,
        callers=callers,
        expiration=EXPIRES,
        access_key_id="ASIAOBSERVED00000001",
        advisory_window=300.0,
    )


def failed(refresh_id: int = 2, *, recoverable: bool = True) -> RefreshFinished:
    return RefreshFinished(
        kind="assume_role",
        role_arn=ROLE,
        refresh_id=refresh_id,
        trigger="mandatory",
        outcome="recoverable_error" if recoverable else "error",
        duration=0.05,
        callers=7,
        error_type="RefreshError",
        error_message=f"AssumeRole for {ROLE} failed: Throttling",
        recoverable=recoverable,
        serving=False,
        retry_in=2.5,
    )


# ---------------------------------------------------------------------------
# The process-wide list


def test_the_default_hooks_are_the_logging_hook_alone() -> None:
    (hook,) = get_hooks()
    assert isinstance(hook, LoggingHook)


def test_set_hooks_replaces_the_list_and_refuses_what_is_not_callable() -> None:
    recorder = Recorder()
    set_hooks([recorder])
    assert get_hooks() == (recorder,)
    with pytest.raises(ConfigurationError, match="hooks must hold callables"):
        set_hooks([recorder, "not a hook"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="hooks must be a list"):
        set_hooks(recorder)  # type: ignore[arg-type]
    assert get_hooks() == (recorder,)  # unchanged by the refused calls


def test_an_async_hook_is_refused_where_it_is_given() -> None:
    # Hooks are called synchronously: an async one would make a coroutine that is
    # never awaited, and its events would be lost without a word.
    from aiostscreds import CredentialsCache

    async def async_hook(event: Event) -> None:
        pass

    class AsyncHook:
        async def __call__(self, event: Event) -> None:
            pass

    class Source:
        async def retrieve(self) -> Any:
            raise AssertionError("never called")

    saved = get_hooks()
    for hook in (async_hook, AsyncHook()):
        with pytest.raises(ConfigurationError, match="hooks must hold synchronous callables"):
            set_hooks([hook])  # type: ignore[list-item]
        with pytest.raises(ConfigurationError, match="hooks must hold synchronous callables"):
            CredentialsCache(Source(), hooks=[hook])  # type: ignore[list-item]
    assert get_hooks() == saved


def test_no_hooks_means_no_emitter_so_no_event_is_built() -> None:
    set_hooks([])
    assert Emitter.for_refresh(None, "assume_role", ROLE) is None
    assert Emitter.lone(None, "assume_role", ROLE) is None
    recorder = Recorder()
    # A cache's own hooks win over the process-wide list, either way.
    emitter = Emitter.for_refresh((recorder,), "assume_role", ROLE)
    assert emitter is not None
    set_hooks([recorder])
    assert Emitter.for_refresh((), "assume_role", ROLE) is None


# ---------------------------------------------------------------------------
# The guard: a hook that raises or blocks


def test_a_hook_that_raises_is_logged_once_and_dropped_for_the_rest_of_the_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def broken(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("hook bug")

    after = Recorder()
    emitter = Emitter.for_refresh((broken, after), "assume_role", ROLE)
    assert emitter is not None
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        emitter.emit(started(emitter.refresh_id or 0))
        emitter.emit(succeeded(emitter.refresh_id or 0))
    assert calls == 1
    assert len(after.events) == 2  # the hooks after it still get every event
    warnings = [r for r in caplog.records if r.name == "aiostscreds.instrumentation"]
    assert len(warnings) == 1
    assert "raised RuntimeError" in warnings[0].getMessage()
    assert "rest of this refresh" in warnings[0].getMessage()
    # The next refresh calls it again.
    again = Emitter.for_refresh((broken, after), "assume_role", ROLE)
    assert again is not None
    again.emit(started(again.refresh_id or 0))
    assert calls == 2


def test_a_hook_that_blocks_past_its_budget_is_dropped_for_the_rest_of_the_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def slow(event: Event) -> None:
        nonlocal calls
        calls += 1
        time.sleep(HOOK_TIME_BUDGET * 1.5)

    after = Recorder()
    emitter = Emitter.for_refresh((slow, after), "assume_role", ROLE)
    assert emitter is not None
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        for event in (
            started(),
            succeeded(),
            BackoffEntered(
                kind="assume_role",
                role_arn=ROLE,
                refresh_id=1,
                deadline=1.0,
                seconds=1.0,
                failures=1,
            ),
        ):
            emitter.emit(event)
    assert calls == 1
    assert len(after.events) == 3
    (warning,) = [r for r in caplog.records if r.name == "aiostscreds.instrumentation"]
    assert "over its budget" in warning.getMessage()


def test_an_emitter_is_the_current_refresh_only_inside_its_block() -> None:
    from aiostscreds.instrumentation._hooks import current_refresh

    emitter = Emitter.for_refresh(None, "assume_role", ROLE)
    assert emitter is not None
    assert current_refresh() is None
    with emitter:
        assert current_refresh() is emitter
    assert current_refresh() is None


# ---------------------------------------------------------------------------
# LoggingHook: today's lines, word for word


def test_logging_hook_writes_the_librarys_lines(caplog: pytest.LogCaptureFixture) -> None:
    hook = LoggingHook()
    with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
        for event in (
            succeeded(),
            failed(recoverable=True),
            failed(recoverable=False),
            CredentialsIssued(
                kind="assume_role",
                role_arn=ROLE,
                refresh_id=1,
                operation="AssumeRole",
                session_name="me",
                expiration=EXPIRES,
                duration=0.012,
            ),
            CredentialsIssued(
                kind="session_token",
                role_arn=None,
                refresh_id=1,
                operation="GetSessionToken",
                session_name=None,
                expiration=EXPIRES,
                duration=0.012,
            ),
            SharedCacheAccessed(
                kind="assume_role",
                role_arn=ROLE,
                refresh_id=1,
                cache="file",
                result="hit",
                cache_name="FileCache('/c')",
                expiration=EXPIRES,
            ),
            SharedCacheAccessed(
                kind="assume_role",
                role_arn=ROLE,
                refresh_id=1,
                cache="redis",
                result="error",
                operation="load",
                error_type="TimeoutError",
                cache_name="RedisCache('redis://h', namespace='n')",
            ),
            started(),  # nothing to say
        ):
            hook(event)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "aiostscreds"]
    assert lines == [
        ("DEBUG", "credentials refreshed: ASIAOBSERVED00000001, advisory window 300 s"),
        (
            "WARNING",
            f"credential refresh failed: AssumeRole for {ROLE} failed: Throttling; "
            "next attempt in 2.5 s",
        ),
        (
            "WARNING",
            f"credential refresh failed: AssumeRole for {ROLE} failed: Throttling; "
            "not recoverable, re-raised for 2.5 s",
        ),
        (
            "INFO",
            f"assumed role {ROLE} as session me until 2030-01-01T00:00:00+00:00 "
            "(AssumeRole took 12 ms)",
        ),
        (
            "INFO",
            "got a session token until 2030-01-01T00:00:00+00:00 (GetSessionToken took 12 ms)",
        ),
        (
            "INFO",
            f"using credentials for {ROLE} from FileCache('/c') until 2030-01-01T00:00:00+00:00",
        ),
        (
            "WARNING",
            "shared cache RedisCache('redis://h', namespace='n') could not load: "
            "TimeoutError; calling STS",
        ),
    ]


# ---------------------------------------------------------------------------
# PrometheusHook on a real registry


def test_prometheus_hook_counts_refreshes_prompts_cache_steps_and_rejections() -> None:
    registry = CollectorRegistry()
    hook = PrometheusHook(registry)
    for event in (
        started(),
        succeeded(callers=10_000),
        failed(),
        MFAPromptFinished(
            kind="assume_role", role_arn=ROLE, refresh_id=1, outcome="answered", duration=1.0
        ),
        MFAPromptFinished(
            kind="assume_role", role_arn=ROLE, refresh_id=2, outcome="timed_out", duration=1.0
        ),
        SharedCacheAccessed(
            kind="assume_role", role_arn=ROLE, refresh_id=1, cache="file", result="hit"
        ),
        KeyRejected(kind="assume_role", role_arn=ROLE, access_key_id="ASIAOBSERVED00000001"),
    ):
        hook(event)
    value = registry.get_sample_value
    assert value("aiostscreds_refreshes_total", {"kind": "assume_role", "outcome": "success"}) == 1
    assert (
        value(
            "aiostscreds_refreshes_total",
            {"kind": "assume_role", "outcome": "recoverable_error"},
        )
        == 1
    )
    assert value("aiostscreds_refresh_callers_sum", {"kind": "assume_role"}) == 10_007
    assert value("aiostscreds_refresh_callers_count", {"kind": "assume_role"}) == 2
    assert value("aiostscreds_refresh_duration_seconds_count", {"kind": "assume_role"}) == 2
    assert (
        value(
            "aiostscreds_credentials_expiry_timestamp_seconds",
            {"kind": "assume_role", "role_arn": ROLE},
        )
        == EXPIRES.timestamp()
    )
    assert value("aiostscreds_mfa_prompts_total", {"outcome": "answered"}) == 1
    assert value("aiostscreds_mfa_prompts_total", {"outcome": "timed_out"}) == 1
    assert value("aiostscreds_shared_cache_total", {"cache": "file", "result": "hit"}) == 1
    assert value("aiostscreds_rejected_keys_total", {"kind": "assume_role"}) == 1


def test_two_prometheus_hooks_on_one_registry_share_its_metrics() -> None:
    registry = CollectorRegistry()
    PrometheusHook(registry)(succeeded())
    PrometheusHook(registry)(succeeded())
    value = registry.get_sample_value(
        "aiostscreds_refreshes_total", {"kind": "assume_role", "outcome": "success"}
    )
    assert value == 2


def test_prometheus_hook_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ConfigurationError, match=r"aiostscreds\[prometheus\]"):
        PrometheusHook()


# ---------------------------------------------------------------------------
# OpenTelemetryHook with the SDK's in-memory exporter


def tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_otel_hook_makes_one_span_per_refresh_with_its_steps_as_events() -> None:
    provider, exporter = tracing()
    hook = OpenTelemetryHook(tracer_provider=provider)
    hook(started(refresh_id=41))
    hook(MFAPromptStarted(kind="assume_role", role_arn=ROLE, refresh_id=41))
    hook(
        MFAPromptFinished(
            kind="assume_role", role_arn=ROLE, refresh_id=41, outcome="answered", duration=0.2
        )
    )
    hook(
        SharedCacheAccessed(
            kind="assume_role", role_arn=ROLE, refresh_id=41, cache="file", result="miss"
        )
    )
    hook(succeeded(refresh_id=41, callers=12))
    (span,) = exporter.get_finished_spans()
    assert span.name == "aiostscreds.refresh"
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "aiostscreds.kind": "assume_role",
        "aiostscreds.role_arn": ROLE,
        "aiostscreds.trigger": "initial",
        "aiostscreds.outcome": "success",
        "aiostscreds.callers": 12,
        "aiostscreds.expiration": EXPIRES.isoformat(),
    }
    assert [event.name for event in span.events] == [
        "aiostscreds.mfa_prompt",
        "aiostscreds.mfa_prompt",
        "aiostscreds.shared_cache",
    ]
    assert span.status.status_code is StatusCode.UNSET


def test_otel_hook_marks_a_failed_refresh_as_an_error_with_its_class() -> None:
    provider, exporter = tracing()
    hook = OpenTelemetryHook(tracer_provider=provider)
    hook(started(refresh_id=42, trigger="mandatory"))
    hook(failed(refresh_id=42))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RefreshError"
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RefreshError"
    assert span.attributes["aiostscreds.recoverable"] is True


def test_otel_hook_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"aiostscreds\[otel\]"):
        OpenTelemetryHook()


# ---------------------------------------------------------------------------
# MFA prompts: one pair of events per token-provider call, whatever the provider


@pytest.mark.anyio
async def test_each_token_provider_call_is_reported_with_its_outcome() -> None:
    registry = CollectorRegistry()
    recorder = Recorder()
    set_hooks([recorder, PrometheusHook(registry)])
    answers = iter(["123456", "12345", "654321"])

    def provider(serial_number: str) -> str:
        return next(answers)

    codes = MFACodes(
        "arn:aws:iam::123456789012:mfa/me", token_code=None, token_provider=provider, timeout=None
    )
    assert await codes.next_code() == "123456"
    with pytest.raises(TokenProviderError):
        await codes.next_code()
    assert await codes.next_code() == "654321"

    async def never(serial_number: str) -> str:
        import anyio

        await anyio.sleep_forever()
        raise AssertionError

    slow = MFACodes(
        "arn:aws:iam::123456789012:mfa/me",
        token_code=None,
        token_provider=never,
        timeout=dt.timedelta(seconds=0.01),
    )
    with pytest.raises(TokenProviderError, match="token_timeout"):
        await slow.next_code()

    assert len(recorder.of(MFAPromptStarted)) == 4
    outcomes = [event.outcome for event in recorder.of(MFAPromptFinished)]
    assert outcomes == ["answered", "failed", "answered", "timed_out"]
    value = registry.get_sample_value
    assert value("aiostscreds_mfa_prompts_total", {"outcome": "answered"}) == 2
    assert value("aiostscreds_mfa_prompts_total", {"outcome": "failed"}) == 1
    assert value("aiostscreds_mfa_prompts_total", {"outcome": "timed_out"}) == 1
    for event in recorder.events:
        assert "123456" not in repr(event) and "654321" not in repr(event)


@pytest.mark.anyio
async def test_a_static_code_is_no_prompt() -> None:
    recorder = Recorder()
    set_hooks([recorder])
    codes = MFACodes(
        "arn:aws:iam::123456789012:mfa/me", token_code="123456", token_provider=None, timeout=None
    )
    assert await codes.next_code() == "123456"
    assert recorder.events == []
