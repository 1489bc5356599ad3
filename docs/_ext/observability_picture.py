"""The observability picture: a real run of the demo, scraped as Prometheus would, drawn.

A Sphinx extension: when the build starts it runs ``aiostscreds demo``'s
:func:`~aiostscreds.cli._demo.run_demo` against moto's local STS and S3 with a
:class:`~aiostscreds.instrumentation.PrometheusHook` on its own registry, scrapes
that registry's text page every few milliseconds while the demo runs, and
draws Grafana-style panels (refreshes, expiry, callers per refresh) into
``docs/_generated/observability.png``, with the run's figures in
``docs/_generated/observability.md``. Nothing is made up: every point is a sample
of the library's own metrics from that run. It takes a few seconds.

Needs the ``docs`` extra (matplotlib, moto[server], prometheus-client).
Run it by hand with ``python docs/_ext/observability_picture.py [OUTPUT_DIR]``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent
OUTPUT = DOCS / "_generated"

REQUESTS = 300
CONCURRENCY = 30
FORCED_REFRESHES = 3
REJECTIONS = 2
SCRAPE_INTERVAL = 0.01


@dataclass
class Scrape:
    """One scrape of the registry: seconds since the start, the Unix time, the samples."""

    at: float
    wall: float
    samples: dict[str, float] = field(default_factory=dict)


@dataclass
class Run:
    """The demo's report and the scrapes taken while it ran."""

    report: dict[str, Any]
    scrapes: list[Scrape]


def _key(name: str, labels: dict[str, str]) -> str:
    keep = {k: v for k, v in labels.items() if k not in ("role_arn",)}
    inner = ",".join(f"{k}={v}" for k, v in sorted(keep.items()))
    return f"{name}{{{inner}}}"


def run() -> Run:
    """Run the demo against a local moto server with the Prometheus hook on."""
    import anyio
    from moto.server import ThreadedMotoServer
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from aiostscreds.cli._demo import run_demo
    from aiostscreds.instrumentation import PrometheusHook, get_hooks, set_hooks

    registry = CollectorRegistry()
    scrapes: list[Scrape] = []

    def scrape(started: float) -> None:
        point = Scrape(time.perf_counter() - started, time.time())
        text = generate_latest(registry).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                point.samples[_key(sample.name, sample.labels)] = sample.value
        scrapes.append(point)

    async def main(endpoint: str) -> dict[str, Any]:
        started = time.perf_counter()
        done = anyio.Event()

        async def scraper() -> None:
            while not done.is_set():
                scrape(started)
                await anyio.sleep(SCRAPE_INTERVAL)
            scrape(started)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(scraper)
            try:
                report = await run_demo(
                    endpoint,
                    requests=REQUESTS,
                    refreshes=FORCED_REFRESHES,
                    mfa_code="123456",
                    concurrency=CONCURRENCY,
                    rejections=REJECTIONS,
                )
            finally:
                done.set()
        return report

    saved = get_hooks()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        set_hooks([PrometheusHook(registry)])
        _, port = server.get_host_and_port()
        with contextlib.redirect_stdout(io.StringIO()):
            report = anyio.run(main, f"http://127.0.0.1:{port}")
    finally:
        set_hooks(saved)
        server.stop()
    return Run(report, scrapes)


def refreshes(result: Run) -> list[tuple[float, int]]:
    """Each refresh seen by the scrapes: (seconds, callers it served)."""
    found: list[tuple[float, int]] = []
    count_key = _key("aiostscreds_refresh_callers_count", {"kind": "assume_role"})
    sum_key = _key("aiostscreds_refresh_callers_sum", {"kind": "assume_role"})
    last_count = last_sum = 0.0
    for point in result.scrapes:
        count = point.samples.get(count_key, 0.0)
        total = point.samples.get(sum_key, 0.0)
        if count > last_count:
            # One scrape may see several refreshes: spread their callers evenly.
            n = int(count - last_count)
            for _ in range(n):
                found.append((point.at, round((total - last_sum) / n)))
            last_count, last_sum = count, total
    return found


def draw(result: Run, path: Path) -> None:
    """Draw the Grafana-style panels into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    background, panel, grid, text = "#111217", "#181b1f", "#2c3235", "#ccccdc"
    green, yellow, blue = "#73bf69", "#fade2a", "#5794f2"
    times = [point.at for point in result.scrapes]
    success = _key("aiostscreds_refreshes_total", {"kind": "assume_role", "outcome": "success"})
    expiry = _key("aiostscreds_credentials_expiry_timestamp_seconds", {"kind": "assume_role"})

    fig, axes = plt.subplots(3, 1, figsize=(10, 7.2), sharex=True, constrained_layout=True)
    fig.patch.set_facecolor(background)
    for ax in axes:
        ax.set_facecolor(panel)
        ax.tick_params(colors=text, labelsize=8)
        for spine in ax.spines.values():
            spine.set_color(grid)
        ax.grid(True, color=grid, linewidth=0.6)

    total = [point.samples.get(success, 0.0) for point in result.scrapes]
    axes[0].step(times, total, where="post", color=green, linewidth=2)
    axes[0].fill_between(times, total, step="post", color=green, alpha=0.15)
    axes[0].set_title(
        'aiostscreds_refreshes_total{outcome="success"}', color=text, loc="left", fontsize=10
    )

    left = [
        point.samples[expiry] - point.wall if expiry in point.samples else float("nan")
        for point in result.scrapes
    ]
    axes[1].plot(times, left, color=yellow, linewidth=2)
    axes[1].ticklabel_format(axis="y", useOffset=False, style="plain")
    axes[1].set_title(
        "credentials expire in (seconds): "
        "aiostscreds_credentials_expiry_timestamp_seconds - time()",
        color=text,
        loc="left",
        fontsize=10,
    )

    seen = refreshes(result)
    if seen:
        xs, callers = zip(*seen, strict=True)
        bars = axes[2].bar(xs, callers, width=max(times[-1] / 120, 0.01), color=blue)
        axes[2].bar_label(bars, color=text, fontsize=8)
        axes[2].set_ylim(0, max(callers) * 1.25 + 1)
    axes[2].set_title(
        "callers per refresh: increase(aiostscreds_refresh_callers_sum) / "
        "increase(aiostscreds_refresh_callers_count)",
        color=text,
        loc="left",
        fontsize=10,
    )
    axes[2].set_xlabel("seconds since the demo started", color=text, fontsize=9)
    fig.suptitle(
        f"aiostscreds demo: {result.report['requests']} S3 requests, "
        f"{result.report['forced_refreshes']} forced refreshes, "
        f"{result.report['rejections']} rejected keys (scraped every "
        f"{SCRAPE_INTERVAL * 1000:.0f} ms)",
        color=text,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, facecolor=background)
    plt.close(fig)


def table(result: Run) -> str:
    """The run's figures, as a Markdown table."""
    report = result.report
    seen = refreshes(result)
    rows = [
        "| S3 requests | STS calls | MFA prompts | refreshes seen by the scrapes | "
        "callers per refresh |",
        "|---|---|---|---|---|",
        f"| {report['completed']}/{report['requests']} | {report['sts_calls']} | "
        f"{report['prompts']} | {len(seen)} | "
        + ", ".join(str(callers) for _, callers in seen)
        + " |",
    ]
    return "\n".join(rows) + "\n"


def generate(output: Path = OUTPUT) -> list[Path]:
    """Run the demo, write the picture and its table into ``output``; return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    result = run()
    picture, figures = output / "observability.png", output / "observability.md"
    draw(result, picture)
    figures.write_text(table(result), encoding="utf-8")
    return [picture, figures]


def _on_builder_inited(app: Any) -> None:
    generate()


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: run the demo and draw the picture when a build starts."""
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for written in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT):
        print(written)
