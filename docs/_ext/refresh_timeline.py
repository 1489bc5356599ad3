"""The refresh-timeline picture, drawn from the library's own refresh arithmetic.

A Sphinx extension: when the build starts it writes
``docs/_generated/refresh_timeline.png`` and ``docs/_generated/refresh_timeline.md``
(a table of the same figures), which ``docs/refresh.md`` shows. Nothing here
restates a window or a backoff: :func:`timeline` asks
``aiostscreds._policy`` for every number, so the picture changes when the code
does. If those functions change shape, :func:`timeline` is the one place to adapt.

Run it by hand with ``python docs/_ext/refresh_timeline.py [OUTPUT_DIR]``.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiostscreds import RefreshPolicy, _policy

DOCS = Path(__file__).resolve().parent.parent
OUTPUT = DOCS / "_generated"

LIFETIMES = {"15-minute": 15 * 60.0, "1-hour": 3600.0, "12-hour": 12 * 3600.0}
"""The credential lifetimes drawn, by label, in seconds."""

POLICIES = {
    "default backoff": RefreshPolicy(),
    "backoff=(300, 600)": RefreshPolicy(backoff=(300, 600)),
}
"""The policies whose retries are drawn: the default, and the cross-SDK rule's backoff."""

_MAX_ATTEMPTS = 400
_CLOSEST = 1.0  # stop drawing retries that close to expiration (they halve towards it)


class _Longest(random.Random):
    """A random source whose every draw is the top of its range: the longest backoffs."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass(frozen=True)
class Timeline:
    """One credential's life under one policy, in seconds after it was issued."""

    lifetime: float
    advisory_starts: float
    expiry_starts: float
    attempts: tuple[float, ...]
    """When refreshes are attempted if STS fails every time from the advisory window on,
    with a caller asking all along and every backoff at its longest."""


def timeline(policy: RefreshPolicy, lifetime: float) -> Timeline:
    """The windows and the retries of ``lifetime``-second credentials under ``policy``.

    The only function here that calls the library's arithmetic.
    """
    advisory = _policy.advisory_seconds(policy, lifetime)
    expiry = policy.expiry_window.total_seconds()
    rng = _Longest()
    attempts: list[float] = []
    now = lifetime - advisory
    failures = 0
    while now < lifetime - _CLOSEST and len(attempts) < _MAX_ATTEMPTS:
        attempts.append(now)
        failures += 1
        delay = _policy.backoff_seconds(
            policy, rng, now=now, expires_at=lifetime, failures=failures
        )
        if delay <= 0:
            break
        now += delay
    return Timeline(lifetime, lifetime - advisory, lifetime - expiry, tuple(attempts))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 7200 else f"{seconds / 3600:g} h"


def table() -> str:
    """A Markdown table of the figures the picture draws."""
    rows = [
        "| credentials | advisory window | expiry window | "
        + " | ".join(f"retries before expiry, {name}" for name in POLICIES)
        + " |",
        "|---|---|---|" + "---|" * len(POLICIES),
    ]
    for label, lifetime in LIFETIMES.items():
        lines = [timeline(policy, lifetime) for policy in POLICIES.values()]
        first = lines[0]
        retries = []
        for line in lines:
            last = line.lifetime - line.attempts[-1]
            retries.append(f"{len(line.attempts)} (last {last:.0f} s before expiry)")
        rows.append(
            f"| {label} | last {_minutes(first.lifetime - first.advisory_starts)} | "
            f"last {_minutes(first.lifetime - first.expiry_starts)} | " + " | ".join(retries) + " |"
        )
    return "\n".join(rows) + "\n"


def draw(path: Path) -> None:
    """Draw the picture into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"fresh": "#9ed29e", "advisory": "#f4d35e", "expiry": "#e76f51"}
    fig, axes = plt.subplots(
        len(LIFETIMES),
        2,
        figsize=(11, 2.4 * len(LIFETIMES)),
        gridspec_kw={"width_ratios": [2, 3]},
        constrained_layout=True,
    )
    policies = list(POLICIES.items())
    for row, (label, lifetime) in enumerate(LIFETIMES.items()):
        lines = [timeline(policy, lifetime) for _, policy in policies]
        base = lines[0]
        hours = lifetime >= 7200
        unit, scale = ("h", 3600.0) if hours else ("min", 60.0)
        whole, zoom = axes[row]

        # Left: the whole life, to scale.
        spans = [
            (0.0, base.advisory_starts, "fresh"),
            (base.advisory_starts, base.expiry_starts, "advisory"),
            (base.expiry_starts, lifetime, "expiry"),
        ]
        for start, end, kind in spans:
            width = (end - start) / scale
            whole.barh(0, width, left=start / scale, color=colours[kind], height=0.6)
        whole.set_xlim(0, lifetime / scale)
        whole.set_yticks([0], [f"{label}\ncredentials"])
        whole.set_xlabel(f"time since issued ({unit})")
        whole.set_ylim(-0.6, 0.6)

        # Right: the advisory window and a little before, in minutes before expiration.
        before = (lifetime - base.advisory_starts) * 1.15
        for start, end, kind in spans:
            lo, hi = max(start, lifetime - before), end
            if hi > lo:
                zoom.axvspan((lo - lifetime) / 60, (hi - lifetime) / 60, color=colours[kind])
        for lane, line in enumerate(lines):
            xs = [(t - lifetime) / 60 for t in line.attempts]
            zoom.plot(xs, [lane] * len(xs), "|", color="black", markersize=14, mew=1.5)
            after = [x for x in xs if x >= 0]
            if after:
                zoom.plot(after, [lane] * len(after), "x", color="red")
        zoom.axvline(0, color="black", linewidth=1)
        zoom.set_xlim(-before / 60, before / 60 * 0.04)
        zoom.set_ylim(-0.7, len(policies) - 0.3)
        zoom.set_yticks(range(len(policies)), [name for name, _ in policies])
        zoom.set_xlabel("minutes before expiration (retries while STS keeps failing)")

    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colours["fresh"]),
        plt.Rectangle((0, 0), 1, 1, color=colours["advisory"]),
        plt.Rectangle((0, 0), 1, 1, color=colours["expiry"]),
        plt.Line2D([], [], marker="|", linestyle="", color="black", markersize=12, mew=1.5),
    ]
    fig.legend(
        handles,
        [
            "fresh: served from memory",
            "advisory window: the first caller refreshes, the others are served",
            "expiry window: every caller waits for the refresh",
            "a refresh attempt (longest backoffs)",
        ],
        loc="outside lower center",
        ncol=2,
        frameon=False,
    )
    fig.suptitle("When aiostscreds refreshes: windows and backoff over a credential's life")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def generate(output: Path = OUTPUT) -> list[Path]:
    """Write the picture and its table into ``output``; return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    picture, figures = output / "refresh_timeline.png", output / "refresh_timeline.md"
    draw(picture)
    figures.write_text(table(), encoding="utf-8")
    return [picture, figures]


def _on_builder_inited(app: Any) -> None:
    generate()


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: generate the picture when a build starts."""
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for written in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT):
        print(written)
