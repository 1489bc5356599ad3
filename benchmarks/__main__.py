"""``python -m benchmarks [--quick]``: every measurement, one process, then the report.

Writes ``benchmarks/results/latest.json``, ``docs/benchmarks.md`` and the PNG
plots in ``docs/img/``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs

from . import cli, fleet, instrumentation, report, scenarios
from . import contenders as c
from .end_to_end import end_to_end, isolate_aws_environment, local_sts

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("asyncio", "trio")


@attrs.frozen
class Settings:
    """How much of everything to measure.

    Attributes:
        mode: ``"full"`` or ``"quick"``.
        hot_calls: Hot-path calls per aiostscreds contender and the floor.
        hot_aiobotocore_calls: Hot-path calls per aiobotocore contender.
        hot_batches: Batches the hot-path calls are split into.
        storm_sizes: The N of the success and failure storms.
        storm_repeats: Runs per contender at each N (a dict N -> runs).
        aiobotocore_repeats: Runs of each aiobotocore storm at each N.
        aiobotocore_failure_budget: Seconds the aiobotocore failure storm runs
            after the source's first failure.
        cancellation_waiters: Waiters of the cancellation storm.
        cancellation_repeats: Runs per contender of the cancellation storm.
        e2e_calls: Concurrent calls per end-to-end round.
        e2e_sets: Sets of end-to-end rounds (one round per client), per backend.
        e2e_refreshes: Forced refreshes per end-to-end round.
        sts_latency: Seconds the fake STS takes to answer or fail.
        warm_up: Whether each storm first runs every contender once, unrecorded.
        fleet_sizes: The K of the fleet scenario (processes refreshing together).
        fleet_samples: Samples of the Redis hit latency.
        fleet_refreshes: Refreshes the fleet makes together, per cache and K.
        cli_runs: Warm ``credential-process`` runs (each of the command and the floor).
        cli_clients: The numbers of concurrent clients ``serve`` is loaded with.
        cli_seconds: Seconds of load per ``serve`` round.
        cli_rounds: Rounds per client count (the best is kept).
    """

    mode: str
    hot_calls: int
    hot_aiobotocore_calls: int
    hot_batches: int
    storm_sizes: tuple[int, ...]
    storm_repeats: dict[int, int]
    aiobotocore_repeats: dict[int, int]
    aiobotocore_failure_budget: float
    cancellation_waiters: int
    cancellation_repeats: int
    e2e_calls: int
    e2e_sets: int
    e2e_refreshes: int
    sts_latency: float = c.STS_LATENCY
    warm_up: bool = True
    fleet_sizes: tuple[int, ...] = (1, 4, 16)
    fleet_samples: int = 2000
    fleet_refreshes: int = 3
    hooks_waiters: int = 10_000
    hooks_repeats: int = 9
    cli_runs: int = 21
    cli_clients: tuple[int, ...] = (100, 1000)
    cli_seconds: float = 5.0
    cli_rounds: int = 3


FULL = Settings(
    mode="full",
    hot_calls=1_000_000,
    hot_aiobotocore_calls=100_000,
    hot_batches=10,
    storm_sizes=(1_000, 10_000, 100_000),
    storm_repeats={1_000: 15, 10_000: 9, 100_000: 3},
    aiobotocore_repeats={1_000: 3, 10_000: 2, 100_000: 1},
    aiobotocore_failure_budget=2.0,
    cancellation_waiters=10_000,
    cancellation_repeats=3,
    e2e_calls=1_000,
    e2e_sets=9,
    e2e_refreshes=3,
)

QUICK = Settings(
    mode="quick",
    hot_calls=200_000,
    hot_aiobotocore_calls=10_000,
    hot_batches=5,
    storm_sizes=(1_000, 10_000),
    storm_repeats={1_000: 7, 10_000: 3},
    aiobotocore_repeats={1_000: 1, 10_000: 1},
    aiobotocore_failure_budget=1.0,
    cancellation_waiters=10_000,
    cancellation_repeats=1,
    e2e_calls=200,
    e2e_sets=3,
    e2e_refreshes=3,
    hooks_repeats=5,
    cli_runs=7,
    cli_seconds=2.0,
    cli_rounds=1,
)


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quiet_loggers() -> None:
    """Keep log records of the refreshes (thousands, in aiobotocore's failure storm) off stderr.

    The records are still made, for every contender alike; a NullHandler drops them.
    """
    for name in ("aiobotocore", "botocore", "aiostscreds"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _repeats(settings: Settings, key: str, waiters: int) -> int:
    if key in c.AIOBOTOCORE_CONTENDERS:
        return settings.aiobotocore_repeats[waiters]
    return settings.storm_repeats[waiters]


async def core_scenarios(backend: str, settings: Settings) -> dict[str, Any]:
    """Every core scenario on one backend: hot path, storms, cancellation."""
    results: dict[str, Any] = {}
    progress(f"{backend}: hot path")
    results["hot_path"] = await scenarios.hot_path(
        c.HOT_PATH_CONTENDERS,
        backend,
        calls=settings.hot_calls,
        aiobotocore_calls=settings.hot_aiobotocore_calls,
        batches=settings.hot_batches,
    )
    for storm in ("success_storm", "failure_storm"):
        floors = (c.FLOOR,) if storm == "success_storm" else (c.FLOOR, c.RAISE_FLOOR)
        storm_keys = (*floors, *c.STORM_CONTENDERS)
        if settings.warm_up:
            progress(f"{backend}: {storm.replace('_', ' ')}, warming up")
        for key in storm_keys if settings.warm_up else ():  # once each, not recorded
            if storm == "success_storm":
                await scenarios.success_storm(
                    key, backend, settings.storm_sizes[0], latency=settings.sts_latency
                )
            else:
                await scenarios.failure_storm(
                    key,
                    backend,
                    settings.storm_sizes[0],
                    budget=settings.aiobotocore_failure_budget / 10,
                    latency=settings.sts_latency,
                )
        # The GC-on runs (floors and aiostscreds only) take turns with the others.
        entries = [(key, False) for key in storm_keys]
        entries += [(key, True) for key in (*floors, *c.GC_ON_CONTENDERS)]
        by_size: dict[str, Any] = {}
        by_size_gc: dict[str, Any] = {}
        for waiters in settings.storm_sizes:
            progress(f"{backend}: {storm.replace('_', ' ')}, N={waiters:,}")
            runs: dict[tuple[str, bool], list[dict[str, Any]]] = {entry: [] for entry in entries}
            order = list(entries)
            for repeat in range(settings.storm_repeats[waiters]):
                for key, gc_on in order:
                    if repeat >= _repeats(settings, key, waiters):
                        continue
                    if storm == "success_storm":
                        run = await scenarios.success_storm(
                            key, backend, waiters, latency=settings.sts_latency, gc_on=gc_on
                        )
                    else:
                        budget = (
                            settings.aiobotocore_failure_budget
                            if key in c.AIOBOTOCORE_CONTENDERS
                            else None
                        )
                        run = await scenarios.failure_storm(
                            key,
                            backend,
                            waiters,
                            budget=budget,
                            latency=settings.sts_latency,
                            gc_on=gc_on,
                        )
                    runs[key, gc_on].append(run)
                order = order[1:] + order[:1]
            by_size[str(waiters)] = {
                key: report.summarize_runs(runs[key, gc_on]) for key, gc_on in entries if not gc_on
            }
            by_size_gc[str(waiters)] = {
                key: report.summarize_runs(runs[key, gc_on]) for key, gc_on in entries if gc_on
            }
        results[storm] = by_size
        results[f"{storm}_gc_on"] = by_size_gc
    progress(f"{backend}: cancellation storm, N={settings.cancellation_waiters:,}")
    cancellation: dict[str, Any] = {}
    for key in c.STORM_CONTENDERS:
        cancellation[key] = [
            await scenarios.cancellation_storm(
                key, backend, settings.cancellation_waiters, latency=settings.sts_latency
            )
            for _ in range(settings.cancellation_repeats)
        ]
    results["cancellation_storm"] = cancellation
    results["instrumentation"] = await hooks_storms(backend, settings)
    return results


async def hooks_storms(backend: str, settings: Settings) -> dict[str, Any]:
    """The storm with every built-in hook on against the storm without hooks, per contender."""
    found: dict[str, Any] = {}
    for key in c.GC_ON_CONTENDERS:
        progress(f"{backend}: instrumentation, N={settings.hooks_waiters:,}, {key}")
        found[key] = await instrumentation.hooks_storm(
            key,
            backend,
            settings.hooks_waiters,
            repeats=settings.hooks_repeats,
            latency=settings.sts_latency,
        )
    return found


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "system": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_average_at_start": list(os.getloadavg()),
    }


def versions() -> dict[str, str]:
    """Versions of the packages that take part."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("aiostscreds", "aiobotocore", "botocore", "anyio", "trio", "httpx2", "moto"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and write the results, the report and the plots."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer calls, N up to 10,000, shorter rounds"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: redraw the report and plots from the last run's JSON",
    )
    parser.add_argument(
        "--hooks-only",
        action="store_true",
        help="measure only the instrumentation storms (hooks on vs off) and print them as JSON",
    )
    args = parser.parse_args(argv)
    json_path = ROOT / "benchmarks" / "results" / "latest.json"
    if args.hooks_only:
        settings = QUICK if args.quick else FULL
        quiet_loggers()
        figures = {
            backend: anyio.run(hooks_storms, backend, settings, backend=backend)
            for backend in BACKENDS
        }
        for backend, by_key in figures.items():
            for key, found in by_key.items():
                progress(
                    f"{backend} {key}: hooks on/off release {found['release_ratio_best']:.3f}x "
                    f"(median {found['release_ratio_median']:.3f}x), events per storm "
                    f"{found['events_per_storm']}, callers {found['callers_per_storm']}"
                )
        print(json.dumps(figures, indent=1, default=str))
        return 0
    if args.report_only:
        saved: dict[str, Any] = json.loads(json_path.read_text())
        saved["targets"] = report.evaluate_targets(saved)  # derived: judged anew
        json_path.write_text(json.dumps(saved, indent=1) + "\n")
        write_report(saved)
        return 0
    settings = QUICK if args.quick else FULL
    isolate_aws_environment()
    quiet_loggers()
    with local_sts() as endpoint:
        command = "python -m benchmarks" + (" --quick" if args.quick else "")
        results = measure(settings, endpoint, command=command)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    progress(f"wrote {json_path.relative_to(ROOT)}")
    write_report(results)
    return 0


def measure(settings: Settings, endpoint: str, *, command: str) -> dict[str, Any]:
    """Take every measurement on both backends; ``endpoint`` is a local STS for end to end.

    Returns the results as written to ``latest.json``, targets judged.
    """
    started = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "mode": settings.mode,
            "command": command,
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "versions": versions(),
            "settings": attrs.asdict(settings),
            "sts_latency_s": settings.sts_latency,
        },
    }
    for backend in BACKENDS:
        results[backend] = anyio.run(core_scenarios, backend, settings, backend=backend)
    for backend in BACKENDS:
        progress(f"{backend}: end to end against moto on 127.0.0.1")
        results[backend]["end_to_end"] = anyio.run(
            functools.partial(
                end_to_end,
                endpoint,
                backend,
                calls=settings.e2e_calls,
                sets=settings.e2e_sets,
                refreshes=settings.e2e_refreshes,
            ),
            backend=backend,
        )
    progress("the aiostscreds command: warm credential-process and serve")
    results["cli"] = cli.measure(
        endpoint,
        runs=settings.cli_runs,
        clients=settings.cli_clients,
        seconds=settings.cli_seconds,
        rounds=settings.cli_rounds,
    )
    progress(f"fleet: STS calls per refresh, K = {settings.fleet_sizes}; Redis hit latency")
    results["fleet"] = fleet.measure_fleet(
        endpoint,
        sizes=settings.fleet_sizes,
        samples=settings.fleet_samples,
        refreshes=settings.fleet_refreshes,
    )
    results["meta"]["duration_s"] = round(time.perf_counter() - started, 1)
    results["meta"]["machine"]["load_average_at_end"] = list(os.getloadavg())
    results["targets"] = report.evaluate_targets(results)
    return results


def write_report(results: dict[str, Any]) -> None:
    """Write docs/benchmarks.md and the plots from one run's results."""
    images = report.plot(results, ROOT / "docs" / "img")
    doc_path = ROOT / "docs" / "benchmarks.md"
    doc_path.write_text(report.markdown(results, images, doc_path.parent))
    progress(f"wrote {doc_path.relative_to(ROOT)} and the plots in docs/img/")
    for target in results["targets"]:
        state = "met" if target["met"] else "MISSED"
        progress(f"{state:6s} {target['target']} [{target['where']}]: {target['measured']}")


if __name__ == "__main__":
    raise SystemExit(main())
