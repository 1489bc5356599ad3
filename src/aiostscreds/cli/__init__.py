"""The ``aiostscreds`` command: credentials for every tool, from one MFA prompt.

A room of its own that uses the library and is never imported by it. Each
subcommand's module is imported only when that subcommand runs, so that
``credential-process`` on a warm cache stays as light as it can be.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiostscreds`` command and return its exit status."""
    from ._main import main as run

    return run(argv)
