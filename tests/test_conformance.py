"""The 24 AWS cross-SDK credential refresh scenarios, driven through CredentialsCache.

Each scenario is restated here in this project's own terms: a cached state
(none, valid, advisory, mandatory, expired), then steps that get credentials,
move the fake clock, or invalidate a key. Every scenario runs twice:

* with ``serve_expired=True`` and the scenario's own backoff (the cross-SDK
  300-600 s unless it gives one), where all 24 must behave as specified;
* with the library's default policy. There aiostscreds deliberately differs
  where the cached credentials have already expired: STS rejects expired
  tokens, so instead of handing them out the cache raises
  CredentialsExpiredError chained to the refresh error. It also never hands
  out a key passed to ``invalidate()``: until a refresh succeeds, callers get
  CredentialsRejectedError (a CredentialsExpiredError) chained to the refresh
  error. Steps marked ``default=`` below state that documented behaviour.

Under both policies aiostscreds deviates in one more place, as botocore does:
in the advisory window (outside the expiry window), a non-recoverable failure
(AccessDenied, a wrong MFA code, ExpiredToken on the source credentials) does
not fail the caller. The credentials held are still good, so they are served,
and the source is left alone until the 1-5 s error cache has passed. Steps
marked ``ours=`` state that behaviour; the scenario's name keeps the
cross-SDK expectation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from aiostscreds import (
    CredentialsCache,
    CredentialsExpiredError,
    CredentialsRejectedError,
    RefreshError,
    RefreshPolicy,
)

from .fakes import FakeClock, FakeSource, failing, fresh, stale

pytestmark = pytest.mark.anyio

SEED_LIFETIME = 900.0  # the cached credentials live 15 minutes (5-minute advisory window)
# How far to move the clock after seeding to reach each cached state.
STATE_OFFSETS = {"valid": 0.0, "advisory": 720.0, "mandatory": 870.0, "expired": 960.0}


class Get(NamedTuple):
    response: (
        str | None
    )  # "fresh", "error", "stale", "fatal", or None: the source must not be called
    expect: str  # "cached", "new", "error", "fatal"
    contacted: bool
    lifetime: float = 900.0
    advisory_window: float | None = None
    default: str | None = None  # the expectation under the default policy, if it differs
    ours: str | None = None  # the expectation under both policies, where aiostscreds deviates


class Advance(NamedTuple):
    seconds: float


class Invalidate(NamedTuple):
    key: str


class Scenario(NamedTuple):
    name: str
    state: str
    steps: tuple[Any, ...]
    key: str | None = None
    backoff: float | None = None
    advisory_window: float | None = None


SCENARIOS = [
    Scenario(
        "valid credentials are served without a refresh", "valid", (Get(None, "cached", False),)
    ),
    Scenario(
        "advisory window: a successful refresh is served", "advisory", (Get("fresh", "new", True),)
    ),
    Scenario(
        "advisory window: a failed refresh serves the cached credentials",
        "advisory",
        (Get("error", "cached", True),),
    ),
    Scenario(
        "mandatory window: a successful refresh is served",
        "mandatory",
        (Get("fresh", "new", True),),
    ),
    Scenario(
        "mandatory window: a failed refresh serves the cached credentials",
        "mandatory",
        (Get("error", "cached", True),),
    ),
    Scenario("expired: a successful refresh is served", "expired", (Get("fresh", "new", True),)),
    Scenario(
        "expired: a failed refresh serves the expired credentials",
        "expired",
        (Get("error", "cached", True, default="expired"),),
    ),
    Scenario(
        "no credentials: a failed first fetch raises and the next call retries",
        "none",
        (Get("error", "error", True), Get("fresh", "new", True)),
    ),
    Scenario(
        "advisory window: stale credentials from the source count as a failure",
        "advisory",
        (Get("stale", "cached", True),),
    ),
    Scenario(
        "mandatory window: stale credentials from the source count as a failure",
        "mandatory",
        (Get("stale", "cached", True),),
    ),
    Scenario(
        "a 10-minute lifetime selects the 5-minute advisory window",
        "none",
        (Get("fresh", "new", True, lifetime=600, advisory_window=300),),
    ),
    Scenario(
        "a 20.5-minute lifetime selects the 15-minute advisory window",
        "none",
        (Get("fresh", "new", True, lifetime=1230, advisory_window=900),),
    ),
    Scenario(
        "a 6-hour lifetime selects the 60-minute advisory window",
        "none",
        (Get("fresh", "new", True, lifetime=21600, advisory_window=3600),),
    ),
    Scenario(
        "the advisory window is recomputed from each new lifetime",
        "none",
        (
            Get("fresh", "new", True, lifetime=21600, advisory_window=3600),
            Advance(18060),
            Get("fresh", "new", True, lifetime=600, advisory_window=300),
        ),
    ),
    Scenario(
        "a configured advisory window overrides the table",
        "none",
        (Get("fresh", "new", True, lifetime=21600, advisory_window=1800),),
        advisory_window=1800,
    ),
    Scenario(
        "advisory window: a non-recoverable error raises, then is retried after 5 s",
        "advisory",
        (Get("fatal", "fatal", True, ours="cached"), Advance(6), Get("fresh", "new", True)),
    ),
    Scenario(
        "mandatory window: a non-recoverable error raises, then is retried after 5 s",
        "mandatory",
        (Get("fatal", "fatal", True), Advance(6), Get("fresh", "new", True)),
    ),
    Scenario(
        "a non-recoverable error is re-raised without contacting the source",
        "advisory",
        (Get("fatal", "fatal", True, ours="cached"), Get(None, "fatal", False, ours="cached")),
    ),
    Scenario(
        "invalidating the held key makes the next call refresh",
        "valid",
        (Invalidate("AKID-1"), Get("fresh", "new", True)),
        key="AKID-1",
    ),
    Scenario(
        "invalidating the held key, then a failed refresh serves the cached ones",
        "valid",
        (Invalidate("AKID-1"), Get("error", "cached", True, default="rejected")),
        key="AKID-1",
    ),
    Scenario(
        "invalidating during a backoff does not contact the source",
        "expired",
        (
            Get("error", "cached", True, default="expired"),
            Advance(60),
            Invalidate("AKID-1"),
            Get(None, "cached", False, default="rejected"),
            Advance(425),
            Get("fresh", "new", True),
        ),
        key="AKID-1",
        backoff=420,
    ),
    Scenario(
        "invalidating a stale key id changes nothing",
        "valid",
        (Invalidate("AKID-1"), Get(None, "cached", False)),
        key="AKID-2",
    ),
    Scenario(
        "after a failure the source is left alone until the backoff has elapsed",
        "expired",
        (
            Get("error", "cached", True, default="expired"),
            Advance(300),
            Get(None, "cached", False, default="expired"),
            Advance(425),
            Get("fresh", "new", True),
        ),
        backoff=420,
    ),
    Scenario(
        "no credentials: a non-recoverable first failure raises itself, then is retried",
        "none",
        (Get("fatal", "fatal", True), Advance(6), Get("fresh", "new", True)),
    ),
]

OUTCOMES = {
    "fresh": None,  # built per step from its lifetime
    "error": failing(recoverable=True, code="Throttling"),
    "stale": stale(),
    "fatal": failing(recoverable=False, code="AccessDenied"),
}


def test_all_24_scenarios_are_encoded() -> None:
    assert len(SCENARIOS) == 24
    assert len({scenario.name for scenario in SCENARIOS}) == 24


def _policy(scenario: Scenario, *, spec: bool) -> RefreshPolicy:
    if spec:
        backoff = (scenario.backoff, scenario.backoff) if scenario.backoff else (300, 600)
        return RefreshPolicy(
            serve_expired=True, backoff=backoff, advisory_window=scenario.advisory_window
        )
    backoff = (scenario.backoff, scenario.backoff) if scenario.backoff else None
    return RefreshPolicy(backoff=backoff, advisory_window=scenario.advisory_window)


async def _run(scenario: Scenario, *, spec: bool) -> None:
    clock = FakeClock()
    source = FakeSource(clock)
    cache = CredentialsCache(source, refresh=_policy(scenario, spec=spec), clock=clock)
    cached = None
    if scenario.state != "none":
        source.script(fresh(SEED_LIFETIME, key=scenario.key))
        cached = await cache.get()
        clock.advance(STATE_OFFSETS[scenario.state])
        source.calls = 0

    for number, step in enumerate(scenario.steps, 1):
        where = f"{scenario.name}, step {number}"
        if isinstance(step, Advance):
            clock.advance(step.seconds)
            continue
        if isinstance(step, Invalidate):
            cache.invalidate(step.key)
            continue
        if step.response == "fresh":
            source.script(fresh(step.lifetime))
        elif step.response is not None:
            source.script(OUTCOMES[step.response])
        calls_before = source.calls
        expect = step.expect if spec or step.default is None else step.default
        expect = step.ours or expect

        if expect in ("cached", "new"):
            result = await cache.get()
            if expect == "cached":
                assert result is cached, where
            else:
                assert result is not cached, where
                assert result.expires_at == pytest.approx(clock() + step.lifetime), where
                cached = result
        elif expect in ("expired", "rejected"):
            with pytest.raises(CredentialsExpiredError) as caught:
                await cache.get()
            rejected = isinstance(caught.value, CredentialsRejectedError)
            assert rejected is (expect == "rejected"), where
            assert isinstance(caught.value.__cause__, RefreshError), where
            assert caught.value.__cause__.recoverable, where
        else:
            with pytest.raises(RefreshError) as raised:
                await cache.get()
            assert raised.value.recoverable is (expect == "error"), where

        assert (source.calls > calls_before) is step.contacted, where
        assert source.calls - calls_before <= 1, where
        if step.advisory_window is not None:
            assert cache.advisory_window == step.advisory_window, where


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_scenario_as_specified_with_serve_expired(scenario: Scenario) -> None:
    await _run(scenario, spec=True)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_scenario_under_the_default_policy(scenario: Scenario) -> None:
    await _run(scenario, spec=False)
