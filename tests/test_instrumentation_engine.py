"""The engine's events, counted on real backends: a Prometheus registry and the OTel SDK.

Each scenario of issue 18 (a storm, a failure with backoff, a forced refresh, an
MFA prompt, a shared-cache hit, a rejected key) runs with a recording hook, a
``PrometheusHook`` on a fresh ``CollectorRegistry`` and an ``OpenTelemetryHook``
exporting to the SDK's ``InMemorySpanExporter``; then the events, samples and
spans are counted, and searched for every secret the scenario handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from aiostscreds import (
    AssumeRoleProvider,
    Credentials,
    CredentialsCache,
    FileCache,
    RefreshError,
    RefreshPolicy,
)
from aiostscreds.instrumentation import (
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

from .conftest import MFA_SERIAL, ROLE_ARN
from .fakes import FakeClock, FakeSource, Recorder, failing, fresh

pytestmark = pytest.mark.anyio


class Observed:
    """The three backends a scenario reports to."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.registry = CollectorRegistry()
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.hooks = [
            LoggingHook(),
            self.recorder,
            PrometheusHook(self.registry),
            OpenTelemetryHook(tracer_provider=provider),
        ]

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    @property
    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())

    def texts(self) -> list[str]:
        """Everything the hooks were given or made: events, samples with labels, spans."""
        found = [repr(event) for event in self.recorder.events]
        for metric in self.registry.collect():
            for sample in metric.samples:
                found.append(f"{sample.name} {sample.labels} {sample.value}")
        for span in self.spans:
            found.append(f"{span.name} {dict(span.attributes or {})} {span.status.description}")
            for event in span.events:
                found.append(f"{event.name} {dict(event.attributes or {})}")
        return found

    def assert_no_secret(self, *secrets: str) -> None:
        texts = self.texts()
        assert texts
        for secret in secrets:
            assert secret
            leaks = [text for text in texts if secret in text]
            assert not leaks, f"a secret reached the instrumentation: {leaks[:3]}"


@pytest.fixture
def observed() -> Iterator[Observed]:
    saved = get_hooks()
    found = Observed()
    set_hooks(found.hooks)
    yield found
    set_hooks(saved)


def secrets_of(*credentials: Credentials | None) -> list[str]:
    return [
        secret
        for held in credentials
        if held is not None
        for secret in (held.secret_access_key, held.session_token)
    ]


def make_cache(*outcomes: Any, policy: RefreshPolicy | None = None, **options: Any) -> Any:
    clock = FakeClock()
    source = FakeSource(clock, *outcomes)
    cache = CredentialsCache(source, refresh=policy or RefreshPolicy(), clock=clock, **options)
    return clock, source, cache


async def storm(cache: CredentialsCache, source: FakeSource, waiters: int) -> list[object]:
    """``waiters`` tasks call ``get()`` at once; the source answers once all of them wait."""
    results: list[object] = []
    arrived = 0
    all_in = anyio.Event()
    source.hold()

    async def one() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == waiters:
            all_in.set()  # get() below registers before this task next yields
        try:
            results.append(await cache.get())
        except Exception as error:
            results.append(error)

    async def answer() -> None:
        await all_in.wait()
        source.release()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(answer)
        for _ in range(waiters):
            tasks.start_soon(one)
    return results


# ---------------------------------------------------------------------------
# A storm


async def test_a_storm_makes_one_refresh_event_pair_that_counts_every_caller(
    observed: Observed,
) -> None:
    clock, source, cache = make_cache(fresh())
    results = await storm(cache, source, 2_000)
    assert source.calls == 1
    assert all(isinstance(result, Credentials) for result in results)
    (started,) = observed.recorder.of(RefreshStarted)
    (finished,) = observed.recorder.of(RefreshFinished)
    assert started.trigger == "initial" and started.kind == "custom"
    assert finished.refresh_id == started.refresh_id
    assert finished.outcome == "success" and finished.callers == 2_000
    assert finished.expiration == results[0].expiration  # type: ignore[union-attr]
    assert observed.value("aiostscreds_refreshes_total", kind="custom", outcome="success") == 1
    assert observed.value("aiostscreds_refresh_callers_sum", kind="custom") == 2_000
    assert observed.value("aiostscreds_refresh_callers_count", kind="custom") == 1
    (span,) = observed.spans
    assert span.attributes["aiostscreds.callers"] == 2_000
    assert span.attributes["aiostscreds.trigger"] == "initial"
    observed.assert_no_secret(*secrets_of(cache.credentials))


async def test_fresh_credentials_are_served_without_a_single_event(observed: Observed) -> None:
    clock, source, cache = make_cache(fresh())
    await cache.get()
    after_refresh = len(observed.recorder.events)
    for _ in range(1_000):
        await cache.get()
        cache.current()
    assert source.calls == 1
    assert len(observed.recorder.events) == after_refresh  # the hot path emits nothing


async def test_with_every_hook_on_a_ten_thousand_waiter_storm_makes_one_event_pair(
    backend_name: str,
) -> None:
    # The benchmark's own measurement, once, at the N: it counts the events.
    from benchmarks import contenders as c
    from benchmarks.instrumentation import hooks_storm

    for key in (c.CACHE, c.PROVIDER):
        figures = await hooks_storm(key, backend_name, 10_000, repeats=1, latency=0.01)
        assert figures["one_event_pair_per_storm"], figures["events_per_storm"]
        assert figures["callers_per_storm"] == [10_000]
        assert figures["spans_per_storm"] == 1
        assert figures["on"]["got_credentials_min"] == 10_000
        assert figures["on"]["source_calls_max"] == 1


# ---------------------------------------------------------------------------
# Triggers


async def test_each_refresh_says_what_triggered_it(observed: Observed) -> None:
    clock, source, cache = make_cache(fresh(900), fresh(900), fresh(900), fresh(900), fresh(900))
    await cache.get()  # initial
    clock.advance(900 - (cache.advisory_window or 0) + 1)
    await cache.get()  # advisory: the first caller refreshes
    clock.advance(900 - 30)
    await cache.get()  # mandatory: inside the expiry window
    await cache.force_refresh()  # forced
    cache.invalidate(cache.credentials.access_key_id)  # type: ignore[union-attr]
    await cache.get()  # rejected key
    triggers = [event.trigger for event in observed.recorder.of(RefreshStarted)]
    assert triggers == ["initial", "advisory", "mandatory", "forced", "rejected_key"]
    finished = observed.recorder.of(RefreshFinished)
    assert [event.trigger for event in finished] == triggers
    assert [event.callers for event in finished] == [1, 1, 1, 1, 1]


# ---------------------------------------------------------------------------
# A failure with backoff


async def test_a_failed_refresh_reports_its_error_and_the_backoff(
    observed: Observed, caplog: pytest.LogCaptureFixture
) -> None:
    clock, source, cache = make_cache(fresh(900), failing(recoverable=True))
    held = await cache.get()
    clock.advance(900 - 30)  # expiry window: every caller waits, and is served the held key
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        results = await storm(cache, source, 50)
    assert all(result is held for result in results)
    first, second = observed.recorder.of(RefreshFinished)
    assert second.outcome == "recoverable_error"
    assert second.error_type == "RefreshError" and second.recoverable is True
    assert second.callers == 50 and second.expiration is None
    (backoff,) = observed.recorder.of(BackoffEntered)
    assert backoff.refresh_id == second.refresh_id
    assert backoff.deadline == pytest.approx(clock() + backoff.seconds)
    assert second.retry_in == pytest.approx(backoff.seconds)
    assert backoff.failures == 1
    kind = "custom"
    assert observed.value("aiostscreds_refreshes_total", kind=kind, outcome="success") == 1
    assert (
        observed.value("aiostscreds_refreshes_total", kind=kind, outcome="recoverable_error") == 1
    )
    failed_span = observed.spans[-1]
    assert failed_span.status.status_code is StatusCode.ERROR
    assert failed_span.status.description == "RefreshError"
    assert [event.name for event in failed_span.events] == ["aiostscreds.backoff"]
    # The LoggingHook's line, once for the 50 waiters.
    lines = [r.getMessage() for r in caplog.records if r.name == "aiostscreds"]
    assert len(lines) == 1 and "next attempt in" in lines[0]
    observed.assert_no_secret(*secrets_of(held))


async def test_a_non_recoverable_failure_is_an_error_outcome_without_backoff(
    observed: Observed,
) -> None:
    clock, source, cache = make_cache(failing(recoverable=False, code="AccessDenied"))
    with pytest.raises(RefreshError):
        await cache.get()
    (finished,) = observed.recorder.of(RefreshFinished)
    assert finished.outcome == "error" and finished.recoverable is False
    assert finished.retry_in is not None  # how long the error is cached
    assert observed.recorder.of(BackoffEntered) == []
    assert observed.value("aiostscreds_refreshes_total", kind="custom", outcome="error") == 1


# ---------------------------------------------------------------------------
# A forced refresh


async def test_a_forced_refresh_joined_by_callers_is_one_refresh(observed: Observed) -> None:
    clock, source, cache = make_cache(fresh(900), fresh(900))
    first = await cache.get()
    clock.advance(900 - 30)
    source.hold()
    arrived = 0
    all_in = anyio.Event()

    async def joiner() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == 9:
            all_in.set()  # get() below registers before this task next yields
        await cache.get()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cache.force_refresh)
        assert source.entered is not None
        await source.entered.wait()
        for _ in range(9):
            tasks.start_soon(joiner)
        await all_in.wait()
        source.release()
    assert source.calls == 2
    forced = observed.recorder.of(RefreshFinished)[-1]
    assert forced.trigger == "forced" and forced.callers == 10
    assert observed.spans[-1].attributes["aiostscreds.trigger"] == "forced"
    observed.assert_no_secret(*secrets_of(first, cache.credentials))


# ---------------------------------------------------------------------------
# Without hooks, or with hooks of the cache's own


async def test_set_hooks_empty_silences_the_refresh_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    saved = get_hooks()
    set_hooks([])
    try:
        clock, source, cache = make_cache(fresh(900), failing())
        await cache.get()
        clock.advance(870)
        with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
            await cache.get()
    finally:
        set_hooks(saved)
    assert [r for r in caplog.records if r.name == "aiostscreds"] == []


async def test_a_caches_own_hooks_replace_the_process_wide_ones() -> None:
    process, own = Recorder(), Recorder()
    saved = get_hooks()
    set_hooks([process])
    try:
        clock, source, cache = make_cache(fresh(900), hooks=[own])
        await cache.get()
    finally:
        set_hooks(saved)
    assert process.events == []
    assert [type(event) for event in own.events] == [RefreshStarted, RefreshFinished]


async def test_hooks_that_raise_or_block_never_change_what_callers_get(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import time

    from aiostscreds.instrumentation import HOOK_TIME_BUDGET

    calls = {"broken": 0, "slow": 0}

    def broken(event: Event) -> None:
        calls["broken"] += 1
        raise ValueError("a bug in a hook")

    def slow(event: Event) -> None:
        calls["slow"] += 1
        time.sleep(HOOK_TIME_BUDGET * 1.5)

    clock, source, cache = make_cache(fresh(900), hooks=[broken, slow])
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        results = await storm(cache, source, 100)
    assert all(isinstance(result, Credentials) for result in results)
    assert calls == {"broken": 1, "slow": 1}  # dropped for the rest of the refresh
    warnings = [r for r in caplog.records if r.name == "aiostscreds.instrumentation"]
    assert len(warnings) == 2


@pytest.mark.parametrize("raised", [asyncio.CancelledError, GeneratorExit])
@pytest.mark.parametrize("on", [RefreshStarted, RefreshFinished])
async def test_a_hook_raising_a_base_exception_never_changes_what_callers_get(
    raised: type[BaseException], on: type[Event], caplog: pytest.LogCaptureFixture
) -> None:
    # A synchronous hook cannot be cancelled by anyone: a CancelledError out of
    # it is the hook's own, and must not cancel the caller or hang the waiters.
    calls = 0

    def broken(event: Event) -> None:
        nonlocal calls
        if isinstance(event, on):
            calls += 1
            raise raised()

    after = Recorder()
    clock, source, cache = make_cache(fresh(900), hooks=[broken, after])
    with caplog.at_level(logging.WARNING, logger="aiostscreds"), anyio.fail_after(10):
        results = await storm(cache, source, 20)
    assert all(isinstance(result, Credentials) for result in results)
    assert source.calls == 1
    assert calls == 1
    assert [type(event) for event in after.events] == [RefreshStarted, RefreshFinished]
    warnings = [r for r in caplog.records if r.name == "aiostscreds.instrumentation"]
    assert len(warnings) == 1
    assert f"raised {raised.__name__}" in warnings[0].getMessage()
    await cache.aclose()


# ---------------------------------------------------------------------------
# A rejected key


async def test_a_rejected_key_is_reported_once_however_often_it_is_invalidated(
    observed: Observed,
) -> None:
    clock, source, cache = make_cache(fresh(900), fresh(900))
    held = await cache.get()
    for _ in range(3):
        cache.invalidate(held.access_key_id)
    cache.invalidate("ASIANOTHELD000000000")  # not held: nothing
    (rejected,) = observed.recorder.of(KeyRejected)
    assert rejected.access_key_id == held.access_key_id
    assert observed.value("aiostscreds_rejected_keys_total", kind="custom") == 1
    new = await cache.get()
    assert new.access_key_id != held.access_key_id
    assert observed.recorder.of(RefreshStarted)[-1].trigger == "rejected_key"
    observed.assert_no_secret(*secrets_of(held, new))


# ---------------------------------------------------------------------------
# Against moto: an MFA prompt, the STS call, a shared-cache hit


async def test_an_mfa_refresh_reports_the_prompt_and_the_sts_call_inside_its_span(
    observed: Observed, sts_client: Any
) -> None:
    codes: list[str] = []

    async def token_provider(serial_number: str) -> str:
        codes.append(f"{len(codes) + 314159:06d}")
        return codes[-1]

    async with AssumeRoleProvider(
        sts_client, ROLE_ARN, serial_number=MFA_SERIAL, token_provider=token_provider
    ) as provider:
        credentials = await provider.get_credentials()
        await provider.force_refresh()
    (prompt, again) = observed.recorder.of(MFAPromptStarted)
    started = observed.recorder.of(RefreshStarted)
    assert [event.refresh_id for event in (prompt, again)] == [s.refresh_id for s in started]
    assert [event.outcome for event in observed.recorder.of(MFAPromptFinished)] == [
        "answered",
        "answered",
    ]
    issued = observed.recorder.of(CredentialsIssued)
    assert [event.operation for event in issued] == ["AssumeRole", "AssumeRole"]
    assert all(event.kind == "assume_role" and event.role_arn == ROLE_ARN for event in issued)
    assert observed.value("aiostscreds_mfa_prompts_total", outcome="answered") == 2
    assert (
        observed.value(
            "aiostscreds_credentials_expiry_timestamp_seconds",
            kind="assume_role",
            role_arn=ROLE_ARN,
        )
        is not None
    )
    first = observed.spans[0]
    assert first.attributes["aiostscreds.role_arn"] == ROLE_ARN
    assert [event.name for event in first.events] == [
        "aiostscreds.mfa_prompt",
        "aiostscreds.mfa_prompt",
        "aiostscreds.credentials_issued",
    ]
    observed.assert_no_secret(*codes, *secrets_of(credentials))


async def test_a_shared_cache_hit_is_reported_with_the_cache_kind(
    observed: Observed, sts_client: Any, tmp_path: Path
) -> None:
    cache = FileCache(tmp_path / "cache")
    async with AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache) as first:
        credentials = await first.get_credentials()
    async with AssumeRoleProvider(sts_client, ROLE_ARN, cache=cache) as second:
        assert (await second.get_credentials()).access_key_id == credentials.access_key_id
    results = [event.result for event in observed.recorder.of(SharedCacheAccessed)]
    assert results == ["miss", "store", "hit"]
    assert all(event.cache == "file" for event in observed.recorder.of(SharedCacheAccessed))
    assert observed.value("aiostscreds_shared_cache_total", cache="file", result="hit") == 1
    assert observed.value("aiostscreds_shared_cache_total", cache="file", result="miss") == 1
    assert observed.value("aiostscreds_shared_cache_total", cache="file", result="store") == 1
    assert len(observed.recorder.of(CredentialsIssued)) == 1  # the hit made no STS call
    hit_span = observed.spans[-1]
    assert [event.attributes["aiostscreds.cache.result"] for event in hit_span.events] == ["hit"]
    observed.assert_no_secret(*secrets_of(credentials))


async def test_a_failing_shared_cache_is_reported_as_an_error_and_refreshes_anyway(
    observed: Observed, sts_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def locked(self, key: str, *, mfa: bool = False) -> Any:
            raise ConnectionError("down")

        async def load(self, key: str, *, role_arn: str | None = None) -> None:
            raise ConnectionError("down")

        async def store(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("down")

    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        async with AssumeRoleProvider(sts_client, ROLE_ARN, cache=Broken()) as provider:
            await provider.get_credentials()
    errors = observed.recorder.of(SharedCacheAccessed)
    assert [(event.result, event.operation) for event in errors] == [
        ("error", "lock"),
        ("error", "load"),
        ("error", "store"),
    ]
    assert all(event.cache == "custom" for event in errors)
    assert observed.value("aiostscreds_shared_cache_total", cache="custom", result="error") == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "aiostscreds"]
    assert any("could not lock: ConnectionError; refreshing without the lock" in m for m in lines)


def test_the_cache_label_names_the_librarys_caches_and_calls_the_rest_custom(
    tmp_path: Path,
) -> None:
    from aiostscreds import RedisCache
    from aiostscreds._cache import _shared_cache_kind

    redis = RedisCache("redis://127.0.0.1:6379/0", encryption_keys=[b"k" * 32])  # no connection
    assert _shared_cache_kind(FileCache(tmp_path)) == "file"
    assert _shared_cache_kind(redis) == "redis"
    assert _shared_cache_kind(object()) == "custom"  # type: ignore[arg-type]


async def test_concurrent_rejections_of_one_key_by_a_service_are_one_event(
    observed: Observed, sts_client: Any, moto_endpoint: str, client_config: Any
) -> None:
    # Real aiobotocore clients of an installed session; the service (a canned
    # GetCallerIdentity) refuses the first key for every one of n concurrent calls.
    from .test_rejected_keys import CannedService, installed_client

    n = 200
    async with AssumeRoleProvider(sts_client, ROLE_ARN, role_session_name="observed") as provider:
        first = await provider.get_credentials()
        service = CannedService(lambda key: key == first.access_key_id)
        all_signed = anyio.Event()

        async def hold(index: int, key: str) -> None:
            if index == n - 1:
                all_signed.set()
            if key == first.access_key_id:
                await all_signed.wait()  # every first attempt is refused together

        service.hold = hold
        async with installed_client(provider, moto_endpoint, client_config) as sts:
            sts.meta.events.register("before-send.sts.GetCallerIdentity", service)
            async with anyio.create_task_group() as group:
                for _ in range(n):
                    group.start_soon(sts.get_caller_identity)
        second = await provider.get_credentials()
    (rejected,) = observed.recorder.of(KeyRejected)
    assert rejected.access_key_id == first.access_key_id
    assert rejected.kind == "assume_role" and rejected.role_arn == ROLE_ARN
    assert observed.value("aiostscreds_rejected_keys_total", kind="assume_role") == 1
    triggers = [event.trigger for event in observed.recorder.of(RefreshStarted)]
    assert triggers == ["initial", "rejected_key"]
    assert len(observed.spans) == 2
    observed.assert_no_secret(*secrets_of(first, second))


async def test_a_providers_own_hooks_get_its_events_the_process_wide_ones_none(
    sts_client: Any,
) -> None:
    process, own = Recorder(), Recorder()
    saved = get_hooks()
    set_hooks([process])
    try:
        async with AssumeRoleProvider(sts_client, ROLE_ARN, hooks=[own]) as provider:
            await provider.get_credentials()
            await provider.retrieve()  # a direct fetch: the provider's hooks too
    finally:
        set_hooks(saved)
    assert process.events == []
    assert [type(event).__name__ for event in own.events] == [
        "RefreshStarted",
        "CredentialsIssued",
        "RefreshFinished",
        "CredentialsIssued",
    ]
    assert all(event.kind == "assume_role" for event in own.events)  # type: ignore[attr-defined]
