"""Turning one run's figures into targets met or missed, a Markdown report and plots.

Everything here reads the results dictionary that ``python -m benchmarks``
builds (and writes to ``benchmarks/results/latest.json``); nothing here
measures anything, so no figure reaches the report that the run did not
produce.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import contenders as c

BACKENDS = ("asyncio", "trio")
HOT_PATH_LIMIT = 1.3
HOT_PATH_SPEEDUP = 30.0
RELEASE_LIMIT = 1.5
E2E_LIMIT = 0.97
HOOKS_LIMIT = 1.1
E2E_CLIENTS = ("static", "installed", "control")

OURS = (c.CACHE, c.PROVIDER)
SHORT: dict[str, str] = {
    c.FLOOR: "floor",
    c.RAISE_FLOOR: "anyio.Event floor + one raise per waiter",
    # Short enough for a table column of the docs' page: the "How it is measured" section
    # says which call each one times.
    c.CACHE: "CredentialsCache",
    c.PROVIDER: "AssumeRoleProvider",
    c.ADAPTER: "adapter for aiobotocore's signer",
    c.BOTO_DEFAULT: "aiobotocore Refreshable, default windows",
    c.BOTO_FAIR: "aiobotocore Refreshable, fair windows",
    c.BOTO_DEFERRED_DEFAULT: "aiobotocore Deferred, default windows",
    c.BOTO_DEFERRED_FAIR: "aiobotocore Deferred, fair windows",
}


# ---------------------------------------------------------------------------
# Summaries and targets


def _best(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts (worst case over the runs) and times (best and median) of one storm's runs."""
    return {
        "repeats": len(runs),
        "waiters": runs[0]["waiters"],
        "source_calls_max": max(run["source_calls"] for run in runs),
        "prompts_max": max(run["prompts"] for run in runs),
        "got_credentials_min": min(run["got_credentials"] for run in runs),
        "got_error_min": min(run["got_error"] for run in runs),
        "unserved_max": max(run["unserved"] for run in runs),
        "release_best_s": _best(run["release_after_answer_s"] for run in runs),
        "release_median_s": _median(run["release_after_answer_s"] for run in runs),
        "release_wall_best_s": _best(run["release_after_answer_wall_s"] for run in runs),
        "release_wall_median_s": _median(run["release_after_answer_wall_s"] for run in runs),
        "wall_best_s": _best(run["wall_s"] for run in runs),
        "wall_median_s": _median(run["wall_s"] for run in runs),
        "budget_s": runs[0]["budget_s"],
        "cut_short": any(run["cut_short"] for run in runs),
        "runs": runs,
    }


def _at_most(measured: float, limit: float) -> str:
    if measured <= limit:
        return f"met, {(limit - measured) / limit:.0%} under the limit"
    return f"missed by {measured - limit:.2f}x ({measured / limit - 1:.0%} over)"


def _at_least(measured: float, limit: float) -> str:
    if measured >= limit:
        return f"met, {measured / limit - 1:.0%} above the limit"
    return f"missed by {limit - measured:.2f}x ({1 - measured / limit:.0%} short)"


def _target(
    target: str, where: str, measured: str, value: float, limit: str, met: bool, margin: str
) -> dict[str, Any]:
    return {
        "target": target,
        "where": where,
        "measured": measured,
        "value": value,
        "limit": limit,
        "met": met,
        "margin": margin,
    }


def release_ratio(storm: dict[str, Any], key: str, *, wall: bool = False) -> float | None:
    """Best release time of ``key`` over the best of the Event floor, at one N."""
    field = "release_wall_best_s" if wall else "release_best_s"
    ours, floor = storm[key][field], storm[c.FLOOR][field]
    if ours is None or not floor:
        return None
    return float(ours / floor)


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each performance target, per backend, contender and N: measured, limit, met."""
    targets: list[dict[str, Any]] = []
    for backend in BACKENDS:
        figures = results[backend]
        hot = figures["hot_path"]
        floor_ns = hot[c.FLOOR]["ns_per_call"]
        fair_ns = min(hot[c.BOTO_FAIR]["ns_per_call"], hot[c.BOTO_DEFERRED_FAIR]["ns_per_call"])
        for key in OURS:
            ratio = hot[key]["ns_per_call"] / floor_ns
            targets.append(
                _target(
                    "hot path <= 1.3x the floor",
                    f"{backend}, {SHORT[key]}",
                    f"{ratio:.2f}x",
                    ratio,
                    "<= 1.3x",
                    ratio <= HOT_PATH_LIMIT,
                    _at_most(ratio, HOT_PATH_LIMIT),
                )
            )
        for key in (*OURS, c.ADAPTER):
            speedup = fair_ns / hot[key]["ns_per_call"]
            targets.append(
                _target(
                    ">= 30x faster than aiobotocore with fair windows (hot path)",
                    f"{backend}, {SHORT[key]}",
                    f"{speedup:.0f}x",
                    speedup,
                    ">= 30x",
                    speedup >= HOT_PATH_SPEEDUP,
                    _at_least(speedup, HOT_PATH_SPEEDUP),
                )
            )
        for storm_name, outcome in (("success_storm", "credentials"), ("failure_storm", "error")):
            for size, storm in figures[storm_name].items():
                waiters = int(size)
                for key in OURS:
                    summary = storm[key]
                    delivered = (
                        summary["got_credentials_min"]
                        if outcome == "credentials"
                        else summary["got_error_min"]
                    )
                    calls = summary["source_calls_max"]
                    prompts = summary["prompts_max"]
                    counts_ok = calls == 1 and prompts == 1 and delivered == waiters
                    label = "success" if outcome == "credentials" else "failure"
                    targets.append(
                        _target(
                            f"{label} storm: 1 source call, 1 prompt, every waiter gets the "
                            f"{outcome}",
                            f"{backend}, N={waiters:,}, {SHORT[key]}",
                            f"{calls} call(s), {prompts} prompt(s), {delivered:,}/{waiters:,}",
                            float(calls),
                            "1 call, 1 prompt, N/N",
                            counts_ok,
                            "met" if counts_ok else "missed",
                        )
                    )
                    ratio = release_ratio(storm, key)
                    if ratio is None:
                        continue
                    targets.append(
                        _target(
                            f"{label} storm: all waiters released <= 1.5x the Event floor",
                            f"{backend}, N={waiters:,}, {SHORT[key]}",
                            f"{ratio:.2f}x",
                            ratio,
                            "<= 1.5x",
                            ratio <= RELEASE_LIMIT,
                            _at_most(ratio, RELEASE_LIMIT),
                        )
                    )
            # The same storms with the garbage collector on, against a floor run so too.
            for size, storm in figures.get(f"{storm_name}_gc_on", {}).items():
                label = "success" if outcome == "credentials" else "failure"
                for key in OURS:
                    ratio = release_ratio(storm, key) if key in storm else None
                    if ratio is None:
                        continue
                    targets.append(
                        _target(
                            f"{label} storm, GC on: all waiters released <= 1.5x the Event "
                            "floor (GC on)",
                            f"{backend}, N={int(size):,}, {SHORT[key]}",
                            f"{ratio:.2f}x",
                            ratio,
                            "<= 1.5x",
                            ratio <= RELEASE_LIMIT,
                            _at_most(ratio, RELEASE_LIMIT),
                        )
                    )
        for key in OURS:
            runs = figures["cancellation_storm"][key]
            calls = max(run["source_calls"] for run in runs)
            survivors_ok = all(
                run["survivors_got_credentials"] == run["survivors"] and run["leader_cancelled"]
                for run in runs
            )
            met = calls == 1 and survivors_ok
            targets.append(
                _target(
                    "cancellation storm: 1 source call, every survivor gets credentials",
                    f"{backend}, N={runs[0]['waiters']:,}, {SHORT[key]}",
                    f"{calls} call(s), survivors served: {'all' if survivors_ok else 'not all'}",
                    float(calls),
                    "1 call, all survivors",
                    met,
                    "met" if met else "missed",
                )
            )
        for key, hooks in figures.get("instrumentation", {}).items():
            ratio = hooks["release_ratio_best"]
            met = hooks["one_event_pair_per_storm"] and ratio is not None and ratio <= HOOKS_LIMIT
            targets.append(
                _target(
                    "storm with every hook on: one refresh event pair, all waiters released "
                    "<= 1.1x the run without hooks",
                    f"{backend}, N={hooks['waiters']:,}, {SHORT[key]}",
                    f"{ratio:.2f}x, events {hooks['events_per_storm']}"
                    if ratio is not None
                    else "no figure",
                    ratio or 0.0,
                    "1 pair, <= 1.1x",
                    met,
                    _at_most(ratio, HOOKS_LIMIT) if ratio is not None else "missed",
                )
            )
        e2e = figures.get("end_to_end")
        if e2e is not None:
            ratio = e2e["installed_median_ratio"]
            targets.append(
                _target(
                    "end to end: throughput within 3% of static credentials",
                    f"{backend}, {e2e['calls_per_round']:,} calls per round",
                    f"{ratio:.3f} (control, static vs static: {e2e['control_median_ratio']:.3f})",
                    ratio,
                    ">= 0.97",
                    ratio >= E2E_LIMIT,
                    _at_least(ratio, E2E_LIMIT),
                )
            )
    targets.extend(cli_targets(results.get("cli")))
    return targets


CLI_WARM_LIMIT = 1.5
SERVE_LIMIT = 0.8


def cli_targets(cli: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The targets of the ``aiostscreds`` command, if they were measured."""
    if cli is None:
        return []
    warm = cli["credential_process_warm"]
    targets = [
        _target(
            "credential-process warm path <= 1.5x the botocore.configloader floor",
            f"whole process, median of {warm['runs']}, {warm['sts_calls']} STS calls",
            f"{warm['ratio']:.2f}x",
            warm["ratio"],
            "<= 1.5x",
            warm["ratio"] <= CLI_WARM_LIMIT,
            _at_most(warm["ratio"], CLI_WARM_LIMIT),
        )
    ]
    serve = cli["serve"]
    for clients in (key for key in serve if key != "sts_calls"):
        ratio = serve[clients]["ratio"]
        targets.append(
            _target(
                "serve requests/s >= 0.8x an aiohttp.web constant-JSON floor",
                f"{clients} keep-alive clients, {serve['sts_calls']} STS call(s)",
                f"{ratio:.2f}x",
                ratio,
                ">= 0.8x",
                ratio >= SERVE_LIMIT,
                _at_least(ratio, SERVE_LIMIT),
            )
        )
    return targets


def cli_lines(cli: dict[str, Any] | None) -> list[str]:
    """The report's section on the ``aiostscreds`` command."""
    if cli is None:
        return []
    warm = cli["credential_process_warm"]
    lines = [
        "## The `aiostscreds` command",
        "",
        f"`credential-process` answering from a warm cache, whole process, median of "
        f"{warm['runs']} interleaved runs: {warm['console_script_median_s'] * 1000:.0f} ms as the "
        f"console script, {warm['python_m_median_s'] * 1000:.0f} ms as `python -m aiostscreds`, "
        f"against {warm['floor_median_s'] * 1000:.0f} ms for the floor "
        '(`python -c "import botocore.configloader, json"`): '
        f"{warm['ratio']:.2f}x ({warm['ratio_python_m']:.2f}x with `-m`), "
        f"{warm['sts_calls']} STS calls.",
        "",
    ]
    lines += _table(
        ["clients", "serve req/s", "p50 / p99 ms", "floor req/s", "p50 / p99 ms", "ratio"],
        [
            [
                clients,
                f"{figures['serve']['requests_per_s']:,.0f}",
                f"{figures['serve']['p50_ms']:.1f} / {figures['serve']['p99_ms']:.1f}",
                f"{figures['floor']['requests_per_s']:,.0f}",
                f"{figures['floor']['p50_ms']:.1f} / {figures['floor']['p99_ms']:.1f}",
                f"{figures['ratio']:.2f}x",
            ]
            for clients, figures in cli["serve"].items()
            if clients != "sts_calls"
        ],
    )
    lines += [
        "",
        f"`serve` made {cli['serve']['sts_calls']} STS call(s) over all of its rounds. The "
        "clients run in one Python process on the same machine, so at 1,000 clients they, "
        "not the servers, may set the pace.",
        "",
    ]
    return lines


# ---------------------------------------------------------------------------
# Plots


def plot(results: dict[str, Any], directory: Path) -> dict[str, Path]:
    """Draw the release-latency and hot-path plots; return their paths by name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "release": directory / "release_latency.png",
        "hot_path": directory / "hot_path.png",
    }
    styles: dict[str, dict[str, Any]] = {
        c.FLOOR: {"color": "black", "linestyle": "--", "marker": "s"},
        c.RAISE_FLOOR: {"color": "dimgrey", "linestyle": "-.", "marker": "P"},
        c.CACHE: {"color": "tab:blue", "marker": "o"},
        c.PROVIDER: {"color": "tab:cyan", "marker": "^"},
        c.BOTO_DEFERRED_DEFAULT: {"color": "tab:red", "marker": "D"},
        c.BOTO_DEFERRED_FAIR: {"color": "tab:orange", "marker": "v"},
    }
    labels = {**SHORT, c.FLOOR: "anyio.Event floor"}
    latency_ms = results["meta"]["sts_latency_s"] * 1000

    figure, axes = plt.subplots(2, 2, figsize=(12, 10), sharey="row")
    for row, (storm_name, title) in enumerate(
        (
            ("success_storm", f"success storm: source answers after {latency_ms:g} ms"),
            ("failure_storm", f"failure storm: source fails after {latency_ms:g} ms"),
        )
    ):
        for axis, backend in zip(axes[row], BACKENDS, strict=True):
            storms = results[backend][storm_name]
            sizes = sorted(int(size) for size in storms)
            for key, style in styles.items():
                points = [
                    (size, storms[str(size)][key]["release_best_s"] * 1000)
                    for size in sizes
                    if key in storms[str(size)]
                    and storms[str(size)][key]["release_best_s"] is not None
                ]
                if points:
                    axis.plot(
                        [p[0] for p in points],
                        [p[1] for p in points],
                        label=labels[key],
                        linewidth=2,
                        markersize=6,
                        **style,
                    )
            target = [
                storms[str(size)][c.FLOOR]["release_best_s"] * 1000 * RELEASE_LIMIT
                for size in sizes
            ]
            axis.plot(sizes, target, color="grey", linestyle=":", label="target: 1.5x the floor")
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xticks(sizes, [f"{size:,}" for size in sizes])
            axis.set_title(f"{backend}, {title}", fontsize=10)
            axis.set_xlabel("waiters (N)")
            axis.grid(True, which="both", alpha=0.3)
        axes[row][0].set_ylabel("answer to last waiter released (ms, best run)")
        axes[row][1].legend(loc="upper left", fontsize=8)
    figure.text(
        0.5,
        0.005,
        f"aiobotocore's failure storm is cut short (one {latency_ms:g} ms refresh per waiter): "
        "no line.",
        ha="center",
        fontsize=8,
    )
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    figure.savefig(paths["release"], dpi=110)
    plt.close(figure)

    keys = list(c.HOT_PATH_CONTENDERS)
    figure, axis = plt.subplots(figsize=(11, 5.5))
    height = 0.38
    for offset, backend, color in (
        (-height / 2, "asyncio", "tab:blue"),
        (height / 2, "trio", "tab:green"),
    ):
        hot = results[backend]["hot_path"]
        values = [hot[key]["ns_per_call"] for key in keys]
        positions = [index + offset for index in range(len(keys))]
        axis.barh(positions, values, height=height, color=color, label=backend)
        for position, value in zip(positions, values, strict=True):
            axis.text(value * 1.05, position, f"{value:,.0f} ns", va="center", fontsize=8)
    axis.set_yticks(range(len(keys)), [SHORT[key] for key in keys])
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlim(
        left=100,
        right=max(results[b]["hot_path"][k]["ns_per_call"] for b in BACKENDS for k in keys) * 4,
    )
    axis.set_xlabel("ns per call with fresh credentials (log scale; median batch, CPU time)")
    axis.set_title("Hot path: cost of one call when the credentials are fresh")
    axis.legend(loc="upper right")
    axis.grid(True, axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(paths["hot_path"], dpi=110)
    plt.close(figure)
    return paths


# ---------------------------------------------------------------------------
# Markdown


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f}"


def _span(values: list[int]) -> str:
    """``[5000]`` as "5,000", ``[4990, 5000]`` as "4,990 to 5,000"."""
    return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,} to {values[-1]:,}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _per_backend(target: dict[str, Any]) -> bool:
    return target["where"].split(",", 1)[0] in BACKENDS


def _where(target: dict[str, Any]) -> str:
    """Where a check was made, less the backend its column already names."""
    where: str = target["where"]
    return where.split(", ", 1)[1] if _per_backend(target) else where


def _verdict(mine: list[dict[str, Any]]) -> str:
    """One cell: how many of these checks were met, and the closest (or the worst missed)."""
    missed = [t for t in mine if not t["met"]]
    if missed:
        worst = max(missed, key=lambda t: abs(t["value"]))
        return (
            f"**missed** in {len(missed)} of {len(mine)}; worst {worst['measured']} "
            f"({_where(worst)}): {worst['margin']}"
        )
    closest = _closest(mine)
    return f"met in {len(mine)} of {len(mine)}; closest {closest['measured']} ({_where(closest)})"


def _other_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    """The targets that are not judged per backend (the command's): target, verdict."""
    others = [t for t in targets if not _per_backend(t)]
    names = list(dict.fromkeys(target["target"] for target in others))
    return [[name, _verdict([t for t in others if t["target"] == name])] for name in names]


def _summary_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    """The per-backend targets: target, then one verdict per backend."""
    rows = []
    names = list(dict.fromkeys(t["target"] for t in targets if _per_backend(t)))
    for name in names:
        row = [name]
        for backend in BACKENDS:
            mine = [t for t in targets if t["target"] == name and t["where"].startswith(backend)]
            row.append(_verdict(mine) if mine else "not measured")
        rows.append(row)
    return rows


def _closest(targets: list[dict[str, Any]]) -> dict[str, Any]:
    limit = targets[0]["limit"]
    if limit.startswith("<="):
        return max(targets, key=lambda t: t["value"])
    if limit.startswith(">="):
        return min(targets, key=lambda t: t["value"])
    return targets[0]


def _gc_on_cells(
    storm_gc: dict[str, Any] | None, key: str, target_met: Callable[[float], bool]
) -> list[str]:
    """The GC-on columns of one row: release, best (median), and the ratio to the GC-on floor."""
    if storm_gc is None or key not in storm_gc:
        return ["not run", "not run"]
    summary = storm_gc[key]
    release = f"{_ms(summary['release_best_s'])} ({_ms(summary['release_median_s'])})"
    if key == c.FLOOR:
        return [release, "1.00"]
    ratio = release_ratio(storm_gc, key)
    if ratio is None:
        return [release, "no figure"]
    mark = "" if key not in OURS else (" ✓" if target_met(ratio) else " ✗")
    return [release, f"{ratio:.2f}{mark} (wall {release_ratio(storm_gc, key, wall=True):.2f})"]


def _storm_rows(
    storms: dict[str, Any],
    *,
    failure: bool,
    target_met: Callable[[float], bool],
    storms_gc: dict[str, Any] | None = None,
) -> list[list[str]]:
    rows = []
    for size in sorted(storms, key=int):
        storm = storms[size]
        storm_gc = None if storms_gc is None else storms_gc.get(size)
        waiters = int(size)
        floors = (c.FLOOR, c.RAISE_FLOOR)
        for key in (*floors, *c.STORM_CONTENDERS):
            if key not in storm:
                continue
            summary = storm[key]
            if key in floors:
                name = "anyio.Event floor" if key == c.FLOOR else SHORT[key]
                counts = "none (no source)"
            else:
                name = SHORT[key]
                counts = f"{summary['source_calls_max']:,}, {summary['prompts_max']:,}"
            delivered = summary["got_error_min"] if failure else summary["got_credentials_min"]
            if key == c.FLOOR:
                delivered = summary["got_credentials_min"]
            ratio = release_ratio(storm, key) if key != c.FLOOR else None
            ratio_wall = release_ratio(storm, key, wall=True) if key != c.FLOOR else None
            if summary["cut_short"]:
                release = f"cut short {summary['budget_s']:g} s after the first failure"
                ratio_text = "none: cut short"
            else:
                release = f"{_ms(summary['release_best_s'])} ({_ms(summary['release_median_s'])})"
                if ratio is None:
                    ratio_text = "1.00" if key == c.FLOOR else "no figure"
                else:
                    mark = "" if key not in OURS else (" ✓" if target_met(ratio) else " ✗")
                    ratio_text = f"{ratio:.2f}{mark} (wall {ratio_wall:.2f})"
            rows.append(
                [
                    f"{waiters:,}",
                    name,
                    counts,
                    f"{delivered:,} of {waiters:,}",
                    release,
                    ratio_text,
                    *_gc_on_cells(storm_gc, key, target_met),
                    f"{_ms(summary['wall_best_s'])}",
                    str(summary["repeats"]),
                ]
            )
    return rows


STORM_HEADER = [
    "N",
    "contender",
    "source calls, prompts",
    "served",
    "release, ms",
    "x floor",
    "GC on: release, ms",
    "GC on: x floor",
    "total wall, ms",
    "runs",
]
# A storm's eleven columns do not fit the page: the counts, then the times.
STORM_COUNTS = ("N", "contender", "source calls, prompts", "served", "total wall, ms", "runs")
STORM_TIMES = ("N", "contender", "release, ms", "x floor", "GC on: release, ms", "GC on: x floor")


def _storm_tables(rows: list[list[str]]) -> list[str]:
    """A storm's rows (``STORM_HEADER``'s columns) as two tables that fit the page."""
    lines: list[str] = []
    for caption, columns in (("Counts:", STORM_COUNTS), ("Times:", STORM_TIMES)):
        index = [STORM_HEADER.index(name) for name in columns]
        lines += [caption, ""]
        lines += _table(list(columns), [[row[i] for i in index] for row in rows])
        lines.append("")
    return lines


def _per_waiter_rows(results: dict[str, Any]) -> list[list[str]]:
    def per_waiter(storm: dict[str, Any], key: str, waiters: int) -> str:
        best = storm[key]["release_best_s"] if key in storm else None
        return "not run" if best is None else f"{best / waiters * 1e6:.2f}"

    rows = []
    for backend in BACKENDS:
        success, failure = results[backend]["success_storm"], results[backend]["failure_storm"]
        for size in sorted(failure, key=int):
            waiters = int(size)
            rows.append(
                [
                    backend,
                    f"{waiters:,}",
                    per_waiter(success[size], c.FLOOR, waiters),
                    per_waiter(success[size], c.CACHE, waiters),
                    per_waiter(success[size], c.PROVIDER, waiters),
                    per_waiter(failure[size], c.FLOOR, waiters),
                    per_waiter(failure[size], c.RAISE_FLOOR, waiters),
                    per_waiter(failure[size], c.CACHE, waiters),
                    per_waiter(failure[size], c.PROVIDER, waiters),
                ]
            )
    return rows


def _failure_notes(results: dict[str, Any]) -> list[str]:
    """What the failure storm's figures say about the cost of one error per waiter."""
    notes = []
    for backend in BACKENDS:
        storms = results[backend]["failure_storm"]
        raise_ratios: list[float] = []
        extra: dict[str, list[float]] = {c.CACHE: [], c.PROVIDER: []}
        for size, storm in storms.items():
            ratio = release_ratio(storm, c.RAISE_FLOOR)
            if ratio is not None:
                raise_ratios.append(ratio)
            floor = storm[c.RAISE_FLOOR]["release_best_s"]
            for key in extra:
                ours = storm[key]["release_best_s"]
                if ours is not None and floor is not None:
                    extra[key].append((ours - floor) / int(size) * 1e6)
        if not raise_ratios or not all(extra.values()):
            continue
        notes.append(
            f"- {backend}: the floor with one raise per waiter is "
            f"{min(raise_ratios):.2f}-{max(raise_ratios):.2f}x the plain Event floor across N; "
            f"above it, {SHORT[c.CACHE]} adds {min(extra[c.CACHE]):+.2f} to "
            f"{max(extra[c.CACHE]):+.2f} µs per waiter and {SHORT[c.PROVIDER]} "
            f"{min(extra[c.PROVIDER]):+.2f} to {max(extra[c.PROVIDER]):+.2f} µs."
        )
    if notes:
        notes += [
            "",
            "Raising an exception in each waiter's task costs more than waking it: the "
            "exception unwinds the frames between the raise and the waiter's `except`, each "
            "adding a traceback entry. `AssumeRoleProvider.get_credentials()` is a coroutine that "
            "awaits the cache's, so each error unwinds one frame more than with "
            "`CredentialsCache.get()`.",
        ]
    return notes


def markdown(results: dict[str, Any], images: dict[str, Path], doc_dir: Path) -> str:
    """The report, docs/benchmarks.md, from one run's results."""
    meta = results["meta"]
    machine = meta["machine"]
    settings = meta["settings"]
    targets = results["targets"]
    missed = [t for t in targets if not t["met"]]
    load_start = ", ".join(f"{x:.2f}" for x in machine["load_average_at_start"])
    load_end = ", ".join(f"{x:.2f}" for x in machine["load_average_at_end"])
    latency_ms = meta["sts_latency_s"] * 1000

    def image(name: str) -> str:
        return os.path.relpath(images[name], doc_dir)

    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks`: edit benchmarks/report.py, not this file. -->",
        "",
        f"Generated by `{meta['command']}` ({meta['mode']} run) on {meta['started']}, "
        f"in {meta['duration_s'] / 60:.1f} min. Every figure on this page comes from that one run; "
        "the raw figures are in "
        "[`benchmarks/results/latest.json`](../benchmarks/results/latest.json).",
        "",
        f"- **Machine:** {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
        f"{machine['system']}, {machine['python']}.",
        f"- **Load average** (1, 5, 15 min) at the start: {load_start}; at the end: {load_end}. "
        "The machine is shared, and other work ran during the run.",
        "- **Versions:** " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "## Targets",
        "",
        f"{len(targets) - len(missed)} of {len(targets)} checks met. Each target is a promise "
        "about one feature: credentials that cost next to nothing while fresh (the hot path), "
        "one STS call and one prompt per refresh however many tasks wait, with the waiters "
        "released about as fast as an `anyio.Event` wakes them (with the garbage collector off "
        "and on), survivors served when waiters are cancelled, signing end to end within 3% of "
        "static credentials' throughput, and a command within reach of its floors. "
        "Each cell sums up the checks of one target on one backend (every N and "
        "contender); the sections below give each figure.",
        "",
    ]
    lines += _table(["target", "asyncio", "trio"], _summary_rows(targets))
    others = _other_rows(targets)
    if others:
        lines += ["", "The command's targets, which do not depend on the backend:", ""]
        lines += _table(["target", "result"], others)
    if missed:
        lines += ["", "Missed:", ""]
        lines += [
            f"- {t['target']} ({t['where']}): {t['measured']}, {t['margin']}." for t in missed
        ]
        if any(t["target"].startswith("failure storm") for t in missed):
            lines += [
                "",
                "The failure-storm section breaks the cost down per waiter, against a floor that "
                "raises one exception in each waiter.",
            ]
    lines += [
        "",
        "## How it is measured",
        "",
        "- **One process, one run**: `python -m benchmarks` runs every scenario for every "
        "contender on asyncio, then on trio (`anyio.run(..., backend=...)`), then end to end, "
        "and writes the JSON, this page and the plots.",
        "- **Contenders.** aiostscreds: **CredentialsCache**, `CredentialsCache.get()` over a "
        "source that calls the fake STS; **AssumeRoleProvider**, "
        "`AssumeRoleProvider.get_credentials()` with the fake STS as its client and MFA on; "
        "and, for the hot path, the **adapter for aiobotocore's signer**, "
        "`AiobotocoreCredentials(cache).get_frozen_credentials()`, the call aiobotocore's "
        "signer makes. aiobotocore `AioRefreshableCredentials` and "
        "`AioDeferredRefreshableCredentials` (what its own assume-role provider builds), with "
        "botocore's default windows (15 min advisory, 10 min mandatory) and with fair windows "
        "(5 min advisory, 1 min mandatory) set by subclassing in `benchmarks/contenders.py`. On "
        "trio, aiobotocore's `Anyio*` variants of the same classes, which it uses with its httpx "
        "session. The storms use the deferred class.",
        f"- **Fake STS**: answers AssumeRole after {meta['sts_latency_s'] * 1000:.0f} ms (or "
        "raises a `Throttling` `ClientError`); every contender's refresh calls a counted async "
        "MFA token provider once, then the fake STS once.",
        "- **Floors.** Hot path: an `async def` that compares `time.time()` with one float "
        "deadline and returns a cached object. Storms: N tasks waiting on one `anyio.Event` that "
        "a task sets after the same latency.",
        "- **Clocks.** Each duration is read on `time.thread_time()` (CPU time of the event loop's "
        "thread) and on `time.perf_counter()` (wall). On an idle machine they agree; on this "
        "shared one the CPU time leaves out the time other processes held the CPU. Ratios use the "
        "CPU figures; the wall-clock ratio is shown beside each storm ratio, and every raw figure "
        "of both kinds is in the JSON.",
        "- **Garbage collector.** Off during each timed section, as `timeit` does, with a full "
        "collection before it, for every contender alike. With it on, a full collection of this "
        "process's heap (botocore's and moto's objects) lands in one contender's timing window or "
        "another's by chance, and its cost is charged to whichever it interrupts. The storms "
        "also run with the collector **on**, as users run (Python's default thresholds), in "
        "the `GC on` columns: the same full collection first, then the collector left on. The "
        "floors run that way too, in the same rounds, and the GC-on ratios are to the GC-on "
        "floor. Those figures are noisier: whether a full collection of the heap falls between "
        "the answer and the last release depends on what the run allocated before it.",
        "- **Tasks** are spawned with the backend's own primitives (`loop.create_task`, a trio "
        "nursery): anyio's task groups add a set-up cost per task that would dominate the "
        "storms' wall time.",
        "- **Statistics.** Hot path: median of "
        f"{settings['hot_batches']} batches, the contenders taking turns batch by batch. Storms: "
        "the best of several runs (median in brackets), the contenders taking turns run by run; "
        "counts are the worst over the runs.",
        "- **Storm timing**: from the source's answer (or failure) to the moment the last waiter "
        "has its credentials (or its error). Total wall time covers spawning the N tasks, the "
        "wait for the source and the release.",
        "- **aiobotocore's failure storm is cut short** "
        f"{settings['aiobotocore_failure_budget']:g} s after the source's first failure: "
        "aiobotocore refreshes once per waiter, one after the other, "
        f"{latency_ms:g} ms each (N x {latency_ms:g} ms: "
        f"{100_000 * latency_ms / 60_000:.0f} min at N = 100,000). The table reports what it "
        "delivered by then, at the same N as "
        "the others.",
        "",
        "## Hot path",
        "",
        f"ns per call with fresh credentials (one-hour credentials, outside every window): "
        f"{settings['hot_calls']:,} calls per aiostscreds contender and for the floor, "
        f"{settings['hot_aiobotocore_calls']:,} per aiobotocore contender.",
        "",
    ]
    hot_rows = []
    fair = {
        backend: min(
            results[backend]["hot_path"][c.BOTO_FAIR]["ns_per_call"],
            results[backend]["hot_path"][c.BOTO_DEFERRED_FAIR]["ns_per_call"],
        )
        for backend in BACKENDS
    }
    for backend in BACKENDS:
        hot = results[backend]["hot_path"]
        for key in c.HOT_PATH_CONTENDERS:
            ns = hot[key]["ns_per_call"]
            hot_rows.append(
                [
                    backend,
                    SHORT[key],
                    f"{ns:,.0f}",
                    f"{ns / hot[c.FLOOR]['ns_per_call']:.2f}",
                    f"{fair[backend] / ns:.1f}",
                ]
            )
    lines += _table(
        ["backend", "contender", "ns/call", "x floor", "aiobotocore fair ÷ this"], hot_rows
    )
    lines += [
        "",
        '"aiobotocore fair ÷ this" divides the faster of aiobotocore\'s two fair-window setups '
        "by the row's cost: how many times faster the row is. Both aiobotocore setups read "
        "`datetime.now(tzlocal())` on every call (botocore's `_local_now`); the windows do not "
        "change the work of a call.",
        "",
        "How many times faster than each aiobotocore setup (asyncio / trio): its credentials "
        "class (`AioRefreshableCredentials` or `AioDeferredRefreshableCredentials`) with "
        "botocore's default windows or fair ones:",
        "",
    ]
    speedup_rows = []
    classes = (
        ("Refreshable", c.BOTO_DEFAULT, c.BOTO_FAIR),
        ("Deferred", c.BOTO_DEFERRED_DEFAULT, c.BOTO_DEFERRED_FAIR),
    )
    for key in (c.CACHE, c.PROVIDER, c.ADAPTER, c.FLOOR):
        for name, *setups in classes:
            row = [SHORT[key], name]
            for other in setups:
                speedups = [
                    results[b]["hot_path"][other]["ns_per_call"]
                    / results[b]["hot_path"][key]["ns_per_call"]
                    for b in BACKENDS
                ]
                row.append(" / ".join(f"{speedup:.0f}x" for speedup in speedups))
            speedup_rows.append(row)
    lines += _table(
        ["contender", "aiobotocore class", "default windows", "fair windows"], speedup_rows
    )
    lines += [
        "",
        f"![Hot path cost per contender]({image('hot_path')})",
        "",
        "## Success storm",
        "",
        "N tasks arrive together on expired credentials; the source answers after "
        f"{latency_ms:g} ms. "
        "For each backend, a table of counts (source calls, prompts, waiters served, the total "
        "wall time and the number of runs), then one of times. "
        "Release: ms from the source's answer to the last waiter's release, best run (median). "
        "`x floor`: best over the floor's best at the same N, with the wall-clock ratio beside it "
        "(✓/✗: the 1.5x target). `GC on`: the same with the garbage collector on, against the "
        "floor run with it on.",
        "",
    ]
    for backend in BACKENDS:
        lines += [f"### {backend}", ""]
        lines += _storm_tables(
            _storm_rows(
                results[backend]["success_storm"],
                failure=False,
                target_met=lambda r: r <= RELEASE_LIMIT,
                storms_gc=results[backend].get("success_storm_gc_on"),
            )
        )
    lines += [
        "The plot shows the best release time against N for both storms (top: success, "
        "bottom: failure).",
        "",
        f"![Release latency against the number of waiters]({image('release')})",
        "",
        "## Failure storm",
        "",
        f"The same storms with a source that fails (`Throttling`) after {latency_ms:g} ms, the "
        "held credentials "
        "already expired. `served` counts the waiters that got an error; `release` runs to the "
        "last waiter's error. aiostscreds raises `CredentialsExpiredError` chained to the "
        "`RefreshError` in every waiter, each its own copy. A second floor shows what an error "
        "per waiter costs at the least: each waiter awaits a coroutine that waits on the Event, "
        "then raises a new exception, which the waiter catches. The target is judged against "
        "the plain Event floor.",
        "",
    ]
    for backend in BACKENDS:
        lines += [f"### {backend}", ""]
        lines += _storm_tables(
            _storm_rows(
                results[backend]["failure_storm"],
                failure=True,
                target_met=lambda r: r <= RELEASE_LIMIT,
                storms_gc=results[backend].get("failure_storm_gc_on"),
            )
        )
        for size, storm in sorted(
            results[backend]["failure_storm"].items(), key=lambda i: int(i[0])
        ):
            for key in (c.BOTO_DEFERRED_DEFAULT, c.BOTO_DEFERRED_FAIR):
                summary = storm[key]
                if not summary["cut_short"] or not summary["got_error_min"]:
                    continue
                waiters = int(size)
                pace = summary["budget_s"] / summary["got_error_min"]
                lines.append(
                    f"- {SHORT[key]}, N={waiters:,}: {summary['got_error_min']:,} errors and "
                    f"{summary['source_calls_max']:,} source calls in the "
                    f"{summary['budget_s']:g} s after the first failure, one every "
                    f"{pace * 1000:.0f} ms; at that pace the {waiters:,} waiters would need about "
                    f"{waiters * pace:,.0f} s (a projection from this run, not a measurement)."
                )
        lines.append("")
    lines += [
        "Where the time goes: µs per waiter from the answer to the last release (best run "
        "divided by N), in the success storm and the failure storm (each storm ran its own "
        "floors, interleaved with its contenders).",
        "",
    ]
    per_waiter = _per_waiter_rows(results)
    for backend in BACKENDS:
        mine = [row[1:] for row in per_waiter if row[0] == backend]
        lines += [f"Success storm, {backend}:", ""]
        lines += _table(
            ["N", "Event floor", SHORT[c.CACHE], SHORT[c.PROVIDER]], [row[:4] for row in mine]
        )
        lines += ["", f"Failure storm, {backend}:", ""]
        lines += _table(
            ["N", "Event floor", "floor + one raise", SHORT[c.CACHE], SHORT[c.PROVIDER]],
            [row[:1] + row[4:] for row in mine],
        )
        lines.append("")
    lines += ["", *_failure_notes(results)]
    lines += [
        "",
        "## Storms with the garbage collector on",
        "",
        "The `GC on` columns above run the same storms with Python's cyclic garbage collector on "
        "(default thresholds, 700/10/10), after the same full collection, floors included. "
        "What decides those figures is whether a collection, above all a full one, falls "
        "between the answer and the last release: a full collection walks every object of the "
        "heap, the N parked tasks included (about 0.2-0.35 s at N = 100,000 on this machine). "
        "Profiling the release at N = 100,000 (`tracemalloc`, and the collector's own "
        "`gc.callbacks`) found two things a waiter costs the collector that the floor's does not "
        "need:",
        "",
        "- **Wake-ups all at once.** Setting an `anyio.Event` wakes every waiter in one go: one "
        "asyncio handle (on trio, one outcome) per waiter, alive until that waiter runs. At "
        "N = 100,000 they outlive young collections and reach the oldest generation (some 260 "
        "young and 24 middle collections during the release), and their number then sets off "
        "a full collection in the middle of the release. The floor pays this too. aiostscreds now "
        "wakes its waiters 128 at a time, each batch queued behind the last, through a gate that "
        "a waiter awaits directly (`aiostscreds._gate`: one asyncio future, or trio's "
        "`wait_task_rescheduled`, instead of three or four nested `wait()` coroutines): the "
        "wake-ups are freed as fast as they are made, and the release sets off no collection.",
        "- **A reference cycle per failed waiter.** `CredentialsCache.get()` kept the error it "
        "raised in a local of its own frame, which the error's traceback holds: each failed "
        "waiter left a cycle (6 objects) that only the collector frees. With the GC on, those "
        "cycles filled the young generation during the failure storm's release (some 40 young "
        "collections, 0.2 s at N = 100,000). The local is now cleared before the error leaves "
        "the frame.",
        "",
        "`tests/test_gc_storms.py` counts the collections during a release of 10,000 waiters "
        "(none) and the objects left unreachable by 10,000 failed waiters (none), on asyncio and "
        "trio.",
    ]
    lines += [
        "",
        "## Cancellation storm",
        "",
        f"{settings['cancellation_waiters']:,} waiters on one refresh; while the source works, "
        "half of them are cancelled at random, the leader (the first to ask) included; then the "
        f"source answers {latency_ms:g} ms later. Counts are the worst over the runs.",
        "",
    ]
    cancel_rows = []
    all_runs = []
    for backend in BACKENDS:
        for key, runs in results[backend]["cancellation_storm"].items():
            all_runs += runs
            cancel_rows.append(
                [
                    backend,
                    SHORT[key],
                    f"{max(r['source_calls'] for r in runs)}, {max(r['prompts'] for r in runs)}",
                    f"{min(r['survivors_got_credentials'] for r in runs):,} of "
                    f"{runs[0]['survivors']:,}",
                    f"{_ms(min(r['wall_s'] for r in runs))}",
                ]
            )
    lines += _table(
        ["backend", "contender", "source calls, prompts", "survivors served", "wall, ms (best)"],
        cancel_rows,
    )
    if all_runs:
        cancelled = sorted({r["cancelled"] for r in all_runs})
        served = max(r["cancelled_but_served"] for r in all_runs)
        repeats = sorted(
            {len(runs) for b in BACKENDS for runs in results[b]["cancellation_storm"].values()}
        )
        leader = "included" if all(r["leader_cancelled"] for r in all_runs) else "not always"
        lines += [
            "",
            f"In every run of every contender: {_span(cancelled)} of "
            f"{all_runs[0]['waiters']:,} waiters cancelled, the leader {leader}; "
            + (
                "no cancelled waiter was handed credentials"
                if served == 0
                else f"up to {served:,} cancelled waiters were handed credentials all the same"
            )
            + f"; {_span(repeats)} runs per contender.",
        ]
    lines += [
        "",
        "## End to end",
        "",
        "aiobotocore STS clients against moto's `ThreadedMotoServer` on 127.0.0.1, run in a "
        "child process so that it does not share the clients' interpreter lock: "
        "`get_caller_identity()` calls, all started at once, per round. The installed client's "
        "session went through `aiostscreds.install()` with an `AssumeRoleProvider`; each of its "
        "rounds forces refreshes spread through the calls. The static client signs with a copy "
        "of the role's first credentials, so moto does the same work for both; the control is a "
        "second static client, identical to the first. Each set runs one round of each client, "
        "the order rotating from set to set; a ratio is a client's requests per second over the "
        "static client's in the same set, and the median over the sets counts. The target is "
        "judged on wall-clock requests per second; the same ratios on the CPU time of the "
        "clients' process (`time.process_time()`) are given beside them.",
        "",
    ]
    e2e_rows = []
    for backend in BACKENDS:
        e2e = results[backend]["end_to_end"]
        for clock, suffix, rate in (("wall clock", "", "rps"), ("clients' CPU", "_cpu", "rpcs")):
            row = [backend, clock]
            row += [f"{e2e[f'{name}_{rate}_median']:.1f}" for name in E2E_CLIENTS]
            for name in ("installed", "control"):
                row.append(
                    ", ".join(f"{r:.3f}" for r in e2e[f"{name}_ratios{suffix}"])
                    + f" → **{e2e[f'{name}_median_ratio{suffix}']:.3f}**"
                )
            e2e_rows.append(row)
    lines += ["Requests per second, median over the sets:", ""]
    lines += _table(
        ["backend", "requests per second of", *E2E_CLIENTS], [row[:5] for row in e2e_rows]
    )
    lines += ["", "Ratios to the static client, per set, then their median:", ""]
    lines += _table(
        ["backend", "requests per second of", "installed ÷ static", "control ÷ static"],
        [row[:2] + row[5:] for row in e2e_rows],
    )
    lines += [""]
    for backend in BACKENDS:
        e2e = results[backend]["end_to_end"]
        calls = ", ".join(str(n) for n in e2e["assume_role_calls_per_round"])
        lines.append(
            f"- {backend}: {e2e['calls_per_round']:,} calls per round, {e2e['sets']} sets; "
            f"AssumeRole calls per installed round: {calls} "
            f"({e2e['forced_refreshes_per_round']} forced refreshes each); failed calls: "
            f"{e2e['failed_calls']}."
        )
    lines += [
        "",
        "The control shows how far two identical clients drift apart on this shared machine "
        "from one round to the next; a difference between installed and static credentials "
        "smaller than that spread cannot be told from noise here.",
        "",
        *cli_lines(results.get("cli")),
        "## Reproduce",
        "",
        "```sh",
        "pip install -e '.[dev]'",
        "python -m benchmarks          # full run",
        "python -m benchmarks --quick  # N up to 10,000, fewer calls, shorter rounds",
        "```",
        "",
        "`tests/test_benchmarks_smoke.py` runs every scenario at tiny N in the normal test run "
        "and checks the counts (source calls, prompts, errors delivered, survivors served), "
        "never the times.",
        "",
    ]
    if "fleet" in results:
        from .fleet import markdown as fleet_markdown

        lines += ["", *fleet_markdown(results["fleet"])]
    return "\n".join(lines)
