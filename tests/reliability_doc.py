"""Writing the test run's figures into docs/reliability.md, one marked section at a time."""

from __future__ import annotations

import threading
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"

_HEADER = """# Reliability under faults

The sections between the `BEGIN`/`END` markers are written by the test run
(`tests/test_fault_matrix.py`, `tests/test_soak.py`); the rest is by hand.
"""

_lock = threading.Lock()


def write_section(name: str, body: str) -> None:
    """Replace the section ``name`` of docs/reliability.md with ``body`` (or append it)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    with _lock:
        text = DOC.read_text() if DOC.exists() else _HEADER
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(text)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
