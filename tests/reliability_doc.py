"""docs/reliability.md's measured sections: checked by every test run, written only on demand.

The sections between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` hold
figures that ``tests/test_fault_matrix.py`` and ``tests/test_soak.py`` measure.
A normal test run never writes the page: it checks that the page's claims hold
for this run (the section, its volatile figures masked, is what this run
renders). To write this run's figures into the page::

    python -m tests.reliability_doc

which runs those two modules with ``AIOSTSCREDS_WRITE_RELIABILITY_DOC=1``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
WRITE = "AIOSTSCREDS_WRITE_RELIABILITY_DOC"
MODULES = ("tests/test_fault_matrix.py", "tests/test_soak.py")
COMMAND = "python -m tests.reliability_doc"

_lock = threading.Lock()


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def section(name: str) -> str | None:
    """The body of the section ``name`` of docs/reliability.md, or None if it has none."""
    begin, end = _markers(name)
    text = DOC.read_text()
    if begin not in text or end not in text:
        return None
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def write_section(name: str, body: str) -> None:
    """Replace the section ``name`` of docs/reliability.md with ``body`` (or append it)."""
    begin, end = _markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    with _lock:
        text = DOC.read_text()
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(text)


def mismatch(name: str, body: str, volatile: str) -> str | None:
    """Why the page's section ``name`` does not state what ``body`` does; None if it does.

    ``volatile`` matches the figures that vary from run to run (random backoff
    draws, real time): they are masked on both sides.
    """
    stated = section(name)
    if stated is None:
        return f"docs/reliability.md has no {name!r} section: write it with `{COMMAND}`"
    mask = re.compile(volatile, re.MULTILINE)
    stated_lines = mask.sub("#", stated).splitlines()
    measured_lines = mask.sub("#", body.strip()).splitlines()
    if stated_lines == measured_lines:
        return None
    import difflib

    diff = "\n".join(
        difflib.unified_diff(
            stated_lines, measured_lines, "docs/reliability.md", "this run", lineterm="", n=1
        )
    )
    return (
        f"docs/reliability.md's {name!r} section no longer states what this run measured "
        f"(figures that vary masked as #); if the change is meant, write it with "
        f"`{COMMAND}`:\n{diff}"
    )


def check_or_write(name: str, body: str, volatile: str) -> None:
    """Write the section under ``COMMAND``; otherwise fail the test if the page is wrong."""
    if os.environ.get(WRITE) == "1":
        write_section(name, body)
        return
    problem = mismatch(name, body, volatile)
    if problem is not None:
        import pytest

        pytest.fail(problem, pytrace=False)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    """Run the two modules and write their figures into docs/reliability.md."""
    import pytest

    os.environ[WRITE] = "1"
    os.chdir(ROOT)
    return int(pytest.main(["-q", "-p", "no:cacheprovider", *MODULES]))


if __name__ == "__main__":
    sys.exit(main())
