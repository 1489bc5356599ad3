"""The benchmark scenarios at tiny N, so that the benchmarks cannot rot.

Counts only (source calls, prompts, errors delivered, survivors served),
never times: timing belongs to ``python -m benchmarks``, not to the tests.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from benchmarks import contenders as c
from benchmarks import report, scenarios

pytestmark = pytest.mark.anyio

_real_collector_paused = scenarios.collector_paused


@pytest.fixture(autouse=True)
def no_full_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the full garbage collection before each timed section: nothing is timed here."""
    monkeypatch.setattr(scenarios, "collector_paused", lambda **_: contextlib.nullcontext())


def test_storms_run_with_the_collector_on_only_when_asked() -> None:
    import gc

    # The autouse fixture replaces scenarios.collector_paused; this is the real one.
    was = gc.isenabled()
    try:
        gc.disable()
        with _real_collector_paused(gc_on=True):
            assert gc.isenabled()
        assert not gc.isenabled()
        gc.enable()
        with _real_collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


WAITERS = 60
LATENCY = 0.005  # the fake STS's, instead of 50 ms
OURS = (c.CACHE, c.PROVIDER)


async def test_hot_path_serves_every_contender_without_refreshing(backend_name: str) -> None:
    figures = await scenarios.hot_path(
        c.HOT_PATH_CONTENDERS, backend_name, calls=200, aiobotocore_calls=20, batches=2
    )
    assert set(figures) == set(c.HOT_PATH_CONTENDERS)
    for key, figure in figures.items():
        assert figure["calls"] == (20 if key in c.AIOBOTOCORE_CONTENDERS else 200)
        assert len(figure["batch_cpu_ns"]) == 2


@pytest.mark.parametrize("key", OURS)
async def test_success_storm_makes_one_call_and_one_prompt(backend_name: str, key: str) -> None:
    run = await scenarios.success_storm(key, backend_name, WAITERS, latency=LATENCY)
    assert run["source_calls"] == 1
    assert run["prompts"] == 1
    assert run["got_credentials"] == WAITERS
    assert run["got_error"] == run["unserved"] == 0
    assert run["arrived_before_answer"] == WAITERS


@pytest.mark.parametrize("key", (c.BOTO_DEFERRED_DEFAULT, c.BOTO_DEFERRED_FAIR))
async def test_aiobotocore_success_storm_is_measured_too(backend_name: str, key: str) -> None:
    run = await scenarios.success_storm(key, backend_name, WAITERS, latency=LATENCY)
    assert run["source_calls"] == run["prompts"] == 1
    assert run["got_credentials"] == WAITERS


async def test_event_floor_releases_every_waiter(backend_name: str) -> None:
    run = await scenarios.event_floor(backend_name, WAITERS, latency=LATENCY)
    assert run["got_credentials"] == WAITERS
    assert run["release_after_answer_s"] is not None


@pytest.mark.parametrize("key", OURS)
async def test_failure_storm_delivers_one_error_to_every_waiter(
    backend_name: str, key: str
) -> None:
    run = await scenarios.failure_storm(key, backend_name, WAITERS, latency=LATENCY)
    assert run["source_calls"] == 1
    assert run["prompts"] == 1
    assert run["got_error"] == WAITERS
    assert run["got_credentials"] == run["unserved"] == 0
    assert not run["cut_short"]


async def test_aiobotocore_failure_storm_refreshes_once_per_waiter(backend_name: str) -> None:
    # Three waiters, one refresh each, one after the other: no budget needed.
    run = await scenarios.failure_storm(c.BOTO_DEFERRED_FAIR, backend_name, 3, latency=LATENCY)
    assert run["got_error"] == 3
    assert run["source_calls"] == run["prompts"] == 3


async def test_failure_storm_budget_cuts_aiobotocore_short(backend_name: str) -> None:
    run = await scenarios.failure_storm(c.BOTO_DEFERRED_DEFAULT, backend_name, WAITERS, budget=0.01)
    assert run["cut_short"]
    assert 1 <= run["got_error"] < WAITERS
    assert run["got_error"] + run["unserved"] == WAITERS
    assert run["source_calls"] == run["prompts"] >= run["got_error"]


@pytest.mark.parametrize("key", OURS)
async def test_cancellation_storm_survivors_get_credentials_from_one_call(
    backend_name: str, key: str
) -> None:
    run = await scenarios.cancellation_storm(key, backend_name, WAITERS, latency=LATENCY)
    assert run["leader_cancelled"]
    assert run["cancelled"] == run["cancelled_returned"] == WAITERS // 2
    assert run["cancelled_but_served"] == 0
    assert run["source_calls"] == run["prompts"] == 1
    assert run["survivors_got_credentials"] == run["survivors"] == WAITERS - WAITERS // 2
    assert run["survivors_failed"] == 0


async def test_cancellation_storm_costs_aiobotocore_a_second_call(backend_name: str) -> None:
    run = await scenarios.cancellation_storm(
        c.BOTO_DEFERRED_DEFAULT, backend_name, WAITERS, latency=LATENCY
    )
    assert run["leader_cancelled"]
    assert run["survivors_got_credentials"] == run["survivors"]
    assert run["source_calls"] == run["prompts"] == 2


def _tiny_results() -> dict[str, Any]:
    def storm(release: float, *, calls: int = 1, error: bool = False) -> dict[str, Any]:
        run = {
            "waiters": 10,
            "source_calls": calls,
            "prompts": calls,
            "got_credentials": 0 if error else 10,
            "got_error": 10 if error else 0,
            "unserved": 0,
            "release_after_answer_s": release,
            "release_after_answer_wall_s": release,
            "wall_s": 0.1,
            "budget_s": None,
            "cut_short": False,
        }
        return report.summarize_runs([run])

    hot = {key: {"ns_per_call": 100.0} for key in c.HOT_PATH_CONTENDERS}
    hot.update(
        {c.BOTO_FAIR: {"ns_per_call": 5000.0}, c.BOTO_DEFERRED_FAIR: {"ns_per_call": 4000.0}}
    )
    backend = {
        "hot_path": hot,
        "success_storm": {
            "10": {
                c.FLOOR: storm(0.010),
                c.CACHE: storm(0.012),
                c.PROVIDER: storm(0.020),
                c.BOTO_DEFERRED_DEFAULT: storm(0.05),
                c.BOTO_DEFERRED_FAIR: storm(0.05),
            }
        },
        "failure_storm": {
            "10": {
                c.FLOOR: storm(0.010),
                c.CACHE: storm(0.012, error=True),
                c.PROVIDER: storm(0.012, calls=2, error=True),
                c.BOTO_DEFERRED_DEFAULT: storm(0.05, calls=10, error=True),
                c.BOTO_DEFERRED_FAIR: storm(0.05, calls=10, error=True),
            }
        },
        "success_storm_gc_on": {
            "10": {c.FLOOR: storm(0.010), c.CACHE: storm(0.014), c.PROVIDER: storm(0.016)}
        },
        "failure_storm_gc_on": {
            "10": {
                c.FLOOR: storm(0.010),
                c.CACHE: storm(0.014, error=True),
                c.PROVIDER: storm(0.030, error=True),
            }
        },
        "cancellation_storm": {
            key: [
                {
                    "waiters": 10,
                    "survivors": 5,
                    "survivors_got_credentials": 5,
                    "leader_cancelled": True,
                    "source_calls": 1,
                }
            ]
            for key in OURS
        },
        "end_to_end": {
            "installed_median_ratio": 0.96,
            "control_median_ratio": 0.99,
            "calls_per_round": 10,
        },
    }
    return {"asyncio": backend, "trio": backend}


def test_targets_are_judged_from_the_figures() -> None:
    targets = report.evaluate_targets(_tiny_results())

    def verdicts(prefix: str, where: str = "asyncio") -> list[bool]:
        return [
            t["met"]
            for t in targets
            if t["target"].startswith(prefix) and t["where"].startswith(where)
        ]

    assert verdicts("hot path <= 1.3x", "asyncio, CredentialsCache") == [True]
    assert verdicts(">= 30x faster") == [True, True, True]  # 4000 / 100 = 40x
    cache, provider = "asyncio, N=10, CredentialsCache", "asyncio, N=10, AssumeRoleProvider"
    assert verdicts("success storm: all waiters released", cache) == [True]  # 1.2x
    assert verdicts("success storm: all waiters released", provider) == [False]  # 2.0x
    assert verdicts("failure storm: 1 source call", cache) == [True]
    assert verdicts("failure storm: 1 source call", provider) == [False]  # 2 calls
    assert verdicts("success storm, GC on", cache) == [True]  # 1.4x
    assert verdicts("success storm, GC on", provider) == [False]  # 1.6x
    assert verdicts("failure storm, GC on", cache) == [True]
    assert verdicts("failure storm, GC on", provider) == [False]  # 3.0x
    assert verdicts("cancellation storm") == [True, True]
    assert verdicts("end to end", "") == [False, False]  # 0.96 < 0.97


def test_a_tiny_run_measures_everything_and_writes_the_report(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # A plain test: measure() runs asyncio and then trio itself.
    from benchmarks.__main__ import Settings, measure

    tiny = Settings(
        mode="tiny",
        hot_calls=100,
        hot_aiobotocore_calls=10,
        hot_batches=1,
        storm_sizes=(WAITERS,),
        storm_repeats={WAITERS: 1},
        aiobotocore_repeats={WAITERS: 1},
        aiobotocore_failure_budget=0.02,
        cancellation_waiters=WAITERS,
        cancellation_repeats=1,
        e2e_calls=6,
        e2e_sets=1,
        e2e_refreshes=1,
        sts_latency=LATENCY,
        warm_up=False,
        fleet_sizes=(2,),
        fleet_samples=5,
        fleet_refreshes=1,
        hooks_waiters=WAITERS,
        hooks_repeats=2,
        cli_runs=1,
        cli_clients=(5,),
        cli_seconds=0.2,
        cli_rounds=1,
    )
    results = measure(tiny, moto_endpoint, command="pytest")
    # The command's measurement ran at the tiny settings, not the quick or full ones.
    assert results["cli"]["credential_process_warm"]["runs"] == 1
    assert set(results["cli"]["serve"]) == {"5", "sts_calls"}
    # Two processes refreshing together: two STS calls alone, one through either cache.
    calls = results["fleet"]["calls_per_refresh"]
    assert {kind: calls[kind]["2"] for kind in calls} == {"none": 2, "file": 1, "redis": 1}
    for backend in ("asyncio", "trio"):
        end_to_end = results[backend]["end_to_end"]
        assert end_to_end["failed_calls"] == 0
        assert end_to_end["assume_role_calls_per_round"] == [1]
        assert [r["contender"] for r in end_to_end["rounds"]] == ["static", "installed", "control"]
        assert ":assumed-role/aiostscreds-bench-e2e/" in end_to_end["identity"]
    for backend in ("asyncio", "trio"):
        for storm in ("success_storm_gc_on", "failure_storm_gc_on"):
            runs = results[backend][storm][str(WAITERS)]
            assert set(runs) >= {c.FLOOR, *OURS}
            for key in OURS:
                assert runs[key]["source_calls_max"] == runs[key]["prompts_max"] == 1
    gc_on_checks = [t for t in results["targets"] if ", GC on:" in t["target"]]
    assert len(gc_on_checks) == 2 * 2 * 2  # backends x storms x contenders
    counted = [t for t in results["targets"] if t["limit"].startswith("1 call")]
    assert len(counted) == 2 * (2 * 2 + 2)  # backends x (2 storms x 2 contenders + cancellation)
    assert all(t["met"] for t in counted)
    images = report.plot(results, tmp_path / "img")
    assert all(path.stat().st_size > 10_000 for path in images.values())
    text = report.markdown(results, images, tmp_path)
    assert "| GC on: release, ms | GC on: x floor |" in text
    for heading in ("## Targets", "## Hot path", "## Failure storm", "## End to end", "## Fleet"):
        assert heading in text
    assert "](img/release_latency.png)" in text


def test_cli_benchmark_counts_no_sts_call_on_the_warm_path(moto_endpoint: str) -> None:
    from benchmarks import cli

    warm = cli.credential_process_warm(moto_endpoint, runs=1)
    assert warm["sts_calls"] == 0 and warm["runs"] == 1
    serve = cli.serve_throughput(moto_endpoint, clients=(5,), seconds=0.2, rounds=1)
    assert serve["sts_calls"] == 1
    assert serve["5"]["serve"]["requests"] > 0 and serve["5"]["floor"]["requests"] > 0
    assert [t["met"] in (True, False) for t in report.cli_targets({
        "credential_process_warm": warm, "serve": {"100": serve["5"], "1000": serve["5"], "sts_calls": 1}
    })] == [True, True, True]
    assert report.cli_lines({"credential_process_warm": warm, "serve": serve})[0].startswith("## ")
